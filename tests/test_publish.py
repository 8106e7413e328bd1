"""The publish step on small hand-made warehouses: views served with the tables they read, and
tables of by-lead incremental models patched only when nothing but incremental builds with
the same definitions and code changed them since the previous publish."""

from datetime import datetime, timedelta

import duckdb
import pytest

from orchestration.publish import publish_serving
from orchestration.transform.build_state import STATE_DDL

T0 = datetime(2026, 11, 20, 6)


def _warehouse(path):
    con = duckdb.connect(str(path))
    con.execute("create schema raw; create schema intermediate; create schema marts; "
                "create schema audit; create schema definitions")
    con.execute("create table definitions.def_settings as select 'v1' as definitions_version")
    con.execute(STATE_DDL)
    con.execute("create table raw.crm_leads (lead_id varchar, _loaded_at timestamp)")
    con.execute("create table intermediate.items (lead_id varchar, points double)")
    con.execute("create table marts.dim_leads (lead_id varchar)")
    con.execute("""create view marts.ledger as
                   select i.lead_id, sum(i.points) as points from intermediate.items as i
                   group by all""")
    return con


def _load(con, leads: dict[str, float], at: datetime):
    """A day: these leads get a row loaded `at` and their items rebuilt."""
    for lead, points in leads.items():
        con.execute("insert into raw.crm_leads values (?, ?)", [lead, at])
        con.execute("delete from intermediate.items where lead_id = ?", [lead])
        con.execute("insert into intermediate.items values (?, ?), (?, ?)", [lead, points, lead, points])
    con.execute("create or replace table marts.dim_leads as select distinct lead_id from raw.crm_leads")


def _build(con, at: datetime, fingerprint="fp1", full_refresh=False):
    con.execute("insert into audit.dbt_builds values ('items', ?, ?, ?, ?)",
                [fingerprint, at, full_refresh, at + timedelta(minutes=5)])


def _served(serving_path):
    with duckdb.connect(str(serving_path), read_only=True) as s:
        return (dict(s.execute("select lead_id, points from marts.ledger").fetchall()),
                s.execute("select table_type from information_schema.tables "
                          "where table_name = 'ledger'").fetchone()[0])


@pytest.fixture
def published(tmp_path):
    con = _warehouse(tmp_path / "wh.duckdb")
    serving = tmp_path / "serving.duckdb"
    _load(con, {"L1": 1, "L2": 2}, T0)
    _build(con, T0, full_refresh=True)
    publish_serving(con, serving)
    yield con, serving
    con.close()


def _mark_l1(serving):
    """Mark L1's served items: a patch keeps the mark (L1 has nothing new), a copy loses it."""
    with duckdb.connect(str(serving)) as s:
        s.execute("update intermediate.items set points = -100 where lead_id = 'L1'")


def test_a_view_is_served_with_the_tables_it_reads(published):
    con, serving = published
    assert _served(serving) == ({"L1": 2, "L2": 4}, "VIEW")
    with duckdb.connect(str(serving), read_only=True) as s:
        assert {r[0] for r in s.execute("select table_schema || '.' || table_name from "
                                        "information_schema.tables").fetchall()} >= {
            "intermediate.items", "marts.dim_leads", "marts.ledger", "audit.published_builds"}


def test_an_incremental_day_is_patched_by_lead(published):
    con, serving = published
    _mark_l1(serving)
    _load(con, {"L2": 5, "L3": 3}, T0 + timedelta(days=1))
    _build(con, T0 + timedelta(days=1))
    publish_serving(con, serving)
    assert _served(serving)[0] == {"L1": -200, "L2": 10, "L3": 6}  # L1 kept, L2 and L3 patched


@pytest.mark.parametrize("change", ["full refresh", "other definitions"])
def test_anything_but_incremental_builds_since_copies_whole(published, change):
    con, serving = published
    _mark_l1(serving)
    _load(con, {"L3": 3}, T0 + timedelta(days=1))
    _build(con, T0 + timedelta(days=1), fingerprint="fp2" if change == "other definitions" else "fp1",
           full_refresh=change == "full refresh")
    publish_serving(con, serving)
    assert _served(serving)[0] == {"L1": 2, "L2": 4, "L3": 6}


def test_days_not_published_are_patched_together(published):
    """A blocked publish (a failing check) leaves the serving file behind by a day: the next
    publish patches every lead loaded since the file's own build."""
    con, serving = published
    _mark_l1(serving)
    _load(con, {"L2": 5}, T0 + timedelta(days=1))
    _build(con, T0 + timedelta(days=1))  # not published
    _load(con, {"L3": 3}, T0 + timedelta(days=2))
    _build(con, T0 + timedelta(days=2))
    publish_serving(con, serving)
    assert _served(serving)[0] == {"L1": -200, "L2": 10, "L3": 6}


def test_a_patch_that_does_not_add_up_is_replaced_by_a_copy(published):
    con, serving = published
    with duckdb.connect(str(serving)) as s:  # a served row no lead's patch would remove
        s.execute("insert into intermediate.items values ('L1', 7)")
    _load(con, {"L2": 5}, T0 + timedelta(days=1))
    _build(con, T0 + timedelta(days=1))
    said = []
    publish_serving(con, serving, say=said.append)
    assert _served(serving)[0] == {"L1": 2, "L2": 10}
    assert any("copied whole instead" in m for m in said)


def test_the_serving_file_describes_its_tables_and_columns(published_demo):
    """A BI user browsing the serving file reads each table's and column's dbt description
    (COMMENT ON), the audit tables' included."""
    _, settings, _ = published_demo
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        total, described = con.execute(
            "select count(*), count(*) filter (where coalesce(comment, '') <> '') "
            "from duckdb_columns() where database_name = current_database()").fetchone()
        [(column,)] = con.execute(
            "select comment from duckdb_columns() where database_name = current_database() "
            "and table_name = 'dim_accounts' and column_name = 'furthest_stage'").fetchall()
        [(table,)] = con.execute(
            "select comment from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'audit' and table_name = 'load_log'").fetchall()
        [(projected,)] = con.execute(
            "select comment from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'intermediate' and table_name = 'int_activities_scored'").fetchall()
    assert total > 600 and described / total >= 0.9, (described, total)
    assert column.startswith("The furthest stage any of its leads reached")
    assert table.startswith("One row per landing file loaded")
    # the scored activities are served as the ledger's projection, and say so
    assert projected.endswith("Served copy: only the columns the served views read, "
                              "rows where rule_points <> 0.")


def test_served_counts_are_bigint_and_amounts_fixed_scale(published_demo):
    """BI tools trip on DuckDB's 128-bit integers: every served count is BIGINT, and every
    column named *amount* is money with a fixed scale (DECIMAL(18,2) in the reporting
    currency; an original-currency amount keeps the 4 decimals of its exact shares)."""
    _, settings, _ = published_demo
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        huge = con.execute(
            "select table_name || '.' || column_name from duckdb_columns() "
            "where database_name = current_database() and data_type = 'HUGEINT'").fetchall()
        amounts = con.execute(
            "select table_name || '.' || column_name || ' ' || data_type from duckdb_columns() "
            "where database_name = current_database() and schema_name = 'marts' "
            "and column_name like '%amount%' and data_type not like 'DECIMAL(18,%'").fetchall()
    assert huge == [] and amounts == []


def test_every_served_timestamp_says_its_time_zone(published_demo):
    """DuckDB's TIMESTAMP has no zone: the comment of every served timestamp column says
    which it is (UTC; dates are on the reporting time zone's calendar)."""
    _, settings, _ = published_demo
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        rows = con.execute(
            "select table_name || '.' || column_name, comment from duckdb_columns() "
            "where database_name = current_database() and data_type like 'TIMESTAMP%'"
        ).fetchall()
    assert len(rows) >= 30
    unzoned = [name for name, comment in rows
               if not comment or not any(z in comment for z in ("UTC", "time zone"))]
    assert unzoned == []
