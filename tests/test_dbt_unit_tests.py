"""dbt unit tests check the SQL on hand-made inputs, not the data, so a pipeline run skips them
(dbt's advice for production); here every one of them runs against a built warehouse."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow(seconds=45)  # runs the pipeline; orders the parallel workers

def funnel_dbt(settings, *args):
    env = {**os.environ, "DUCKDB_PATH": str(settings.duckdb_path)}
    return subprocess.run([sys.executable, "-m", "orchestration.cli", "dbt", *args],
                          env=env, capture_output=True, text=True, timeout=600)


def test_every_dbt_unit_test_runs_and_passes(published_demo):
    _, settings, _ = published_demo
    listed = funnel_dbt(settings, "ls", "--resource-type", "unit_test", "--output", "name", "--quiet")
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    names = listed.stdout.split()
    assert len(names) >= 19 and "a_rule_cap_stops_further_points" in names

    done = funnel_dbt(settings, "test", "--select", "test_type:unit")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "WARN=0 ERROR=0" in done.stdout  # PASS also counts the project's on-run-start hook
    passed = [line for line in done.stdout.splitlines() if " PASS " in line]
    assert all(any(f"::{name} " in line for line in passed) for name in names), passed
