"""Every guard can fail: tamper with one fact of a clean warehouse and the guard for that fact
names the count and the key. Blocking failures stop publication. (Readers of the serving file
during a run: tests/test_faults.py.)"""

import hashlib
import shutil
import subprocess

import duckdb
import pytest

from orchestration.defs.quality import current_guards
from orchestration.ingest.contract import EXTRACTS
from tests.conftest import settings_at

pytestmark = pytest.mark.slow(seconds=130)  # runs the pipeline; orders the parallel workers


@pytest.fixture
def clean(published_demo):
    return published_demo


def test_on_clean_demo_data_every_check_passes_and_the_marts_are_published(clean):
    _, settings, summary = clean
    # The demo data ends on 22 Nov 2026: its extracts are older than the definitions allow, and
    # only the freshness guards say so (test_freshness_is_measured_on_the_datas_own_time).
    assert summary.checks_failed == []
    assert summary.checks_warned and all("_data_freshness - newest row" in w
                                         for w in summary.checks_warned), summary.checks_warned
    assert len(summary.checks_passed) > 100  # the guards and every dbt test
    guards = [c for c in summary.checks_passed if c.endswith(("_contract", "_definition",
                                                              "_mql", "_rule", "_ordered"))]
    assert len(guards) >= 12
    assert summary.published_to == settings.serving_path
    serving = duckdb.connect(str(settings.serving_path), read_only=True)
    warehouse = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for table in ("fct_funnel_weekly", "fct_lead_lifecycle", "dim_leads", "fct_score_ledger"):
            assert (serving.execute(f"select count(*) from marts.{table}").fetchone()
                    == warehouse.execute(f"select count(*) from marts.{table}").fetchone())
        # the ledger is a view in both files; the serving file holds the tables it reads
        ledger_type = "select table_type from information_schema.tables where table_name = 'fct_score_ledger'"
        assert warehouse.execute(ledger_type).fetchall() == [("VIEW",)]
        assert serving.execute(ledger_type).fetchall() == [("VIEW",)]
        assert (serving.execute("select count(*), sum(weighted_points) from marts.fct_score_ledger").fetchone()
                == warehouse.execute("select count(*), sum(weighted_points) from marts.fct_score_ledger").fetchone())
        assert serving.execute("select count(*) from definitions.def_settings").fetchone() == (1,)
        schemas = {r[0] for r in serving.execute("select distinct table_schema from information_schema.tables").fetchall()}
        # raw data and e-mails never reach BI; of the intermediate models, only what the ledger reads
        assert schemas == {"marts", "definitions", "audit", "intermediate"}
        assert {r[0] for r in serving.execute("select table_name from information_schema.tables "
                                              "where table_schema = 'intermediate'").fetchall()} == {
            "int_score_ledger_items", "int_activities_scored", "int_lead_scores_current",
            "int_lead_fit_matches"}
        audit_columns = {r[0] for r in serving.execute(
            "select column_name from information_schema.columns where table_schema = 'audit'").fetchall()}
        assert not audit_columns & {"raw_record", "raw_value", "email"}
        published_checks = serving.execute(
            "select count(*), count(*) filter (where passed) from audit.check_results").fetchone()
        checks = len(summary.checks_passed) + len(summary.checks_warned)
        assert published_checks == (checks, len(summary.checks_passed))
    finally:
        serving.close()
        warehouse.close()


def tampered_copy(clean, tmp_path):
    root, settings, _ = clean
    copy = tmp_path / "tampered.duckdb"
    shutil.copy(settings.duckdb_path, copy)
    return duckdb.connect(str(copy))


def one(con, sql):
    return con.execute(sql).fetchone()


def tamper_mql_below_threshold(con):
    from orchestration.funnel_definitions import load_definitions

    fast = load_definitions().engagement.fast_track
    lead, episode = one(con, f"""select lead_id, mql_episode from intermediate.int_lead_mql_episodes
                                 where mql_activity_type not in ({', '.join(repr(t) for t in fast)})
                                 order by lead_id limit 1""")
    con.execute("update intermediate.int_lead_mql_episodes set mql_lead_score = 10 "
                "where lead_id = ? and mql_episode = ?", [lead, episode])
    return f"{lead}#{episode}"


def tamper_excluded_lead_is_mql(con):
    (lead,) = one(con, "select lead_id from marts.fct_lead_lifecycle where is_excluded order by 1 limit 1")
    con.execute("update marts.fct_lead_lifecycle set mql_at = lead_created_at where lead_id = ?", [lead])
    return lead


def tamper_sql_with_two_bant_criteria(con):
    lead, sql_at = one(con, "select lead_id, sql_at from marts.fct_lead_lifecycle where sql_at is not null order by 1 limit 1")
    con.execute("""update staging.stg_crm__qualifications
                   set has_need = true, has_budget = true, has_authority = false, has_timing = false
                   where lead_id = ? and qualified_at = ?""", [lead, sql_at])
    return lead


def tamper_sql_before_mql(con):
    (lead,) = one(con, """select lead_id from marts.fct_lead_lifecycle
                          where mql_at is not null and sql_at is not null order by 1 limit 1""")
    con.execute("update marts.fct_lead_lifecycle set sql_at = mql_at - interval 1 hour where lead_id = ?", [lead])
    return lead


def tamper_negative_spend(con):
    day, platform, campaign = one(con, "select spend_date, platform, campaign_id from raw.ad_spend order by 1, 2, 3 limit 1")
    con.execute("update raw.ad_spend set spend = -5 where spend_date = ? and platform = ? and campaign_id = ?",
                [day, platform, campaign])
    return f"{day}|{platform}|{campaign}"


def tamper_duplicate_lead_id(con):
    (lead,) = one(con, "select lead_id from raw.crm_leads order by 1 limit 1")
    con.execute("insert into raw.crm_leads select * from raw.crm_leads where lead_id = ?", [lead])
    return lead


def tamper_mart_spend_off_by_a_cent(con):
    (currency,) = one(con, "select currency from marts.fct_spend_daily where spend_source = 'ad_platform' order by spend_date limit 1")
    con.execute("""update marts.fct_spend_daily set spend_amount_original = spend_amount_original + 0.01
                   where rowid = (select min(rowid) from marts.fct_spend_daily
                                  where spend_source = 'ad_platform' and currency = ?)""", [currency])
    return f"ad_platform|{currency}"


def tamper_ledger_row_removed(con):
    lead, scored_at, activity = one(con, """select lead_id, scored_at, activity_id from marts.fct_score_ledger
                                            where moment = 'current' and component = 'engagement'
                                              and weighted_points > 0.5 order by lead_id, activity_id limit 1""")
    # the ledger is a view: the activity goes from the scored activities it reads
    con.execute("""delete from intermediate.int_activities_scored
                   where lead_id = ? and activity_id = ?""", [lead, activity])
    return f"{lead}|current|{scored_at}"


def tamper_cohort_rate_above_one(con):
    (week,) = one(con, "select min(week_start_date) from marts.fct_funnel_weekly where mql_to_sql_cohort_rate is not null")
    con.execute("""update marts.fct_funnel_weekly set mql_to_sql_cohort_rate = 1.5
                   where rowid = (select min(rowid) from marts.fct_funnel_weekly
                                  where week_start_date = ? and mql_to_sql_cohort_rate is not null)""", [week])
    return None


def tamper_mql_counted_twice_in_a_week(con):
    con.execute("""update marts.fct_funnel_weekly set mqls = mqls + 1 where rowid = (
                       select min(rowid) from marts.fct_funnel_weekly where mqls > 0)""")
    return "fct_funnel_weekly|mqls"


def tamper_outbound_lead_is_mql(con):
    (lead,) = one(con, """select lead_id from marts.fct_lead_lifecycle
                          where acquisition_mode = 'outbound' order by 1 limit 1""")
    con.execute("update marts.fct_lead_lifecycle set mql_at = lead_created_at where lead_id = ?",
                [lead])
    return lead


def tamper_dim_leads_stage_differs(con):
    (lead,) = one(con, "select lead_id from marts.dim_leads where current_stage = 'lead' "
                       "order by 1 limit 1")
    con.execute("update marts.dim_leads set current_stage = 'sql' where lead_id = ?", [lead])
    return "dim_leads|current_stage"


def tamper_segment_mqls(con):
    con.execute("""update marts.fct_funnel_segment_weekly set mqls = mqls + 1 where rowid = (
                       select min(rowid) from marts.fct_funnel_segment_weekly where mqls > 0)""")
    return "fct_funnel_segment_weekly|mqls"


def tamper_definitions_not_in_force(con):
    con.execute("update definitions.def_settings set definitions_version = 'an_old_file'")
    return "an_old_file"


def tamper_crm_drift(con):
    con.execute("update marts.fct_stage_drift set drift_share = 0.9 where channel_group = 'paid_search'")
    return "paid_search"


@pytest.mark.parametrize(("tamper", "guard", "blocking"), [
    (tamper_mql_below_threshold, "mqls_met_the_definition", True),
    (tamper_excluded_lead_is_mql, "no_excluded_lead_is_mql", True),
    (tamper_sql_with_two_bant_criteria, "sqls_meet_the_sql_rule", True),
    (tamper_sql_before_mql, "stage_timestamps_ordered", True),
    (tamper_mart_spend_off_by_a_cent, "mart_spend_equals_raw_spend", True),
    (tamper_ledger_row_removed, "score_ledger_sums_to_scores", True),
    (tamper_cohort_rate_above_one, "cohort_rates_within_0_and_1", True),
    (tamper_mql_counted_twice_in_a_week, "stage_counts_agree_across_marts", True),
    (tamper_segment_mqls, "stage_counts_agree_across_marts", True),
    (tamper_dim_leads_stage_differs, "stage_counts_agree_across_marts", True),
    (tamper_outbound_lead_is_mql, "mqls_met_the_definition", True),
    (tamper_definitions_not_in_force, "warehouse_built_with_the_definitions_in_force", True),
    (tamper_negative_spend, "ad_spend_contract", False),
    (tamper_duplicate_lead_id, "crm_leads_contract", False),
    (tamper_crm_drift, "crm_stage_drift", False),
])
def test_each_guard_fails_on_its_tampered_fact(clean, tmp_path, tamper, guard, blocking):
    from expectations.runner import run_guard

    con = tampered_copy(clean, tmp_path)
    try:
        before = run_guard(con, current_guards(con)[guard])
        assert before.passed, before.summary()
        key = tamper(con)
        after = run_guard(con, current_guards(con)[guard])
    finally:
        con.close()
    assert not after.passed
    assert after.guard.blocking is blocking
    assert after.failing_rows == 1, after.summary()
    if key is not None:
        assert key in after.sample_keys, (key, after.sample_keys)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audited_copy(clean, tmp_path):
    """Settings of a copy of the clean warehouse and its serving file, for the audit job."""
    _, settings, _ = clean
    copy_root = tmp_path / "run"
    copy_root.mkdir()
    copy = settings_at(copy_root, landing=settings.landing_dir)
    shutil.copy(settings.duckdb_path, copy.duckdb_path)
    shutil.copy(settings.serving_path, copy.serving_path)
    return copy


def test_a_failing_blocking_check_keeps_the_last_good_serving_file(clean, tmp_path, pg_url,
                                                                    monkeypatch):
    """The serving file and its PostgreSQL copy (SERVING_POSTGRES_URL) stay as they were when
    a blocking check fails; once repaired, the audit publishes both, and PostgreSQL shows
    every table and row of the serving file, with its comments and types."""
    from orchestration.code_location import build_definitions
    from orchestration.in_process import dagster_instance
    from orchestration.serving_postgres import publish_postgres
    from tests.test_publish_postgres import _live, _served, psycopg

    _, settings, _ = clean
    tampered = audited_copy(clean, tmp_path)
    good = sha(tampered.serving_path)
    publish_postgres(tampered.serving_path, pg_url)  # the last good publish, in PostgreSQL too
    before = _live(pg_url)
    monkeypatch.setenv("SERVING_POSTGRES_URL", pg_url)
    con = duckdb.connect(str(tampered.duckdb_path))
    tamper_ledger_row_removed(con)
    con.close()

    result = build_definitions(tampered).resolve_job_def("audit_publish").execute_in_process(
        instance=dagster_instance(), raise_on_error=False)
    assert not result.success
    materialized = [e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert materialized == []  # serving/warehouse was not published
    failed = [e.event_specific_data.check_name for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
              and e.event_specific_data.severity.value == "ERROR"]  # not the freshness warnings
    assert failed == ["score_ledger_sums_to_scores"]
    assert sha(tampered.serving_path) == good
    assert _live(pg_url) == before

    # repaired (the clean warehouse again): the same job publishes the new marts
    shutil.copy(settings.duckdb_path, tampered.duckdb_path)
    copies = _dbt_project_copies()
    result = build_definitions(tampered).resolve_job_def("audit_publish").execute_in_process(
        instance=dagster_instance(), raise_on_error=False)
    assert result.success
    # dagster-dbt ran the audit's tests in a copy of the project: it is gone
    assert _dbt_project_copies() == copies
    assert [e.asset_key.to_user_string() for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"] == ["serving/warehouse",
                                                                  "serving/postgres"]
    after = _live(pg_url)
    assert after["counts"] == _served(tampered.serving_path)  # every table, every row
    assert after["schemas"] == ["audit", "definitions", "marts"] and after["run"] != before["run"]
    query = ("select count(*), sum(expected_revenue), sum(win_probability) "
             "from marts.fct_lead_expected_revenue")
    with psycopg.connect(pg_url) as pg, \
            duckdb.connect(str(tampered.serving_path), read_only=True) as served:
        got, want = pg.execute(query).fetchone(), served.execute(query).fetchone()
        assert got[:2] == want[:2] and got[2] == pytest.approx(want[2], rel=1e-12)
        described, columns = pg.execute("""
            select count(*) filter (where col_description(format('%I.%I', table_schema,
                                                                 table_name)::regclass,
                                                          ordinal_position) is not null),
                   count(*)
            from information_schema.columns where table_schema = 'marts'""").fetchone()
        kinds = dict(pg.execute("""select column_name, data_type from information_schema.columns
                                   where table_schema = 'marts'
                                     and table_name = 'fct_funnel_weekly'""").fetchall())
    assert described >= 0.9 * columns
    assert kinds["mqls"] == "bigint" and kinds["spend_amount"] == "numeric"


def _dbt_project_copies() -> set[str]:
    import tempfile
    from pathlib import Path

    return {str(p.parent) for p in Path(tempfile.gettempdir()).glob("*/dbt_project.yml")}


def _check_failures(result) -> set[str]:
    """Checks that failed with severity ERROR (the demo data's freshness warnings aside)."""
    return {e.event_specific_data.check_name for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
            and e.event_specific_data.severity.value == "ERROR"}


def test_the_audit_re_tests_the_marts_and_never_publishes_a_tampered_one(clean, tmp_path):
    """`funnel check` and the Monday job run every check of a full run - dbt's data tests and
    reconciliations as well as the guards - on the warehouse as it is. A dim_leads row
    duplicated by hand and an outbound lead given an MQL date are caught and not published;
    the clean warehouse is, and its publish lists as many checks as the full run's (the
    report's data-quality section shows that set)."""
    from orchestration.code_location import build_definitions
    from orchestration.in_process import dagster_instance

    _, settings, summary = clean
    audited = audited_copy(clean, tmp_path)
    good = sha(audited.serving_path)
    con = duckdb.connect(str(audited.duckdb_path))
    con.execute("insert into marts.dim_leads select * from marts.dim_leads "
                "where lead_id = (select min(lead_id) from marts.dim_leads)")
    tamper_outbound_lead_is_mql(con)
    con.close()

    audit = build_definitions(audited).resolve_job_def("audit_publish")
    result = audit.execute_in_process(instance=dagster_instance(), raise_on_error=False)
    assert not result.success
    assert {"primary_key_dim_leads_lead_id", "mqls_met_the_definition",
            "stage_counts_agree_across_marts"} <= _check_failures(result)
    assert [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"] == []
    assert sha(audited.serving_path) == good

    shutil.copy(settings.duckdb_path, audited.duckdb_path)
    result = audit.execute_in_process(instance=dagster_instance(), raise_on_error=False)
    assert result.success and _check_failures(result) == set()
    with duckdb.connect(str(audited.serving_path), read_only=True) as serving:
        audited_checks = serving.execute("select count(*) from audit.check_results").fetchone()[0]
    with duckdb.connect(str(settings.serving_path), read_only=True) as serving:
        full_run_checks = serving.execute("select count(*) from audit.check_results").fetchone()[0]
    assert audited_checks == full_run_checks == len(summary.checks_passed) + len(
        summary.checks_warned)
    assert any(c.endswith(":primary_key_dim_leads_lead_id") for c in summary.checks_passed)


def test_a_contract_guard_checks_the_rows_of_the_latest_load_against_the_whole_table(con, landing):
    """A daily run validates what it loaded (2 rows), not the history again; a key of that
    load is still compared with every earlier row."""
    from expectations.runner import run_guard
    from expectations.suites import build_guards
    from orchestration.funnel_definitions import load_definitions
    from tests.conftest import drop, load

    header = "lead_id,created_at,updated_at,acquisition_mode\n"
    drop(landing, "crm_leads", "day1.csv", header + "".join(
        f"L{i},2025-03-01,,inbound\n" for i in range(50)), mtime=1_000)
    load(con, landing, "crm_leads", load_id="day1")
    drop(landing, "crm_leads", "day2.csv", header + "N1,2025-03-02,,inbound\n"
         "N2,2025-03-02,,outbound\n", mtime=2_000)
    load(con, landing, "crm_leads", load_id="day2")
    guard = next(g for g in build_guards(load_definitions(), EXTRACTS) if g.name == "crm_leads_contract")
    result = run_guard(con, guard)
    assert result.passed
    assert result.details[0]["probe"].startswith("every row of the latest load")
    assert result.rows_checked == 2 + 2  # the day's rows + one load_log row per file

    # a row of the latest load that repeats an older key is caught
    con.execute("update raw.crm_leads set lead_id = 'L7' where lead_id = 'N1'")
    result = run_guard(con, guard)
    assert not result.passed and "L7" in result.sample_keys


@pytest.mark.parametrize("entered_at, failing", [
    ("2025-01-01 00:00:00", []),
    ("2030-01-01 00:00:00", ["k2"]),
    ("9999-12-31 00:00:00", ["k2"]),  # beyond pandas' nanosecond range: checked the slow way
])
def test_a_timestamp_probe_flags_future_rows_in_and_beyond_the_nanosecond_range(entered_at, failing):
    """Probe frames get nanosecond timestamps so GX compares them vectorised; a value pandas
    cannot hold in nanoseconds must still be checked, not crash or pass."""
    from datetime import datetime

    from expectations.runner import run_guard
    from expectations.suites import Expect, Guard, Probe

    probe = Probe("entered_at not in the future",
                  "select 'k1' as record_key, timestamp '2024-05-01' as entered_at "
                  f"union all select 'k2', timestamp '{entered_at}'", "record_key",
                  (Expect("ExpectColumnValuesToBeBetween",
                          {"column": "entered_at", "max_value": datetime(2027, 1, 1)}),))
    guard = Guard("future_rows", ("raw", "t"), "contract", "test", (probe,))
    result = run_guard(duckdb.connect(), guard)
    assert (result.passed, result.sample_keys, result.rows_checked) == (not failing, failing, 2)


def test_a_probe_larger_than_one_slice_is_validated_slice_by_slice(monkeypatch):
    """Big probes go to GX in slices (bounded pandas memory); failures in every slice count,
    and an empty probe still runs its expectations."""
    from expectations import runner
    from expectations.suites import Expect, Guard, Probe

    monkeypatch.setattr(runner, "PROBE_BATCH_VECTORS", 1)  # 2,048 rows per slice
    import great_expectations.execution_engine.pandas_execution_engine as engine

    def no_hash(frame):  # a batch's fingerprint is skipped: 4 s a daily run at 1 M leads
        raise AssertionError("GX hashed a probe frame")

    monkeypatch.setattr(engine, "hash_pandas_dataframe", no_hash)
    unique = (Expect("ExpectColumnValuesToBeBetween", {"column": "occurrences", "max_value": 1}),)
    probe = Probe("keys", "select 'k' || range as record_key, "
                  "case when range in (10, 3000, 4999) then 2 else 1 end as occurrences "
                  "from range(5000)", "record_key", unique)
    result = runner.run_guard(duckdb.connect(), Guard("keys", ("raw", "t"), "contract", "t", (probe,)))
    assert (result.passed, result.failing_rows, result.rows_checked) == (False, 3, 5000)
    assert result.sample_keys == ["k10", "k3000", "k4999"]
    assert [(d["success"], d["unexpected_count"]) for d in result.details] == [(False, 3)]

    empty = Probe("none", "select 'k' as record_key, 1 as occurrences where false", "record_key", unique)
    result = runner.run_guard(duckdb.connect(), Guard("none", ("raw", "t"), "contract", "t", (empty,)))
    assert (result.passed, result.rows_checked, len(result.details)) == (True, 0, 1)


def test_gx_warmed_up_in_the_background_is_the_one_the_checks_use(monkeypatch):
    """The ingest steps start GX's import in a thread (once per process) and go on loading while
    it runs; a check that comes before it is done waits for it and gets the same context,
    never a second one."""
    import threading

    from expectations import runner

    loads = []
    real = runner._load_gx
    importing, release = threading.Event(), threading.Event()

    def slow_import():  # an import that lasts until the test says so
        importing.set()
        release.wait(timeout=120)
        loads.append(1)
        return real()

    monkeypatch.setattr(runner, "_gx", None)
    monkeypatch.setattr(runner, "_warming", False)
    monkeypatch.setattr(runner, "_load_gx", slow_import)
    runner.warm_up()
    assert importing.wait(timeout=30)
    # the next extract's step calls it again while GX imports: it must not wait for the import
    second = threading.Thread(target=runner.warm_up, name="second-extract")
    second.start()
    second.join(timeout=5)
    returned_at_once = not second.is_alive()
    release.set()
    second.join(timeout=120)
    assert returned_at_once, "warm_up waited for the import it had started"
    assert [t.name for t in threading.enumerate()].count("gx-warm-up") <= 1
    first = runner._gx_batch_definition()  # waits for the thread if it is still importing
    for thread in threading.enumerate():
        if thread.name == "gx-warm-up":
            thread.join(timeout=120)
    assert runner._gx_batch_definition() is first and loads == [1]


def test_a_first_load_of_the_activities_is_checked_by_one_aggregate_with_the_same_verdict(
        con, landing):
    """A load that wrote most of its table (the history's first load) is checked for
    repeated keys by one aggregate over the table, not a semi join on every key (out of
    memory at 10 M leads); the verdict and the keys found are the semi join's."""
    from expectations.runner import run_guard
    from expectations.suites import build_guards, history_loads
    from orchestration.funnel_definitions import load_definitions
    from tests.conftest import drop, load

    header = "activity_id,lead_id,occurred_at,activity_type\n"
    drop(landing, "crm_activities", "history.csv", header + "".join(
        f"A{i},L{i % 7},2025-03-01 10:00:00,page_view\n" for i in range(40)), mtime=1_000)
    load(con, landing, "crm_activities", load_id="history")
    assert history_loads(con, EXTRACTS) == {"crm_activities"}

    def verdicts():
        out = []
        for history in (set(), {"crm_activities"}):
            guard = next(g for g in build_guards(load_definitions(), EXTRACTS, history_loads=history)
                         if g.name == "crm_activities_contract")
            result = run_guard(con, guard)
            out.append((result.passed, sorted(result.sample_keys), result.failing_rows))
        return out

    clean, with_history_form = verdicts()
    assert clean == with_history_form and clean[0]
    con.execute("update raw.crm_activities set activity_id = 'A3' where activity_id = 'A9'")
    semi_join, aggregate = verdicts()
    assert semi_join == aggregate and not aggregate[0] and "A3" in aggregate[1]

    drop(landing, "crm_activities", "day.csv", header + "A100,L1,2025-03-02 10:00:00,page_view\n",
         mtime=2_000)
    load(con, landing, "crm_activities", load_id="day")
    assert history_loads(con, EXTRACTS) == set()  # a daily load keeps the semi join on its own keys


def test_the_ledger_guard_in_lead_ranges_has_the_verdict_of_one_pass(clean, tmp_path, monkeypatch):
    """Past LEDGER_ROWS_PER_RANGE ledger rows the leads are checked range by range (one pass
    ran out of memory at 10 M leads). Every lead and moment is still checked exactly once, and
    a missing ledger row is found in whichever range holds its lead."""
    from expectations import suites
    from expectations.runner import run_guard
    from orchestration.funnel_definitions import load_definitions

    con = tampered_copy(clean, tmp_path)
    ledger_rows = suites.ledger_rows_estimate(con)
    monkeypatch.setattr(suites, "LEDGER_ROWS_PER_RANGE", ledger_rows // 4)
    bounds = suites.ledger_lead_bounds(con)
    assert len(bounds) >= 3

    def check():
        results = []
        for b in ((), bounds):
            guard = next(g for g in suites.build_guards(load_definitions(), EXTRACTS, ledger_lead_bounds=b)
                         if g.name == suites.LEDGER_GUARD)
            assert len(guard.probes[0].statements()) == len(b) + 1
            r = run_guard(con, guard)
            results.append((r.passed, r.rows_checked, r.sample_keys))
        return results

    one_pass, in_ranges = check()
    assert one_pass == in_ranges and one_pass[0] and one_pass[1] > 0
    missing = tamper_ledger_row_removed(con)
    one_pass, in_ranges = check()
    assert one_pass == in_ranges and not in_ranges[0] and missing in in_ranges[2]
    con.close()


def test_freshness_is_measured_on_the_datas_own_time(clean, tmp_path):
    """An extract loaded today whose newest row is older than ingest.max_data_age_days warns,
    by the guard and by `dbt source freshness`; the same data a day after it ends passes."""
    import json
    import os
    from datetime import datetime, timedelta

    from expectations.runner import run_guard
    from expectations.suites import build_guards
    from orchestration.funnel_definitions import dbt_vars_arg, load_definitions
    from orchestration.ingest.contract import EXTRACTS
    from orchestration.paths import DBT_PROJECT_DIR
    from orchestration.transform.project import dbt_executable

    _, settings, _ = clean
    limit = load_definitions().ingest.max_data_age_days
    con = tampered_copy(clean, tmp_path)
    try:
        newest, loaded = con.execute("select max(occurred_at), max(_loaded_at) "
                                     "from raw.crm_activities").fetchone()
        assert loaded - newest > timedelta(days=limit)  # loaded today, data ends in November

        def guard(now):
            guards = build_guards(load_definitions(), EXTRACTS, now=now)
            return run_guard(con, next(g for g in guards
                                       if g.name == "crm_activities_data_freshness"))

        assert guard(newest + timedelta(days=1)).passed
        late = guard(newest + timedelta(days=limit + 1))
        assert not late.passed and not late.guard.blocking
    finally:
        con.close()

    # dbt's own source freshness reads the same expression: the newest activity, not the load
    target = tmp_path / "target"
    done = subprocess.run(
        [dbt_executable(), "source", "freshness", "--select",
         "source:raw.crm_activities", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target), "--vars", dbt_vars_arg()],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=300,
        env={**os.environ, **settings.dbt_environment(),
             "DUCKDB_PATH": str(tmp_path / "tampered.duckdb")})
    (result,) = json.loads((target / "sources.json").read_text())["results"]
    assert result["status"] == "warn", done.stdout[-2000:]
    assert datetime.fromisoformat(result["max_loaded_at"]).replace(tzinfo=None) == newest


def test_dbt_sources_measure_freshness_as_the_extract_contract_does():
    """One expression per extract for "when its newest row happened": the loader's contract
    (the guards) and dbt's sources must not drift apart."""
    import json

    from orchestration.ingest.contract import EXTRACTS
    from orchestration.transform.project import ensure_manifest

    sources = {s["name"]: s for s in json.loads(ensure_manifest().read_text())["sources"].values()}
    for extract in EXTRACTS.values():
        source = sources[extract.name]
        if extract.data_time is None:
            assert not (source.get("freshness") or {}).get("warn_after", {}).get("count"), \
                extract.name
        else:
            assert source["loaded_at_field"] == extract.data_time, extract.name
            assert source["freshness"]["warn_after"]["period"] == "hour"
