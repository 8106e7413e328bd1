"""The `funnel` command line: help everywhere, clear errors."""

import pytest
from click.testing import CliRunner

from orchestration.cli import main


@pytest.mark.parametrize("args", [[], ["demo"], ["run"], ["ui"], ["definitions"], ["check"], ["bench"],
                                  ["dbt", "--help"]])
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


def test_demo_rejects_a_bad_argument():
    result = CliRunner().invoke(main, ["demo", "--leads", "0"])
    assert result.exit_code != 0
    assert "--leads" in result.output


def test_definitions_command_reports_the_rules_in_force():
    result = CliRunner().invoke(main, ["definitions"])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "lead score >= 60" in result.output


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
