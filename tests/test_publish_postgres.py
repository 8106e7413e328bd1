"""PostgreSQL as a serving target, on a real server: a second publish goes through while a
reader holds a transaction open, and a publish that fails halfway leaves nothing behind. (The
audit job's publish, and a failed audit leaving PostgreSQL as it was, are tested with the
other audits in tests/quality/test_guards.py.)"""

from __future__ import annotations

import shutil
import threading
import time

import duckdb
import pytest

from orchestration.serving_postgres import publish_postgres

pytestmark = pytest.mark.slow(seconds=20)  # uses the published demo; orders the workers

psycopg = pytest.importorskip("psycopg")


def _live(url: str) -> dict:
    """What a BI user sees: rows per table, the publishing run, the schemas there are."""
    with psycopg.connect(url) as pg:
        tables = pg.execute("""select table_schema, table_name from information_schema.tables
                               where table_schema in ('marts', 'definitions', 'audit')
                               order by 1, 2""").fetchall()
        counts = {f"{s}.{t}": pg.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                  for s, t in tables}
        run = pg.execute("select run_id from audit.publish_log").fetchone()[0]
        schemas = sorted(n for (n,) in pg.execute(
            "select nspname from pg_namespace where nspname not like 'pg\\_%' "
            "and nspname not in ('information_schema', 'public')").fetchall())
    return {"counts": counts, "run": run, "schemas": schemas}


def _served(serving_path) -> dict[str, int]:
    with duckdb.connect(str(serving_path), read_only=True) as s:
        names = s.execute("""select table_schema || '.' || table_name from information_schema.tables
                             where table_schema in ('marts', 'definitions', 'audit')""").fetchall()
        return {n: s.execute(f"select count(*) from {n}").fetchone()[0] for (n,) in names}


def test_a_second_publish_while_a_reader_holds_a_transaction_open(published_demo, pg_url):
    _, settings, _ = published_demo
    publish_postgres(settings.serving_path, pg_url)
    expected = _served(settings.serving_path)
    reader = psycopg.connect(pg_url)  # READ COMMITTED, as BI tools use
    reader.execute("select count(*) from marts.dim_leads").fetchone()  # holds its lock

    seen: list = []
    stop = threading.Event()

    def poll():  # another reader, querying all along the publish
        with psycopg.connect(pg_url, autocommit=True) as pg:
            while not stop.is_set():
                seen.append(pg.execute("select (select count(*) from marts.fct_score_ledger), "
                                       "(select count(*) from marts.dim_leads)").fetchone())

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.monotonic()
    try:
        notes: list[str] = []
        publish_postgres(settings.serving_path, pg_url, say=notes.append)
    finally:
        stop.set()
        poller.join()
    assert time.monotonic() - started < 60  # did not wait for the reader
    assert seen and set(seen) == {(expected["marts.fct_score_ledger"],
                                   expected["marts.dim_leads"])}
    assert any("still in use" in n for n in notes), notes
    # the open transaction reads on, now the new publish's tables
    assert reader.execute("select count(*) from marts.dim_leads").fetchone()[0] == \
        expected["marts.dim_leads"]
    assert any("__retired_" in s for s in _live(pg_url)["schemas"])
    reader.close()
    publish_postgres(settings.serving_path, pg_url)  # drops what the reader held
    assert _live(pg_url)["schemas"] == ["audit", "definitions", "marts"]
    assert _live(pg_url)["counts"] == expected


def test_a_publish_that_fails_halfway_leaves_postgres_as_it_was(published_demo, pg_url, tmp_path):
    _, settings, _ = published_demo
    publish_postgres(settings.serving_path, pg_url)
    before = _live(pg_url)
    broken = tmp_path / "serving.duckdb"
    shutil.copy(settings.serving_path, broken)
    with duckdb.connect(str(broken)) as con:  # a type PostgreSQL gets no mapping for
        con.execute("create table marts.zz_lists as select [1, 2] as ids")
    with pytest.raises(TypeError, match=r"marts\.zz_lists\.ids: DuckDB type INTEGER\[\]"):
        publish_postgres(broken, pg_url)
    assert _live(pg_url) == before  # no staged schema left, the live ones untouched
