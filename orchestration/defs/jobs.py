"""Jobs: the whole ELT graph, and ingestion alone."""

from __future__ import annotations

import dagster as dg

elt_job = dg.define_asset_job(
    "elt",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("reporting"),
    description="Landing files -> raw -> dbt (staging, intermediate, marts) -> quality checks "
                "-> publish the serving file. The week-partitioned report has its own job.",
)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load new landing files into raw.* only.",
)


def audit_publish_job(guard_checks, serving_key: dg.AssetKey) -> dg.UnresolvedAssetJobDefinition:
    """Re-run the quality guards on the warehouse as it is, and publish if they pass."""
    return dg.define_asset_job(
        "audit_publish",
        selection=dg.AssetSelection.checks(*guard_checks) | dg.AssetSelection.assets(serving_key),
        description="Quality guards on the warehouse as it is, then publish when the blocking "
        "ones pass (no loading, no dbt).",
    )
