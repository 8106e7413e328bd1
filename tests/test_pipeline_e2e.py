"""End to end: demo extracts -> Dagster (ingest assets + dbt) -> a real DuckDB file."""

import os

import duckdb
import pytest

from orchestration.demo.generator import DemoConfig, generate
from orchestration.ingest.contract import EXTRACTS
from orchestration.pipeline import run_pipeline
from orchestration.settings import Settings
from tests.conftest import PLACEHOLDERS

pytestmark = pytest.mark.slow(seconds=100)  # runs the pipeline; orders the parallel workers

# Enough for dbt to start and read its metadata, too little for a staging model.
STARVED_LIMIT = "8MB"


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


def _rows(con, relation: str) -> list[tuple]:
    """A relation's rows, doubles rounded (summation order differs between dbt threads), without
    the build stamp (`built_at`: a rebuild stamps its rows anew by design)."""
    columns = [c[0] for c in con.execute(f"describe {relation}").fetchall() if c[0] != "built_at"]
    rows = con.execute(f"select {', '.join(columns)} from {relation} order by all").fetchall()
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


# A subset keeps the test cheap. Starved, the activity models run out of memory (which one
# first varies), the models reading them are skipped, and the small staging models finish.
STARVED_SUBSET = ("stg_crm__activities", "int_activities_scored", "int_score_ledger_items",
                  "stg_ads__spend", "stg_finance__fx_rates")


def test_models_out_of_memory_beside_others_are_built_again_on_one_thread(pipeline_run,
                                                                         monkeypatch):
    """The first dbt attempt gets a memory limit too small for the activity models, so DuckDB
    fails them with its real out-of-memory error; the second attempt (normal limit, one
    thread) must build exactly what the first left unfinished, and the rebuilt tables come out
    the same."""
    from dagster import DagsterInstance

    from orchestration.definitions import build_definitions
    from orchestration.defs import transform

    settings, _ = pipeline_run
    defs = build_definitions(settings)
    job = defs.resolve_job_def("elt")
    keys = [k for k in job.asset_layer.executable_asset_keys if k.path[-1] in STARVED_SUBSET]
    assert len(keys) == len(STARVED_SUBSET), keys
    relations = [".".join(k.path) for k in keys]
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    before = {r: _rows(con, r) for r in relations}
    con.close()

    calls = []
    cli = transform.LeanDbtCliResource.cli

    def starved_first_attempt(self, args, **kwargs):
        limit = os.environ["DUCKDB_MEMORY_LIMIT"]
        if not calls:
            os.environ["DUCKDB_MEMORY_LIMIT"] = STARVED_LIMIT
        try:
            invocation = cli(self, args, **kwargs)  # dbt starts here, with this environment
        finally:
            os.environ["DUCKDB_MEMORY_LIMIT"] = limit
        calls.append((list(args), invocation))
        return invocation

    monkeypatch.setattr(transform.LeanDbtCliResource, "cli", starved_first_attempt)
    result = job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=keys, raise_on_error=False,
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}})
    assert result.success

    assert len(calls) == 2
    first = calls[0][1].get_artifact("run_results.json")["results"]
    starved = transform.out_of_memory_nodes(first)
    assert any(n.startswith("model.") for n in starved), starved
    retry_args = calls[1][0]
    assert retry_args[-2:] == ["--threads", "1"] and str(calls[0][1].target_path) in retry_args
    first = [r for r in first if not r["unique_id"].startswith("operation.")]  # hooks: every run
    retried = {r["unique_id"] for r in calls[1][1].get_artifact("run_results.json")["results"]
               if not r["unique_id"].startswith("operation.")}
    unfinished = {r["unique_id"] for r in first
                  if r["status"] not in ("success", "pass", "warn")}
    skipped = {r["unique_id"] for r in first if r["status"] == "skipped"}
    finished = {r["unique_id"] for r in first} - unfinished
    assert retried == unfinished
    assert any(n.startswith("model.") for n in skipped), first  # rebuilt after its parent
    assert any(n.startswith("model.") for n in finished), first  # not rebuilt

    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for r in relations:
            assert _rows(con, r) == before[r], r
    finally:
        con.close()
