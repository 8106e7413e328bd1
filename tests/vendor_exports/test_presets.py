"""Each preset on a small export written with the vendor's own headers: imported, landed and
loaded by the real loader, every row accounted for."""

from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration.vendor_exports.importer import import_file
from orchestration.vendor_exports.mapping import merge, parse
from orchestration.vendor_exports.presets import preset_mapping
from tests.conftest import load

SAMPLES = Path(__file__).parent / "samples"


def run_import(preset, extract, sample, landing, override=None):
    mapping = parse(merge(preset_mapping(preset, extract), override), f"preset {preset}")
    return import_file(SAMPLES / sample, mapping, landing)


def loaded(landing, extract, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = load(con, landing, extract)
    rows = con.execute(f"select * from raw.{extract} order by all").df()
    rejected = con.execute("select count(*) from raw.rejected_rows").fetchone()[0]
    con.close()
    return result, rows, rejected


def test_hubspot_contacts_become_leads(landing, tmp_path):
    r = run_import("hubspot", "crm_leads", "hubspot_contacts.csv", landing)
    assert (r.rows_read, r.rows_written, r.rows_quarantined) == (3, 3, 0)
    _, rows, rejected = loaded(landing, "crm_leads", tmp_path)
    assert rejected == 0 and list(rows.lead_id) == ["101", "102", "103"]
    assert list(rows.country_code) == ["US", "DE", "Chile"]  # unmapped countries kept as written
    assert list(rows.acquisition_mode) == ["inbound", "inbound", "outbound"]  # offline sources
    assert rows.job_title[1] == "Director, Operations"  # a quoted comma stays in its field
    assert str(rows.created_at[0]) == "2025-01-06 09:15:00"
    header = r.output.read_text().splitlines()[0].split(",")
    assert "became_a_marketing_qualified_lead_date" in header  # the CRM's own fields land
    assert not {"first_name", "last_name"} & set(header)  # who the person is does not


def test_hubspot_became_dates_become_stage_history(landing, tmp_path):
    r = run_import("hubspot", "crm_stage_history", "hubspot_contacts.csv", landing)
    assert (r.rows_read, r.rows_written, r.rows_quarantined) == (3, 8, 0)  # 5 + 2 + 1 dates
    _, rows, _ = loaded(landing, "crm_stage_history", tmp_path)
    stages = rows[rows.lead_id == "101"].sort_values("entered_at").stage.tolist()
    assert stages == ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                      "customer"]


def test_hubspot_deals_become_opportunities(landing, tmp_path):
    r = run_import("hubspot", "crm_opportunities", "hubspot_deals.csv", landing)
    assert (r.rows_written, r.rows_quarantined) == (3, 0)
    _, rows, rejected = loaded(landing, "crm_opportunities", tmp_path)
    assert rejected == 0
    won = rows[rows.opportunity_id == "9001"].iloc[0]
    assert won.lead_id == "101" and won.is_won and won.is_closed and float(won.amount) == 24000
    open_deal = rows[rows.opportunity_id == "9002"].iloc[0]
    assert not open_deal.is_closed
    assert str(open_deal.closed_at) == "NaT"  # an expected close date is not a closing


def test_salesforce_leads_with_a_bom_semicolons_and_german_numbers(landing, tmp_path):
    r = run_import("salesforce", "crm_leads", "salesforce_leads.csv", landing,
                   {"numbers": {"thousands": ".", "decimal": ","}})
    assert (r.rows_written, r.rows_quarantined) == (2, 0)
    _, rows, _ = loaded(landing, "crm_leads", tmp_path)
    assert list(rows.lead_id) == ["00Q1", "00Q2"]  # the BOM is not part of the first header
    assert list(rows.employee_count) == [250, 1200]
    assert rows.company_name[1] == "Beta; Inc."
    assert list(rows.acquisition_mode) == ["inbound", "outbound"]  # cold call


def test_salesforce_opportunities_and_campaign_members(landing, tmp_path):
    r = run_import("salesforce", "crm_opportunities", "salesforce_opportunities.csv", landing)
    assert (r.rows_written, r.rows_quarantined) == (2, 0)
    _, rows, _ = loaded(landing, "crm_opportunities", tmp_path)
    assert str(rows.created_at[0]) == "2025-03-10 14:22:00" and rows.is_won[0]
    assert str(rows.closed_at[1]) == "NaT"  # open: its close date is a forecast
    r = run_import("salesforce", "crm_activities", "salesforce_campaign_members.csv", landing)
    assert (r.rows_written, r.rows_quarantined) == (3, 0)
    _, acts, _ = loaded(landing, "crm_activities", tmp_path)
    assert sorted(acts.activity_type) == ["sent", "webinar_attended", "webinar_registration"]
    assert acts[acts.activity_type == "sent"].actor.item() == "marketing"
    assert acts.activity_id.nunique() == 3


@pytest.mark.parametrize(("preset", "sample", "spend", "currency"), [
    ("google_ads", "google_ads_campaigns.csv", [1234.5, 980.0], "EUR"),
    ("linkedin_ads", "linkedin_ads_campaigns.csv", [412.3, 398.1], "USD"),
    ("meta_ads", "meta_ads_campaigns.csv", [150.25, 142.8], "USD"),
])
def test_ad_platform_reports_become_spend(landing, tmp_path, preset, sample, spend, currency):
    r = run_import(preset, "ad_spend", sample, landing)
    assert r.rows_written == 2 and r.rows_quarantined == 0
    assert r.rows_read == r.rows_written + r.rows_skipped  # totals rows skipped, not lost
    _, rows, rejected = loaded(landing, "ad_spend", tmp_path)
    assert rejected == 0
    assert [float(x) for x in rows.spend] == spend and set(rows.currency) == {currency}
    assert set(rows.platform) == {preset} and rows.utm_medium.notna().all()


def test_a_user_map_extends_a_preset(landing, tmp_path):
    override = yaml.safe_load("columns: {department: {value: it}, owner_id: {value: team_a}}")
    run_import("hubspot", "crm_leads", "hubspot_contacts.csv", landing, override)
    _, rows, _ = loaded(landing, "crm_leads", tmp_path)
    assert set(rows.department) == {"it"} and set(rows.owner_id) == {"team_a"}
    assert list(rows.country_code)[:2] == ["US", "DE"]  # the preset's columns still apply
