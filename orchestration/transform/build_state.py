"""The build-state ledger: what the incremental dbt models need from the orchestration.

Incremental models (materialized='incremental') rebuild only the leads with rows loaded since
their previous successful build (dbt_project/macros/by_lead_incremental.sql). Two facts make that exact:
- `audit.dbt_builds` records, per model, the newest load its last successful build read;
- the build fingerprint (definitions + every file dbt parses) is recorded beside it, and any
  difference forces `dbt build --full-refresh`: a changed threshold or model rescores everyone.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from orchestration.paths import DBT_PROJECT_DIR

STATE_DDL = """
create table if not exists audit.dbt_builds (
    model varchar,
    fingerprint varchar,
    source_loaded_to timestamp,
    full_refresh boolean,
    built_at timestamp
)"""



@functools.cache
def lead_sources() -> tuple[str, ...]:
    """The raw tables whose load times decide which leads an incremental build redoes: those
    behind the staging models of dbt_project.yml's var lead_sources (stg_crm__leads is
    raw.crm_leads), which the dbt macros read too. Read when first needed, not at import."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return tuple(name.removeprefix("stg_").replace("__", "_", 1)
                 for name in project["vars"]["lead_sources"])


def has_audit_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """The warehouse has audit.<name> (a warehouse built by dbt alone, or before a record was
    kept, lacks some)."""
    return con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'audit' and table_name = ?", [name]).fetchone()[0] > 0

PROJECT_INPUTS = ("models", "macros", "tests", "seeds", "dbt_project.yml")


def build_fingerprint(project_dir: Path, dbt_vars_json: str) -> str:
    """sha256 of the dbt vars (the definitions) and of every file dbt parses."""
    digest = hashlib.sha256(dbt_vars_json.encode())
    for name in PROJECT_INPUTS:
        root = project_dir / name
        files = [root] if root.is_file() else sorted(root.rglob("*")) if root.exists() else []
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(project_dir)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def incremental_models(manifest: dict) -> list[str]:
    return sorted(node["name"] for node in manifest["nodes"].values()
                  if node["resource_type"] == "model"
                  and node["config"].get("materialized") == "incremental")


def models_with_failed_tests(results: list[dict], manifest: dict) -> set[str]:
    """unique_ids of the models a failing or erroring dbt test is attached to."""
    nodes = manifest.get("nodes", {})
    failed = [r["unique_id"] for r in results
              if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")]
    return {nodes[t]["attached_node"] for t in failed
            if t in nodes and nodes[t].get("attached_node")}


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists audit")
    con.execute(STATE_DDL)


def recorded_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The fingerprint of each model's latest successful build."""
    ensure_state(con)
    return dict(con.execute(
        "select model, arg_max(fingerprint, built_at) from audit.dbt_builds group by 1").fetchall())


def needs_full_refresh(recorded: dict[str, str], models: Iterable[str], fingerprint: str) -> list[str]:
    """Incremental models whose last build used other definitions or dbt code (or none)."""
    return [m for m in models if recorded.get(m) != fingerprint]


# audit.dbt_builds row of a build of the whole project (what "nothing new" is measured against)
WHOLE_PROJECT = "(whole project)"


def raw_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables of the raw schema (a warehouse built by dbt alone has none)."""
    return {t for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' "
        "and table_catalog = current_database()").fetchall()}


def has_leads(con: duckdb.DuckDBPyConnection) -> bool:
    """raw.crm_leads holds at least one lead (without one, no mart can be built)."""
    if "crm_leads" not in raw_tables(con):
        return False
    return con.execute("select count(*) > 0 from (select 1 from raw.crm_leads limit 1)"
                       ).fetchone()[0]


def newest_loads(con: duckdb.DuckDBPyConnection, tables: Iterable[str]
                 ) -> dict[str, datetime | None]:
    """The newest load of each of the raw `tables` present (None: no row), read before dbt
    starts (no load runs during it)."""
    present = sorted(raw_tables(con) & set(tables))
    if not present:
        return {}
    return dict(con.execute(" union all ".join(
        f"select '{t}', max(_loaded_at) from raw.{t}" for t in present)).fetchall())


def newest_load(loads: dict[str, datetime | None], tables: Iterable[str] | None = None
                ) -> datetime | None:
    """The newest of `loads` (newest_loads) among `tables` (default: the lead sources)."""
    tables = lead_sources() if tables is None else tables
    return max((at for t, at in loads.items() if t in tables and at is not None), default=None)


def record_builds(con: duckdb.DuckDBPyConnection, models: Iterable[str], fingerprint: str,
                  loaded_to: datetime | None, full_refresh: bool) -> None:
    ensure_state(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany("insert into audit.dbt_builds values (?, ?, ?, ?, ?)",
                    [(m, fingerprint, loaded_to, full_refresh, now) for m in models])


def last_whole_build(con: duckdb.DuckDBPyConnection) -> tuple[str, datetime | None, datetime] | None:
    """Fingerprint, newest load read and time of the latest successful whole-project build."""
    ensure_state(con)
    return con.execute(
        f"select fingerprint, source_loaded_to, built_at from audit.dbt_builds "
        f"where model = '{WHOLE_PROJECT}' order by built_at desc limit 1").fetchone()


def last_model_build_started(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the latest dbt command that built models started (dbt records each one in
    audit.dbt_invocations: dbt_project/macros/definitions_in_force.sql); None when no such
    record exists (a warehouse built before dbt kept them)."""
    if not has_audit_table(con, "dbt_invocations"):
        return None
    return con.execute("select max(started_at) from audit.dbt_invocations").fetchone()[0]


def still_as_built(last: tuple[str, datetime | None, datetime] | None, fingerprint: str,
                   last_dbt_build: datetime | None) -> datetime | None:
    """The newest load the last whole-project build read, when the warehouse's tables are
    still that build's: it used these definitions and this dbt code, and no dbt command
    rebuilt models since (a `funnel dbt build` with other definitions would otherwise go
    unnoticed). None otherwise."""
    if last is None or last_dbt_build is None:
        return None
    built_fingerprint, loaded_to, built_at = last
    if built_fingerprint != fingerprint or last_dbt_build > built_at:
        return None
    return loaded_to


def nothing_new(last: tuple[str, datetime | None, datetime] | None, fingerprint: str,
                newest: datetime | None, published: datetime | None,
                last_dbt_build: datetime | None) -> bool:
    """True when the published serving file already holds a build of exactly this data with
    these definitions and this dbt code: a run has nothing to rebuild."""
    loaded_to = still_as_built(last, fingerprint, last_dbt_build)
    if loaded_to is None or newest is None or published is None:
        return False
    return newest <= loaded_to and published >= last[2]


def loaded_by(loads: dict[str, datetime | None], loaded_to: datetime) -> set[str]:
    """The raw tables of `loads` (newest_loads) holding rows, all of them loaded at or before
    `loaded_to`: a build that read the loads up to `loaded_to` saw them as they are now (a
    load is the only writer of a raw table)."""
    return {t for t, at in loads.items() if at is not None and at <= loaded_to}
