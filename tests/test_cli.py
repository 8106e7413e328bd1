"""The `funnel` command line: help everywhere, clear errors."""

import pytest
from click.testing import CliRunner

from orchestration.cli import main

pytestmark = pytest.mark.slow(seconds=60)  # runs the pipeline; orders the parallel workers


@pytest.mark.parametrize("args", [[], ["demo"], ["run"], ["ui"], ["definitions"], ["check"], ["bench"],
                                  ["report"], ["backtest"], ["import"], ["dbt", "--help"]])
def test_every_command_has_help(args):
    result = CliRunner().invoke(main, [*args] if "--help" in args else [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_demo_writes_every_extract(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--leads", "200", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "crm_activities" in result.output
    assert (tmp_path / "crm_leads").is_dir()


def test_run_without_landing_folder_says_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["run", "--landing", str(tmp_path / "nowhere"),
                                       "--warehouse", str(tmp_path / "w.duckdb"),
                                       "--demo-leads", "0"])
    assert result.exit_code != 0
    assert "does not exist" in result.output and "funnel demo" in result.output


def test_run_with_an_empty_landing_folder_says_there_is_no_data(tmp_path):
    (tmp_path / "landing" / "crm_leads").mkdir(parents=True)
    (tmp_path / "landing" / "crm_leads" / "notes.txt").write_text("not an extract")
    result = CliRunner().invoke(main, ["run", "--landing", str(tmp_path / "landing"),
                                       "--warehouse", str(tmp_path / "w.duckdb"),
                                       "--demo-leads", "0"])
    assert result.exit_code != 0
    assert "No data: no extract file under" in result.output
    assert "funnel demo" in result.output and "funnel import" in result.output


def test_run_into_a_folder_it_cannot_write_names_it_without_a_traceback(tmp_path):
    (tmp_path / "landing" / "crm_leads").mkdir(parents=True)
    (tmp_path / "not_a_folder").write_text("a file where the warehouse folder should be")
    result = CliRunner().invoke(main, ["run", "--landing", str(tmp_path / "landing"),
                                       "--warehouse", str(tmp_path / "not_a_folder" / "w.duckdb"),
                                       "--demo-leads", "0"])
    assert result.exit_code == 1
    assert "cannot write the warehouse's folder" in result.output
    assert str(tmp_path / "not_a_folder") in result.output and "Traceback" not in result.output


def test_a_failed_import_exits_non_zero_and_does_not_say_next_run(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("foo,bar\n1,2\n")
    result = CliRunner().invoke(main, ["import", "--preset", "hubspot", "--extract", "crm_leads",
                                       str(junk), "--landing", str(tmp_path / "landing")])
    assert result.exit_code == 1
    assert "could not be imported" in result.output and "Next: funnel run" not in result.output


def test_demo_rejects_a_bad_argument():
    result = CliRunner().invoke(main, ["demo", "--leads", "0"])
    assert result.exit_code != 0
    assert "--leads" in result.output


def test_definitions_command_reports_the_rules_in_force():
    result = CliRunner().invoke(main, ["definitions"])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "lead score >= 60" in result.output
    assert "nurture bad timing, no budget, no project; others disqualify" in result.output
    assert "(enterprise: " in result.output and "opportunity_to_won 180" in result.output


def test_definitions_command_names_a_bad_key(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("mql: {treshold: 70}\n")
    result = CliRunner().invoke(main, ["definitions", "--file", str(bad)])
    assert result.exit_code != 0
    assert "mql.treshold: unknown key" in result.output


def test_check_without_a_warehouse_says_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["check", "--warehouse", str(tmp_path / "none.duckdb")])
    assert result.exit_code != 0
    assert "funnel run" in result.output


def report(monkeypatch, serving, reports, *args):
    monkeypatch.setenv("SERVING_DUCKDB_PATH", str(serving))
    monkeypatch.setenv("REPORTS_DIR", str(reports))
    return CliRunner().invoke(main, ["report", *args])


def test_report_for_a_week_without_data_says_which_weeks_exist(published_demo, monkeypatch, tmp_path):
    _, settings, _ = published_demo
    result = report(monkeypatch, settings.serving_path, tmp_path, "--week", "2030-W01")
    assert result.exit_code != 0
    assert "No complete week 2030-W01" in result.output and "--week 2026-W47" in result.output
    assert not (tmp_path / "weekly").exists()


def test_report_rejects_a_malformed_week(published_demo, monkeypatch, tmp_path):
    _, settings, _ = published_demo
    result = report(monkeypatch, settings.serving_path, tmp_path, "--week", "2026-47")
    assert result.exit_code != 0
    assert "not an ISO week: write it as YYYY-Www" in result.output


def test_report_on_an_empty_warehouse_says_to_run_the_pipeline_first(monkeypatch, tmp_path):
    result = report(monkeypatch, tmp_path / "serving.duckdb", tmp_path, "--week", "2026-W47")
    assert result.exit_code != 0
    assert "No published warehouse" in result.output and "funnel run" in result.output


def test_report_builds_one_week_into_the_reports_folder(published_demo, monkeypatch, tmp_path):
    _, settings, _ = published_demo
    monkeypatch.setenv("DUCKDB_PATH", str(settings.duckdb_path))
    result = report(monkeypatch, settings.serving_path, tmp_path, "--week", "2026-W46")
    assert result.exit_code == 0, result.output
    html = tmp_path / "weekly" / "funnel_2026-W46.html"
    assert result.output.strip().endswith(str(html))
    assert "Lead funnel — 2026-W46" in html.read_text()
