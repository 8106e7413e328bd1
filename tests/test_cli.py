"""The `funnel` command line: help everywhere, clear errors."""

import pytest
from click.testing import CliRunner

from orchestration.cli import main


@pytest.mark.parametrize("args", [[], ["demo"], ["run"], ["ui"]])
def test_every_command_has_help(args):
    result = CliRunner().invoke(main, [*args, "--help"])
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
