"""Descriptions inside the serving file: every published table and column carries its dbt
description as a DuckDB comment (`COMMENT ON`), so a BI user browsing the file - in DBeaver,
Harlequin, a BI tool's schema browser - reads what each column means, not a bare name.

The dbt models' descriptions come from the manifest (docs blocks rendered); the `audit`
tables the publish writes itself are described here.
"""

from __future__ import annotations

import duckdb

# What the publish writes into `audit` (orchestration/publish.py), table -> (what it is, columns)
AUDIT_DOCS: dict[str, tuple[str, dict[str, str]]] = {
    "publish_log": ("This publish: when, by which run, with which definitions.", {
        "published_at": "When the serving file was written (UTC).",
        "run_id": "The Dagster run that published it.",
        "definitions_version": "Content hash of the definitions file the marts were built with."}),
    "check_results": ("Every check of the run that published this file, and its result.", {
        "asset": "The asset (table) checked.",
        "check_name": "The check (a guard, a dbt data test or a freshness check).",
        "passed": "Whether it passed.",
        "severity": "ERROR blocks a publish; WARN does not.",
        "failing_rows": "Rows that failed it, when the check counts them.",
        "tested": "What the check tested, in words."}),
    "published_builds": ("The build each published incremental table reflects; the next publish "
                         "patches from there.", {
        "model": "The dbt model.",
        "fingerprint": "Hash of the model's SQL and the definitions it was built with.",
        "source_loaded_to": "The newest load the build read (UTC).",
        "built_at": "When the build ran (UTC)."}),
    "load_log": ("One row per landing file loaded: rows read = loaded + rejected.", {
        "load_id": "The load.",
        "extract": "The extract (landing folder).",
        "file_name": "The landing file.",
        "file_hash": "Content hash: the same file loaded twice changes nothing.",
        "file_bytes": "File size in bytes.",
        "file_seq": "Arrival order of the file within its extract.",
        "rows_read": "Data rows read from the file.",
        "rows_loaded": "Rows that passed the contract.",
        "rows_rejected": "Rows quarantined (raw.rejected_rows) with a reason.",
        "rows_inserted": "Loaded rows with a new key.",
        "rows_updated": "Loaded rows that replaced an older version of their key.",
        "rows_superseded": "Loaded rows an already stored newer version of their key outranked.",
        "started_at": "When the load of the file started (UTC).",
        "finished_at": "When it finished (UTC).",
        "file_mtime_ns": "The file's modification time (ns since the epoch).",
        "file_status": "loaded, or why the file as a whole was refused.",
        "file_error": "The error that refused the file, naming it and its columns."}),
    "quarantine_summary": ("Quarantined rows counted per file, reason, column and hour (never "
                           "the raw records, which may hold personal data).", {
        "extract": "The extract.",
        "file_name": "The landing file.",
        "reason_code": "Why the rows were quarantined.",
        "column_name": "The column that broke the contract.",
        "rejected_hour_utc": "Hour of the load that quarantined them (UTC).",
        "rows_rejected": "Rows quarantined."}),
}


def manifest_docs(manifest: dict) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    """(schema, table) -> (description, {column: description}) of every dbt model of the
    parsed manifest."""
    docs = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        columns = {name: c.get("description") or "" for name, c in node["columns"].items()}
        docs[(node["schema"], node.get("alias") or node["name"])] = (
            node.get("description") or "", columns)
    return docs


def _literal(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def comment_serving(con: duckdb.DuckDBPyConnection, catalog: str,
                    docs: dict[tuple[str, str], tuple[str, dict[str, str]]]) -> int:
    """COMMENT ON every table, view and column of `catalog` that `docs` (or AUDIT_DOCS)
    describes; returns how many columns got one. One transaction: each comment committed on
    its own took 1.55 s for the demo's 792 columns, all at once 0.46 s."""
    docs = {**docs, **{("audit", t): d for t, d in AUDIT_DOCS.items()}}
    objects = con.execute(
        "select schema_name, table_name, 'table' from duckdb_tables() where database_name = ? "
        "union all select schema_name, view_name, 'view' from duckdb_views() "
        "where database_name = ? and not internal", [catalog, catalog]).fetchall()
    present: dict[tuple[str, str], list[str]] = {}
    for schema, name, column in con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = ? order by column_index", [catalog]).fetchall():
        present.setdefault((schema, name), []).append(column)
    described = 0
    con.execute("begin transaction")
    try:
        for schema, name, kind in objects:
            table_doc, columns = docs.get((schema, name), ("", {}))
            target = f'{catalog}."{schema}"."{name}"'
            if table_doc:
                con.execute(f"comment on {kind} {target} is {_literal(table_doc)}")
            for column in present.get((schema, name), []):
                if columns.get(column):
                    con.execute(f'comment on column {target}."{column}" is '
                                f"{_literal(columns[column])}")
                    described += 1
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return described
