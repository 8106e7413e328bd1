"""The semantic layer: MetricFlow over the serving file.

The metrics are defined once, in dbt (dbt_project/models/semantic/): semantic models over the
marts' additive measures, and every KPI of the weekly report as a metric - ratios computed
after summing, so a quarter or a segment is never an average of weekly rates. `funnel dbt
parse` writes them to target/semantic_manifest.json; `funnel metrics` (and BI tools, through
the SQL `--explain` prints) query them on the published serving file, never the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd

from orchestration.settings import connect_snapshot


def semantic_manifest_path() -> Path:
    """The semantic manifest of the current dbt project (parsed when missing or stale)."""
    from orchestration.transform.project import ensure_manifest

    # dbt parse writes manifest.json and semantic_manifest.json side by side
    path = ensure_manifest().parent / "semantic_manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `funnel dbt parse`")
    return path


class ServingSqlClient:
    """MetricFlow's SqlClient on a DuckDB connection to the serving file (read-only)."""

    def __init__(self, con) -> None:
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        self._con = con
        self._renderer = DuckDbSqlPlanRenderer()

    @property
    def sql_engine_type(self):
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self):
        return self._renderer

    def query(self, stmt: str, sql_bind_parameter_set=None):
        from metricflow.data_table.mf_table import MetricFlowDataTable

        cursor = self._con.execute(stmt)
        names = [d[0] for d in cursor.description]
        rows = [[float(v) if isinstance(v, Decimal) else v for v in row]
                for row in cursor.fetchall()]
        return MetricFlowDataTable.create_from_rows(column_names=names, rows=rows)

    def execute(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._con.execute(stmt)

    def dry_run(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._con.execute("explain " + stmt)

    def close(self) -> None:
        self._con.close()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return "$" + bind_parameter_key


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    kind: str
    description: str
    formula: str  # the measure, or numerator / denominator


def list_metrics(manifest_path: Path | None = None) -> list[MetricInfo]:
    """Every metric of the semantic manifest, in definition order."""
    manifest = json.loads((manifest_path or semantic_manifest_path()).read_text("utf-8"))
    out = []
    for m in manifest["metrics"]:
        params = m["type_params"]
        if m["type"] == "ratio":
            formula = f"{params['numerator']['name']} / {params['denominator']['name']}"
        else:
            formula = (params.get("measure") or {}).get("name", "")
        out.append(MetricInfo(m["name"], m.get("label") or m["name"], m["type"],
                              " ".join((m.get("description") or "").split()), formula))
    return out


def _without_catalog(manifest_json: str) -> str:
    """Relations named `schema.table`, not `warehouse_file.schema.table`: the SQL then runs on
    any file with the marts - the serving file, opened by a BI tool under any name."""
    manifest = json.loads(manifest_json)
    relations = [m["node_relation"] for m in manifest["semantic_models"]]
    relations += [t["node_relation"] for t in manifest["project_configuration"]["time_spines"]]
    for relation in relations:
        relation["database"] = None
        relation["relation_name"] = f'"{relation["schema_name"]}"."{relation["alias"]}"'
    return json.dumps(manifest)


class MetricQueries:
    """Compile metric queries with MetricFlow and run them on the serving file."""

    def __init__(self, serving_path: Path, manifest_path: Path | None = None) -> None:
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import (
            parse_manifest_from_dbt_generated_manifest,
        )
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        text = _without_catalog((manifest_path or semantic_manifest_path()).read_text("utf-8"))
        lookup = SemanticManifestLookup(parse_manifest_from_dbt_generated_manifest(text))
        self.con = connect_snapshot(serving_path)
        self._engine = MetricFlowEngine(semantic_manifest_lookup=lookup,
                                        sql_client=ServingSqlClient(self.con))

    def sql(self, metrics: Sequence[str], group_by: Sequence[str] = (),
            where: Sequence[str] = (), order_by: Sequence[str] = ()) -> str:
        """The SQL MetricFlow writes for the query (what a BI tool would send)."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics), group_by_names=list(group_by),
            where_constraints=list(where) or None, order_by_names=list(order_by) or None)
        return self._engine.explain(request).sql_statement.sql

    def query(self, metrics: Sequence[str], group_by: Sequence[str] = (),
              where: Sequence[str] = (), order_by: Sequence[str] = ()) -> pd.DataFrame:
        return self.con.execute(self.sql(metrics, group_by, where, order_by)).df()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> MetricQueries:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
