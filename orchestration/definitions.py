"""The Dagster code location: assembles the definitions of orchestration/defs/.

Built lazily by @dg.definitions, so importing this module parses nothing.
"""

from __future__ import annotations

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


def build_definitions(settings=None) -> dg.Definitions:
    from orchestration.defs.ingest import ingest_assets
    from orchestration.defs.jobs import elt_job, ingest_job
    from orchestration.defs.resources import WarehouseResource
    from orchestration.defs.transform import dbt_resource, transform_assets
    from orchestration.settings import Settings, export_for_dbt

    settings = settings or Settings.from_env()
    export_for_dbt(settings)
    return dg.Definitions(
        assets=[*ingest_assets(), transform_assets()],
        jobs=[elt_job, ingest_job],
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "dbt": dbt_resource(),
        },
    )
