"""Jobs: the whole ELT graph, and ingestion alone."""

from __future__ import annotations

import dagster as dg

elt_job = dg.define_asset_job(
    "elt",
    selection=dg.AssetSelection.all(),
    description="Landing files -> raw -> dbt staging (and every later layer), with checks.",
)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load new landing files into raw.* only.",
)
