"""What the transform step does on a warehouse now: nothing, an audit, a daily or a full build.

A pure decision on the build-state ledger (build_state.py), so that the Dagster asset only runs
what it is told and logs why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.ingest.contract import EXTRACTS
from orchestration.transform import build_state
from orchestration.transform.commands import dbt_audit_args, dbt_build_args


class NoLeads(RuntimeError):
    """The warehouse holds no lead: no mart can be built."""


@dataclass(frozen=True)
class BuildPlan:
    dbt_args: list[str] | None  # None: dbt is not run
    full_refresh: bool
    fingerprint: str  # of the definitions and the dbt project, recorded with each build
    loaded_to: datetime | None  # the newest load of a lead source the build reads
    newest_load: datetime | None  # the newest load of any extract
    reason: str  # one line for the log
    unchanged: tuple[str, ...] = ()  # models and tests a daily build leaves as they are


def unchanged_nodes(manifest: dict, unchanged_sources: set[str]) -> list[str]:
    """Names of the dbt models, seeds and tests that nothing new reaches: every source they
    read, directly or through other models, is among `unchanged_sources` (raw table names),
    and nothing else changed since their last build (same definitions, same dbt code). Built
    again they would be the same tables; tested again, pass the same. A test is left only
    when all its parents are (a relationship from a rebuilt model to a definitions table
    still runs). Pure: decided on the manifest alone."""
    nodes = manifest["nodes"]
    sources = {uid: src["name"] for uid, src in manifest["sources"].items()}
    changed: dict[str, bool] = {}

    def is_changed(uid: str) -> bool:
        if uid in sources:
            return sources[uid] not in unchanged_sources
        if uid not in nodes:  # neither a source nor a node dbt builds: assume it changed
            return True
        if uid not in changed:
            changed[uid] = any(is_changed(p) for p in nodes[uid]["depends_on"]["nodes"])
        return changed[uid]

    return sorted(node["name"] for uid, node in nodes.items()
                  if node["resource_type"] in ("model", "seed", "test") and not is_changed(uid))


def plan_build(con: duckdb.DuckDBPyConnection, *, project_dir: Path, vars_json: str,
               models: list[str], published: datetime | None, landing_dir: str,
               audit_checks: int | None = None, full_refresh: bool = False,
               manifest: dict | None = None) -> BuildPlan:
    """`published`: when the serving file there now was published (None when it is not the
    warehouse's last publish); `audit_checks`: the number of dbt tests to run on the warehouse
    as it is, building nothing (the audit before a publish), None for a build; `manifest`:
    the dbt manifest when the run builds the whole project (a daily build then leaves the
    nodes nothing new reaches), None for a subset."""
    fingerprint = build_state.build_fingerprint(project_dir, vars_json)
    loads = build_state.newest_loads(con, {*EXTRACTS, *build_state.lead_sources()})
    loaded_to = build_state.newest_load(loads)
    newest = build_state.newest_load(loads, EXTRACTS)

    def plan(args, refresh, reason):
        return BuildPlan(args, refresh, fingerprint, loaded_to, newest, reason)

    if audit_checks is not None:
        return plan(dbt_audit_args(vars_json), False,
                    f"audit: {audit_checks} dbt data tests on the warehouse as it is; no model "
                    "is built")
    if not build_state.has_leads(con):
        raise NoLeads(
            "no lead in raw.crm_leads: the marts need a CRM export. Put one under "
            f"{landing_dir}/crm_leads/ (`funnel import`, or `funnel demo`) and run again.")
    last_build = build_state.last_whole_build(con)
    last_dbt_build = build_state.last_model_build_started(con)
    if not full_refresh and build_state.nothing_new(
            last_build, fingerprint, newest, published, last_dbt_build):
        return plan(None, False,
                    f"nothing new: no file loaded since the build of "
                    f"{last_build[2]:%Y-%m-%d %H:%M} UTC, same definitions and dbt code, no dbt "
                    "command since, and that build is published; dbt not run")
    stale = build_state.needs_full_refresh(build_state.recorded_fingerprints(con), models,
                                           fingerprint)
    if full_refresh or stale:
        return plan(dbt_build_args(vars_json, True), True,
                    "full refresh of the incremental models: " + (
                        "asked for" if full_refresh else
                        f"{', '.join(stale)} last built with other definitions or dbt code "
                        "(or never)"))
    reason = (f"incremental build of {', '.join(models)}: leads with rows loaded after "
              "their previous build only")
    as_built = build_state.still_as_built(last_build, fingerprint, last_dbt_build)
    if manifest is None or as_built is None:
        return plan(dbt_build_args(vars_json, False), False, reason)
    same = build_state.loaded_by({t: at for t, at in loads.items() if t in EXTRACTS}, as_built)
    leave = unchanged_nodes(manifest, same)
    if not leave:
        return plan(dbt_build_args(vars_json, False), False, reason)
    tests = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    left_tests = sum(name in tests for name in leave)
    quiet = (f"no new rows in {', '.join(sorted(same))}" if same
             else "they read no extract")
    return BuildPlan(
        dbt_build_args(vars_json, False, leave), False, fingerprint, loaded_to, newest,
        f"{reason}; {len(leave) - left_tests} models and {left_tests} tests left as the build "
        f"of {last_build[2]:%Y-%m-%d %H:%M} UTC made them: nothing they read changed since "
        f"({quiet})", tuple(leave))
