"""Every DuckDB connection the orchestration opens stays under the configured memory limit."""

from pathlib import Path

import duckdb

from orchestration.settings import (
    Settings,
    checkpoint_threshold,
    connect_read_only,
    default_memory_limit,
    size_bytes,
)


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


def test_a_daily_build_checkpoints_at_a_twentieth_of_the_memory_limit(monkeypatch):
    """What a daily rebuild changed stays in DuckDB's memory until a checkpoint: the
    write-ahead log may grow to a twentieth of the limit, within DuckDB's 16 MB and 1 GB."""
    assert checkpoint_threshold("2938MB") == "146MB"
    assert checkpoint_threshold("2.7 GiB") == "144MB"  # as DuckDB reports a limit
    assert checkpoint_threshold("300MB") == "16MB"  # never below DuckDB's own default
    assert checkpoint_threshold("64GB") == "1000MB"
    assert checkpoint_threshold("a lot") == "16MB"
    assert size_bytes("286.1 MiB") == int(286.1 * 2**20)
    settings = Settings(duckdb_path=Path("/w/funnel.duckdb"), landing_dir=Path("/w/landing"),
                        memory_limit="4GB")
    monkeypatch.delenv("DUCKDB_CHECKPOINT_THRESHOLD", raising=False)
    assert settings.dbt_environment()["DUCKDB_CHECKPOINT_THRESHOLD"] == "200MB"
    monkeypatch.setenv("DUCKDB_CHECKPOINT_THRESHOLD", "32MB")
    assert settings.dbt_environment()["DUCKDB_CHECKPOINT_THRESHOLD"] == "32MB"
