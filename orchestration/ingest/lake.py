"""The validated raw tables as Parquet in the lake folder, for the Spark engine.

The loader (loader.py) stays the one way data enters: it checks the contract and quarantines
into the DuckDB warehouse as always. With FUNNEL_ENGINE=spark this step then writes every raw
table to LAKE_DIR/raw/<table>/ as Parquet, and dbt registers those folders as Spark tables
(macros/lake.sql) that the sources read. Each table is written beside the live folder and
swapped in by a rename, so Spark never reads half a table.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

# Row groups Spark can read in parallel (files are cut at 256 MB, one per writer thread).
ROW_GROUP_ROWS = 125_000


@dataclass(frozen=True)
class LakeTable:
    name: str
    rows: int
    files: int
    path: Path


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for (name,) in con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'raw' and table_catalog = current_database() order by 1").fetchall()]


def _select_list(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Every column; JSON as text (Parquet's JSON annotation means nothing to Spark)."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = ? and table_catalog = current_database() "
        "order by ordinal_position", [table]).fetchall()
    return ", ".join(f'cast("{c}" as varchar) as "{c}"' if t == "JSON" else f'"{c}"'
                     for c, t in columns)


def write_raw_to_lake(con: duckdb.DuckDBPyConnection, lake_dir: Path,
                      say=lambda _m: None) -> list[LakeTable]:
    """Write each raw table to lake_dir/raw/<table>/ (replacing what was there)."""
    root = lake_dir / "raw"
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for table in raw_tables(con):
        final, staged = root / table, root / f".{table}.writing"
        shutil.rmtree(staged, ignore_errors=True)
        rows = con.execute(  # COPY returns the rows it wrote: no second scan to count them
            f"copy (select {_select_list(con, table)} from raw.\"{table}\") to '{staged}' "
            f"(format parquet, compression zstd, per_thread_output true, "
            f"file_size_bytes '256MB', row_group_size {ROW_GROUP_ROWS})").fetchone()[0]
        retired = root / f".{table}.retired"
        shutil.rmtree(retired, ignore_errors=True)
        if final.exists():
            final.rename(retired)
        staged.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
        files = len(list(final.glob("*.parquet")))
        written.append(LakeTable(table, rows, files, final))
        say(f"lake: raw.{table} -> {final} ({rows:,} rows, {files} files)")
    return written
