"""dbt models as Dagster assets (dagster-dbt). dbt tests become asset checks."""


import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.settings import DBT_PROJECT_DIR

_PROJECT_INPUTS = ("models", "macros", "tests", "seeds", "definitions", "dbt_project.yml",
                   "profiles.yml")


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project handle, built once (and never at import time). DBT_TARGET_PATH, dbt's
    own variable (dagster-dbt reads it too for each build's folder), moves target/: parallel
    test workers each keep a manifest and parse state of their own."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR,
                      target_path=os.environ.get("DBT_TARGET_PATH", "target"))


def target_dir(project: DbtProject) -> Path:
    """The project's target folder: manifest, shared parse state, one folder per build."""
    return Path(project.project_dir) / project.target_path


def manifest_is_stale(project: DbtProject) -> bool:
    """True when manifest.json is missing or older than any file dbt would parse."""
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in _PROJECT_INPUTS:
        path = Path(project.project_dir) / name
        files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def keep_parse_state(project: DbtProject, run_target: Path) -> None:
    """Hand a build's parse state (partial_parse.msgpack) to the next build. Each build runs in
    a target folder of its own, starting from the state in target/; dbt re-parses the whole
    project (about 5 s) when that state was written under another profile - another warehouse
    path or memory limit - so the state of the last build on this warehouse is the one to keep."""
    state = run_target / "partial_parse.msgpack"
    if not state.exists():
        return
    shared = target_dir(project) / state.name
    partial = shared.with_name(f"{state.name}.{os.getpid()}")
    shutil.copyfile(state, partial)
    os.replace(partial, shared)  # atomic: a build starting now copies the old or the new file


DBT_ASSETS_NAME = "dbt_models"  # the op: dagster-dbt names each build's target folder after it
# Build folders kept under target/ (logs, compiled SQL, run_results of each build): about
# 11 MB each, so a daily schedule would otherwise grow target/ by 4 GB a year.
BUILD_FOLDERS_KEPT = 30


def prune_build_folders(project: DbtProject, keep: int = BUILD_FOLDERS_KEPT) -> list[Path]:
    """Delete all but the `keep` newest per-build target folders (dagster-dbt names them
    `<op>-<run id>-<suffix>`); the shared parse state and manifest in target/ stay."""
    target = target_dir(project)
    folders = sorted((p for p in target.glob(f"{DBT_ASSETS_NAME}-*") if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)  # a folder another process removes is fine
    return folders[keep:]


def ensure_manifest(project: DbtProject | None = None) -> Path:
    """Run `dbt parse` (partial parsing keeps it quick) only when the project changed."""
    project = project or dbt_project()
    if manifest_is_stale(project):
        proc = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
             "--profiles-dir", str(project.profiles_dir), "--target-path", str(project.target_path),
             "--vars", dbt_vars_arg()],
            cwd=project.project_dir, capture_output=True, text=True,
        )
        if proc.returncode != 0 or not Path(project.manifest_path).exists():
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
    return Path(project.manifest_path)


class LayeredTranslator(DagsterDbtTranslator):
    """All dbt models sit in the transform group; the folder (layer) is kept as a tag."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "transform"

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        fqn = dbt_resource_props.get("fqn", [])
        tags = dict(super().get_tags(dbt_resource_props))
        if len(fqn) > 2:
            tags["layer"] = fqn[1]
        return tags


def dbt_build_args(vars_json: str, full_refresh: bool = False) -> list[str]:
    """Arguments of the dbt command the transform asset runs (pure, unit-tested).

    The definitions file travels as --vars: dbt never reads a threshold from anywhere else.
    dbt unit tests check the SQL on fixed inputs, not the data: they run in `make test`
    (tests/test_dbt_unit_tests.py), not on every run (dbt's advice for production).
    """
    return ["build", "--vars", vars_json, "--exclude-resource-type", "unit_test",
            *(["--full-refresh"] if full_refresh else [])]


def dbt_audit_args(vars_json: str) -> list[str]:
    """Arguments of the audit before a publish (`funnel check`, the Monday job): dbt's data
    tests on the warehouse as it is, building nothing. dagster-dbt adds the selected tests."""
    return ["test", "--vars", vars_json, "--exclude-resource-type", "unit_test"]


# DuckDB's error when a statement needs more than the memory limit and cannot spill: the
# statement failed and its model's transaction rolled back, so building it again is safe.
OUT_OF_MEMORY = "Out of Memory Error"


def out_of_memory_nodes(results: list[dict]) -> list[str]:
    """unique_ids of the dbt nodes that failed with DuckDB's out-of-memory error."""
    return [r["unique_id"] for r in results
            if r["status"] == "error" and OUT_OF_MEMORY in (r.get("message") or "")]


def retry_on_one_thread_args(build_args: list[str], first_attempt: Path) -> list[str]:
    """Arguments of the second attempt after an out-of-memory error (tests/test_pipeline_e2e.py
    starves a first attempt of memory and checks what the second builds).

    dbt's threads share one DuckDB and its memory limit, so two large statements that each fit
    alone can fail together (at 10 M leads: int_score_ledger_items beside
    int_lead_scores_current). The second attempt builds what the first did not finish - every
    node that errored, failed or was skipped, read from the first attempt's run_results.json
    - on one thread, so each statement has the whole limit. (`dbt retry` would do the same but
    takes no selection flags, and dagster-dbt adds them to every command.)

    dagster-dbt joins our --select to its own (the run's assets) as a union, so the unfinished
    nodes are selected by their result and the finished ones excluded by theirs. That also
    keeps the tests dbt picked indirectly in the first attempt (a test reading a selected model
    beside one outside a subset). Indirect selection is off: otherwise excluding a finished
    model would drop the unfinished tests that read it beside an unfinished one.
    """
    return [*build_args, "--select", "result:error result:fail result:skipped",
            "--exclude", "result:success result:pass result:warn",
            "--indirect-selection", "empty", "--state", str(first_attempt), "--threads", "1"]


def reported_again_by_a_retry(event: Any) -> bool:
    """A first attempt's result of a dbt test that errored or failed. The retry after an
    out-of-memory error runs those tests again, and Dagster takes one result per check and
    step: so they are held back, and reported only when no retry follows. (At 10 M leads a
    test ran out of memory beside the models: its error and its retried pass were both
    reported, and Dagster failed the step.) Models report only on success and passing tests
    are not retried, so nothing else can come twice."""
    if not isinstance(event, dg.AssetCheckResult):
        return False
    status = (event.metadata or {}).get("status")
    return getattr(status, "value", status) in ("error", "fail")


def stop_dbt(process: subprocess.Popen, timeout: float = 60) -> None:
    """Interrupt a dbt process still running (as Ctrl-C would: dbt rolls back and closes the
    warehouse), and kill it if it has not ended within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def latest_results(run_results: list[dict]) -> list[dict]:
    """Each node's result from the last of these run_results.json (oldest first) that ran it."""
    return list({r["unique_id"]: r for attempt in run_results for r in attempt["results"]}
                .values())


def final_results(invocations: list[Any]) -> list[dict]:
    """Each node's run result from the last dbt attempt that ran it."""
    return latest_results([i.get_artifact("run_results.json") for i in invocations
                           if (i.target_path / "run_results.json").exists()])


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False  # rebuild the incremental models from all history


def transform_assets() -> dg.AssetsDefinition:
    import json

    from orchestration import incremental

    project = dbt_project()
    ensure_manifest(project)
    models = incremental.incremental_models(json.loads(Path(project.manifest_path).read_text()))

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=LayeredTranslator(),
        pool=WAREHOUSE_POOL,
        name=DBT_ASSETS_NAME,
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                   warehouse: WarehouseResource, config: DbtBuildConfig):
        from orchestration.ingest.contract import EXTRACTS

        vars_json = dbt_vars_arg()
        fingerprint = incremental.build_fingerprint(Path(project.project_dir), vars_json)
        whole_project = set(context.selected_asset_keys) == set(context.assets_def.keys)
        # Checks without their models: the audit before a publish re-tests the warehouse.
        audit_only = not context.selected_asset_keys
        with warehouse.connect() as con:  # closed before dbt opens the file
            if not audit_only and not incremental.has_leads(con):
                raise dg.Failure(description=(
                    "no lead in raw.crm_leads: the marts need a CRM export. Put one under "
                    f"{warehouse.landing_dir}/crm_leads/ (`funnel import`, or `funnel demo`) "
                    "and run again."))
            stale = incremental.needs_full_refresh(
                incremental.recorded_fingerprints(con), models, fingerprint)
            loaded_to = incremental.newest_load(con)
            newest_any = incremental.newest_load(con, EXTRACTS)
            last_build = incremental.last_whole_build(con)
            last_dbt_build = incremental.last_model_build_started(con)
            published = incremental.published_at(con, Path(warehouse.serving_path))
        full_refresh = False
        if audit_only:
            context.log.info(f"audit: {len(context.selected_asset_check_keys)} dbt data tests "
                             "on the warehouse as it is; no model is built")
            build_args = dbt_audit_args(vars_json)
        elif not config.full_refresh and incremental.nothing_new(
                last_build, fingerprint, newest_any, published, last_dbt_build):
            context.log.info(
                f"nothing new: no file loaded since the build of {last_build[2]:%Y-%m-%d %H:%M} "
                "UTC, same definitions and dbt code, no dbt command since, and that build is "
                "published; dbt not run")
            return
        else:
            full_refresh = config.full_refresh or bool(stale)
            if full_refresh:
                context.log.info("full refresh of the incremental models: " + (
                    "asked for" if config.full_refresh else
                    f"{', '.join(stale)} last built with other definitions or dbt code "
                    "(or never)"))
            else:
                context.log.info(f"incremental build of {', '.join(models)}: leads with rows "
                                 f"loaded after their previous build only")
            build_args = dbt_build_args(vars_json, full_refresh)
        os.environ["FUNNEL_PARENT_PID"] = str(os.getpid())  # funnel-dbt checks it is still ours
        attempts = [dbt.cli(build_args, context=context)]
        held_back: list[dg.AssetCheckResult] = []
        try:
            try:
                for event in attempts[0].stream():
                    if reported_again_by_a_retry(event):
                        held_back.append(event)
                    else:
                        yield event
                yield from held_back  # empty: dbt exits non-zero when a test errors or fails
            except DagsterDbtCliRuntimeError:
                out_of_memory = out_of_memory_nodes(final_results(attempts))
                if not out_of_memory:
                    yield from held_back  # no retry: these are the tests' final results
                    raise
                context.log.warning(
                    f"{len(out_of_memory)} dbt node(s) ran out of DuckDB memory "
                    f"({', '.join(n.split('.')[-1] for n in out_of_memory)}) beside other "
                    "models sharing the limit: building what did not finish again, one model "
                    "at a time")
                attempts.append(dbt.cli(retry_on_one_thread_args(
                    build_args, attempts[0].target_path), context=context))
                retried = set()
                try:
                    for event in attempts[-1].stream():
                        if isinstance(event, dg.AssetCheckResult):
                            retried.add((event.asset_key, event.check_name))
                        yield event
                except DagsterDbtCliRuntimeError:
                    # the retry stopped before some held-back tests ran: their first results
                    yield from (e for e in held_back
                                if (e.asset_key, e.check_name) not in retried)
                    raise
        finally:
            # A step that fails while dbt runs (a Dagster error, an interrupt) must not leave
            # a dbt writer behind holding the warehouse: stop it before anything else opens it.
            for attempt in attempts:
                stop_dbt(attempt.process)
            keep_parse_state(project, attempts[-1].target_path)
            prune_build_folders(project)
            results = final_results(attempts)
            succeeded = {r["unique_id"] for r in results if r["status"] == "success"}
            # A model whose tests failed is not recorded: its next build redoes (and its tests
            # check again) what this one added. unique_in_incremental_build relies on it.
            failed_on = incremental.models_with_failed_tests(
                results, attempts[0].get_artifact("manifest.json") if results else {})
            built = [m for m in models if f"model.{project.name}.{m}" in succeeded
                     and f"model.{project.name}.{m}" not in failed_on]
            if built:
                with warehouse.connect() as con:
                    incremental.record_builds(con, built, fingerprint, loaded_to, full_refresh)
        # reached only when dbt succeeded
        if whole_project and not audit_only:
            with warehouse.connect() as con:
                incremental.record_builds(con, [incremental.WHOLE_PROJECT], fingerprint,
                                          newest_any, full_refresh)

    return dbt_models


def dbt_executable(owned: bool = True) -> str:
    """The dbt installed beside this Python, so a caller need not activate the venv. `owned`:
    through `funnel-dbt`, which makes dbt die with the process that starts it (a killed run
    leaves no dbt holding the warehouse; orchestration/processes.py)."""
    local = Path(sys.executable).parent
    if owned and (local / "funnel-dbt").exists():
        return str(local / "funnel-dbt")
    return str(local / "dbt") if (local / "dbt").exists() else (shutil.which("dbt") or "dbt")


class LeanDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs it pays before each build (about 4 s
    together) that buy this pipeline nothing:
    - `dbt --version` in a subprocess (3 s here), to learn the version of the dbt beside this
      Python, which is the installed dbt-core package's;
    - a dbt adapter opened in this process (about 1.5 s: project, profile, macros), which
      dagster-dbt uses only to fetch row counts and column metadata. The pipeline fetches
      neither: dbt's own run results and the serving publish log carry the row counts.
    Overrides two private methods; tests/test_definitions.py fails if dagster-dbt renames them."""

    @functools.cached_property
    def _cli_version(self):
        from importlib.metadata import version as installed

        from packaging.version import parse

        if Path(self.dbt_executable).parent != Path(sys.executable).parent:
            return super()._cli_version  # another dbt (a system one, dbt Fusion): ask it
        return parse(installed("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    return LeanDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())


def published_model_keys(dbt_models: dg.AssetsDefinition) -> list[dg.AssetKey]:
    """The dbt models BI reads: everything in the marts and definitions schemas."""
    return sorted((k for k in dbt_models.keys if k.path[0] in ("marts", "definitions")),
                  key=lambda k: k.to_user_string())
