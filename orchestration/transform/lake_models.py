"""The Spark engine's built tables, copied into the DuckDB warehouse.

With FUNNEL_ENGINE=spark, dbt builds every model as a Parquet table in the lake
(LAKE_DIR/warehouse/<schema>.db/<table>/). The quality suites, the serving publish, the
PostgreSQL copy and the report read the DuckDB warehouse, as on the DuckDB engine, so once the
Spark build passed its tests its tables are copied there:

- in one transaction: a copy that fails leaves the warehouse as it was;
- a mart (an enforced contract) gets exactly its declared columns, in order, cast to the
  declared DuckDB types: what BI reads has the same shape whichever engine built it, and a
  Spark mart that lost or renamed a column fails here, naming it;
- views are definitions, not data: they are created on DuckDB over the copied tables by dbt
  itself (`dbt run --select config.materialized:view`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.transform.project import dbt_executable

BUILT_SCHEMAS = ("staging", "definitions", "intermediate", "marts")
VIEWS_TARGET = "duckdb_views"  # the target folder of the dbt run that creates the views


class LakeCopyError(RuntimeError):
    """A Spark table is missing or does not match its contract."""


@dataclass(frozen=True)
class CopiedTable:
    schema: str
    name: str
    rows: int


def lake_table_folder(lake_dir: Path, schema: str, name: str) -> Path:
    """Where Spark's catalog keeps a managed table (spark.sql.warehouse.dir in profiles.yml)."""
    return lake_dir / "warehouse" / f"{schema}.db" / name


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["schema"] in BUILT_SCHEMAS]


def _select_list(con: duckdb.DuckDBPyConnection, node: dict, source: str) -> str:
    """A model whose columns are all typed in its YAML (the marts' contracts, enforced on
    DuckDB): those columns, cast to those types. Any other model: every column as Spark wrote
    it."""
    declared = [(c["name"], c.get("data_type")) for c in node.get("columns", {}).values()]
    if not declared or not all(data_type for _, data_type in declared):
        return "*"
    present = {name.lower() for (name,) in con.execute(
        f"select column_name from (describe select * from {source})").fetchall()}
    missing = [name for name, _ in declared if name.lower() not in present]
    extra = sorted(present - {name.lower() for name, _ in declared})
    if missing or extra:
        raise LakeCopyError(
            f"{node['schema']}.{node['name']}: the Spark table does not match its contract "
            f"(missing: {', '.join(missing) or 'none'}; not declared: {', '.join(extra) or 'none'})")
    return ", ".join(f"cast({_q(name)} as {data_type}) as {_q(name)}" for name, data_type in declared)


def copy_lake_tables(con: duckdb.DuckDBPyConnection, manifest: dict, lake_dir: Path,
                     say=lambda _m: None) -> list[CopiedTable]:
    """Replace each table model in the warehouse by the lake's copy, all or nothing."""
    copied = []
    con.execute("begin")
    try:
        for node in sorted(_models(manifest), key=lambda n: (n["schema"], n["name"])):
            if node["config"]["materialized"] in ("view", "ephemeral"):
                continue
            schema, name = node["schema"], node.get("alias") or node["name"]
            folder = lake_table_folder(lake_dir, schema, name)
            if not any(folder.glob("*.parquet")):
                raise LakeCopyError(f"{schema}.{name}: no Parquet files in {folder} "
                                    "(did the Spark build run?)")
            source = f"read_parquet('{folder}/*.parquet')"
            con.execute(f"create schema if not exists {_q(schema)}")
            kind = con.execute("select table_type from information_schema.tables where "
                               "table_schema = ? and table_name = ? and table_catalog = "
                               "current_database()", [schema, name]).fetchone()
            if kind and kind[0] == "VIEW":
                con.execute(f"drop view {_q(schema)}.{_q(name)}")
            con.execute(f"create or replace table {_q(schema)}.{_q(name)} as "
                        f"select {_select_list(con, node, source)} from {source}")
            rows = con.execute(f"select count(*) from {_q(schema)}.{_q(name)}").fetchone()[0]
            copied.append(CopiedTable(schema, name, rows))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    say(f"lake: copied {len(copied)} Spark tables into the warehouse "
        f"({sum(t.rows for t in copied):,} rows)")
    return copied


def create_views_on_duckdb(project_dir: Path, profiles_dir: Path, target_path: Path,
                           environment: dict[str, str]) -> None:
    """The view models, created by dbt on the DuckDB warehouse over the copied tables."""
    proc = subprocess.run(
        [dbt_executable(), "run", "--quiet", "--select", "config.materialized:view",
         "--target", "prod", "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir),
         "--target-path", str(target_path), "--vars", dbt_vars_arg()],
        cwd=project_dir, capture_output=True, text=True, env={**os.environ, **environment})
    if proc.returncode != 0:
        raise LakeCopyError(f"creating the views on DuckDB failed:\n{proc.stdout}\n{proc.stderr}")
