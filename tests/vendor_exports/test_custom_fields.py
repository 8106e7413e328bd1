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

pytestmark = pytest.mark.slow(seconds=60)  # runs the pipeline; orders the parallel workers

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
