"""What the incremental dbt models need from the orchestration: the build state.

Incremental models (materialized='incremental') rebuild only the leads with rows loaded since
their previous successful build (dbt_project/macros/incremental.sql). Two facts make that exact:
- `audit.dbt_builds` records, per model, the newest load its last successful build read;
- the build fingerprint (definitions + every file dbt parses) is recorded beside it, and any
  difference forces `dbt build --full-refresh`: a changed threshold or model rescores everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb

STATE_DDL = """
create table if not exists audit.dbt_builds (
    model varchar,
    fingerprint varchar,
    source_loaded_to timestamp,
    full_refresh boolean,
    built_at timestamp
)"""

# The raw tables whose load times decide which leads an incremental build redoes.
LEAD_SOURCES = ("crm_leads", "crm_activities", "crm_qualifications")

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


def newest_load(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest load of the lead sources, read before dbt starts (no load runs during it)."""
    present = {t for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    parts = [f"select max(_loaded_at) as t from raw.{t}" for t in LEAD_SOURCES if t in present]
    if not parts:
        return None
    return con.execute(f"select max(t) from ({' union all '.join(parts)})").fetchone()[0]


def record_builds(con: duckdb.DuckDBPyConnection, models: Iterable[str], fingerprint: str,
                  loaded_to: datetime | None, full_refresh: bool) -> None:
    ensure_state(con)
    con.executemany(
        "insert into audit.dbt_builds values (?, ?, ?, ?, now()::timestamp)",
        [(m, fingerprint, loaded_to, full_refresh) for m in models])
