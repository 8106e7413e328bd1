"""End to end: demo extracts -> Dagster (ingest assets + dbt) -> a real DuckDB file."""

import duckdb
import pytest

from orchestration.demo.generator import DemoConfig, generate
from orchestration.ingest.contract import EXTRACTS
from orchestration.pipeline import run_pipeline
from orchestration.settings import Settings
from tests.conftest import PLACEHOLDERS

pytestmark = pytest.mark.slow(seconds=100)  # runs the pipeline; orders the parallel workers


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    settings = Settings(duckdb_path=root / "warehouse" / "funnel.duckdb",
                        landing_dir=root / "landing", source_timezone="UTC",
                        null_placeholders=PLACEHOLDERS)
    generate(DemoConfig(leads=2000, seed=11), settings.landing_dir)
    summary = run_pipeline(settings, say=lambda _m: None)
    return settings, summary


def test_run_succeeds_and_materializes_every_asset(pipeline_run):
    _, summary = pipeline_run
    assert summary.success, summary.failures
    assert summary.failures == []


def test_each_staging_table_holds_the_rows_loaded_for_its_extract(pipeline_run):
    settings, _ = pipeline_run
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for name, extract in EXTRACTS.items():
            read, loaded, rejected, inserted = con.execute(
                """select sum(rows_read), sum(rows_loaded), sum(rows_rejected), sum(rows_inserted)
                   from raw.load_log where extract = ?""", [name]).fetchone()
            assert read == loaded + rejected, name
            raw_rows = con.execute(f"select count(*) from raw.{name}").fetchone()[0]
            staged = con.execute(f"select count(*) from staging.{extract.staging_model}").fetchone()[0]
            assert raw_rows == inserted == staged, (name, raw_rows, inserted, staged)
            assert staged > 0, name
        assert con.execute("select count(*) from staging.stg_crm__leads").fetchone()[0] == 2000
    finally:
        con.close()


def test_second_run_on_the_same_files_changes_nothing(pipeline_run):
    settings, first = pipeline_run
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    before = con.execute("select count(*), sum(rows_read) from raw.load_log").fetchone()
    leads = con.execute("select * from raw.crm_leads order by lead_id").fetchall()
    con.close()
    second = run_pipeline(settings, say=lambda _m: None)
    assert second.success
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        assert con.execute("select count(*), sum(rows_read) from raw.load_log").fetchone() == before
        assert con.execute("select * from raw.crm_leads order by lead_id").fetchall() == leads
    finally:
        con.close()
    assert [e.staging_rows for e in second.extracts] == [e.staging_rows for e in first.extracts]


def test_summary_names_the_warehouse_and_every_extract(pipeline_run):
    settings, summary = pipeline_run
    text = summary.render()
    assert str(settings.duckdb_path) in text
    for name in EXTRACTS:
        assert name in text
