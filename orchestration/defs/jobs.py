"""Jobs: the whole ELT graph, and ingestion alone."""

from __future__ import annotations

import dagster as dg

# One run at a time writes the warehouse: the instance's run queue starts runs with this tag
# one by one (dagster_home/dagster.yaml, tag_concurrency_limits); `funnel` runs hold the
# warehouse's run lock, which the steps of these runs check before opening it.
WRITES_WAREHOUSE = {"funnel/writes_warehouse": "true"}

elt_job = dg.define_asset_job(
    "elt",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("reporting"),
    description="Landing files -> raw -> dbt (staging, intermediate, marts) -> quality checks "
                "-> publish the serving file. The week-partitioned report has its own job.",
    tags=WRITES_WAREHOUSE,
)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load new landing files into raw.* only.",
    tags=WRITES_WAREHOUSE,
)


def audit_selection(serving_key: dg.AssetKey) -> dg.AssetSelection:
    """Every check of the code location - the guards, dbt's data tests (run by the dbt asset
    without building a model), the freshness checks - and the publish step they gate: the
    same checks as a full run, so a publish from an audit lists the same set - and the
    PostgreSQL copy of the publish, so both serving targets show one publish."""
    from orchestration.defs.quality import POSTGRES_ASSET_KEY

    return (dg.AssetSelection.all_asset_checks()
            | dg.AssetSelection.assets(serving_key, POSTGRES_ASSET_KEY))


def audit_publish_job(serving_key: dg.AssetKey) -> dg.UnresolvedAssetJobDefinition:
    """Re-run every check on the warehouse as it is, and publish if the blocking ones pass."""
    return dg.define_asset_job(
        "audit_publish",
        selection=audit_selection(serving_key),
        description="Every check (guards and dbt data tests) on the warehouse as it is, then "
        "publish when the blocking ones pass (no loading, no model built).",
        tags=WRITES_WAREHOUSE,
    )
