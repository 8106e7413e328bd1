"""Incremental daily runs give exactly what a full rebuild gives (issue 9).

A demo company with its last day held back is built in full; the day then arrives (with a
changed lead row that must take back an MQL) and the incremental run must leave every mart
(and the incremental models themselves) identical to a fresh full build of all the files.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from orchestration.demo.append import append_held_back, hold_back_last_day
from orchestration.demo.generator import DemoConfig, generate
from orchestration.in_process import run_pipeline
from orchestration.settings import (
    DUCKDB_CHECKPOINT_DEFAULT,
    checkpoint_threshold,
    memory_limit_or_default,
)
from orchestration.transform import build_state
from orchestration.transform.project import dbt_project, target_dir
from tests.conftest import settings_at

pytestmark = pytest.mark.slow(seconds=170)  # runs the pipeline; orders the parallel workers

COMPARED_SCHEMAS = ("marts", "definitions")
INCREMENTAL_MODELS = ("staging.stg_crm__leads",
                      "staging.stg_crm__qualifications", "staging.stg_crm__opportunities",
                      "staging.stg_crm__stage_history",
                      "intermediate.int_lead_fit_matches", "intermediate.int_leads_classified",
                      "intermediate.int_activities_scored", "intermediate.int_lead_mql_episodes",
                      "intermediate.int_lead_last_activity", "intermediate.int_score_ledger_items",
                      "intermediate.int_lead_evaluations", "intermediate.int_lead_lifecycle",
                      "marts.fct_lead_lifecycle",
                      "marts.fct_lead_score_peaks", "intermediate.int_lead_funnel_events",
                      "intermediate.int_lead_evaluation_activity_types",
                      "intermediate.int_mql_handovers", "marts.fct_definition_exceptions",
                      "marts.fct_sla", "intermediate.int_lead_accounts",
                      "intermediate.int_crm_stage_entries")


def _tables(con, catalog: str, schemas: tuple[str, ...] = COMPARED_SCHEMAS) -> list[str]:
    return [f"{s}.{t}" for s, t in con.execute(
        f"""select table_schema, table_name from information_schema.tables
            where table_catalog = '{catalog}' and table_type in ('BASE TABLE', 'VIEW')
              and table_schema in {schemas} order by 1, 2""").fetchall()]


def _differences(con, table: str) -> int:
    """Rows in one warehouse and not the other (doubles rounded: summation order may differ;
    load times differ by design)."""
    columns = con.execute(
        f"""select column_name, data_type from information_schema.columns
            where table_catalog = 'full_build' and table_schema || '.' || table_name = '{table}'
            order by ordinal_position""").fetchall()
    select = ", ".join(f'round("{c}", 6)' if t in ("DOUBLE", "FLOAT") else f'"{c}"'
                       for c, t in columns if c not in ("loaded_at", "built_at"))
    return con.execute(
        f"""select count(*) from (
              (select {select} from incremental_build.{table}
               except all select {select} from full_build.{table})
              union all
              (select {select} from full_build.{table}
               except all select {select} from incremental_build.{table}))""").fetchone()[0]


def _exclude_an_mql_lead(landing, held, warehouse, day) -> str:
    """Tomorrow's extract updates an MQL lead with an excluded e-mail domain."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        lead_id, = con.execute(
            "select lead_id from marts.fct_lead_lifecycle where mql_at is not null "
            "and not is_excluded order by lead_id limit 1").fetchone()
        excluded_domain, = con.execute(
            "select match_value from definitions.def_exclusions "
            "where field_name = 'email_domain' order by 1 limit 1").fetchone()
    finally:
        con.close()
    source = next(p for p in (landing / "crm_leads").glob("*.csv")
                  if lead_id in p.read_text())
    with source.open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["lead_id"] == lead_id)
    row["email"] = f"someone@{excluded_domain}"
    row["updated_at"] = f"{day.isoformat()}T23:59:59Z"  # newer than any version
    _append_to_day(held, "crm_leads", day, row)
    return lead_id


def _append_to_day(held, extract: str, day, row: dict) -> None:
    """Add a row to the held-back day's file of `extract` (a new file if the day had none)."""
    files = sorted((held / extract).glob("*.csv"))
    day_file = files[0] if files else held / extract / f"{extract}_{day}.csv"
    header = None
    if day_file.exists():
        with day_file.open(newline="") as fh:
            header = next(csv.reader(fh))
    with day_file.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header or list(row), extrasaction="ignore",
                                lineterminator="\n")
        if header is None:
            writer.writeheader()
        writer.writerow(row)


def _win_an_opportunity(landing, held, day) -> str:
    """Tomorrow's extract wins the open opportunity of a lead with no other row in the day:
    only the opportunity extract brings news of that lead."""
    in_the_day = _leads_in(held.glob("*/*.csv"))
    rows = []
    for path in sorted((landing / "crm_opportunities").glob("*.csv")):
        with path.open(newline="") as fh:
            rows += list(csv.DictReader(fh))
    won_or_lost = {r["opportunity_id"] for r in rows if r["is_closed"] == "true"}
    row = next(r for r in rows if r["opportunity_id"] not in won_or_lost
               and r["lead_id"] not in in_the_day)
    row.update(stage="closed won", is_closed="true", is_won="true",
               closed_at=f"{day.isoformat()} 12:00:00", updated_at=f"{day.isoformat()} 23:59:59")
    _append_to_day(held, "crm_opportunities", day, row)
    return row["lead_id"]


def _let_a_pending_episode_breach(landing, held, warehouse, day) -> tuple[str, datetime]:
    """Tomorrow's extract brings a new lead created just after the SLA limit of a pending
    episode whose lead has no row in the day: the data now runs past the limit, so the episode
    breaches with no new row of its own (fct_sla redoes pending leads on every build)."""
    from orchestration.funnel_definitions import load_definitions

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        pending = con.execute("select lead_id, mql_at from marts.fct_sla where is_pending "
                              "order by mql_at, lead_id").fetchall()
    finally:
        con.close()
    in_the_day = _leads_in(held.glob("*/*.csv"))
    lead_id, mql_at = next((lead, at) for lead, at in pending if lead not in in_the_day)
    later = mql_at + timedelta(hours=load_definitions().sla.limit_hours, minutes=1)
    template = next((landing / "crm_leads").glob("*.csv"))
    with template.open(newline="") as fh:
        row = next(csv.DictReader(fh))
    row.update(lead_id="L_SLA_CLOCK", email="clock@example.org", merged_into_lead_id="",
               created_at=f"{later:%Y-%m-%d %H:%M:%S}", updated_at=f"{later:%Y-%m-%d %H:%M:%S}")
    _append_to_day(held, "crm_leads", day, row)
    return lead_id, mql_at


def _leads_in(files) -> set[str]:
    leads = set()
    for path in files:
        with path.open(newline="") as fh:
            leads |= {r["lead_id"] for r in csv.DictReader(fh) if r.get("lead_id")}
    return leads


def _leads_to_mark(warehouse, held) -> dict[str, str]:
    """A scored lead with an activity in the held-back day, and one with no row of any kind
    in it."""
    with_activity = _leads_in(held.glob("crm_activities/*.csv"))
    in_the_day = _leads_in(held.glob("*/*.csv"))
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        leads = [r[0] for r in con.execute(
            "select distinct lead_id from intermediate.int_activities_scored order by 1").fetchall()]
    finally:
        con.close()
    return {"touched": next(lead for lead in leads if lead in with_activity),
            "untouched": next(lead for lead in leads if lead not in in_the_day)}


# Where the marks go: a column nothing downstream reads, in a table rebuilt (or, in the
# serving file, patched) by lead: a lead redone loses the mark, a lead kept keeps it.
SCORED = ("intermediate.int_activities_scored", "cap_points")
SERVED_ITEMS = "intermediate.int_activities_scored"  # the ledger's columns of it
SERVED = (SERVED_ITEMS, "counted_points")


def _mark(db, where: tuple[str, str], marked: dict[str, str]) -> list:
    """Set the marks (-1); return the untouched lead's rows, to put back afterwards."""
    table, column = where
    con = duckdb.connect(str(db))
    try:
        kept_rows = con.execute(f"select * from {table} where lead_id = ?",
                                [marked["untouched"]]).fetchall()
        con.execute(f"update {table} set {column} = -1 where lead_id in (?, ?)",
                    list(marked.values()))
    finally:
        con.close()
    assert kept_rows
    return kept_rows


def _take_marks(db, where: tuple[str, str], marked: dict[str, str], kept_rows) -> dict[str, bool]:
    """Which marked leads still carry the mark; then put the real rows back (the comparison
    with a full rebuild covers these tables too)."""
    table, column = where
    con = duckdb.connect(str(db))
    try:
        kept = {role: con.execute(f"select bool_or({column} = -1) from {table} where lead_id = ?",
                                  [lead]).fetchone()[0]
                for role, lead in marked.items()}
        con.execute(f"delete from {table} where lead_id = ?", [marked["untouched"]])
        placeholders = ", ".join("?" * len(kept_rows[0]))
        con.executemany(f"insert into {table} values ({placeholders})", kept_rows)
    finally:
        con.close()
    return kept


@pytest.fixture(scope="module")
def dbt_debug_log():
    """Some tests below read what dbt writes only at debug level (its parse decision, each
    statement it runs): its log file is at info otherwise."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DBT_LOG_LEVEL_FILE", "debug")
        yield


@pytest.fixture(scope="module")
def builds(tmp_path_factory, dbt_debug_log):
    root = tmp_path_factory.mktemp("incremental")
    landing, held = root / "landing", root / "held"
    generate(DemoConfig(leads=1500, seed=10), landing)
    day = hold_back_last_day(landing, held)

    daily = settings_at(root / "daily", landing=landing)
    _parse_for_another_warehouse(root / "elsewhere.duckdb")
    first_started = time.time()
    first = run_pipeline(daily, say=lambda _m: None)
    assert first.success, first.failures
    first_dbt_logs = _dbt_logs_since(first_started)
    excluded_lead = _exclude_an_mql_lead(landing, held, daily.duckdb_path, day.day)
    won_lead = _win_an_opportunity(landing, held, day.day)
    breached_lead = _let_a_pending_episode_breach(landing, held, daily.duckdb_path, day.day)
    marked = _leads_to_mark(daily.duckdb_path, held)
    scored_rows = _mark(daily.duckdb_path, SCORED, marked)
    served_rows = _mark(daily.serving_path, SERVED, marked)
    append_held_back(held, landing)
    daily_started = time.time()
    second = run_pipeline(daily, say=lambda _m: None)
    assert second.success, second.failures
    daily_dbt_logs = _dbt_logs_since(daily_started)
    daily_ran = {r["unique_id"].split(".")[2] for path in
                 _build_files_since(daily_started, "dbt_models-*/run_results.json")
                 for r in json.loads(path.read_text())["results"]}
    daily_statements = _compiled_since(daily_started)
    marks_kept = _take_marks(daily.duckdb_path, SCORED, marked, scored_rows)
    served_marks_kept = _take_marks(daily.serving_path, SERVED, marked, served_rows)

    third = run_pipeline(daily, say=lambda _m: None)  # nothing new since the second

    # The comparison build scores its leads in buckets of ~10 k activities (about 5 here):
    # bucketed scoring must give what the one-statement scoring of the daily builds gave.
    full = settings_at(root / "full", landing=landing)
    started = time.time()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FUNNEL_SCORING_BUCKET_ROWS", "10000")
        rebuilt = run_pipeline(full, full_refresh=True, say=lambda _m: None)  # as `funnel run --full-refresh`
    assert rebuilt.success, rebuilt.failures
    full_dbt_logs = _dbt_logs_since(started)
    return SimpleNamespace(day=day, daily=daily, full=full, excluded_lead=excluded_lead,
                           won_lead=won_lead, breached_lead=breached_lead,
                           first_dbt_logs=first_dbt_logs, daily_dbt_logs=daily_dbt_logs,
                           full_dbt_logs=full_dbt_logs, daily_ran=daily_ran,
                           daily_models=(second.models_built, second.models_left),
                           daily_summary=second.render(),
                           daily_statements=daily_statements,
                           third=third, marks_kept=marks_kept, served_marks_kept=served_marks_kept,
                           full_buckets=_scoring_buckets_since(started))


def _parse_for_another_warehouse(path) -> None:
    """Leave target/ with the parse state of another warehouse file (another database name),
    as its run would: the first build here must re-parse, and leave its own state behind."""
    env = {**os.environ, "DUCKDB_PATH": str(path)}
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", "dbt", "parse", "--quiet",
                           "--target", "prod"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _build_files_since(started: float, pattern: str) -> list[Path]:
    """Files of the dbt builds run since `started` (each in a target folder of its own)."""
    return [path for path in target_dir(dbt_project()).glob(pattern)
            if path.stat().st_mtime >= started]


def _dbt_logs_since(started: float) -> list[str]:
    return [path.read_text() for path in _build_files_since(started, "dbt_models-*/dbt.log")]


def _compiled_since(started: float) -> dict[str, str]:
    """The select of each model dbt built since `started` (its compiled/ folder: run/ holds
    only the insert of an incremental model), by model name."""
    return {path.stem: path.read_text()
            for path in _build_files_since(started, "dbt_models-*/compiled/*/models/**/*.sql")
            if path.parent.suffix != ".yml"}  # a test's SQL sits in a folder named after its YAML


def _scoring_buckets_since(started: float) -> set[int]:
    """Bucket counts in the scoring statements dbt ran since `started` (its run/ folder)."""
    found = set()
    for path in _build_files_since(started, "*/run/*/models/intermediate/scoring/int_activities_scored.sql"):
        found |= {int(n) for n in re.findall(r"lead bucket 0 of (\d+)", path.read_text())}
    return found


def test_the_held_back_day_is_real_new_data(builds):
    day = builds.day
    assert day.rows["crm_activities"] >= 50  # a Sunday of 1,500 leads: about a hundred
    assert {"crm_leads", "crm_activities"} <= set(day.rows)


def test_the_second_run_was_incremental(builds):
    con = duckdb.connect(str(builds.daily.duckdb_path), read_only=True)
    try:
        runs = con.execute("select model, full_refresh from audit.dbt_builds "
                           "where model not like '(%' order by built_at, model").fetchall()
        first, = con.execute("select min(built_at) from audit.dbt_builds").fetchone()
        # extracts the day brought no row of (their staging alone reads them)
        quiet = {f"stg_crm__{e}" for e in ("qualifications", "opportunities", "stage_history")
                 if con.execute(f"select max(_loaded_at) < ? from raw.crm_{e}",
                                [first]).fetchone()[0]}
    finally:
        con.close()
    models = sorted(m.split(".")[-1] for m in INCREMENTAL_MODELS)
    assert sorted(m for m, full in runs if full) == models  # first build
    # the daily run: all but the staging of an extract with no new row
    assert quiet < {"stg_crm__qualifications", "stg_crm__opportunities",
                    "stg_crm__stage_history"}
    assert sorted(m for m, full in runs if not full) == sorted(set(models) - quiet)
    # a lead the day touched was rescored; a lead it did not touch kept its rows
    assert builds.marks_kept == {"touched": False, "untouched": True}


def test_the_daily_build_leaves_what_no_new_row_reaches(builds):
    """The definitions tables read nothing a load changes: the daily build neither rebuilds
    nor re-tests them (their tables equal the full rebuild's: test_every_mart_equals_a_full_
    rebuild), but runs every test that reads them beside a rebuilt model."""
    manifest = json.loads((target_dir(dbt_project()) / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    definitions = {n["name"] for n in nodes if n["resource_type"] == "model"
                   and n["original_file_path"].startswith("models/definitions/")}
    assert len(definitions) >= 10 and not definitions & builds.daily_ran
    assert "stg_crm__leads" in builds.daily_ran and "fct_funnel_weekly" in builds.daily_ran
    rebuilt = {n["name"] for n in nodes if n["resource_type"] == "model"} & builds.daily_ran
    parents = {n["name"]: {p.split(".")[-1] for p in n["depends_on"]["nodes"]}
               for n in nodes if n["resource_type"] == "test"}
    on_definitions_alone = {t for t, read in parents.items() if read <= definitions}
    beside_a_rebuilt_model = {t for t, read in parents.items()
                              if read & definitions and read & rebuilt}
    assert on_definitions_alone and not on_definitions_alone & builds.daily_ran
    assert beside_a_rebuilt_model and beside_a_rebuilt_model <= builds.daily_ran
    # the run's summary counts the models rebuilt and those left
    left = {n["name"] for n in nodes if n["resource_type"] == "model"} - builds.daily_ran
    assert builds.daily_models == (len(rebuilt), len(left))
    assert f"dbt: {len(rebuilt)} models rebuilt; {len(left)} left as" in builds.daily_summary


def test_the_daily_build_reuses_the_previous_builds_parse(builds):
    """The build before it left its parse state: dbt re-reads only changed files, not the
    whole project (it would if the state came from another warehouse's profile)."""
    assert builds.daily_dbt_logs
    for log in builds.daily_dbt_logs:
        assert "Unable to do partial parsing" not in log
        assert "Partial parsing enabled, no changes found, skipping parsing" in log


def test_the_parse_is_kept_for_a_warehouse_elsewhere_and_redone_for_another_database(builds):
    """dbt's saved parse state is checked against the profile without the file's folder and
    memory settings, which change nothing it parses: the comparison build (a file of the same
    name in another folder) re-parses nothing; the first build, after a parse for a file of
    another name (another database in every node), re-parsed the whole project."""
    assert builds.first_dbt_logs and builds.full_dbt_logs
    assert all("Unable to do partial parsing because profile has changed" in log
               for log in builds.first_dbt_logs)
    for log in builds.full_dbt_logs:
        assert "Unable to do partial parsing" not in log
        assert "Partial parsing enabled" in log


def test_only_the_daily_build_defers_duckdb_checkpoints(builds):
    """A daily build checkpoints at a write-ahead log of a twentieth of the memory limit (once,
    when dbt closes the database, on small data); a full refresh keeps DuckDB's default, so
    the space of the tables it replaces is reused as it goes."""
    limit = memory_limit_or_default("")
    deferred = f"set global checkpoint_threshold = '{checkpoint_threshold(limit)}'"
    assert checkpoint_threshold(limit) != DUCKDB_CHECKPOINT_DEFAULT  # deferred on this machine's default limit
    assert builds.daily_dbt_logs and builds.full_dbt_logs
    assert all(deferred in log for log in builds.daily_dbt_logs)
    assert not any("checkpoint_threshold" in log for log in builds.full_dbt_logs)


SCORED_ACTIVITIES_READERS = ["fct_lead_score_peaks", "int_lead_evaluation_activity_types",
                             "int_lead_evaluations", "int_lead_last_activity",
                             "int_lead_mql_episodes", "int_score_ledger_items"]


def test_the_daily_readers_of_scored_activities_skip_the_rows_of_earlier_builds(builds):
    """A by-lead model reads int_activities_scored from the rows written after its own
    previous build: on the first daily build after a full one, the rows of the daily build
    alone, not the full build's (whose blocks DuckDB then skips). Whether that is enough
    rows is what test_every_mart_equals_a_full_rebuild checks."""
    bound = re.compile(r"built_at > cast\('([^']+)' as timestamp\)")
    bounds = {model: found[0] for model, sql in builds.daily_statements.items()
              if "int_activities_scored" in sql and (found := bound.findall(sql))}
    assert sorted(bounds) == SCORED_ACTIVITIES_READERS
    con = duckdb.connect(str(builds.daily.duckdb_path), read_only=True)
    try:
        (_, full_rows), (_, daily_rows) = con.execute(
            "select built_at, count(*) from intermediate.int_activities_scored "
            "group by 1 order by 1").fetchall()  # the full build's stamp, the daily build's
        assert 0 < daily_rows < full_rows
        for model, since in bounds.items():
            read, = con.execute("select count(*) from intermediate.int_activities_scored "
                                "where built_at > cast(? as timestamp)", [since]).fetchone()
            assert read == daily_rows, model
    finally:
        con.close()


def test_every_mart_equals_a_full_rebuild(builds):
    daily, full, excluded_lead = builds.daily, builds.full, builds.excluded_lead
    assert builds.full_buckets and min(builds.full_buckets) > 1  # the rebuild scored in buckets
    con = duckdb.connect()
    try:
        con.execute(f"attach '{daily.duckdb_path}' as incremental_build (read_only)")
        con.execute(f"attach '{full.duckdb_path}' as full_build (read_only)")
        tables = _tables(con, "full_build")
        assert len(tables) > 20
        assert tables == _tables(con, "incremental_build")
        differing = {t: n for t in [*tables, *INCREMENTAL_MODELS]
                     if (n := _differences(con, t))}
        assert differing == {}
        lifecycle = con.execute(
            "select is_excluded, mql_at from incremental_build.marts.fct_lead_lifecycle "
            "where lead_id = ?", [excluded_lead]).fetchone()
        assert lifecycle == (True, None)  # the update took its MQL back
        stage = con.execute(
            "select current_stage, cast(customer_at as date) "
            "from incremental_build.marts.fct_lead_lifecycle where lead_id = ?",
            [builds.won_lead]).fetchone()
        assert stage == ("customer", builds.day.day)  # a won opportunity alone moves the lead
        sla = con.execute(
            "select is_pending, is_never_touched, is_limit_breached "
            "from incremental_build.marts.fct_sla where lead_id = ? and mql_at = ?",
            list(builds.breached_lead)).fetchone()
        assert sla == (False, True, True)  # the data ran past its limit: breached, no new row
    finally:
        con.close()


def test_the_comparison_build_was_a_full_refresh(builds):
    con = duckdb.connect(str(builds.full.duckdb_path), read_only=True)
    try:
        assert con.execute("select bool_and(full_refresh), count(*) from audit.dbt_builds "
                           "where model not like '(%'").fetchone() == (True, len(INCREMENTAL_MODELS))
    finally:
        con.close()


def test_the_served_files_are_equal_and_the_daily_one_was_patched(builds):
    """The daily publish patched the ledger's items by lead in a copy of the previous serving
    file; every served table and view equals the full rebuild's."""
    assert builds.served_marks_kept == {"touched": False, "untouched": True}
    con = duckdb.connect()
    try:
        con.execute(f"attach '{builds.daily.serving_path}' as incremental_build (read_only)")
        con.execute(f"attach '{builds.full.serving_path}' as full_build (read_only)")
        served = _tables(con, "full_build", ("marts", "definitions", "intermediate"))
        assert "marts.fct_score_ledger" in served and SERVED_ITEMS in served
        assert served == _tables(con, "incremental_build", ("marts", "definitions", "intermediate"))
        assert {t: n for t in served if (n := _differences(con, t))} == {}
    finally:
        con.close()


def test_a_run_with_nothing_new_skips_dbt_and_keeps_the_published_file(builds):
    third = builds.third
    assert third.success and third.nothing_new, third.failures
    assert third.models_built == 0 and third.published_to is None
    assert third.report is not None and third.report.exists()  # still built, from the serving file
    assert any(c.endswith("_contract") for c in third.checks_passed)
    assert "unchanged" in third.render()


def test_nothing_new_needs_the_same_data_code_and_a_publish_after_the_build():
    built, published = datetime(2026, 11, 2, 6), datetime(2026, 11, 2, 6, 5)
    dbt_started = datetime(2026, 11, 2, 5, 50)  # the whole build's own dbt command
    last = ("abc", datetime(2026, 11, 2, 5), built)
    assert build_state.nothing_new(last, "abc", datetime(2026, 11, 2, 5), published, dbt_started)
    assert not build_state.nothing_new(last, "def", datetime(2026, 11, 2, 5), published,
                                       dbt_started)
    assert not build_state.nothing_new(last, "abc", datetime(2026, 11, 2, 7), published,
                                       dbt_started)
    assert not build_state.nothing_new(last, "abc", datetime(2026, 11, 2, 5),
                                       datetime(2026, 11, 2, 5, 59), dbt_started)  # never published
    assert not build_state.nothing_new(None, "abc", datetime(2026, 11, 2, 5), published,
                                       dbt_started)
    # a `funnel dbt build` after the whole build (say with other definitions) changed the marts
    assert not build_state.nothing_new(last, "abc", datetime(2026, 11, 2, 5), published,
                                       datetime(2026, 11, 2, 6, 10))
    assert not build_state.nothing_new(last, "abc", datetime(2026, 11, 2, 5), published, None)


def test_a_changed_definition_forces_a_full_refresh():
    recorded = {"int_activities_scored": "abc", "int_lead_mql_episodes": "abc"}
    models = list(recorded)
    assert build_state.needs_full_refresh(recorded, models, "abc") == []
    assert build_state.needs_full_refresh(recorded, models, "def") == models
    assert build_state.needs_full_refresh({}, models, "abc") == models


def _dbt_test_failures(warehouse, test_name: str) -> dict[str, int]:
    """Run every dbt test of the generic test `test_name` against `warehouse`: failing rows
    per test (0 when it passed), keyed by the rest of the test's name."""
    env = {**os.environ, "DUCKDB_PATH": str(warehouse)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "dbt", "test", "--select",
         f"test_name:{test_name}"],
        env=env, capture_output=True, text=True, timeout=600)
    outcomes = re.findall(rf"(PASS|FAIL \d+) {test_name}_(\w+?) ", done.stdout)
    failures = {test: 0 if outcome == "PASS" else int(outcome.split()[1])
                for outcome, test in outcomes}
    assert failures, done.stdout[-2000:]
    assert (done.returncode != 0) == any(failures.values()), done.stdout[-2000:]
    return failures


def _unique_test_failures(warehouse) -> dict[str, int]:
    """Run every unique_in_incremental_build test against `warehouse`: failures per model."""
    failures = {test.split("_activity_id")[0]: n
                for test, n in _dbt_test_failures(warehouse, "unique_in_incremental_build").items()}
    assert sorted(failures) == ["int_activities_scored", "stg_crm__activities"], failures
    return failures


def test_the_unique_tests_of_big_incremental_models_look_at_what_the_build_added(builds, tmp_path):
    """After a daily build, a duplicate key among the rows it added fails the test; one among
    rows an earlier, tested build wrote is not looked for again (they were checked then)."""
    warehouse = tmp_path / "tampered.duckdb"
    shutil.copy(builds.daily.duckdb_path, warehouse)
    assert _unique_test_failures(warehouse) == {"stg_crm__activities": 0, "int_activities_scored": 0}

    con = duckdb.connect(str(warehouse))
    try:
        # an old activity copied as if loaded after the last build: a new row with an old key
        # (the staged activities are a view of the raw table)
        con.execute("""insert into raw.crm_activities
                       select * replace (_loaded_at + interval 1 hour as _loaded_at)
                       from raw.crm_activities
                       where _loaded_at < (select max(_loaded_at) from raw.crm_activities)
                       order by activity_id limit 1""")
        # a scored activity doubled for a lead whose rows are all old ...
        lead, = con.execute("""select lead_id from intermediate.int_activities_scored
                               where lead_id not in (select lead_id from staging.stg_crm__activities
                                                     group by 1 having count(*) > count(distinct activity_id))
                               group by 1 order by 1 limit 1""").fetchone()
        con.execute("""insert into intermediate.int_activities_scored
                       select * from intermediate.int_activities_scored
                       where lead_id = ? order by activity_id limit 1""", [lead])
    finally:
        con.close()
    # the scored copy belongs to a lead no build touched since: not looked for
    assert _unique_test_failures(warehouse) == {"stg_crm__activities": 1, "int_activities_scored": 0}

    con = duckdb.connect(str(warehouse))
    try:  # ... until a build rewrites the lead: the rows it writes carry a later stamp
        con.execute("""update intermediate.int_activities_scored
                       set built_at = (select max(built_at) from audit.dbt_builds) + interval 1 minute
                       where lead_id = ?""", [lead])
    finally:
        con.close()
    assert _unique_test_failures(warehouse) == {"stg_crm__activities": 1, "int_activities_scored": 1}


def _key_test_failures(warehouse) -> dict[str, int]:
    """Run every primary_key_in_rebuilt_leads test (the by-lead models' keys) against
    `warehouse`: the failing ones."""
    failures = _dbt_test_failures(warehouse, "primary_key_in_rebuilt_leads")
    assert len(failures) == 11, failures
    return {test: n for test, n in failures.items() if n}


def test_the_key_tests_of_by_lead_models_look_at_the_rebuilt_leads(builds, tmp_path):
    """A duplicate key of a by-lead model is two rows of one lead: looked for among the leads
    rebuilt since the model's last recorded build, not among the others (tested then). A null
    key is looked for in every row."""
    warehouse = tmp_path / "tampered.duckdb"
    shutil.copy(builds.daily.duckdb_path, warehouse)
    assert _key_test_failures(warehouse) == {}

    con = duckdb.connect(str(warehouse))
    try:  # a lifecycle row and a fit match doubled for a lead no build touched since
        lead, = con.execute("""select lead_id from intermediate.int_lead_fit_matches
                               order by lead_id limit 1""").fetchone()
        for table in ("marts.fct_lead_lifecycle", "intermediate.int_lead_fit_matches"):
            con.execute(f"insert into {table} select * from {table} where lead_id = ? limit 1",
                        [lead])
    finally:
        con.close()
    assert _key_test_failures(warehouse) == {}

    con = duckdb.connect(str(warehouse))
    try:  # the lead gets a new row: the build that rebuilds it is where a duplicate would be
        con.execute("""update staging.stg_crm__leads set loaded_at = loaded_at + interval 1 day
                       where lead_id = ?""", [lead])
    finally:
        con.close()
    assert _key_test_failures(warehouse) == {
        "fct_lead_lifecycle_lead_id": 1, "int_lead_fit_matches_lead_id__rule_id": 1}

    con = duckdb.connect(str(warehouse))
    try:  # a row without a key, of a lead no build touched since: looked for all the same
        con.execute("""insert into marts.fct_lead_lifecycle select * replace (null as lead_id)
                       from marts.fct_lead_lifecycle where lead_id <> ? limit 1""", [lead])
    finally:
        con.close()
    assert _key_test_failures(warehouse) == {
        "fct_lead_lifecycle_lead_id": 2, "int_lead_fit_matches_lead_id__rule_id": 1}


def test_a_model_whose_test_failed_is_not_recorded_as_built():
    manifest = {"nodes": {
        "test.p.unique_a_id": {"attached_node": "model.p.a"},
        "test.p.not_null_b_id": {"attached_node": "model.p.b"},
        "test.p.assert_totals": {"attached_node": None},
    }}
    results = [{"unique_id": "model.p.a", "status": "success"},
               {"unique_id": "test.p.unique_a_id", "status": "fail"},
               {"unique_id": "test.p.not_null_b_id", "status": "pass"},
               {"unique_id": "test.p.assert_totals", "status": "error"}]
    assert build_state.models_with_failed_tests(results, manifest) == {"model.p.a"}
    results[1]["status"] = "warn"  # a warning does not hold the build back
    assert build_state.models_with_failed_tests(results, manifest) == set()
