"""Write -> audit -> publish: copy the audited marts into the serving file, atomically.

BI tools and the report read only the serving file, read-only. A new serving file is written
beside the old one and renamed over it: a reader holding the old file open keeps reading the
old, consistent data (the rename never touches its open file), and nobody ever sees a half-
written file. When a blocking check fails, this never runs and the last good file stays.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import duckdb

SERVED_SCHEMAS = ("marts", "definitions")


def publish_serving(warehouse: duckdb.DuckDBPyConnection, serving_path: Path,
                    schemas: tuple[str, ...] = SERVED_SCHEMAS) -> dict[str, int]:
    """Copy every table of `schemas` into a new file, then rename it over `serving_path`."""
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    tables = warehouse.execute(
        f"""select table_schema, table_name from information_schema.tables
            where table_catalog = current_database() and table_type = 'BASE TABLE'
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
        warehouse.execute("detach serving_new")
        os.replace(tmp, serving_path)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            warehouse.execute("detach serving_new")
        tmp.unlink(missing_ok=True)
        raise
    return copied
