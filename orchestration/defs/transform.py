"""dbt models as Dagster assets (dagster-dbt); dbt tests become asset checks. Wiring only:
running dbt is orchestration/transform/."""


import contextlib
import functools
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.ingest.lake import write_raw_to_lake
from orchestration.publish import published_at
from orchestration.settings import DUCKDB_CHECKPOINT_DEFAULT, Settings, environment
from orchestration.transform import build_state
from orchestration.transform.commands import (
    final_results,
    out_of_memory_nodes,
    retry_on_one_thread_args,
    stop_dbt,
)
from orchestration.transform.lake_models import (
    VIEWS_TARGET,
    copy_lake_tables,
    create_views_on_duckdb,
)
from orchestration.transform.plan import NoLeads, plan_build
from orchestration.transform.project import (
    DBT_ASSETS_NAME,
    dbt_executable,
    dbt_project,
    ensure_manifest,
    keep_parse_state,
    prune_build_folders,
)


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


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False  # rebuild the incremental models from all history


class LeftTestsFilter(logging.Filter):
    """Drops Dagster's warning about each blocking dbt test a daily build left unrun (its model
    unchanged): the step's first line already says how many it left, and why."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"emitted no result in step '{DBT_ASSETS_NAME}'" not in record.getMessage()


def transform_assets(settings: Settings) -> dg.AssetsDefinition:
    import json

    checks_log = logging.getLogger("dagster._core.execution.plan.active")
    if not any(isinstance(f, LeftTestsFilter) for f in checks_log.filters):
        checks_log.addFilter(LeftTestsFilter())
    project = dbt_project()
    ensure_manifest(project, settings)
    manifest = json.loads(Path(project.manifest_path).read_text())
    models = build_state.incremental_models(manifest)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=LayeredTranslator(),
        pool=WAREHOUSE_POOL,
        name=DBT_ASSETS_NAME,
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                   warehouse: WarehouseResource, config: DbtBuildConfig):
        whole_project = set(context.selected_asset_keys) == set(context.assets_def.keys)
        # Checks without their models: the audit before a publish re-tests the warehouse.
        audit_only = not context.selected_asset_keys
        settings = warehouse.settings()
        # Spark's tables live in the lake, which a build on DuckDB does not fill: it builds all
        leave_unchanged = whole_project and settings.engine == "duckdb"
        with warehouse.connect() as con:  # closed before dbt opens the file
            try:
                plan = plan_build(
                    con, project_dir=Path(project.project_dir), vars_json=dbt_vars_arg(),
                    models=models, published=published_at(con, Path(warehouse.serving_path)),
                    landing_dir=warehouse.landing_dir, full_refresh=config.full_refresh,
                    audit_checks=len(context.selected_asset_check_keys) if audit_only else None,
                    manifest=manifest if leave_unchanged else None)
            except NoLeads as exc:
                raise dg.Failure(description=str(exc)) from None
        context.log.info(plan.reason)
        if plan.dbt_args is None:
            return
        # The models dbt leaves as they are are this run's too: the publish and the checks
        # downstream wait for every model. Each is reported first (Dagster takes a multi-asset's
        # outputs upstream first; nothing a rebuilt model reads is left), saying so.
        yield from unchanged_results(manifest, plan.unchanged, plan.reason)
        build_args, full_refresh = plan.dbt_args, plan.full_refresh
        on_spark = settings.engine == "spark" and not audit_only
        if audit_only and settings.engine == "spark":
            # the audit re-tests what a publish copies: the warehouse, whoever built it
            dbt = dbt_resource(target="prod")
        if on_spark:  # the validated raw tables, where Spark's sources read them
            with warehouse.connect() as con:
                write_raw_to_lake(con, settings.lake_path, say=context.log.info)
        # dagster-dbt hands dbt this process's environment: the warehouse's settings for the
        # profile, and our PID, which funnel-dbt checks is still its parent
        dbt_env = {**settings.dbt_environment(), "FUNNEL_PARENT_PID": str(os.getpid())}
        # A subset of more than 200 dbt nodes (the audit's tests) makes dagster-dbt run dbt in
        # a copy of the whole project, target/ included, made with mkdtemp and never removed:
        # 1.6 GB per audit here. The copy goes into this step's folder, removed at its end.
        scratch = Path(tempfile.mkdtemp(prefix="funnel-dbt-step-"))
        with environment(dbt_env), _temp_dir(scratch):
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
                # The retry builds on one thread (each statement has the whole limit) and
                # checkpoints at DuckDB's default: what it rebuilds stays in memory until a
                # checkpoint (checkpoint_threshold in orchestration/settings.py)
                retry_env = {**dbt_env, "DUCKDB_CHECKPOINT_THRESHOLD": DUCKDB_CHECKPOINT_DEFAULT}
                with environment(retry_env), _temp_dir(scratch):
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
            try:
                keep_parse_state(project, attempts[-1].target_path)
                prune_build_folders(project)
                results = final_results(attempts)
                succeeded = {r["unique_id"] for r in results if r["status"] == "success"}
                # A model whose tests failed is not recorded: its next build redoes (and its tests
                # check again) what this one added. unique_in_incremental_build relies on it.
                failed_on = build_state.models_with_failed_tests(
                    results, attempts[0].get_artifact("manifest.json") if results else {})
                built = [m for m in models if f"model.{project.name}.{m}" in succeeded
                         and f"model.{project.name}.{m}" not in failed_on]
                if built:
                    with warehouse.connect() as con:
                        build_state.record_builds(con, built, plan.fingerprint, plan.loaded_to,
                                                 full_refresh)
            finally:  # after its run results were read
                shutil.rmtree(scratch, ignore_errors=True)
        # reached only when dbt succeeded
        if on_spark:  # what Spark built and tested, where the checks and the publish read
            with warehouse.connect() as con:
                copy_lake_tables(con, manifest, settings.lake_path, say=context.log.info)
            create_views_on_duckdb(Path(project.project_dir), Path(project.profiles_dir),
                                   Path(project.target_path) / VIEWS_TARGET, dbt_env)
        if whole_project and not audit_only:
            with warehouse.connect() as con:
                build_state.record_builds(con, [build_state.WHOLE_PROJECT], plan.fingerprint,
                                          plan.newest_load, full_refresh)

    return dbt_models


class LeanDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs it pays before each build (about 4 s
    together) that buy this pipeline nothing:
    - `dbt --version` in a subprocess (3 s here), to learn the version of the dbt beside this
      Python, which is the installed dbt-core package's;
    - a dbt adapter opened in this process (about 1.5 s: project, profile, macros), which
      dagster-dbt uses only to fetch row counts and column metadata. The pipeline fetches
      neither: dbt's own run results and the serving publish log carry the row counts.
    Overrides two private methods; tests/test_code_location.py fails if dagster-dbt renames them."""

    @functools.cached_property
    def _cli_version(self):
        from importlib.metadata import version as installed

        from packaging.version import parse

        if Path(self.dbt_executable).parent != Path(sys.executable).parent:
            return super()._cli_version  # another dbt (a system one, dbt Fusion): ask it
        return parse(installed("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource(settings: Settings | None = None, target: str | None = None) -> DbtCliResource:
    """dbt on the engine's target: `prod` (DuckDB) or `spark` (FUNNEL_ENGINE), or `target`."""
    target = target or (settings.dbt_target if settings else None)
    return LeanDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable(),
                              target=target)


def unchanged_results(manifest: dict, names: tuple[str, ...], reason: str
                      ) -> list[dg.MaterializeResult]:
    """A materialization of each model a daily build left as it was (plan.unchanged_nodes),
    marked as such."""
    from graphlib import TopologicalSorter

    translator = LayeredTranslator()
    project = dbt_project()
    nodes, named = manifest["nodes"], set(names)
    left = {uid for uid, n in nodes.items()
            if n["resource_type"] in ("model", "seed") and n["name"] in named}
    upstream_first = TopologicalSorter(
        {uid: [p for p in nodes[uid]["depends_on"]["nodes"] if p in left] for uid in left})
    return [dg.MaterializeResult(
        asset_key=translator.get_asset_spec(manifest, uid, project).key,
        metadata={"rebuilt": False, "why": reason.split("; ", 1)[-1]})
        for uid in upstream_first.static_order()]


def published_model_keys(dbt_models: dg.AssetsDefinition) -> list[dg.AssetKey]:
    """The dbt models BI reads: everything in the marts and definitions schemas."""
    return sorted((k for k in dbt_models.keys if k.path[0] in ("marts", "definitions")),
                  key=lambda k: k.to_user_string())


@contextlib.contextmanager
def _temp_dir(path: Path):
    """tempfile's default folder for the block (steps run one at a time, in-process)."""
    before = tempfile.tempdir
    tempfile.tempdir = str(path)
    try:
        yield
    finally:
        tempfile.tempdir = before
