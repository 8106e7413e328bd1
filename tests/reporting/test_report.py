"""The weekly report: built by `funnel run`, equal to the marts, self-contained, and opened in
a real headless Chromium (Debian's package, installed by `make test`)."""

import csv
import math
import os
import re
import shutil

import duckdb
import pytest

from orchestration.reporting.data import HEADLINE, ReportError, load_week
from orchestration.reporting.weeks import week_start
from tests.conftest import settings_at
from tests.quality.test_guards import tamper_ledger_row_removed

pytestmark = pytest.mark.slow(seconds=30)  # runs the pipeline; orders the parallel workers

WEEK = "2026-W47"  # the demo data ends on Sunday 2026-11-22


def mart_week(serving_path, label=WEEK) -> dict:
    """The week's headline figures as the mart has them; the MQL->SQL cohort rate is the
    latest mature cohort's (the week's own is not mature yet)."""
    con = duckdb.connect(str(serving_path), read_only=True)
    try:
        frame = con.execute("select * from marts.fct_funnel_summary_weekly where iso_week = ?",
                            [label]).df()
        latest_mature = con.execute(
            """select mql_to_sql_cohort_rate from marts.fct_funnel_summary_weekly
               where iso_week <= ? and is_mql_to_sql_mature
                 and mql_to_sql_cohort_rate is not null
               order by week_start_date desc limit 1""", [label]).fetchone()
    finally:
        con.close()
    assert len(frame) == 1
    row = frame.iloc[0].to_dict()
    assert row["mql_to_sql_cohort_rate"] is None or math.isnan(row["mql_to_sql_cohort_rate"])
    row["mql_to_sql_cohort_rate"] = latest_mature[0] if latest_mature else None
    return row


def as_float(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def test_funnel_run_ends_with_the_report_of_the_last_complete_week(published_demo):
    _, settings, summary = published_demo
    html = settings.reports_path / "weekly" / f"funnel_{WEEK}.html"
    assert summary.report == html
    assert f"Weekly report: {html}" in summary.render()
    for suffix in (".html", ".md", ".csv"):
        assert html.with_suffix(suffix).stat().st_size > 0
    markdown = html.with_suffix(".md").read_text()
    assert markdown.startswith(f"**Lead funnel {WEEK}**") and "Checks: " in markdown


def test_the_csv_holds_the_weeks_kpis_as_the_mart_has_them(published_demo):
    _, settings, _ = published_demo
    row = mart_week(settings.serving_path)
    path = settings.reports_path / "weekly" / f"funnel_{WEEK}.csv"
    with path.open() as f:
        rows = {r["kpi"]: r for r in csv.DictReader(f)}
    assert set(rows) == {k.column for k in HEADLINE}
    for kpi, r in rows.items():
        expected = as_float(row[kpi])
        if expected is None:
            assert r["value"] == ""
        else:
            assert float(r["value"]) == pytest.approx(expected, rel=1e-12)


def test_the_worklist_csv_is_the_worklist_mart_and_the_report_shows_its_top(published_demo):
    _, settings, _ = published_demo
    path = settings.reports_path / "weekly" / f"worklist_{WEEK}.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        mart = con.execute("select lead_id, expected_revenue from marts.fct_sales_worklist "
                           "order by worklist_rank").fetchall()
        labels = dict(con.execute("select code, label from definitions.def_labels "
                                  "where dimension = 'segment'").fetchall())
    assert [r["lead_id"] for r in rows] == [lead for lead, _ in mart] and len(rows) > 10
    # money as the mart stores it (two decimals), codes beside the labels the report shows
    assert [r["expected_revenue"] for r in rows] == [f"{v:.2f}" for _, v in mart]
    assert all(r["segment_label"] == labels[r["segment"]] for r in rows)
    html = (settings.reports_path / "weekly" / f"funnel_{WEEK}.html").read_text()
    section = html[html.index('<section id="worklist">'):html.index('<section id="accounts">')]
    assert section.count("<tr><td>") == 10 and rows[0]["lead_id"] in section


def test_the_report_agrees_with_the_marts_on_mqls_returning_episodes_and_accounts(
        published_demo):
    """The headline's MQLs are the SLA section's first MQLs; its returning MQLs, the table of
    first and returning cohorts and the week's accounts are the marts' figures."""
    _, settings, _ = published_demo
    row = mart_week(settings.serving_path)
    html = (settings.reports_path / "weekly" / f"funnel_{WEEK}.html").read_text()
    headline = re.search(r'data-kpi="mqls" data-value="([^"]*)"', html).group(1)
    handovers, first, returning = map(int, re.search(
        r'data-handovers="(\d+)" data-first-mqls="(\d+)" data-returning-mqls="(\d+)"',
        html).groups())
    assert float(headline) == first == row["mqls"]
    assert returning == row["returning_mql_cohort_size"]
    assert first + returning <= handovers == row["mql_episodes"]

    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        cohorts = con.execute("""
            select sum(mql_cohort_size) filter (where is_mql_to_sql_mature),
                   sum(mql_cohort_sqls) filter (where is_mql_to_sql_mature),
                   sum(returning_mql_cohort_size) filter (where is_mql_to_sql_mature),
                   sum(returning_mql_cohort_sqls) filter (where is_mql_to_sql_mature)
            from marts.fct_funnel_summary_weekly""").fetchone()
        accounts = con.execute("""
            select segment, new_accounts, mql_accounts, customer_accounts
            from marts.fct_account_funnel_weekly where iso_week = ?""", [WEEK]).fetchall()
    assert cohorts[2] > 0, "the demo has returning MQLs whose window has passed"

    def cells(marker: str) -> list[str]:
        found = re.search(marker + r".*?</tr>", html, re.S).group(0)
        return [re.sub(r"<[^>]+>", "", c).replace(",", "")
                for c in re.findall(r"<td[^>]*>(.*?)</td>", found, re.S)]

    assert [int(c) for c in cells('<tr data-episodes="first MQL">')[1:3]] == list(cohorts[:2])
    assert [int(c) for c in cells('<tr data-episodes="returning MQL">')[1:3]] == list(cohorts[2:])
    assert accounts, "accounts entered stages in the report week"
    for segment, new, mql, customer in accounts:
        shown = cells(f'<tr data-segment="{segment}">')
        assert [int(shown[1]), int(shown[2]), int(shown[5])] == [new, mql, customer]


def test_the_campaign_table_sums_the_ad_performance_mart_over_the_window(published_demo):
    from datetime import timedelta

    from orchestration.reporting.data import TREND_WEEKS

    _, settings, _ = published_demo
    last = week_start(WEEK)
    first = last - timedelta(weeks=TREND_WEEKS - 1)
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        mart = con.execute("""
            select utm_campaign, sum(clicks), sum(leads) from marts.fct_ad_performance_weekly
            where week_start_date between ? and ? group by 1 having sum(spend_amount) > 0""",
                           [first, last]).fetchall()
    html = (settings.reports_path / "weekly" / f"funnel_{WEEK}.html").read_text()
    assert len(mart) >= 3
    for campaign, clicks, leads in mart:
        row = re.search(f'<tr data-campaign="{campaign}">(.*?)</tr>', html, re.S).group(1)
        cells = [re.sub(r"<[^>]+>", "", c).replace(",", "")
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert (int(cells[4]), int(cells[7])) == (clicks, leads), campaign


def test_a_week_outside_the_data_is_a_clear_error(published_demo):
    _, settings, _ = published_demo
    with pytest.raises(ReportError, match=r"No complete week 2030-W01 .* covers 20\d\d-W\d\d to 2026-W47"):
        load_week(settings.serving_path, week_start("2030-W01"))
    with pytest.raises(ReportError, match="No complete week 2026-W48"):  # not over in the data
        load_week(settings.serving_path, week_start("2026-W48"))


def test_without_a_serving_file_the_report_says_to_run_the_pipeline(tmp_path):
    with pytest.raises(ReportError, match="No published warehouse .* Run `funnel run`"):
        load_week(tmp_path / "serving.duckdb", week_start(WEEK))


def test_a_failing_blocking_check_stops_the_weekly_report_and_names_the_check(published_demo, tmp_path):
    from orchestration.code_location import build_definitions
    from orchestration.defs.reporting import REPORT_ASSET_KEY
    from orchestration.in_process import dagster_instance

    _, settings, _ = published_demo
    tampered = settings_at(tmp_path, landing=settings.landing_dir)
    shutil.copy(settings.duckdb_path, tampered.duckdb_path)
    con = duckdb.connect(str(tampered.duckdb_path))
    tamper_ledger_row_removed(con)  # a reconciliation guard (blocking) now fails
    con.close()

    job = build_definitions(tampered).resolve_job_def("weekly_report")
    result = job.execute_in_process(instance=dagster_instance(), raise_on_error=False,
                                    partition_key=week_start(WEEK).isoformat())
    assert not result.success
    materialized = {e.asset_key for e in result.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert REPORT_ASSET_KEY not in materialized and not materialized
    failed = [e.event_specific_data for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
              and e.event_specific_data.severity.value == "ERROR"]  # not the freshness warnings
    assert [f.check_name for f in failed] == ["score_ledger_sums_to_scores"]
    assert failed[0].metadata["failing_rows"].value >= 1
    assert not (tampered.reports_path / "weekly" / f"funnel_{WEEK}.html").exists()


def chromium_path():
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("Chromium is required (make test installs Debian's chromium package)")
        pytest.skip("no Chromium on this machine (make test installs Debian's chromium)")
    return path


def shown(kpi, value):
    if value is None:
        return "n/a"
    return f"{value:.1%}" if kpi.unit == "rate" else f"{value:,.0f}"


def test_the_report_in_headless_chromium(published_demo, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    _, settings, _ = published_demo
    html = settings.reports_path / "weekly" / f"funnel_{WEEK}.html"
    expected = mart_week(settings.serving_path)

    console_errors, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri(), wait_until="load")

            assert console_errors == []
            assert requests == [html.as_uri()]  # the file itself, nothing from any network

            charts = page.eval_on_selector_all("figure.chart", """figs => figs.map(f => {
                const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : null;
                return {name: f.dataset.chart, width: box ? box.width : 0, height: box ? box.height : 0,
                        marks: svg ? svg.querySelectorAll('g[class*="mark-"] path, g[class*="mark-"] text').length : 0};
            })""")
            names = {c["name"] for c in charts}
            assert {"funnel", "channels", "sla"} | {f"spark_{k.column}" for k in HEADLINE} <= names
            for chart in charts:
                assert chart["width"] > 0 and chart["height"] > 0 and chart["marks"] > 0, chart

            for kpi in HEADLINE:
                card = page.locator(f'[data-kpi="{kpi.column}"]')
                value = as_float(expected[kpi.column])
                raw = card.get_attribute("data-value")
                if value is None:
                    assert raw == ""
                else:
                    assert float(raw) == pytest.approx(value, rel=1e-12), kpi.column
                assert card.locator(".value").inner_text().split()[0] == shown(kpi, value), kpi.column

            assert page.locator("#quality [data-checks-total]").count() == 1
            assert page.locator("#definitions").inner_text().count("lead score") == 1
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_a_week_older_than_the_schedules_first_partition_is_still_built(published_demo, tmp_path):
    from dataclasses import replace

    from orchestration.in_process import run_report

    _, settings, _ = published_demo
    old = replace(settings, report_first_week="2030-W01", reports_dir=tmp_path)
    messages = []
    html = run_report(old, week_start("2026-W40"), say=messages.append)
    assert html == tmp_path / "weekly" / "funnel_2026-W40.html" and html.exists()
    assert "before REPORT_FIRST_WEEK=2030-W01" in messages[-1]
