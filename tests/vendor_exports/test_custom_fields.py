"""A CRM's own fields, end to end: an export with a column the contract does not know is
imported (the column carried), declared in the definitions, and a fit rule on it scores the
leads - worked out by hand through the real pipeline."""

import duckdb
import pytest
import yaml

from orchestration.funnel_definitions import DefinitionsError, definitions_path, load_definitions
from orchestration.in_process import run_pipeline
from orchestration.vendor_exports.importer import import_file
from orchestration.vendor_exports.mapping import parse
from tests.conftest import settings_at

pytestmark = pytest.mark.slow(seconds=160)  # runs the pipeline; orders the parallel workers

EXPORT = """Id,Created,Company,Lead Origin,Occupation
A1,2025-03-03 09:00,Acme,Landing Page Submission,Working Professional
A2,2025-03-04 10:00,Beta,API,Student
A3,2025-03-05 11:00,Gamma,landing page submission ,
A4,2025-03-12 12:00,Delta,,Working Professional
"""
MAPPING = {"extract": "crm_leads", "columns": {
    "lead_id": "Id", "created_at": {"from": "Created", "format": "%Y-%m-%d %H:%M"},
    "company_name": "Company", "acquisition_mode": {"value": "inbound"}}}


def variant(tmp_path, **changes):
    """The definitions in force with lead_attributes and fit rules replaced."""
    definitions = yaml.safe_load(definitions_path().read_text())
    definitions.update(changes)
    path = tmp_path / "funnel.yml"
    path.write_text(yaml.safe_dump(definitions, sort_keys=False))
    return path


def test_a_fit_rule_on_a_column_of_the_export_scores_the_leads(tmp_path, monkeypatch):
    """Origin "landing page submission" is worth 30 and occupation "working professional"
    (a regex, as written) 20; no contract attribute is filled, so no other rule matches:
    A1 = 30 + 20 = 50, A2 = 0, A3 = 30 (the value normalises: case and blanks), A4 = 20."""
    settings = settings_at(tmp_path)
    export = tmp_path / "leads.csv"
    export.write_text(EXPORT)
    result = import_file(export, parse(MAPPING, "test"), settings.landing_dir)
    assert result.rows_written == 4 and "lead_origin, occupation" in result.render()
    monkeypatch.setenv("FUNNEL_DEFINITIONS", str(variant(
        tmp_path, lead_attributes=["lead_origin", "occupation"],
        fit_rules=[{"id": "landing_page_origin", "attribute": "lead_origin", "match": "equals",
                    "value": "landing page submission", "points": 30},
                   {"id": "professional", "attribute": "occupation", "match": "regex",
                    "value": "^Working", "points": 20}])))
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, (summary.failures, summary.checks_failed)
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        fit = dict(con.execute("select lead_id, fit_score from marts.dim_leads").fetchall())
        rules = dict(con.execute("select lead_id, matched_fit_rules from marts.dim_leads"
                                 ).fetchall())
        declared = con.execute("select attribute from definitions.def_lead_attributes "
                               "order by 1").fetchall()
    assert fit == {"A1": 50, "A2": 0, "A3": 30, "A4": 20}
    assert rules == {"A1": "landing_page_origin, professional", "A2": None,
                     "A3": "landing_page_origin", "A4": "professional"}
    assert declared == [("lead_origin",), ("occupation",)]


def test_a_rule_on_an_attribute_nobody_declared_names_the_known_ones(tmp_path):
    path = variant(tmp_path, fit_rules=[{"id": "origin", "attribute": "lead_origin",
                                         "match": "equals", "value": "api", "points": 5}])
    with pytest.raises(DefinitionsError, match=r"fit_rules\[0\] \(origin\): unknown attribute "
                                               r"'lead_origin'; known attributes: industry, "):
        load_definitions(path)
    bad = variant(tmp_path, lead_attributes=["lead_origin"],
                  fit_rules=[{"id": "origin", "attribute": "lead_origin", "match": "regex",
                              "value": "(unclosed", "points": 5}])
    with pytest.raises(DefinitionsError, match="is not a regular expression"):
        load_definitions(bad)
    shadow = variant(tmp_path, lead_attributes=["industry"])
    with pytest.raises(DefinitionsError, match="industry is already a lead attribute"):
        load_definitions(shadow)
    exclusion = variant(tmp_path, exclusions={"rules": [
        {"reason": "student", "attribute": "occupation", "values": ["student"]}]})
    with pytest.raises(DefinitionsError, match=r"exclusions.rules\[0\] \(student\): unknown "
                                               "attribute 'occupation'"):
        load_definitions(exclusion)
    segment = variant(tmp_path, lead_attributes=["lead_origin"], segments=[
        {"name": "partners", "label": "Partners", "attribute": "lead_origin"}])
    with pytest.raises(DefinitionsError, match="`attribute` and `values` go together"):
        load_definitions(segment)
    both = variant(tmp_path, lead_attributes=["lead_origin", "occupation"],
                   exclusions={"rules": [{"reason": "student", "attribute": "occupation",
                                          "match": "prefix", "values": ["stud"]}]},
                   segments=[{"name": "partners", "label": "Partners",
                              "attribute": "lead_origin", "values": ["partner referral"]},
                             {"name": "smb", "label": "SMB", "max_employees": 49}],
                   maturity_days={})  # the file's own windows name its segments
    assert load_definitions(both).exclusions.rules[0].match == "prefix"


def test_a_first_export_of_a_few_days_runs_and_says_the_first_report_is_to_come(tmp_path):
    """Four days of leads (Mon 3 - Thu 6 March 2025): nothing is wrong, but no week has ended
    in the data. The run succeeds, publishes, and says which week's report comes first."""
    settings = settings_at(tmp_path)
    export = tmp_path / "leads.csv"
    export.write_text(EXPORT.replace("2025-03-12 12:00", "2025-03-06 12:00"))
    import_file(export, parse(MAPPING, "test"), settings.landing_dir)
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success and summary.published_to and summary.report is None
    assert summary.report_note.startswith("not built yet: the data runs from the week of "
                                          "2025-W10 to 2025-03-06 12:00 UTC")
    assert "the first report is the one of 2025-W10" in summary.render()


WON_ONLY_LEADS = """Id,Created,Lead Origin,Total Visits
W1,2025-01-06 10:00,Lead Add Form,30
W2,2025-01-06 10:00,Lead Add Form,0
W3,2025-01-06 10:00,API,10
W4,2025-01-06 10:00,API,
W5,2025-01-06 10:00,,0
W6,2025-08-20 10:00,API,3
"""
# Won deals only: no qualification, no SQL stage. W5's deal was opened and won before the
# lead's first contact; W4's was lost on 25 August, the last date in the data.
WON_ONLY_DEALS = """opportunity_id,lead_id,created_at,amount,currency,is_closed,is_won,closed_at
D1,W1,2025-02-01 10:00,5000,USD,true,true,2025-03-01 10:00
D3,W3,2025-02-01 10:00,2000,USD,true,true,2025-04-01 10:00
D4,W4,2025-02-01 10:00,900,USD,true,false,2025-08-25 10:00
D5,W5,2024-12-01 10:00,3000,USD,true,true,2024-12-15 10:00
"""
VISITS_MAPPING = {
    "extract": "crm_activities", "unmapped": "drop",
    "skip_when": {"Total Visits": "^0*$"},  # no visit, no activity
    "columns": {"activity_id": {"derive": ["Id", {"value": "visits"}]}, "lead_id": "Id",
                "occurred_at": {"from": "Created", "format": "%Y-%m-%d %H:%M"},
                "activity_type": {"value": "website_visit"}, "actor": {"value": "prospect"},
                "quantity": "Total Visits"}}


@pytest.mark.parametrize("outcome, auc", [("won", 0.5), ("won_amount", 0.6)])
def test_a_won_only_history_with_visit_counts_is_judged_by_its_deals(tmp_path, monkeypatch,
                                                                    outcome, auc):
    """A lead export with a custom origin and a visit count, and won deals alone.

    Imports: the count column becomes one `website_visit` activity carrying the quantity (W2,
    W4 and W5 have none). Scoring: origin "lead add form" 40, "api" 10; 1 point per visit,
    capped at 20, half-life 30 days; evaluated 14 days after creation:
    W1 = round(0.5 x 40 + 0.5 x 20 x 0.5^(14/30)) = round(20 + 7.24) = 27, W2 = 20,
    W3 = round(5 + 0.5 x 10 x 0.5^(14/30)) = round(5 + 3.62) = 9, W4 = 5, and W5 = 0, scored
    just before its deal (1 December 2024). Outcome: a deal won within 180 days of the
    horizon (20 January to 19 July 2025): W1, W3 and W5; W6 (August, 6 points) is too young.
    AUC for won: of the 6 (won, not won) pairs, W1 outranks W2 and W4, W3 outranks W4:
    3 / 6 = 0.5. Weighted by the amount won: (5,000 x 2 + 2,000 x 1 + 3,000 x 0) /
    (10,000 x 2) = 0.6."""
    settings = settings_at(tmp_path)
    leads = tmp_path / "leads.csv"
    leads.write_text(WON_ONLY_LEADS)
    import_file(leads, parse({**MAPPING, "columns": {**MAPPING["columns"],
                                                   "company_name": {"value": "Acme"}}}, "t"),
                settings.landing_dir)
    visits = import_file(leads, parse(VISITS_MAPPING, "t"), settings.landing_dir)
    assert visits.rows_written == 3
    deals = settings.landing_dir / "crm_opportunities" / "deals.csv"
    deals.parent.mkdir(parents=True)
    deals.write_text(WON_ONLY_DEALS)
    definitions = yaml.safe_load(definitions_path().read_text())
    monkeypatch.setenv("FUNNEL_DEFINITIONS", str(variant(
        tmp_path, lead_attributes=["lead_origin"],
        fit_rules=[{"id": "form", "attribute": "lead_origin", "match": "equals",
                    "value": "lead add form", "points": 40},
                   {"id": "api", "attribute": "lead_origin", "match": "equals", "value": "api",
                    "points": 10}],
        engagement={"half_life_days": 30, "rules": [
            {"activity_type": "website_visit", "points": 1, "per_unit": True, "cap": 20}]},
        calibration={**definitions["calibration"], "outcome": outcome})))
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, (summary.failures, summary.checks_failed)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        rows = con.execute("""select lead_id, evaluation_status, lead_score, outcome_reached,
                                     outcome_value
                              from intermediate.int_scoring_evaluation order by lead_id""").fetchall()
        quantities = con.execute("select lead_id, quantity from staging.stg_crm__activities "
                                 "order by lead_id").fetchall()
    amount = outcome == "won_amount"
    assert [r[:4] for r in rows] == [
        ("W1", "evaluated", 27, True), ("W2", "evaluated", 20, False),
        ("W3", "evaluated", 9, True), ("W4", "evaluated", 5, False),
        ("W5", "evaluated", 0, True), ("W6", "too_young", 6, False)]
    assert [float(r[4]) for r in rows[:5]] == (
        [5000, 0, 2000, 0, 3000] if amount else [1, 0, 1, 0, 1])
    assert [(lead, float(q)) for lead, q in quantities] == [("W1", 30), ("W3", 10), ("W6", 3)]
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        [(measured, base, sql_auc)] = con.execute(
            "select distinct auc_outcome, base_outcome_rate, auc_sql "
            "from marts.fct_score_calibration").fetchall()
    assert measured == pytest.approx(auc) and base == pytest.approx(3 / 5)
    assert sql_auc is None  # nobody reached SQL: the SQL figures are what is missing
