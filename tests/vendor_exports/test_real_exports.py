"""A real export nobody here wrote, and a funnel decided by the CRM instead of our scoring."""

import os
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration.paths import PROJECT_ROOT
from orchestration.vendor_exports.importer import import_file
from orchestration.vendor_exports.mapping import load_mapping_file, parse
from tests.conftest import load, settings_at

pytestmark = pytest.mark.slow(seconds=125)  # runs the pipeline; orders the parallel workers

# ../shared/data/real beside the checkout, or wherever REAL_DATA_DIR points.
REAL = Path(os.environ.get("REAL_DATA_DIR") or PROJECT_ROOT.parent / "shared" / "data" / "real")
MAVEN = REAL / "maven_crm_sales_opportunities"
SAMPLES = Path(__file__).parent / "samples"


@pytest.mark.skipif(not (MAVEN / "sales_pipeline.csv").exists(),
                    reason=f"the real Maven CRM export is not on this machine ({MAVEN}; "
                           "set REAL_DATA_DIR to its parent folder)")
def test_the_maven_crm_export_loads_with_the_figures_of_its_readme(tmp_path):
    mapping = parse(load_mapping_file(PROJECT_ROOT / "examples" / "maven_opportunities.yml"),
                    "examples/maven_opportunities.yml")
    result = import_file(MAVEN / "sales_pipeline.csv", mapping, tmp_path / "landing")
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (8800, 8800, 0)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        loaded = load(con, tmp_path / "landing", "crm_opportunities")
        assert loaded.files[0].rows_rejected == 0
        row = con.execute("""select count(*), count(*) filter (where is_won),
                                    sum(amount) filter (where is_won),
                                    count(*) filter (where stage = 'lost'),
                                    count(*) filter (where stage = 'engaging'),
                                    count(*) filter (where stage = 'prospecting'),
                                    min(created_at)::date, max(created_at)::date
                             from raw.crm_opportunities""").fetchone()
    finally:
        con.close()
    # README: Won 4,238, Lost 2,473, Engaging 1,589, Prospecting 500; won value 10,005,534;
    # engage_date from 2016-10-20 to 2017-12-27 (undated prospecting deals: the declared 12-31)
    assert row[:6] == (8800, 4238, 10005534, 2473, 1589, 500)
    assert str(row[6]) == "2016-10-20" and str(row[7]) == "2017-12-31"


@pytest.mark.skipif(not (MAVEN / "sales_pipeline.csv").exists(),
                    reason=f"the real Maven CRM export is not on this machine ({MAVEN}; "
                           "set REAL_DATA_DIR to its parent folder)")
def test_the_maven_export_goes_through_the_whole_pipeline_to_the_report(tmp_path):
    """Accounts as leads, deals as opportunities (1,425 without an account keep their own id):
    every deal reaches the weekly marts, and the report of the export's last week is built."""
    from orchestration.in_process import run_pipeline

    settings = settings_at(tmp_path)
    for mapping_file, export in (("maven_accounts.yml", "accounts.csv"),
                                 ("maven_opportunities.yml", "sales_pipeline.csv")):
        mapping = parse(load_mapping_file(PROJECT_ROOT / "examples" / mapping_file), mapping_file)
        assert import_file(MAVEN / export, mapping, settings.landing_dir).rows_quarantined == 0
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, (summary.failures, summary.checks_failed, summary.report_note)
    con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        totals = con.execute("""select sum(opportunities_created), sum(deals_won),
                                       sum(won_amount), sum(leads)
                                from marts.fct_funnel_summary_weekly""").fetchone()
        unknown = con.execute("""select count(*) from marts.fct_definition_exceptions
                                 where exception_type = 'opportunity_for_unknown_lead'""").fetchone()
    finally:
        con.close()
    assert (totals[0], totals[1], float(totals[2]), totals[3]) == (8800, 4238, 10005534.0, 85)
    assert unknown == (1425,)  # the deals with a blank account, listed for follow-up
    assert summary.report.name == "funnel_2017-W52.html"


def test_a_marketing_spreadsheet_with_crm_stage_dates_gives_the_whole_funnel(tmp_path,
                                                                             monkeypatch):
    """stage_source: crm. An MQL list with MQL/SQL dates and a closed-deals sheet, no activity
    history at all. Hand count - paid search: Ana, Bob, Cid are MQL, Ana and Cid SQL and won;
    organic: Dee and Eve MQL, Dee SQL and won; events: Fay MQL, Gus never. Hal (paid search,
    first contact 24 Feb, MQL 25 Feb) won a deal opened on 20 Feb and closed on 22 Feb, as
    real exports have: every stage the CRM recorded is kept, put in order at his creation,
    and listed for the sales feedback (it used to lose his MQL and count his handover)."""
    from orchestration.funnel_definitions import definitions_path
    from orchestration.in_process import run_pipeline

    definitions = yaml.safe_load(definitions_path().read_text())
    definitions["lifecycle"]["stage_source"] = "crm"
    definitions["reporting"]["currency"] = "EUR"
    crm_file = tmp_path / "funnel_crm.yml"
    crm_file.write_text(yaml.safe_dump(definitions))
    monkeypatch.setenv("FUNNEL_DEFINITIONS", str(crm_file))

    settings = settings_at(tmp_path)
    for mapping_file, sample in (("marketing_leads.yml", "marketing_mql_list.csv"),
                                 ("marketing_stages.yml", "marketing_mql_list.csv"),
                                 ("closed_deals.yml", "closed_deals.csv")):
        mapping = parse(load_mapping_file(SAMPLES / mapping_file), mapping_file)
        result = import_file(SAMPLES / sample, mapping, settings.landing_dir)
        assert result.rows_quarantined == 0

    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, (summary.failures, summary.checks_failed)
    assert "mqls_met_the_definition" not in " ".join(summary.checks_passed)  # the CRM decides
    assert any(c.endswith(":stage_counts_agree_across_marts") for c in summary.checks_passed)
    con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        by_channel = con.execute("""
            select channel_group, sum(mqls), sum(sqls), sum(customers), sum(won_amount)
            from marts.fct_funnel_weekly group by 1 order by 1""").fetchall()
        hal = con.execute("""
            select lead_created_at, mql_at, opportunity_at, customer_at, skipped_mql,
                   won_before_created, opportunity_before_created, mql_after_sql
            from marts.fct_lead_lifecycle where lead_id = 'hal@theta.io'""").fetchone()
        exceptions = con.execute("""
            select exception_type, object_id from marts.fct_definition_exceptions
            where lead_id = 'hal@theta.io' order by 1""").fetchall()
        # the headline's MQLs and the SLA section's first MQLs, week by week
        weeks = con.execute("""
            select w.week_start_date, w.mqls, w.first_mql_handovers, w.mql_episodes,
                   w.sla_unmeasured, w.sla_limit_compliance_rate
            from marts.fct_funnel_summary_weekly w where w.mqls > 0 or w.mql_episodes > 0
            """).fetchall()
    finally:
        con.close()
    assert [(c, int(m), int(s), int(w), float(a)) for c, m, s, w, a in by_channel] == [
        ("events", 1, 0, 0, 0.0),
        ("organic_search", 2, 1, 1, 5000.0),
        ("paid_search", 4, 2, 3, 23500.0),
    ]
    created = hal[0]
    assert hal == (created, created, created, created, False, True, True, True)
    assert exceptions == [("mql_after_sql", "hal@theta.io"), ("opportunity_before_created", "D5"),
                          ("opportunity_without_sql", "D5"), ("won_before_created", "D5")]
    assert sum(w[1] for w in weeks) == 7
    assert all(mqls == first == episodes for _, mqls, first, episodes, _, _ in weeks)
    # no activity history: no handover can be measured - "n/a", never 0 %
    assert all(unmeasured == episodes and rate is None
               for _, _, _, episodes, unmeasured, rate in weeks)
    assert summary.report is not None and summary.report.exists()
    html = summary.report.read_text()
    assert 'data-kpi="sla_limit_compliance_rate" data-value=""' in html
    assert re.search(r'data-kpi="sla_limit_compliance_rate".*?<div class="value">n/a</div>', html,
                     re.S)
