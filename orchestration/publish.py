"""Write -> audit -> publish: copy the audited marts into the serving file, atomically.

BI tools and the report read only the serving file, read-only. Views of the served schemas
(the score ledger, which decays its current rows when read) are written there as tables, so a
BI query never pays for the view. A new serving file is written
beside the old one and renamed over it: a reader holding the old file open keeps reading the
old, consistent data (the rename never touches its open file), and nobody ever sees a half-
written file. When a blocking check fails, this never runs and the last good file stays.

Beside the marts, an `audit` schema records what was published and how it was checked: the
publish itself, every check result of the run, the load log and a summary of quarantined rows
(counts per file and reason, never the raw records, which may hold personal data).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import duckdb
import pandas as pd

SERVED_SCHEMAS = ("marts", "definitions")

CHECK_COLUMNS = ["asset", "check_name", "passed", "severity", "failing_rows", "tested"]

# Audit tables built from raw.*, when those exist (a warehouse built by dbt alone has none).
AUDIT_FROM_RAW = {
    "load_log": ("load_log", "select * from raw.load_log"),
    "quarantine_summary": ("rejected_rows", """
        select extract, file_name, reason_code, column_name,
               date_trunc('hour', rejected_at) as rejected_hour_utc, count(*) as rows_rejected
        from raw.rejected_rows group by all"""),
}


def publish_serving(warehouse: duckdb.DuckDBPyConnection, serving_path: Path,
                    schemas: tuple[str, ...] = SERVED_SCHEMAS, *,
                    checks: list[dict] | None = None, run_id: str | None = None) -> dict[str, int]:
    """Copy every table and view of `schemas` (and the audit tables) into a new file, as
    tables, then rename it over `serving_path`."""
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    tables = warehouse.execute(
        f"""select table_schema, table_name from information_schema.tables
            where table_catalog = current_database() and table_type in ('BASE TABLE', 'VIEW')
              and table_schema in ({", ".join("'" + s + "'" for s in schemas)})
            order by 1, 2""").fetchall()
    if not tables:
        raise RuntimeError(f"nothing to publish: no tables in schemas {', '.join(schemas)}")
    copied: dict[str, int] = {}
    warehouse.execute(f"attach '{tmp}' as serving_new")
    try:
        for schema in sorted({s for s, _ in tables}):
            warehouse.execute(f'create schema serving_new."{schema}"')
        for schema, table in tables:
            warehouse.execute(
                f'create table serving_new."{schema}"."{table}" as select * from "{schema}"."{table}"')
            copied[f"{schema}.{table}"] = warehouse.execute(
                f'select count(*) from serving_new."{schema}"."{table}"').fetchone()[0]
        copied.update(_write_audit(warehouse, checks or [], run_id))
        warehouse.execute("detach serving_new")
        os.replace(tmp, serving_path)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            warehouse.execute("detach serving_new")
        tmp.unlink(missing_ok=True)
        raise
    return copied


def _write_audit(warehouse: duckdb.DuckDBPyConnection, checks: list[dict],
                 run_id: str | None) -> dict[str, int]:
    warehouse.execute("create schema serving_new.audit")
    check_frame = pd.DataFrame(checks, columns=CHECK_COLUMNS).astype(
        {"passed": "bool", "failing_rows": "Int64"})
    warehouse.register("_published_checks", check_frame)
    try:
        warehouse.execute("create table serving_new.audit.check_results as "
                          "select * from _published_checks order by asset, check_name")
    finally:
        warehouse.unregister("_published_checks")
    warehouse.execute(
        "create table serving_new.audit.publish_log as select now() as published_at, "
        "cast(? as varchar) as run_id, "
        "(select any_value(definitions_version) from definitions.def_settings) "
        "as definitions_version", [run_id])
    raw_tables = {t for (t,) in warehouse.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' "
        "and table_catalog = current_database()").fetchall()}
    for name, (needs, sql) in AUDIT_FROM_RAW.items():
        if needs in raw_tables:
            warehouse.execute(f"create table serving_new.audit.{name} as {sql}")
    tables = [t for (t,) in warehouse.execute(
        "select table_name from duckdb_tables() "
        "where database_name = 'serving_new' and schema_name = 'audit'").fetchall()]
    return {f"audit.{t}": warehouse.execute(
        f"select count(*) from serving_new.audit.{t}").fetchone()[0] for t in tables}
