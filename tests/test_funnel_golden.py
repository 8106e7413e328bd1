"""The weekly funnel on a hand-worked fixture (tests/golden/README.md tells its story).

Every expected figure below was computed by hand from the fixture, not read back from the
warehouse. Weeks are ISO weeks in Europe/Paris; amounts are USD (EUR at 1.10).
"""

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.in_process import run_pipeline
from orchestration.settings import Settings

pytestmark = pytest.mark.slow(seconds=80)  # runs the pipeline; orders the parallel workers

GOLDEN = Path(__file__).parent / "golden"
W43, W44, W45 = "2025-10-20", "2025-10-27", "2025-11-03"

# (week, segment, channel_group, acquisition_mode) -> the KPIs that are not zero/NULL.
EXPECTED = {
    (W43, "mid_market", "paid_search", "inbound"): dict(
        leads=1, mqls=1, sqls=1, inbound_sqls=1, spend_amount=50.0, mql_episodes=1,
        first_mql_handovers=1, sla_touched=1,
        sla_within_target=1, sla_within_limit=1, median_hours_to_first_touch=4.0,
        mql_cohort_size=1, mql_cohort_sqls=1, mql_to_sql_cohort_rate=1.0,
        mql_cohort_customers=1,  # won on 1 Dec, within 180 days - but that cohort is not mature
        sql_cohort_size=1, sql_cohort_opportunities=1, sql_to_opportunity_cohort_rate=1.0,
        cost_per_lead=50.0, cost_per_mql=50.0, cost_per_sql=50.0,
        sla_target_compliance_rate=1.0, sla_limit_compliance_rate=1.0,
        median_days_lead_to_mql=1.0, median_days_mql_to_sql=2.0, sql_per_mql_period_ratio=1.0,
        opportunity_per_sql_period_ratio=0.0),
    # the Friday-evening MQL touched on Monday morning: 62 h on the wall clock, 63 real hours
    (W43, "smb", "paid_search", "inbound"): dict(
        leads=1, mqls=1, spend_amount=50.0, mql_episodes=1, first_mql_handovers=1,
        sla_touched=1, sla_target_missed=1, sla_limit_breached=1,
        median_hours_to_first_touch=63.0, mql_cohort_size=1, mql_to_sql_cohort_rate=0.0,
        cost_per_lead=50.0, cost_per_mql=50.0, sla_target_compliance_rate=0.0,
        sla_limit_compliance_rate=0.0, median_days_lead_to_mql=80 / 24,
        sql_per_mql_period_ratio=0.0),
    (W43, "mid_market", "paid_social", "inbound"): dict(
        leads=2, mqls=1, spend_amount=110.0, mql_episodes=1, first_mql_handovers=1,
        sla_touched=1,
        sla_within_target=1, sla_within_limit=1, median_hours_to_first_touch=11.0,
        # L04's SQL came in its returning episode (W45): it counts there, not here
        mql_cohort_size=1, mql_to_sql_cohort_rate=0.0,
        cost_per_lead=55.0, cost_per_mql=110.0, sla_target_compliance_rate=1.0,
        sla_limit_compliance_rate=1.0, median_days_lead_to_mql=1 / 24,
        sql_per_mql_period_ratio=0.0),
    (W43, "enterprise", "outbound_sdr", "outbound"): dict(
        leads=1, sqls=1, new_opportunities=1, opportunities_created=1, pipeline_amount=55000.0,
        open_pipeline_amount=55000.0, spend_amount=350.0, sql_cohort_size=1,
        sql_cohort_opportunities=1, sql_to_opportunity_cohort_rate=1.0,
        opportunity_cohort_size=1, opportunity_to_won_cohort_rate=0.0, cost_per_lead=350.0,
        cost_per_sql=350.0, cost_per_opportunity=350.0, median_days_sql_to_opportunity=5 / 24,
        opportunity_per_sql_period_ratio=1.0, customer_per_opportunity_period_ratio=0.0),
    (W43, "smb", "outbound_sdr", "outbound"): dict(leads=1, spend_amount=350.0, cost_per_lead=350.0),
    # no cost recorded for organic leads: unknown (NULL), not free
    (W43, "unknown", "organic_search", "inbound"): dict(leads=1),
    (W43, "unassigned", "unattributed", "inbound"): dict(spend_amount=30.0),
    (W44, "mid_market", "paid_search", "inbound"): dict(
        leads=1, mqls=1, new_opportunities=1, opportunities_created=1, pipeline_amount=10000.0,
        spend_amount=50.0, mql_episodes=1, first_mql_handovers=1, sla_never_touched=1,
        sla_target_missed=1, sla_limit_breached=1, mql_cohort_size=1,
        mql_to_sql_cohort_rate=0.0, opportunity_cohort_size=1, opportunity_cohort_wins=1,
        cost_per_lead=50.0, cost_per_mql=50.0, cost_per_opportunity=50.0,
        sla_target_compliance_rate=0.0, sla_limit_compliance_rate=0.0,
        median_days_lead_to_mql=1 / 24, median_days_sql_to_opportunity=4.0,
        sql_per_mql_period_ratio=0.0, customer_per_opportunity_period_ratio=0.0),
    (W44, "smb", "paid_social", "inbound"): dict(leads=1),  # no LinkedIn spend that week
    (W44, "mid_market", "outbound_sdr", "outbound"): dict(leads=1, spend_amount=700.0, cost_per_lead=700.0),
    (W45, "mid_market", "paid_search", "inbound"): dict(
        leads=1, mqls=1, spend_amount=80.0, mql_episodes=1, first_mql_handovers=1,
        sla_touched=1, sla_within_target=1,
        sla_within_limit=1, median_hours_to_first_touch=1.5, mql_cohort_size=1,
        mql_to_sql_cohort_rate=0.0, cost_per_lead=80.0, cost_per_mql=80.0,
        sla_target_compliance_rate=1.0, sla_limit_compliance_rate=1.0,
        median_days_lead_to_mql=0.5 / 24, sql_per_mql_period_ratio=0.0),
    # L04's second MQL episode (after the recycle) and its SQL; its first MQL was in W43
    (W45, "mid_market", "paid_social", "inbound"): dict(
        leads=1, sqls=1, inbound_sqls=1, spend_amount=220.0, mql_episodes=1, sla_touched=1,
        sla_within_target=1,
        sla_within_limit=1, median_hours_to_first_touch=23.0, sql_cohort_size=1,
        returning_mql_cohort_size=1, returning_mql_cohort_sqls=1,
        returning_mql_to_sql_cohort_rate=1.0,
        sql_to_opportunity_cohort_rate=0.0, cost_per_lead=220.0, cost_per_sql=220.0,
        sla_target_compliance_rate=1.0, sla_limit_compliance_rate=1.0,
        median_days_mql_to_sql=14 + 1 / 24, opportunity_per_sql_period_ratio=0.0),
    # L10: an opportunity without SQL (skipped), lost in December
    (W45, "mid_market", "outbound_sdr", "outbound"): dict(
        new_opportunities=1, opportunities_created=1, pipeline_amount=20000.0,
        opportunity_cohort_size=1, customer_per_opportunity_period_ratio=0.0),
    # ...and its cost: no outbound lead was created that week, so the SDR cost is unassigned
    (W45, "unassigned", "outbound_sdr", "outbound"): dict(spend_amount=700.0),
}

COUNTS = ["leads", "mqls", "sqls", "new_opportunities", "customers", "opportunities_created",
          "deals_won", "mql_cohort_size", "mql_cohort_sqls", "sql_cohort_size",
          "sql_cohort_opportunities", "opportunity_cohort_size", "opportunity_cohort_wins",
          "mql_cohort_customers", "mql_episodes", "sla_touched", "sla_within_target",
          "sla_within_limit", "sla_never_touched", "sla_pending", "inbound_sqls",
          "first_mql_handovers", "sla_target_missed", "sla_limit_breached", "sla_unmeasured",
          "returning_mql_cohort_size", "returning_mql_cohort_sqls",
          "returning_mql_cohort_customers"]
AMOUNTS = ["pipeline_amount", "open_pipeline_amount", "won_amount"]
# NULL where no cost was recorded for the cell (never 0: an organic lead is not free)
COSTS = ["spend_amount", "inbound_spend_amount"]
NULLABLE = ["mql_to_sql_cohort_rate", "sql_to_opportunity_cohort_rate",
            "opportunity_to_won_cohort_rate", "mql_to_customer_cohort_rate",
            "returning_mql_to_sql_cohort_rate", "returning_mql_to_customer_cohort_rate",
            "cost_per_lead",
            "cost_per_mql", "cost_per_sql", "cost_per_opportunity", "cost_per_customer",
            "sla_target_compliance_rate", "sla_limit_compliance_rate",
            "median_hours_to_first_touch", "median_days_lead_to_mql", "median_days_mql_to_sql",
            "median_days_sql_to_opportunity", "median_days_opportunity_to_won",
            "sql_per_mql_period_ratio", "opportunity_per_sql_period_ratio",
            "customer_per_opportunity_period_ratio"]
MATURITY = {  # week -> (mql->sql, sql->opp, opp->won, mql->customer); scoring moment 2026-01-31
    W43: (True, True, True, False),
    W44: (True, True, False, False),
    W45: (True, True, False, False),
}


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    shutil.copytree(GOLDEN / "landing", root / "landing")
    mp = pytest.MonkeyPatch()
    mp.setenv("FUNNEL_DEFINITIONS", str(GOLDEN / "funnel.yml"))
    settings = Settings(duckdb_path=root / "golden.duckdb", landing_dir=root / "landing",
                        source_timezone="UTC", null_placeholders=("", "n/a"))
    try:
        summary = run_pipeline(settings, say=lambda _m: None)
    finally:
        mp.undo()
    assert summary.success, summary.failures
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    yield con
    con.close()


def rows(con, sql):
    """Rows as dicts, money (fixed-scale decimals) as floats."""
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [{n: float(v) if isinstance(v, Decimal) else v for n, v in zip(names, r, strict=True)}
            for r in cur.fetchall()]


def test_weekly_rows_match_the_hand_worked_figures(golden):
    got = {
        (str(r["week_start_date"]), r["segment"], r["channel_group"], r["acquisition_mode"]): r
        for r in rows(golden, f"""select * from marts.fct_funnel_weekly
                                   where week_start_date in ('{W43}', '{W44}', '{W45}')""")
    }
    combos = {k[1:] for k in got}
    assert len(combos) == 10  # every combination present, every week
    assert len(got) == 30
    for key, row in got.items():
        want = EXPECTED.get(key, {})
        for col in COUNTS:
            assert row[col] == want.get(col, 0), (key, col, row[col])
        for col in AMOUNTS:
            assert row[col] == pytest.approx(want.get(col, 0.0), abs=1e-9), (key, col)
        spend = want.get("spend_amount")
        inbound_spend = spend if key[3] == "inbound" else None
        for col, expected in zip(COSTS, (spend, inbound_spend), strict=True):
            if expected is None:
                assert row[col] is None, (key, col, row[col])
            else:
                assert row[col] == pytest.approx(expected, abs=1e-9), (key, col)
        for col in NULLABLE:
            if col in want:
                assert row[col] == pytest.approx(want[col], abs=1e-9), (key, col, row[col])
            else:
                assert row[col] is None, (key, col, row[col])
        mature = MATURITY[key[0]]
        assert (row["is_mql_to_sql_mature"], row["is_sql_to_opportunity_mature"],
                row["is_opportunity_to_won_mature"], row["is_mql_to_customer_mature"]) == mature


def test_summary_weeks_are_the_totals(golden):
    summary = {str(r["week_start_date"]): r for r in rows(
        golden, "select * from marts.fct_funnel_summary_weekly")}
    w43, w44, w45 = summary[W43], summary[W44], summary[W45]
    assert (w43["leads"], w43["mqls"], w43["sqls"], w43["new_opportunities"]) == (7, 3, 2, 1)
    assert (w44["leads"], w44["mqls"], w44["sqls"], w44["new_opportunities"]) == (3, 1, 0, 1)
    assert (w45["leads"], w45["mqls"], w45["sqls"], w45["new_opportunities"]) == (2, 1, 1, 1)
    assert w43["spend_amount"] == pytest.approx(940.0)  # 100 + 110 + 30 + 7 days x 100 SDR
    assert w44["spend_amount"] == pytest.approx(750.0)
    assert w45["spend_amount"] == pytest.approx(1000.0)
    assert w43["cost_per_sql"] == pytest.approx(470.0)
    # MQL cohort of W43 = L01, L02, L04: only L01 reached SQL in that episode - L04's SQL
    # came after its return (W45) and counts for the returning cohort of W45
    assert w43["mql_to_sql_cohort_rate"] == pytest.approx(1 / 3)
    assert (w45["returning_mql_cohort_size"], w45["returning_mql_cohort_sqls"]) == (1, 1)
    # the median over the week's three touched handovers (4, 11, 63 hours), not an average of medians
    assert w43["median_hours_to_first_touch"] == pytest.approx(11.0)
    assert w43["sla_target_compliance_rate"] == pytest.approx(2 / 3)
    # L01 won on Monday 1 December: customer and won amount in W49
    w49 = summary["2025-12-01"]
    assert (w49["customers"], w49["deals_won"], w49["won_amount"]) == (1, 1, 10000.0)
    # all SDR cost and ad spend reach the weeks: 6,100 + 230 + 330 + 30
    assert sum(r["spend_amount"] or 0 for r in summary.values()) == pytest.approx(6690.0)
    assert min(summary) == "2025-09-29" and max(summary) == "2026-01-26"


def test_dst_handover_counts_real_hours(golden):
    (hours, elapsed, within_limit), = golden.execute("""
        select hours_to_first_touch, elapsed_hours_to_first_touch, is_within_limit
        from marts.fct_sla where lead_id = 'L02'""").fetchall()
    assert hours == pytest.approx(63.0) and elapsed == pytest.approx(63.0)
    assert within_limit is False


def test_spend_keeps_unmatched_campaigns_and_converts_currency(golden):
    by_channel = dict(golden.execute("""
        select channel_group, sum(spend_amount) from marts.fct_spend_daily
        where spend_source = 'ad_platform' group by 1""").fetchall())
    assert by_channel == pytest.approx({"paid_search": 230.0, "paid_social": 330.0,
                                        "unattributed": 30.0})
    sdr_days = golden.execute("""
        select count(*), sum(spend_amount) from marts.fct_spend_daily
        where spend_source = 'sdr_team'""").fetchone()
    assert sdr_days == (61, pytest.approx(6100.0))


def test_lifecycle_of_the_fixture(golden):
    stages = dict(golden.execute(
        "select lead_id, current_stage from marts.fct_lead_lifecycle").fetchall())
    assert stages == {"L01": "customer", "L02": "mql", "L03": "lead", "L04": "sql",
                      "L05": "opportunity", "L06": "disqualified", "L07": "disqualified",
                      "L08": "mql", "L09": "lead", "L10": "opportunity", "L11": "mql",
                      "L12": "lead"}
    (episodes,), = golden.execute(
        "select mql_episode_count from marts.fct_lead_lifecycle where lead_id = 'L04'").fetchall()
    assert episodes == 2
    exceptions = golden.execute(
        "select exception_type, object_id from marts.fct_definition_exceptions order by 1").fetchall()
    assert exceptions == [("accepted_without_sql_criteria", "Q06"), ("opportunity_without_sql", "O3")]


def test_a_missing_exchange_rate_stops_the_build_naming_currency_and_date(tmp_path, monkeypatch):
    shutil.copytree(GOLDEN / "landing", tmp_path / "landing", ignore=shutil.ignore_patterns("fx*"))
    monkeypatch.setenv("FUNNEL_DEFINITIONS", str(GOLDEN / "funnel.yml"))
    settings = Settings(duckdb_path=tmp_path / "w.duckdb", landing_dir=tmp_path / "landing",
                        source_timezone="UTC", null_placeholders=("",))
    summary = run_pipeline(settings, say=lambda _m: None)
    assert not summary.success
    message = " ".join(summary.failures)
    assert "missing exchange rate" in message
    assert "EUR on 2025-10-21" in message  # the first LinkedIn spend day
