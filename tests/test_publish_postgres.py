"""PostgreSQL as a serving target, on a real server: the audit job publishes the serving file's
schemas to PostgreSQL, a failed audit leaves PostgreSQL as it was, a second publish goes
through while a reader holds a transaction open, and a publish that fails halfway leaves
nothing behind."""

from __future__ import annotations

import os
import shutil
import threading
import time

import duckdb
import pytest

from orchestration.serving_postgres import publish_postgres
from tests.conftest import settings_at
from tests.postgres_server import postgres_server

pytestmark = pytest.mark.slow(seconds=45)  # uses the published demo; orders the workers

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def pg_url():
    try:
        with postgres_server() as url:
            yield url
    except FileNotFoundError as exc:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        pytest.skip(str(exc))


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


def _audit_publish(settings):
    from orchestration.code_location import build_definitions
    from orchestration.in_process import dagster_instance

    return build_definitions(settings).resolve_job_def("audit_publish").execute_in_process(
        instance=dagster_instance(), raise_on_error=False)


def test_the_audit_job_publishes_to_postgres_and_a_failed_audit_leaves_it_as_it_was(
        published_demo, pg_url, tmp_path, monkeypatch):
    from tests.quality.test_guards import tamper_ledger_row_removed

    _, settings, _ = published_demo
    copy = settings_at(tmp_path, landing=settings.landing_dir)
    shutil.copy(settings.duckdb_path, copy.duckdb_path)
    shutil.copy(settings.serving_path, copy.serving_path)
    monkeypatch.setenv("SERVING_POSTGRES_URL", pg_url)

    result = _audit_publish(copy)
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"} == {"serving/warehouse",
                                                                  "serving/postgres"}
    first = _live(pg_url)
    assert first["counts"] == _served(copy.serving_path)  # every table, every row
    assert first["schemas"] == ["audit", "definitions", "marts"]
    with psycopg.connect(pg_url) as pg, duckdb.connect(str(copy.serving_path), read_only=True) as s:
        query = ("select count(*), sum(expected_revenue), sum(win_probability) "
                 "from marts.fct_lead_expected_revenue")
        got, want = pg.execute(query).fetchone(), s.execute(query).fetchone()
        assert got[:2] == want[:2] and got[2] == pytest.approx(want[2], rel=1e-12)
        described = pg.execute("""select count(*) filter (where col_description(
                                        format('%I.%I', table_schema, table_name)::regclass,
                                        ordinal_position) is not null), count(*)
                                  from information_schema.columns
                                  where table_schema = 'marts'""").fetchone()
        assert described[0] >= 0.9 * described[1], described
        kinds = dict(pg.execute("""select column_name, data_type from information_schema.columns
                                   where table_schema = 'marts'
                                     and table_name = 'fct_funnel_weekly'""").fetchall())
        assert kinds["mqls"] == "bigint" and kinds["spend_amount"] == "numeric"

    # a blocking check fails: neither the serving file nor PostgreSQL changes
    con = duckdb.connect(str(copy.duckdb_path))
    tamper_ledger_row_removed(con)
    con.close()
    result = _audit_publish(copy)
    assert not result.success
    assert [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"] == []
    assert _live(pg_url) == first


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
