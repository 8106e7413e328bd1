"""Write -> audit -> publish: copy the audited marts into the serving file, atomically.

BI tools and the report read only the serving file, read-only. A new serving file is written
beside the old one and renamed over it: a reader holding the old file open keeps reading the
old, consistent data (the rename never touches its open file), and nobody ever sees a half-
written file. When a blocking check fails, this never runs and the last good file stays.

The served schemas' tables are copied. Their views (the score ledger, which decays its current
rows when read) are created in the serving file with the same SQL, beside the tables they read;
a table that declares a `serving` projection in its dbt meta (the columns and rows the served
views read: 7 of the scored activities' 29 columns) is copied as that projection only.
A daily run should not copy 37 M ledger rows again: the tables of by-lead incremental models
are patched in a copy of the previous serving file - the leads with rows loaded since its
publish, or rows written since (tables with `built_at`), are replaced - when nothing else
changed them since (no full refresh, same definitions and dbt code); otherwise they are
copied whole.

Every table and column carries its dbt description as a comment (orchestration/serving_docs.py).
Beside the marts, an `audit` schema records what was published and how it was checked: the
publish itself, every check result of the run, the load log and a summary of quarantined rows
(counts per file and reason, never the raw records, which may hold personal data).

The pipeline never writes to the published file, and decides nothing by opening it: the
warehouse keeps the record of each publish (audit.publishes, audit.published_builds). The
previous serving file is patched only after it opened read-only and showed the publish the
warehouse recorded; a damaged file, or one a BI tool holds open read-write, is rebuilt whole
instead (the holder is named in the run's notes). Temporary files of a publish that was
killed are removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.processes import lock_holder
from orchestration.serving_docs import comment_serving, manifest_docs
from orchestration.settings import connect_snapshot
from orchestration.transform.build_state import has_audit_table, lead_sources, raw_tables
from orchestration.transform.project import ensure_manifest

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
                    checks: list[dict] | None = None, run_id: str | None = None,
                    say=lambda _msg: None,
                    note: Callable[[str], None] = lambda _msg: None) -> dict[str, int | None]:
    """Write the tables and views of `schemas` (and the audit tables) into a new file, then
    rename it over `serving_path`. Returns rows per table (None for a view). `note` receives
    what a person should know (a BI tool holding the file read-write)."""
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in remove_leftovers(serving_path):
        say(f"serving: removed {leftover.name}, left by a publish that did not finish")
    tmp = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    relations = warehouse.execute(
        f"""select table_schema, table_name, table_type from information_schema.tables
            where table_catalog = current_database()
              and table_type in ('BASE TABLE', 'VIEW')
              and table_schema in ({", ".join("'" + s + "'" for s in schemas)})
            order by 1, 2""").fetchall()
    if not relations:
        raise RuntimeError(f"nothing to publish: no tables in schemas {', '.join(schemas)}")
    views = {(s, t): _view_sql(warehouse, s, t) for s, t, kind in relations if kind == "VIEW"}
    tables = [(s, t) for s, t, kind in relations if kind != "VIEW"]
    tables += sorted({read for sql in views.values() for read in _tables_read(warehouse, sql)}
                     - set(tables))
    previous, why_not = verified_previous(warehouse, serving_path)
    if why_not:
        say(f"serving: {why_not}: the serving file is rebuilt whole, not patched")
        if "read-write" in why_not:
            note(f"{why_not}. It was replaced anyway; that client keeps the old data until it "
                 "reconnects. BI tools should open the serving file read-only.")
    patchable = _patchable_tables(warehouse, tables) if previous else {}
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))  # parsed once
    projections = serving_projections(manifest)
    docs = _served_docs(manifest_docs(manifest), projections)
    try:
        published, builds = _write(warehouse, serving_path, tmp, tables, views, patchable,
                                   checks or [], run_id, say, projections, docs)
    except duckdb.Error as exc:
        if not patchable:
            raise
        # The previous file opened but is damaged further in: never patch from it.
        say(f"serving: patching the previous file failed ({str(exc).splitlines()[0]}): "
            "it is rebuilt whole from the warehouse")
        published, builds = _write(warehouse, serving_path, tmp, tables, views, {},
                                   checks or [], run_id, say, projections, docs)
    _record_publish(warehouse, serving_path, run_id, builds)
    return published


def _write(warehouse: duckdb.DuckDBPyConnection, serving_path: Path, tmp: Path,
           tables: list[tuple[str, str]], views: dict[tuple[str, str], str],
           patchable: dict, checks: list[dict], run_id: str | None, say,
           projections: dict[tuple[str, str], tuple[list[str], str]], docs: dict,
           ) -> tuple[dict[str, int | None], list[tuple]]:
    """Write the new serving file beside the old one (a copy of it to patch, or a new file)
    and rename it over it. On any failure the temporary file goes and the old file stays."""
    patchable = dict(patchable)
    say(f"serving: writing {tmp.name} ({len(tables)} tables, {len(patchable)} of them patched "
        f"by lead in a copy of the previous file), then renaming it over {serving_path.name}")
    published: dict[str, int | None] = {}
    catalog = warehouse.execute("select current_database()").fetchone()[0]
    try:
        if patchable:
            shutil.copyfile(serving_path, tmp)
        warehouse.execute(f"attach '{tmp}' as serving_new")
        _drop_all_but(warehouse, set(patchable))  # a copy keeps only what is patched
        for schema in sorted({s for s, _ in tables} | {s for s, _ in views}):
            warehouse.execute(f'create schema if not exists serving_new."{schema}"')
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            columns, where = _projection(warehouse, schema, table, projections)
            rows = warehouse.execute(f"select count(*) from {name} where {where}").fetchone()[0]
            if (schema, table) in patchable:
                leads = _patch_by_lead(warehouse, name, *patchable[(schema, table)],
                                       columns=columns, where=where)
                patched_rows = warehouse.execute(f"select count(*) from serving_new.{name}").fetchone()[0]
                say(f"serving: {schema}.{table} patched ({leads:,} leads with new rows)")
                if patched_rows != rows:  # never expected; the whole copy is always right
                    say(f"serving: {schema}.{table} has {patched_rows:,} rows after the patch, "
                        f"the warehouse {rows:,}: copied whole instead")
                    patchable.pop((schema, table))
            if (schema, table) not in patchable:
                warehouse.execute(f"create or replace table serving_new.{name} as "
                                  f"select {columns} from {name} where {where}")
            published[f"{schema}.{table}"] = rows
        # Views keep their SQL: DuckDB stores it without the catalog, so inside the serving
        # file it reads the serving file's own copies of its tables.
        warehouse.execute("use serving_new")
        try:
            for (schema, view), sql in views.items():
                warehouse.execute(f'drop view if exists "{schema}"."{view}"')
                warehouse.execute(sql)
                published[f"{schema}.{view}"] = None
        finally:
            warehouse.execute(f'use "{catalog}"')
        published.update(_write_audit(warehouse, checks, run_id))
        described = comment_serving(warehouse, "serving_new", docs)
        say(f"serving: {described:,} columns carry their description (COMMENT ON)")
        builds = (warehouse.execute("select * from serving_new.audit.published_builds").fetchall()
                  if "audit.published_builds" in published else [])
        warehouse.execute("detach serving_new")
        os.replace(tmp, serving_path)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            warehouse.execute(f'use "{catalog}"')
        with contextlib.suppress(duckdb.Error):
            warehouse.execute("detach serving_new")
        for path in (tmp, tmp.with_name(tmp.name + ".wal")):
            path.unlink(missing_ok=True)
        raise
    return published, builds


def remove_leftovers(serving_path: Path) -> list[Path]:
    """Temporary files of publishes that were killed or hit a full disk (the pool lets one
    publish run at a time, so none of them is in use)."""
    removed = []
    for pattern in (f".{serving_path.name}.*.tmp", f".{serving_path.name}.*.tmp.wal"):
        for path in serving_path.parent.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def last_publish(warehouse: duckdb.DuckDBPyConnection) -> tuple[str | None, datetime] | None:
    """(run id, UTC time) of the last publish the warehouse recorded."""
    if not has_audit_table(warehouse, "publishes"):
        return None
    return warehouse.execute("select run_id, published_at from audit.publishes "
                             "order by published_at desc limit 1").fetchone()


def verified_previous(warehouse: duckdb.DuckDBPyConnection, serving_path: Path
                      ) -> tuple[bool, str]:
    """Whether the serving file is the one the warehouse last published and opens read-only
    (then it may be patched, or kept as current); otherwise why not."""
    if not serving_path.exists():
        return False, ""
    recorded = last_publish(warehouse)
    if recorded is None:
        return False, ""
    try:
        with connect_snapshot(serving_path) as serving:
            run_id = serving.execute("select any_value(run_id) from audit.publish_log").fetchone()[0]
    except duckdb.Error as exc:
        holder = lock_holder(exc)
        if holder is not None:
            return False, f"{serving_path} is open read-write: {holder.describe()}"
        return False, f"{serving_path} cannot be read ({str(exc).splitlines()[0]})"
    if run_id != recorded[0]:
        return False, (f"{serving_path} is not the last publish the warehouse recorded (run "
                       f"{run_id}, not {recorded[0]})")
    return True, ""


def published_at(con: duckdb.DuckDBPyConnection, serving_path: Path) -> datetime | None:
    """When the warehouse last published the serving file that is there now (None when there
    is none, or it is not that publish: damaged, replaced, held open read-write - then a run
    publishes again)."""
    recorded = last_publish(con)
    if recorded is None:
        return None
    current, _why_not = verified_previous(con, serving_path)
    return recorded[1] if current else None


def _record_publish(warehouse: duckdb.DuckDBPyConnection, serving_path: Path,
                    run_id: str | None, builds: list[tuple]) -> None:
    """The warehouse's record of what it published (after the rename: the publish happened):
    the next run decides from it, never by opening the serving file (a BI tool may hold it)."""
    warehouse.execute("create schema if not exists audit")
    warehouse.execute("""create table if not exists audit.publishes (
                             published_at timestamp, run_id varchar, serving_path varchar,
                             definitions_version varchar)""")
    warehouse.execute(
        """insert into audit.publishes
           select timezone('UTC', now()), ?, ?, (select any_value(definitions_version)
                                                 from definitions.def_settings)""",
        [run_id, str(serving_path)])
    warehouse.execute("""create or replace table audit.published_builds (
                             model varchar, fingerprint varchar, source_loaded_to timestamp,
                             built_at timestamp)""")
    if builds:
        warehouse.executemany("insert into audit.published_builds values (?, ?, ?, ?)", builds)


def _drop_all_but(warehouse: duckdb.DuckDBPyConnection, keep: set[tuple[str, str]]) -> None:
    """Empty serving_new (a copy of the previous file) but for the tables in `keep`."""
    for schema, name, kind in warehouse.execute(
            "select schema_name, view_name, 'view' from duckdb_views() "
            "where database_name = 'serving_new' and not internal "
            "union all select schema_name, table_name, 'table' from duckdb_tables() "
            "where database_name = 'serving_new'").fetchall():
        if (schema, name) not in keep:
            warehouse.execute(f'drop {kind} serving_new."{schema}"."{name}"')


def _write_audit(warehouse: duckdb.DuckDBPyConnection, checks: list[dict],
                 run_id: str | None) -> dict[str, int]:
    warehouse.execute("create schema if not exists serving_new.audit")
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
    # what each published incremental table reflects: the next publish patches from there
    if has_audit_table(warehouse, "dbt_builds"):
        warehouse.execute(f"create table serving_new.audit.published_builds as {_BUILDS_SERVED}")
    present = raw_tables(warehouse)
    for name, (needs, sql) in AUDIT_FROM_RAW.items():
        if needs in present:
            warehouse.execute(f"create table serving_new.audit.{name} as {sql}")
    tables = [t for (t,) in warehouse.execute(
        "select table_name from duckdb_tables() "
        "where database_name = 'serving_new' and schema_name = 'audit'").fetchall()]
    return {f"audit.{t}": warehouse.execute(
        f"select count(*) from serving_new.audit.{t}").fetchone()[0] for t in tables}


# Per served incremental table, the build it reflects (the warehouse keeps the same record).
_BUILDS_SERVED = """
    select model, arg_max(fingerprint, built_at) as fingerprint,
           arg_max(source_loaded_to, built_at) as source_loaded_to, max(built_at) as built_at
    from audit.dbt_builds
    where model in (select table_name from duckdb_tables() where database_name = 'serving_new'
                    and schema_name <> 'audit')
    group by model"""


def serving_projections(manifest: dict) -> dict[tuple[str, str], tuple[list[str], str]]:
    """(schema, table) -> (columns, row filter) of the models whose dbt meta declares a
    `serving` projection: `columns` (the served copy keeps these) and `where` (optional; the
    rows kept)."""
    out = {}
    for node in manifest["nodes"].values():
        serving = (node.get("config", {}).get("meta") or {}).get("serving")
        if node["resource_type"] != "model" or not serving:
            continue
        out[(node["schema"], node.get("alias") or node["name"])] = (
            list(serving["columns"]), serving.get("where") or "true")
    return out


def _served_docs(docs: dict, projections: dict[tuple[str, str], tuple[list[str], str]]
                 ) -> dict:
    """The dbt descriptions, with a sentence on each table served as a projection: a BI user
    browsing it must not take it for the whole model."""
    docs = dict(docs)
    for key, (_, where) in projections.items():
        if key in docs:
            description, columns = docs[key]
            rows = "" if where == "true" else f", rows where {where}"
            docs[key] = (f"{description.strip()} Served copy: only the columns the served "
                         f"views read{rows}.", columns)
    return docs


def _projection(warehouse: duckdb.DuckDBPyConnection, schema: str, table: str,
                projections: dict[tuple[str, str], tuple[list[str], str]]) -> tuple[str, str]:
    """The select list and row filter of a table's served copy: all of it, or its declared
    projection plus lead_id and built_at (what the by-lead patch goes by), where it has them."""
    if (schema, table) not in projections:
        return "*", "true"
    declared, where = projections[(schema, table)]
    present = {c for (c,) in warehouse.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ?", [schema, table]).fetchall()}
    columns = list(dict.fromkeys([*declared, *(c for c in ("lead_id", "built_at") if c in present)]))
    return ", ".join(f'"{c}"' for c in columns), where


def _view_sql(warehouse: duckdb.DuckDBPyConnection, schema: str, view: str) -> str:
    return warehouse.execute(
        "select sql from duckdb_views() where database_name = current_database() "
        "and schema_name = ? and view_name = ?", [schema, view]).fetchone()[0]


def _tables_read(warehouse: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """The warehouse tables a view's SQL names (schema.table, as DuckDB stores it)."""
    every = warehouse.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database()").fetchall()
    return [(s, t) for s, t in every
            if re.search(rf'(?<![\w.]){re.escape(s)}"?\."?{re.escape(t)}(?!\w)', sql)]


def _patchable_tables(warehouse: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]]
                      ) -> dict[tuple[str, str], tuple[datetime, datetime, bool]]:
    """Tables of by-lead incremental models that the previous serving file (verified to be the
    last publish) holds as of a build whose changes since are all incremental with the same
    fingerprint: table -> the newest load that serving copy reflects, when the build it
    holds was recorded, and whether its rows carry `built_at`."""
    if not has_audit_table(warehouse, "dbt_builds") or not has_audit_table(warehouse, "published_builds"):
        return {}
    served = {m: (fp, loaded, built) for m, fp, loaded, built in warehouse.execute(
        "select model, fingerprint, source_loaded_to, built_at "
        "from audit.published_builds").fetchall()}
    columns = warehouse.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and column_name in ('lead_id', 'built_at')"
    ).fetchall()
    with_lead_id = {(s, t) for s, t, c in columns if c == "lead_id"}
    stamped = {(s, t) for s, t, c in columns if c == "built_at"}
    by_lead = set(tables) & with_lead_id
    patchable = {}
    for schema, table in sorted(by_lead):
        if table not in served:
            continue
        fingerprint, loaded_to, built_at = served[table]
        since = warehouse.execute(
            "select count(*), bool_and(fingerprint = ? and not full_refresh) "
            "from audit.dbt_builds where model = ? and built_at > ?",
            [fingerprint, table, built_at]).fetchone()
        if since[0] == 0 or since[1]:
            patchable[(schema, table)] = (loaded_to, built_at, (schema, table) in stamped)
    return patchable


def _patch_by_lead(warehouse: duckdb.DuckDBPyConnection, name: str, loaded_to: datetime,
                   built_at: datetime, stamped: bool, *, columns: str = "*",
                   where: str = "true") -> int:
    """Replace, in serving_new, the rows of the leads with a row loaded after `loaded_to`
    (a superset of the leads any build since rebuilt). A table whose rows carry `built_at`
    (when the build that wrote them started) also has its rows written after the served
    build (`built_at`) replaced - fct_sla redoes untouched episodes with no new row - and only
    those rows are read: every lead rebuilt since was written whole after that moment."""
    present = raw_tables(warehouse)
    changed = " union ".join(f"select lead_id from raw.{t} where _loaded_at > $since"
                             for t in lead_sources() if t in present)
    if stamped:
        changed += f" union select lead_id from {name} where built_at > $built"
    warehouse.execute(f"create or replace temp table _publish_leads as {changed}",
                      {"since": loaded_to, **({"built": built_at} if stamped else {})})
    try:
        warehouse.execute(f"delete from serving_new.{name} "
                          f"where lead_id in (select lead_id from _publish_leads)")
        warehouse.execute(f"insert into serving_new.{name} select {columns} from {name} "
                          f"where ({where}) and "
                          + ("built_at > $built and " if stamped else "")
                          + "lead_id in (select lead_id from _publish_leads)",
                          {"built": built_at} if stamped else {})
        return warehouse.execute("select count(*) from _publish_leads").fetchone()[0]
    finally:
        warehouse.execute("drop table _publish_leads")

