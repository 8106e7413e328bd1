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


def plan_build(con: duckdb.DuckDBPyConnection, *, project_dir: Path, vars_json: str,
               models: list[str], published: datetime | None, landing_dir: str,
               audit_checks: int | None = None, full_refresh: bool = False) -> BuildPlan:
    """`published`: when the serving file there now was published (None when it is not the
    warehouse's last publish); `audit_checks`: the number of dbt tests to run on the warehouse
    as it is, building nothing (the audit before a publish), None for a build."""
    fingerprint = build_state.build_fingerprint(project_dir, vars_json)
    loaded_to = build_state.newest_load(con)
    newest = build_state.newest_load(con, EXTRACTS)

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
    if not full_refresh and build_state.nothing_new(
            last_build, fingerprint, newest, published,
            build_state.last_model_build_started(con)):
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
    return plan(dbt_build_args(vars_json, False), False,
                f"incremental build of {', '.join(models)}: leads with rows loaded after "
                "their previous build only")
