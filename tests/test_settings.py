"""Every DuckDB connection the orchestration opens stays under the configured memory limit."""

import duckdb

from orchestration.settings import connect_read_only, default_memory_limit


def _limit_of(con) -> str:
    return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_a_reader_gets_the_configured_memory_limit(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("DUCKDB_MEMORY_LIMIT", "300MB")
    with connect_read_only(path) as con:
        assert _limit_of(con) == "286.1 MiB"  # 300,000,000 bytes
        con.execute("select 1").fetchall()


def test_a_reader_without_configuration_gets_the_default_share(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.delenv("DUCKDB_MEMORY_LIMIT", raising=False)
    expected = duckdb.connect(config={"memory_limit": default_memory_limit()})
    with connect_read_only(path) as con:
        assert _limit_of(con) == _limit_of(expected)
        assert _limit_of(con) != _limit_of(duckdb.connect())  # not DuckDB's 80 % of memory
    expected.close()
