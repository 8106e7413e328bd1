"""The semantic layer (MetricFlow): every KPI of the weekly report is a metric, and the
metrics agree with the marts and the report; a BI tool sending MetricFlow's SQL through
SQLAlchemy gets at the quarter grain what the facts give when summed first."""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.reporting.data import HEADLINE
from orchestration.semantic_layer import MetricQueries, list_metrics

pytestmark = pytest.mark.slow(seconds=40)  # uses the published demo; orders the workers

# The weekly marts' KPI columns the report shows beside the headline (channel, segment and
# campaign tables), each a metric of the same name.
REPORT_COLUMNS = [
    "cost_per_lead", "cost_per_mql", "cost_per_customer", "sql_to_opportunity_cohort_rate",
    "opportunity_to_won_cohort_rate", "mql_to_customer_cohort_rate",
    "returning_mql_to_sql_cohort_rate", "returning_mql_to_customer_cohort_rate",
    "sla_target_compliance_rate", "pipeline_amount",
    "customers", "median_hours_to_first_touch", "click_through_rate", "cost_per_click",
]


@pytest.fixture(scope="module")
def queries(published_demo):
    _, settings, _ = published_demo
    with MetricQueries(settings.serving_path) as q:
        yield q


def _report(settings) -> tuple[str, dict[str, float | None]]:
    """The report's week and its headline cards' values, as the HTML carries them."""
    (html_path,) = (settings.reports_path / "weekly").glob("funnel_*.html")
    html = html_path.read_text(encoding="utf-8")
    values = {k: (float(v) if v not in ("", "None") else None)
              for k, v in re.findall(r'data-kpi="([^"]+)" data-value="([^"]*)"', html)}
    return re.search(r"funnel_(\d{4}-W\d{2})\.html", html_path.name).group(1), values


def test_every_report_kpi_is_a_metric():
    names = {m.name for m in list_metrics()}
    missing = ({s.column for s in HEADLINE} | set(REPORT_COLUMNS)) - names
    assert not missing, missing
    kinds = {m.name: m.kind for m in list_metrics()}
    assert kinds["cost_per_sql"] == kinds["mql_to_sql_cohort_rate"] == "ratio"


def test_metrics_equal_the_marts_and_the_report_headline_for_the_week(published_demo, queries):
    _, settings, _ = published_demo
    week, headline = _report(settings)
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        mart = con.execute("select * from marts.fct_funnel_summary_weekly where iso_week = ?",
                           [week]).df().iloc[0]
        cohort_week, cohort_rate = con.execute("""
            select week_start_date, mql_to_sql_cohort_rate from marts.fct_funnel_summary_weekly
            where week_start_date <= ? and is_mql_to_sql_mature
              and mql_to_sql_cohort_rate is not null
            order by week_start_date desc limit 1""", [mart["week_start_date"]]).fetchone()
    week_filter = (f"{{{{ TimeDimension('metric_time', 'week') }}}} = "
                   f"'{mart['week_start_date']}'")
    names = [s.column for s in HEADLINE if s.column != "mql_to_sql_cohort_rate"]
    got = queries.query(names, ["metric_time__week"], where=[week_filter]).iloc[0]
    for name in names:
        assert got[name] == pytest.approx(float(mart[name]), abs=0.005), name  # money: cents
        assert got[name] == pytest.approx(headline[name], abs=0.005), name
    cohort = queries.query(["mql_to_sql_cohort_rate"], ["metric_time__week"], where=[
        f"{{{{ TimeDimension('metric_time', 'week') }}}} = '{cohort_week}'"]).iloc[0]
    assert cohort["mql_to_sql_cohort_rate"] == pytest.approx(cohort_rate, rel=1e-12)
    assert cohort["mql_to_sql_cohort_rate"] == pytest.approx(headline["mql_to_sql_cohort_rate"],
                                                             rel=1e-6)
    # a segment's SLA compliance equals the segment mart's
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        by_segment = dict(con.execute("""
            select segment, sla_limit_compliance_rate from marts.fct_funnel_segment_weekly
            where iso_week = ? and sla_limit_compliance_rate is not null""", [week]).fetchall())
    seg = queries.query(["sla_limit_compliance_rate"], ["metric_time__week", "segment"],
                        where=[week_filter])
    assert by_segment and dict(zip(seg["segment"], seg["sla_limit_compliance_rate"],
                                   strict=True)) == pytest.approx(by_segment, rel=1e-12)


def test_a_bi_tool_gets_a_ratio_at_the_quarter_grain_summed_before_dividing(published_demo,
                                                                            queries):
    """What a BI tool does: send the metric's SQL through SQLAlchemy (duckdb-engine) to the
    serving file. Cost per SQL and the cohort rate by quarter and segment equal the facts
    summed per quarter, then divided - not an average of the weekly ratios, which differs."""
    import sqlalchemy

    _, settings, _ = published_demo
    sql = queries.sql(["cost_per_sql", "mql_to_sql_cohort_rate"],
                      ["metric_time__quarter", "segment"])
    engine = sqlalchemy.create_engine(f"duckdb:///{settings.serving_path}",
                                      connect_args={"read_only": True})
    try:
        with engine.connect() as bi:
            got = pd.DataFrame(bi.execute(sqlalchemy.text(sql)).mappings().all())
    finally:
        engine.dispose()
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        facts = con.execute("select * from marts.fct_funnel_weekly").df()
    facts["quarter"] = pd.to_datetime(facts["week_start_date"]).dt.to_period("Q").dt.start_time
    mature = facts["is_mql_to_sql_mature"].astype(bool)
    facts["mature_size"] = facts["mql_cohort_size"].where(mature)
    facts["mature_sqls"] = facts["mql_cohort_sqls"].where(mature)
    sums = facts.groupby(["quarter", "segment"]).agg(
        spend=("spend_amount", lambda s: s.sum(min_count=1)), sqls=("sqls", "sum"),
        mature_size=("mature_size", "sum"), mature_sqls=("mature_sqls", "sum"),
        mean_weekly_cost_per_sql=("cost_per_sql", lambda s: s.dropna().astype(float).mean()))
    want = sums.assign(cost_per_sql=sums.spend / sums.sqls.where(sums.sqls > 0),
                       rate=sums.mature_sqls / sums.mature_size.where(sums.mature_size > 0))
    got["quarter"] = pd.to_datetime(got["metric_time__quarter"])
    merged = got.merge(want.reset_index(), on=["quarter", "segment"], how="outer",
                       indicator=True, validate="one_to_one")
    assert (merged["_merge"] == "both").all()
    pd.testing.assert_series_equal(merged["cost_per_sql_x"].astype(float),
                                   merged["cost_per_sql_y"].astype(float),
                                   check_names=False, rtol=1e-12)
    pd.testing.assert_series_equal(merged["mql_to_sql_cohort_rate"].astype(float),
                                   merged["rate"].astype(float), check_names=False, rtol=1e-12)
    # what re-aggregating the stored weekly ratio would have given instead: not the same
    assert (merged["cost_per_sql_x"] - merged["mean_weekly_cost_per_sql"]).abs().max() > 1


def test_funnel_metrics_lists_queries_and_explains(published_demo, monkeypatch):
    _, settings, _ = published_demo
    monkeypatch.setenv("DUCKDB_PATH", str(settings.duckdb_path))
    monkeypatch.setenv("SERVING_DUCKDB_PATH", str(settings.serving_path))
    runner = CliRunner()
    listed = runner.invoke(main, ["metrics", "--list"])
    assert listed.exit_code == 0 and "cost_per_sql" in listed.output
    assert "spend / sqls" in listed.output
    result = runner.invoke(main, ["metrics", "cost_per_sql", "leads", "--by",
                                  "metric_time__quarter", "--csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "metric_time__quarter,cost_per_sql,leads" and len(lines) > 2
    explained = runner.invoke(main, ["metrics", "cost_per_sql", "--by", "metric_time__month",
                                     "--explain"])
    assert explained.exit_code == 0 and '"marts"."fct_funnel_weekly"' in explained.output
    unknown = runner.invoke(main, ["metrics", "cost_per_sqll"])
    assert unknown.exit_code != 0 and "cost_per_sqll" in unknown.output
