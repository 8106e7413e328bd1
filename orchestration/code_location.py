"""The Dagster code location (workspace.yaml): assembles the Dagster objects of
orchestration/defs/ - assets, checks, jobs, schedules, resources.

Built lazily by @dg.definitions, so importing this module parses nothing.
"""

from __future__ import annotations

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


def build_definitions(settings=None) -> dg.Definitions:
    from orchestration.defs.ingest import ingest_assets
    from orchestration.defs.jobs import audit_publish_job, elt_job, ingest_job
    from orchestration.defs.quality import (
        SERVING_ASSET_KEY,
        build_postgres_asset,
        build_publish_asset,
        guard_checks,
    )
    from orchestration.defs.reporting import (
        build_report_asset,
        weekly_partitions,
        weekly_report_job,
        weekly_report_schedule,
    )
    from orchestration.defs.resources import ServingResource, WarehouseResource
    from orchestration.defs.schedules import (
        daily_elt_schedule,
        landing_sensor,
        raw_freshness_checks,
    )
    from orchestration.defs.transform import dbt_resource, published_model_keys, transform_assets
    from orchestration.funnel_definitions import load_definitions
    from orchestration.settings import Settings

    settings = settings or Settings.from_env()
    dbt_models = transform_assets(settings)
    raw = ingest_assets()
    checks = guard_checks()
    timezone = load_definitions().reporting.timezone
    weeks = weekly_partitions(settings.report_first_week, timezone)
    report_job = weekly_report_job()
    return dg.Definitions(
        assets=[*raw, dbt_models, build_publish_asset(published_model_keys(dbt_models)),
                build_postgres_asset(), build_report_asset(weeks)],
        asset_checks=[*checks, *raw_freshness_checks(raw)],
        jobs=[elt_job, ingest_job, audit_publish_job(SERVING_ASSET_KEY), report_job],
        schedules=[daily_elt_schedule(elt_job, timezone), weekly_report_schedule(report_job)],
        sensors=[landing_sensor(ingest_job)],
        # Steps run one after another in the run's own process, as `funnel run` does: the
        # warehouse takes one writer at a time anyway, and a subprocess per step cost about
        # 9 s of start-up each.
        executor=dg.in_process_executor,
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "serving": ServingResource.from_settings(settings),
            "dbt": dbt_resource(settings),
        },
    )
