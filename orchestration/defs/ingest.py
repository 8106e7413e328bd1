"""Ingestion assets: one per extract of the landing contract, writing raw.<extract>."""


from pathlib import Path

import dagster as dg

from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.ingest.contract import EXTRACTS, Extract
from orchestration.ingest.loader import (
    ContractError,
    ExtractLoad,
    discover_files,
    ignored_landing_entries,
    load_extract,
)


def _file_table(result: ExtractLoad) -> str:
    lines = ["| file | read | loaded | rejected | new keys | updated |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {f.file_name} | {f.rows_read} | {f.rows_loaded} | {f.rows_rejected} | "
        f"{f.rows_inserted} | {f.rows_updated} |"
        for f in result.files
    ]
    return "\n".join(lines)


def build_ingest_asset(extract: Extract) -> dg.AssetsDefinition:
    optional = " Optional: an absent folder gives an empty table." if extract.optional else ""

    @dg.asset(
        key=["raw", extract.name],
        group_name="ingest",
        kinds={"duckdb", "csv"},
        pool=WAREHOUSE_POOL,
        description=(
            f"Loads landing/{extract.name}/*.csv|parquet into raw.{extract.name}: contract "
            f"check, type coercion, quarantine to raw.rejected_rows, upsert on "
            f"({', '.join(extract.key)}).{optional}"
        ),
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from expectations.runner import warm_up

        warm_up()  # the checks after the load need GX: it imports while DuckDB loads
        landing = Path(warehouse.landing_dir)
        files = discover_files(landing, extract.name)
        if not files and not extract.optional:
            context.log.warning(f"no files under {landing / extract.name}")
        for entry in ignored_landing_entries(landing, list(EXTRACTS)):
            if entry.startswith(f"{extract.name}/"):
                context.log.warning(f"ignored: {entry}")
        with warehouse.connect() as con:
            try:
                result = load_extract(
                    con,
                    extract,
                    files,
                    landing_dir=landing,
                    load_id=context.run.run_id,
                    source_timezone=warehouse.source_timezone,
                    null_placeholders=warehouse.null_placeholders,
                    future_tolerance_hours=warehouse.future_tolerance_hours,
                    progress=context.log.info,
                )
            except ContractError as exc:
                raise dg.Failure(
                    description=f"{exc} (nothing of {extract.name} was loaded in this run)",
                    metadata={"file": exc.file},
                ) from exc
        for rejected in result.rejected_files:
            context.log.warning(f"{rejected.file_name} rejected as a whole: {rejected.error} "
                                f"({rejected.rows_rejected} rows quarantined; the other files "
                                "load - fix the export and drop it again)")
        context.log.info(
            f"{extract.name}: {len(result.files)} new file(s), {len(result.skipped_files)} already "
            f"loaded; read {result.rows_read}, loaded {result.rows_loaded}, rejected "
            f"{result.rows_rejected}; table holds {result.table_rows} rows"
        )
        return dg.MaterializeResult(
            metadata={
                "rows_read": result.rows_read,
                "rows_loaded": result.rows_loaded,
                "rows_rejected": result.rows_rejected,
                "rejected_by_reason": dg.MetadataValue.json(result.rejected_by_reason),
                "files_loaded": len(result.files),
                "files_already_loaded": len(result.skipped_files),
                "files_rejected": dg.MetadataValue.json(
                    {f.file_name: f.error for f in result.rejected_files}),
                "dagster/row_count": result.table_rows,
                "files": dg.MetadataValue.md(_file_table(result)),
            }
        )

    return _ingest


def ingest_assets() -> list[dg.AssetsDefinition]:
    return [build_ingest_asset(e) for e in EXTRACTS.values()]
