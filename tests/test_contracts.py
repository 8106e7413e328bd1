"""The published marts have enforced dbt contracts: every column's name and type is declared,
and a mart whose SQL stops matching its declaration fails to build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.paths import DBT_PROJECT_DIR
from orchestration.transform.project import dbt_executable, ensure_manifest
from tests.conftest import make_settings

pytestmark = pytest.mark.slow(seconds=30)  # uses the published demo; orders the workers


def test_every_mart_declares_an_enforced_contract_with_every_column_typed():
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    marts = [n for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["schema"] == "marts"]
    assert len(marts) >= 29
    for node in marts:
        assert node["contract"]["enforced"], node["name"]
        untyped = [c for c, col in node["columns"].items() if not col.get("data_type")]
        assert not untyped, (node["name"], untyped)
    sla = next(n for n in marts if n["name"] == "fct_sla")
    assert sla["config"]["on_schema_change"] == "fail"  # a by-lead incremental mart


def test_a_mart_that_breaks_its_contract_does_not_build(published_demo, tmp_path):
    """dim_segment's sort_order declared varchar while the SQL gives an integer: dbt refuses
    the build and names the column."""
    _, settings, _ = published_demo
    warehouse = tmp_path / "funnel.duckdb"
    shutil.copy(settings.duckdb_path, warehouse)
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    yml = project / "models" / "marts" / "bi" / "dim_bi.yml"
    text = yml.read_text()
    declared = ("      - name: sort_order\n        data_type: integer\n"
                "        description: Display order.")
    assert text.count(declared) >= 1
    yml.write_text(text.replace(declared, declared.replace("integer", "varchar"), 1))
    env = {**os.environ, **make_settings(tmp_path, landing=tmp_path).dbt_environment(),
           "DUCKDB_PATH": str(warehouse)}

    def build():
        return subprocess.run(
            [dbt_executable(), "run", "--select", "dim_segment", "--project-dir",
             str(project), "--profiles-dir", str(project), "--target-path",
             str(tmp_path / "target"), "--vars", dbt_vars_arg()],
            cwd=project, capture_output=True, text=True, timeout=300, env=env)

    done = build()
    assert done.returncode != 0
    assert "contract" in done.stdout.lower() and "sort_order" in done.stdout, done.stdout[-3000:]
    # (as declared, it builds: every pipeline run of the suite builds it under its contract)
