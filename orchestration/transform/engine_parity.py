"""Are two warehouses' marts the same rows? For the same extracts built on two engines (DuckDB
and Spark) they must be: every table and view of the compared schemas, row by row, both ways
(EXCEPT ALL keeps duplicates), floating-point columns to `digits` decimals. Columns that say
when a build ran (`built_at`) are left out: they differ between any two builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

PER_BUILD_COLUMNS = frozenset({"built_at"})


@dataclass(frozen=True)
class RelationParity:
    relation: str
    rows_a: int
    rows_b: int
    only_in_a: int  # rows of a that b lacks (counted with their multiplicity)
    only_in_b: int
    example_a: tuple | None = None
    example_b: tuple | None = None

    @property
    def equal(self) -> bool:
        return not self.only_in_a and not self.only_in_b


def _relations(con: duckdb.DuckDBPyConnection, catalog: str, schemas: tuple[str, ...]) -> set[str]:
    marks = ", ".join("?" for _ in schemas)
    return {f"{s}.{t}" for s, t in con.execute(
        f"select table_schema, table_name from information_schema.tables "
        f"where table_catalog = ? and table_schema in ({marks})", [catalog, *schemas]).fetchall()}


def compare_warehouses(a: Path, b: Path, schemas: tuple[str, ...] = ("marts", "definitions"),
                       digits: int = 9) -> list[RelationParity]:
    """One result per relation of `schemas` in either file; a relation only one file has
    counts as all of its rows missing from the other."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        in_a, in_b = _relations(con, "a", schemas), _relations(con, "b", schemas)
        results = []
        for relation in sorted(in_a | in_b):
            schema, name = relation.split(".")
            if relation not in in_a or relation not in in_b:
                here = "a" if relation in in_a else "b"
                rows = con.execute(f'select count(*) from {here}."{schema}"."{name}"').fetchone()[0]
                results.append(RelationParity(relation, rows if here == "a" else 0,
                                              rows if here == "b" else 0,
                                              rows if here == "a" else 0,
                                              rows if here == "b" else 0))
                continue
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = 'a' and table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, name]).fetchall()
            select = ", ".join(
                f'round("{c}", {digits}) as "{c}"' if t in ("DOUBLE", "FLOAT", "REAL") else f'"{c}"'
                for c, t in columns if c not in PER_BUILD_COLUMNS)
            qa, qb = (f'select {select} from {w}."{schema}"."{name}"' for w in ("a", "b"))
            only_a = con.execute(f"select count(*) from ({qa} except all {qb})").fetchone()[0]
            only_b = con.execute(f"select count(*) from ({qb} except all {qa})").fetchone()[0]
            example_a = con.execute(f"{qa} except all {qb} limit 1").fetchone() if only_a else None
            example_b = con.execute(f"{qb} except all {qa} limit 1").fetchone() if only_b else None
            results.append(RelationParity(
                relation,
                con.execute(f"select count(*) from ({qa})").fetchone()[0],
                con.execute(f"select count(*) from ({qb})").fetchone()[0],
                only_a, only_b, example_a, example_b))
        return results
    finally:
        con.close()


def render(results: list[RelationParity]) -> str:
    lines = [f"{'relation':45} {'rows A':>10} {'rows B':>10} {'only A':>8} {'only B':>8}"]
    for r in results:
        lines.append(f"{r.relation:45} {r.rows_a:>10,} {r.rows_b:>10,} {r.only_in_a:>8,} "
                     f"{r.only_in_b:>8,}{'' if r.equal else '  DIFFERS'}")
        if r.example_a:
            lines.append(f"    only in A, e.g. {r.example_a}")
        if r.example_b:
            lines.append(f"    only in B, e.g. {r.example_b}")
    differing = sum(not r.equal for r in results)
    lines.append(f"{len(results)} relations, {sum(r.rows_a for r in results):,} rows: "
                 f"{'identical' if not differing else f'{differing} differ'}")
    return "\n".join(lines)
