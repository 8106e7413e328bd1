"""End to end: demo extracts -> Dagster (ingest assets + dbt) -> a real DuckDB file."""

import os

import duckdb
import pytest

from orchestration.demo.generator import DemoConfig, generate
from orchestration.in_process import run_pipeline
from orchestration.ingest.contract import EXTRACTS
from orchestration.settings import DUCKDB_CHECKPOINT_DEFAULT, Settings, checkpoint_threshold
from tests.conftest import PLACEHOLDERS

pytestmark = pytest.mark.slow(seconds=90)  # runs the pipeline; orders the parallel workers

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


def _starved_subset_job(settings):
    """The elt job of `settings` and the asset keys of STARVED_SUBSET."""
    from orchestration.code_location import build_definitions

    job = build_definitions(settings).resolve_job_def("elt")
    keys = [k for k in job.asset_layer.executable_asset_keys if k.path[-1] in STARVED_SUBSET]
    assert len(keys) == len(STARVED_SUBSET), keys
    return job, keys


def _starve_the_first_dbt_attempt(monkeypatch) -> list:
    """The first dbt command starts with STARVED_LIMIT as its DuckDB memory limit, the next
    ones with the normal limit; returns the (arguments, invocation, checkpoint threshold) of
    each command."""
    from orchestration.defs import transform

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
        calls.append((list(args), invocation, os.environ["DUCKDB_CHECKPOINT_THRESHOLD"]))
        return invocation

    monkeypatch.setattr(transform.LeanDbtCliResource, "cli", starved_first_attempt)
    return calls


def test_models_out_of_memory_beside_others_are_built_again_on_one_thread(pipeline_run,
                                                                         monkeypatch):
    """The first dbt attempt gets a memory limit too small for the activity models, so DuckDB
    fails them with its real out-of-memory error; the second attempt (normal limit, one
    thread) must build exactly what the first left unfinished, and the rebuilt tables come out
    the same."""
    from dagster import DagsterInstance

    from orchestration.defs import transform

    settings, _ = pipeline_run
    job, keys = _starved_subset_job(settings)
    relations = [".".join(k.path) for k in keys]
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    before = {r: _rows(con, r) for r in relations}
    con.close()

    calls = _starve_the_first_dbt_attempt(monkeypatch)
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
    # what the retry rebuilds waits in memory for a checkpoint: it checkpoints at DuckDB's
    # default, the first attempt at a twentieth of the limit
    assert calls[0][2] == checkpoint_threshold(settings.duckdb_config["memory_limit"])
    assert calls[1][2] == DUCKDB_CHECKPOINT_DEFAULT != calls[0][2]
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


# the key test of stg_ads__spend (a null platform breaks it)
SPEND_KEY = "primary_key_stg_ads__spend_spend_date__platform__campaign_id"


def test_a_failed_test_before_the_retry_is_reported_once_and_fails_the_run(pipeline_run,
                                                                           monkeypatch, tmp_path):
    """A dbt test that fails (or errors) in the first attempt is run again by the retry, and
    Dagster takes one result per check and step. At 10 M leads a test ran out of memory beside
    the models, its error and its retried pass were both reported, and Dagster failed the
    step with "returned an output multiple times" while the retry's dbt still held the
    warehouse. Here a spend test fails in the first attempt beside the starved activity
    models: the retry runs it again, it fails again, and the run fails on that test."""
    import dataclasses
    import shutil

    from dagster import DagsterEventType, DagsterInstance

    settings, _ = pipeline_run
    copy = dataclasses.replace(settings, duckdb_path=tmp_path / "warehouse" / "funnel.duckdb")
    copy.duckdb_path.parent.mkdir()
    shutil.copy(settings.duckdb_path, copy.duckdb_path)
    con = duckdb.connect(str(copy.duckdb_path))
    try:  # a spend row with no platform: the key test of stg_ads__spend fails
        con.execute("insert into raw.ad_spend "
                    "select * replace (null as platform) from raw.ad_spend limit 1")
    finally:
        con.close()
    job, keys = _starved_subset_job(copy)
    calls = _starve_the_first_dbt_attempt(monkeypatch)
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance, asset_selection=keys, raise_on_error=False,
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}})

    assert not result.success
    assert len(calls) == 2  # a model ran out of memory: the retry ran
    first = {r["unique_id"]: r["status"]
             for r in calls[0][1].get_artifact("run_results.json")["results"]}
    assert [first[k] for k in first if f".{SPEND_KEY}." in k] == ["fail"]
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "dbt_models"
    assert failure.event_specific_data.error.cls_name == "DagsterDbtCliRuntimeError"
    evaluations = [r.dagster_event.event_specific_data for r in instance.all_logs(
        result.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
    names = [e.check_name for e in evaluations]
    assert len(names) == len(set(names))  # one result per check
    assert [e.passed for e in evaluations
            if e.check_name == SPEND_KEY] == [False]
    assert calls[1][1].process.poll() is not None  # no dbt left holding the warehouse

