"""The Dagster code location: graph shape, pools, and what dbt is asked to run."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.resources import WAREHOUSE_POOL
from orchestration.ingest.contract import EXTRACTS
from orchestration.paths import PROJECT_ROOT
from orchestration.settings import Settings
from orchestration.transform.commands import (
    dbt_audit_args,
    dbt_build_args,
    out_of_memory_nodes,
    stop_dbt,
)


def definitions(tmp_path):
    from orchestration.code_location import build_definitions

    return build_definitions(Settings(duckdb_path=tmp_path / "w.duckdb", landing_dir=tmp_path,
                                      source_timezone="UTC", null_placeholders=("",)))


def test_graph_has_ingest_and_staging_assets_wired_together(tmp_path):
    defs = definitions(tmp_path)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for name, extract in EXTRACTS.items():
        assert f"raw/{name}" in keys
        staging_key = dg.AssetKey(["staging", extract.staging_model])
        assert staging_key.to_user_string() in keys
        parents = {p.to_user_string() for p in graph.get(staging_key).parent_keys}
        assert f"raw/{name}" in parents, (extract.staging_model, parents)


def test_every_warehouse_writer_is_in_one_pool(tmp_path):
    defs = definitions(tmp_path)
    job = defs.resolve_job_def("elt")
    pools = {node.name: node.definition.pool for node in job.graph.node_dict.values()}
    # Dagster's freshness checks read its event log, never the warehouse: no pool needed.
    readers_of_the_event_log = {n for n in pools if "freshness_check" in n}
    assert len(readers_of_the_event_log) == 1
    warehouse_steps = {n: p for n, p in pools.items() if n not in readers_of_the_event_log}
    assert len(warehouse_steps) > 20 and set(warehouse_steps.values()) == {WAREHOUSE_POOL}, pools


def test_groups_follow_the_flow(tmp_path):
    defs = definitions(tmp_path)
    groups = {spec.key.to_user_string(): spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert groups["raw/crm_leads"] == "ingest"
    assert groups["staging/stg_crm__leads"] == "transform"


def test_dbt_runs_build_with_the_definitions_as_vars():
    import json

    from orchestration.funnel_definitions import dbt_vars_arg

    args = dbt_build_args(dbt_vars_arg())
    assert args[:2] == ["build", "--vars"]  # build: tests run and show as asset checks
    passed = json.loads(args[2])
    assert passed["funnel"]["mql"]["threshold"] == 60
    assert len(passed["definitions_version"]) == 12
    assert args[3:] == ["--exclude-resource-type", "unit_test"]  # they run in make test
    assert dbt_build_args(dbt_vars_arg(), full_refresh=True)[-1] == "--full-refresh"


def test_the_audit_runs_dbt_test_and_builds_nothing():
    from orchestration.funnel_definitions import dbt_vars_arg

    args = dbt_audit_args(dbt_vars_arg())
    assert args[0] == "test" and "--full-refresh" not in args
    assert args[-2:] == ["--exclude-resource-type", "unit_test"]


def test_every_audit_job_selects_every_check_dbt_tests_included(tmp_path):
    """`funnel check` (audit_publish) and the Monday job re-run the whole check set of a full
    run: the guards, every dbt data test (as asset checks) and the freshness checks."""
    from orchestration.code_location import build_definitions
    from tests.conftest import settings_at

    defs = build_definitions(settings_at(tmp_path))
    every_check = set(defs.resolve_asset_graph().asset_check_keys)
    ingest = defs.resolve_job_def("ingest")
    assert set(ingest.asset_layer.asset_graph.asset_check_keys) < every_check  # it selects
    for name in ("audit_publish", "weekly_report"):
        job = defs.resolve_job_def(name)
        selected = set(job.asset_layer.asset_graph.asset_check_keys)
        assert selected == every_check, name
        assert any(k.name == "primary_key_dim_leads_lead_id" for k in selected)
        assert any(k.name.startswith("uses_the_definitions_in_force") for k in selected)


def test_jobs_launched_from_the_ui_or_the_daemon_run_their_steps_in_process(tmp_path):
    """A scheduled run costs what `funnel run` costs: no subprocess started per step."""
    from orchestration.code_location import build_definitions
    from tests.conftest import settings_at

    defs = build_definitions(settings_at(tmp_path))
    for name in ("elt", "ingest", "audit_publish", "weekly_report"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process", name


def test_only_duckdb_out_of_memory_errors_are_built_again():
    results = [
        {"unique_id": "model.p.a", "status": "error",
         "message": "Runtime Error in model a\n  Out of Memory Error: failed to pin block"},
        {"unique_id": "model.p.b", "status": "error",
         "message": "Runtime Error in model b\n  Binder Error: column x not found"},
        {"unique_id": "test.p.c", "status": "fail", "message": "Got 3 results"},
        {"unique_id": "model.p.d", "status": "skipped", "message": None},
    ]
    assert out_of_memory_nodes(results) == ["model.p.a"]
    assert out_of_memory_nodes(results[1:]) == []  # a real error fails the run at once


@pytest.mark.parametrize("ignores_interrupts", [False, True])
def test_a_dbt_process_left_running_is_stopped(ignores_interrupts):
    """The dbt asset stops any dbt still running when its step ends, so no writer is left
    holding the warehouse: interrupted like Ctrl-C, killed if it does not end in time."""
    import signal
    import time

    # a dbt honours Ctrl-C (funnel-dbt restores it even where the run's own process ignores it)
    code = ("import signal, time\n"
            + ("signal.signal(signal.SIGINT, signal.SIG_IGN)\n" if ignores_interrupts else
               "signal.signal(signal.SIGINT, signal.default_int_handler)\n")
            + "print('ready', flush=True)\ntime.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"ready"  # its handler is in place
    start = time.monotonic()
    # one that honours the interrupt gets all the time it needs (a busy machine can take
    # seconds); one that ignores it is killed after its 2 s
    stop_dbt(process, timeout=2 if ignores_interrupts else 60)
    assert process.poll() is not None
    assert process.returncode == -(signal.SIGKILL if ignores_interrupts else signal.SIGINT)
    assert time.monotonic() - start < 60
    process.stdout.close()
    stop_dbt(process)  # an ended process is left alone


def test_dagster_definitions_validate(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    env = {"DUCKDB_PATH": str(tmp_path / "w.duckdb"), "LANDING_DIR": str(tmp_path),
           "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr


def test_manifest_is_prepared_on_a_fresh_checkout_and_only_when_stale(tmp_path, monkeypatch):
    import os
    import shutil

    from dagster_dbt import DbtProject

    from orchestration.paths import DBT_PROJECT_DIR
    from orchestration.transform.project import ensure_manifest, manifest_is_stale

    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    assert manifest_is_stale(project)
    manifest = ensure_manifest(project)
    assert manifest.exists() and not manifest_is_stale(project)
    model = next(copy.joinpath("models").rglob("*.sql"))
    later = manifest.stat().st_mtime + 10
    os.utime(model, (later, later))
    assert manifest_is_stale(project)


def test_the_dbt_resource_asks_no_subprocess_for_the_version_and_opens_no_adapter(
        monkeypatch, tmp_path):
    import dagster_dbt.core.resource as dagster_dbt_resource
    from dagster_dbt import DbtCliResource
    from packaging.version import parse

    from orchestration.defs.transform import LeanDbtCliResource, dbt_resource

    # the private methods overridden must still exist upstream, or the override does nothing
    assert {"_cli_version", "_initialize_dbt_core_adapter"} <= set(vars(DbtCliResource))

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    resource = dbt_resource()
    assert isinstance(resource, LeanDbtCliResource)
    from importlib.metadata import version

    assert resource._cli_version == parse(version("dbt-core"))
    assert resource._initialize_dbt_core_adapter(["build"]) is None
    # a dbt that is not the one installed here is still asked
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\necho 2.0.0\n")
    elsewhere.chmod(0o755)
    other = LeanDbtCliResource(project_dir=str(resource.project_dir), dbt_executable=str(elsewhere))
    with pytest.raises(AssertionError, match="ran"):
        _ = other._cli_version


def test_only_the_newest_build_folders_are_kept_under_target(tmp_path):
    """Each dbt build writes a target folder of its own (about 11 MB): a daily schedule must
    not grow target/ forever. The shared parse state and other folders stay."""
    import os
    from types import SimpleNamespace

    from orchestration.transform.project import DBT_ASSETS_NAME, prune_build_folders

    target = tmp_path / "target"
    builds = []
    for i in range(7):
        folder = target / f"{DBT_ASSETS_NAME}-run{i}-abc"
        (folder / "run").mkdir(parents=True)
        (folder / "dbt.log").write_text("log")
        os.utime(folder, (1_000_000 + i, 1_000_000 + i))
        builds.append(folder)
    (target / "compiled").mkdir()
    (target / "partial_parse.msgpack").write_bytes(b"state")

    removed = prune_build_folders(SimpleNamespace(project_dir=tmp_path, target_path="target"),
                                  keep=3)
    assert sorted(removed) == builds[:4]
    assert sorted(p for p in target.iterdir()) == sorted(
        builds[4:] + [target / "compiled", target / "partial_parse.msgpack"])
