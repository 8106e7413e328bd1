"""Quality guards as Dagster asset checks, and the publish step they protect.

Each Great Expectations suite of expectations/suites.py becomes a check on the asset it
guards. Definition and reconciliation checks fail with severity ERROR: the serving file is
not published in that run (and so neither BI nor the report sees the numbers). Contract and
drift checks fail with severity WARN. Every guard is a Dagster "blocking" check so that all
of them finish before the publish step, which records their results beside the published
marts (only ERROR stops it). dbt tests run inside `dbt build` and show as checks through
dagster-dbt.
"""

from pathlib import Path

import dagster as dg

from orchestration.defs.resources import WAREHOUSE_POOL, ServingResource, WarehouseResource
from orchestration.ingest.contract import EXTRACTS

SERVING_ASSET_KEY = dg.AssetKey(["serving", "warehouse"])
POSTGRES_ASSET_KEY = dg.AssetKey(["serving", "postgres"])


def current_guards(con, name: str | None = None):
    """The guards on this warehouse's data; with `name`, only the inputs that guard needs
    are read (each check calls this: the ledger's lead sample costs a scan at 10 M leads)."""
    from expectations.suites import LEDGER_GUARD, build_guards, history_loads, ledger_lead_bounds
    from orchestration.funnel_definitions import definitions_version, load_definitions

    fx = set()
    has_fx = con.execute("select count(*) from information_schema.tables "
                         "where table_schema = 'raw' and table_name = 'fx_rates'").fetchone()[0]
    if has_fx:
        fx = {r[0] for r in con.execute("select distinct currency from raw.fx_rates").fetchall()}
    loads = history_loads(con, EXTRACTS) if name is None or name.endswith("_contract") else set()
    bounds = ledger_lead_bounds(con) if name in (None, LEDGER_GUARD) else ()
    return {g.name: g for g in build_guards(load_definitions(), EXTRACTS, fx, history_loads=loads,
                                             ledger_lead_bounds=bounds,
                                             version=definitions_version())}


def _quarantined(con, extract: str) -> int:
    exists = con.execute("select count(*) from information_schema.tables "
                         "where table_schema = 'raw' and table_name = 'rejected_rows'").fetchone()[0]
    if not exists:
        return 0
    return con.execute("select count(*) from raw.rejected_rows where extract = ?",
                       [extract]).fetchone()[0]


def build_guard_check(name: str, asset: tuple[str, ...], blocking: bool, description: str):
    @dg.asset_check(
        asset=dg.AssetKey(list(asset)),
        name=name,
        # Waits for the publish step in every case; only severity ERROR stops it.
        blocking=True,
        description=description,
        pool=WAREHOUSE_POOL,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        from expectations.runner import run_guard

        with warehouse.connect() as con:
            guard = current_guards(con, name)[name]
            result = run_guard(con, guard)
            metadata = {
                "tested": guard.description,
                "rows_checked": result.rows_checked,
                "failing_rows": result.failing_rows,
                "sample_failing_keys": dg.MetadataValue.json(result.sample_keys),
                "expectations": dg.MetadataValue.md(_details_table(result.details)),
                "seconds": round(result.seconds, 2),
            }
            if guard.kind == "contract":
                metadata["quarantined_rows"] = _quarantined(con, asset[-1])
            if guard.kind == "freshness":
                _, newest, age = con.execute(guard.probes[0].sql).fetchone()
                metadata["newest_at"] = str(newest)
                metadata["age_days"] = float(age) if age is not None else None
                if not result.passed:
                    metadata["note"] = (f"newest row {newest:%Y-%m-%d %H:%M} UTC, {age:g} days "
                                        "before this run (ingest.max_data_age_days)")
        context.log.info(result.summary())
        return dg.AssetCheckResult(
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )

    return _check


def _details_table(details: list[dict]) -> str:
    lines = ["| probe | expectation | column | passed | failing |", "|---|---|---|---|---|"]
    for d in details:
        note = f" ({d['error']})" if d.get("error") else ""
        lines.append(f"| {d['probe']} | {d['expectation']} | {d.get('column') or ''} | "
                     f"{'yes' if d['success'] else 'no'}{note} | {d['unexpected_count']} |")
    return "\n".join(lines)


def guard_names() -> list[str]:
    """Names of all guards, known without a warehouse (for building the Dagster checks)."""
    return [g.name for g in _guards_without_data()]


def _guards_without_data():
    from expectations.suites import build_guards
    from orchestration.funnel_definitions import definitions_version, load_definitions

    return build_guards(load_definitions(), EXTRACTS, version=definitions_version())


def guard_checks() -> list[dg.AssetChecksDefinition]:
    return [build_guard_check(g.name, g.asset, g.blocking, g.description)
            for g in _guards_without_data()]


def build_publish_asset(published_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=SERVING_ASSET_KEY,
        deps=published_keys,
        group_name="quality",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        description=(
            "Write -> audit -> publish: copies the marts and the definitions in force into the "
            "serving DuckDB file (SERVING_DUCKDB_PATH) that BI tools and the report read "
            "read-only, with their views and the tables those read (incremental ones patched "
            "by lead in a copy of the previous file). Runs only when every blocking check "
            "passed; replaces the file atomically, so readers never see a half-written or "
            "unaudited warehouse."
        ),
    )
    def serving_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from orchestration.publish import publish_serving

        notes: list[str] = []
        with warehouse.connect() as con:
            copied = publish_serving(con, Path(warehouse.serving_path),
                                     checks=run_check_results(context), run_id=context.run.run_id,
                                     say=context.log.info, note=notes.append)
        for text in notes:
            context.log.warning(text)
        context.log.info(f"published {len(copied)} tables and views to {warehouse.serving_path}")
        return dg.MaterializeResult(metadata={
            "path": warehouse.serving_path,
            "tables": len(copied),
            "rows": dg.MetadataValue.json(copied),
            "notes": dg.MetadataValue.json(notes),
        })

    return serving_warehouse


def build_postgres_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=POSTGRES_ASSET_KEY,
        deps=[SERVING_ASSET_KEY],
        group_name="quality",
        kinds={"postgres"},
        pool=WAREHOUSE_POOL,  # one publish at a time, after the serving file's
        output_required=False,
        description=(
            "The audited serving file, published to PostgreSQL (SERVING_POSTGRES_URL) for BI "
            "servers that read no DuckDB file: new schemas, swapped in by one transaction, so "
            "readers never see half a publish. Skipped when SERVING_POSTGRES_URL is not set."
        ),
    )
    def serving_postgres(context: dg.AssetExecutionContext, serving: ServingResource):
        from orchestration.serving_postgres import postgres_url, publish_postgres, schema_prefix

        # Read at run time, never stored in the run's config: the URL may carry a password.
        url = postgres_url()
        if url is None:
            context.log.info("SERVING_POSTGRES_URL is not set: no PostgreSQL publish")
            return
        prefix = schema_prefix()
        rows = publish_postgres(Path(serving.serving_path), url, prefix=prefix,
                                say=context.log.info)
        yield dg.MaterializeResult(metadata={
            "schemas": ", ".join(f"{prefix}{s}" for s in ("marts", "definitions", "audit")),
            "tables": len(rows),
            "rows": dg.MetadataValue.json(rows),
        })

    return serving_postgres


def run_check_results(context: dg.AssetExecutionContext) -> list[dict]:
    """Every check evaluated so far in this run (all guards and dbt tests precede publish)."""
    records = context.instance.all_logs(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    out = []
    for record in records:
        ev = record.dagster_event.event_specific_data
        meta = ev.metadata or {}
        failing = meta.get("failing_rows") or meta.get("failures")
        tested = meta.get("tested")
        out.append({
            "asset": ev.asset_key.to_user_string(),
            "check_name": ev.check_name,
            "passed": bool(ev.passed),
            "severity": ev.severity.value,
            "failing_rows": int(failing.value) if failing is not None else None,
            "tested": str(tested.value) if tested is not None else (ev.description or None),
        })
    return out
