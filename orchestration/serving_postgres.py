"""Publish the audited serving file to PostgreSQL, atomically, for BI servers that cannot read
a DuckDB file (or hold one connection for hours).

Set SERVING_POSTGRES_URL (a libpq URL, e.g. postgresql://bi_loader@db/analytics) and every run
that publishes the serving file also publishes it here. The source is the serving file itself,
after its audit, so PostgreSQL shows exactly what DuckDB readers see: the `marts`,
`definitions` and `audit` schemas (SERVING_POSTGRES_SCHEMA_PREFIX prepends a prefix, e.g.
`funnel_` -> `funnel_marts`), with every table and column comment.

Atomic, the PostgreSQL way: the tables are written into new schemas (`marts__publishing_<id>`),
then one transaction renames the live schemas away and the new ones in. Readers never see a
half publish: a query sees the old schema or the new one. A reader holding a transaction open
keeps its locks on the old tables; the publish does not wait for it - the retired schema is
dropped when its lock can be had within seconds, otherwise the next publish drops it. A failed
publish drops its new schemas and leaves the live ones as they were; a failed audit never
starts one.

Views of the serving file (the score ledger, whose current rows decay when read, in DuckDB SQL)
become tables here, as of the publish.
"""

from __future__ import annotations

import io
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from orchestration.settings import connect_snapshot

SCHEMAS = ("marts", "definitions", "audit")
BATCH_ROWS = 200_000

# DuckDB type -> PostgreSQL type; DECIMAL keeps its precision and scale.
_TYPES = {
    "VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint",
    "TINYINT": "smallint", "UBIGINT": "numeric(20,0)", "UINTEGER": "bigint",
    "HUGEINT": "numeric(39,0)", "DOUBLE": "double precision", "FLOAT": "real",
    "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIME": "time", "UUID": "uuid",
}


def postgres_url() -> str | None:
    return os.environ.get("SERVING_POSTGRES_URL") or None


def schema_prefix() -> str:
    prefix = os.environ.get("SERVING_POSTGRES_SCHEMA_PREFIX", "")
    if prefix and not re.fullmatch(r"[a-z_][a-z0-9_]*", prefix):
        raise ValueError(f"SERVING_POSTGRES_SCHEMA_PREFIX={prefix!r}: use lower-case letters, "
                         "digits and underscores")
    return prefix


def postgres_type(duckdb_type: str, where: str) -> str:
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", duckdb_type)
    if decimal:
        return f"numeric({decimal[1]},{decimal[2]})"
    if duckdb_type in _TYPES:
        return _TYPES[duckdb_type]
    raise TypeError(f"{where}: DuckDB type {duckdb_type} has no PostgreSQL mapping here; "
                    "cast it in the model")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_postgres(serving_path: Path, url: str, *, prefix: str = "",
                     say: Callable[[str], None] = lambda _msg: None) -> dict[str, int]:
    """Copy every table and view of the serving file's schemas into new PostgreSQL schemas and
    swap them in, in one transaction. Returns rows per published table."""
    import psycopg  # only where a PostgreSQL target is configured

    token = uuid.uuid4().hex[:8]
    live = {s: f"{prefix}{s}" for s in SCHEMAS}
    staged = {s: f"{prefix}{s}__publishing_{token}" for s in SCHEMAS}
    started = time.monotonic()
    published: dict[str, int] = {}
    with connect_snapshot(serving_path) as duck, psycopg.connect(url, autocommit=True) as pg:
        _drop_leftovers(pg, live, say)
        relations = duck.execute(
            f"""select schema_name, table_name, comment from duckdb_tables()
                where database_name = 'serving' and schema_name in {SCHEMAS!r}
                union all
                select schema_name, view_name, comment from duckdb_views()
                where database_name = 'serving' and schema_name in {SCHEMAS!r} and not internal
                order by 1, 2""").fetchall()
        try:
            for schema in SCHEMAS:
                pg.execute(f"create schema {_ident(staged[schema])}")
            for schema, table, comment in relations:
                rows = _copy_table(duck, pg, schema, table, staged[schema], comment)
                published[f"{schema}.{table}"] = rows
                say(f"postgres: {schema}.{table} {rows:,} rows")
            with pg.transaction():
                for schema in SCHEMAS:
                    if _schema_exists(pg, live[schema]):
                        pg.execute(f"alter schema {_ident(live[schema])} rename to "
                                   f"{_ident(live[schema] + '__retired_' + token)}")
                    pg.execute(f"alter schema {_ident(staged[schema])} rename to "
                               f"{_ident(live[schema])}")
        except BaseException:
            for schema in SCHEMAS:
                pg.execute(f"drop schema if exists {_ident(staged[schema])} cascade")
            raise
        _drop_leftovers(pg, live, say)
    say(f"postgres: published {len(published)} tables, {sum(published.values()):,} rows, "
        f"in {time.monotonic() - started:.1f} s")
    return published


def _schema_exists(pg, name: str) -> bool:
    return pg.execute("select 1 from pg_namespace where nspname = %s", [name]).fetchone() is not None


def _drop_leftovers(pg, live: dict[str, str], say) -> None:
    """Schemas of earlier publishes: retired ones (a reader held them at the swap) and staged
    ones of a publish that was killed. One a reader still holds is left for the next run."""
    import psycopg

    leftover = re.compile("^(" + "|".join(re.escape(n) for n in live.values())
                          + r")__(retired|publishing)_[0-9a-f]{8}$")
    names = [n for (n,) in pg.execute("select nspname from pg_namespace").fetchall()
             if leftover.match(n)]
    for name in names:
        try:
            with pg.transaction():
                # Past deadlock_timeout (1 s) PostgreSQL cancels an autovacuum in the way;
                # a reader's open transaction keeps the schema until a later publish.
                pg.execute("set local lock_timeout = '5s'")
                pg.execute(f"drop schema {_ident(name)} cascade")
        except psycopg.errors.LockNotAvailable:
            say(f"postgres: {name} is still in use (a reader's open transaction): dropped by a "
                "later publish")


def _copy_table(duck, pg, schema: str, table: str, target_schema: str,
                comment: str | None) -> int:
    columns = duck.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where database_name = 'serving' and schema_name = ? and table_name = ? "
        "order by column_index", [schema, table]).fetchall()
    target = f"{_ident(target_schema)}.{_ident(table)}"
    pg.execute(f"create table {target} (" + ", ".join(
        f"{_ident(name)} {postgres_type(kind, f'{schema}.{table}.{name}')}"
        for name, kind, _ in columns) + ")")
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(include_header=False)
    reader = duck.sql(f'select * from "{schema}"."{table}"').to_arrow_reader(BATCH_ROWS)
    rows = 0
    with pg.cursor() as cursor, cursor.copy(f"copy {target} from stdin (format csv)") as copy:
        for batch in reader:
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getbuffer())
            rows += batch.num_rows
    if comment:
        pg.execute(f"comment on table {target} is {_literal(comment)}")
    for name, _kind, text in columns:
        if text:
            pg.execute(f"comment on column {target}.{_ident(name)} is {_literal(text)}")
    return rows
