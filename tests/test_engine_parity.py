"""The same dbt project on DuckDB and on Spark gives the same marts.

The golden fixture (tests/golden/) goes through the whole pipeline twice, once per engine
(FUNNEL_ENGINE): on Spark, through the lake's Parquet tables, a local SparkSession and the copy
back into the warehouse. Every mart and definitions table is then compared row by row, both
ways. The parity check is shown to fail when one Spark implementation differs.

`make test-spark` (FUNNEL_SPARK_FULL=1) also runs the dbt unit tests on Spark and the parity
on a generated demo of a few thousand leads: about six minutes more, kept out of `make test`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.in_process import run_pipeline
from orchestration.paths import DBT_PROJECT_DIR
from orchestration.settings import Settings
from orchestration.transform.engine_parity import compare_warehouses, render
from orchestration.transform.lake_models import copy_lake_tables, lake_table_folder
from orchestration.transform.project import dbt_executable, ensure_manifest

pytestmark = pytest.mark.slow(seconds=360)  # two pipeline runs, one on Spark

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    mp = pytest.MonkeyPatch()
    mp.setenv("FUNNEL_DEFINITIONS", str(GOLDEN / "funnel.yml"))
    built = {}
    try:  # the golden definitions for these builds only (later tests name them explicitly)
        for engine in ("duckdb", "spark"):
            shutil.copytree(GOLDEN / "landing", root / engine / "landing")
            settings = Settings(duckdb_path=root / engine / "golden.duckdb",
                                landing_dir=root / engine / "landing", source_timezone="UTC",
                                null_placeholders=("", "n/a"), engine=engine,
                                reports_dir=root / engine / "reports")
            summary = run_pipeline(settings, say=lambda _m: None)
            assert summary.success, (engine, summary.failures)
            built[engine] = (settings, summary)
    finally:
        mp.undo()
    return built


def spark_dbt(settings: Settings, project: Path, target_path: Path, *args: str):
    env = {**os.environ, **settings.dbt_environment(), "FUNNEL_DEFINITIONS": str(GOLDEN / "funnel.yml")}
    return subprocess.run(
        [dbt_executable(), *args, "--target", "spark", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target-path", str(target_path),
         "--vars", dbt_vars_arg(GOLDEN / "funnel.yml")],
        cwd=project, capture_output=True, text=True, timeout=600, env=env)


def test_the_spark_run_passes_every_check_publishes_and_reports(builds):
    (duck, on_duckdb), (spark, on_spark) = builds["duckdb"], builds["spark"]
    assert not on_spark.checks_failed
    # the same checks ran (dbt's tests as Dagster checks, the guards, the suites)
    assert len(on_spark.checks_passed) == len(on_duckdb.checks_passed) > 200
    assert on_spark.funnel == on_duckdb.funnel
    assert on_spark.published_to and on_spark.published_to.exists()
    # the lake holds the raw tables and every table Spark built
    assert any((spark.lake_path / "raw" / "crm_activities").glob("*.parquet"))
    assert any(lake_table_folder(spark.lake_path, "marts", "fct_funnel_weekly").glob("*.parquet"))
    assert not (duck.duckdb_path.parent / "lake").exists()  # DuckDB never writes one
    # the report shows the same figures
    kpis = [re.findall(r'data-kpi="([^"]+)"[^>]*>([^<]*)<', s.report.read_text())
            for s in (on_duckdb, on_spark)]
    assert kpis[0] and kpis[0] == kpis[1]


def test_every_mart_is_the_same_on_both_engines(builds):
    (duck, _), (spark, _) = builds["duckdb"], builds["spark"]
    results = compare_warehouses(duck.serving_path, spark.serving_path)
    print(render(results))
    assert len([r for r in results if r.relation.startswith("marts.")]) >= 29
    assert sum(r.rows_a for r in results) > 500
    assert all(r.equal for r in results), render([r for r in results if not r.equal])


full_spark = pytest.mark.skipif(not os.environ.get("FUNNEL_SPARK_FULL"),
                                reason="make test-spark runs it (FUNNEL_SPARK_FULL=1)")


@full_spark
def test_the_dbt_unit_tests_pass_on_spark(builds, tmp_path):
    spark, _ = builds["spark"]
    done = spark_dbt(spark, DBT_PROJECT_DIR, tmp_path / "target", "test", "--select", "test_type:unit")
    assert done.returncode == 0, done.stdout[-3000:]
    passed = [line for line in done.stdout.splitlines() if " PASS " in line and "::" in line]
    assert len(passed) >= 19 and "ERROR=0" in done.stdout, done.stdout[-3000:]


def test_a_spark_implementation_that_differs_fails_the_parity(builds, tmp_path):
    """spark__iso_week_label made to use the calendar year instead of the ISO week-year (Mon
    29 Dec 2025 becomes 2025-W01, not 2026-W01): dim_date rebuilt on Spark with it no longer
    equals DuckDB's, and the comparison names it."""
    (duck, _), (spark, _) = builds["duckdb"], builds["spark"]
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    macros = project / "macros" / "portability.sql"
    text = macros.read_text()
    iso_year = "extract(yearofweek from {{ date_expression }})"
    assert iso_year in text
    macros.write_text(text.replace(iso_year, "extract(year from {{ date_expression }})"))
    done = spark_dbt(spark, project, tmp_path / "target", "run", "--select", "dim_date")
    assert done.returncode == 0, done.stdout[-3000:]

    warehouse = tmp_path / "tampered.duckdb"
    shutil.copy(spark.duckdb_path, warehouse)
    manifest = json.loads(ensure_manifest().read_text())
    con = duckdb.connect(str(warehouse))
    try:
        copy_lake_tables(con, manifest, spark.lake_path)
    finally:
        con.close()
    differing = {r.relation: r for r in compare_warehouses(duck.duckdb_path, warehouse)
                 if not r.equal}
    assert set(differing) == {"marts.dim_date"}, render(list(differing.values()))
    assert differing["marts.dim_date"].only_in_a == differing["marts.dim_date"].only_in_b > 0


@full_spark
def test_a_generated_demo_is_the_same_on_both_engines(tmp_path):
    """3,000 generated leads (every activity type, segment and channel, custom fields, won
    and lost deals, ad spend in several currencies) through both engines, with the default
    definitions file."""
    from orchestration.demo.generator import DemoConfig, generate

    generate(DemoConfig(leads=3000, seed=7), tmp_path / "landing")
    summaries = {}
    for engine in ("duckdb", "spark"):
        landing = tmp_path / engine / "landing"
        shutil.copytree(tmp_path / "landing", landing)
        settings = Settings(duckdb_path=tmp_path / engine / "funnel.duckdb", landing_dir=landing,
                            engine=engine, reports_dir=tmp_path / engine / "reports")
        summaries[engine] = (settings, run_pipeline(settings, say=lambda _m: None))
        assert summaries[engine][1].success, summaries[engine][1].failures
    results = compare_warehouses(summaries["duckdb"][0].serving_path,
                                 summaries["spark"][0].serving_path)
    print(render(results))
    assert sum(r.rows_a for r in results) > 100_000
    assert all(r.equal for r in results), render([r for r in results if not r.equal])
