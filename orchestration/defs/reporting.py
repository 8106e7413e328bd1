"""The weekly leadership report as a week-partitioned asset, its job and its Monday schedule.

The report reads only the serving file. The weekly job first re-runs every check (the guards
and dbt's data tests) on the warehouse and publishes it when the blocking ones pass, so a
Monday report never shows numbers that fail a check: a failing check stops the run before the
report and names itself. A
backfill of past weeks selects the report asset alone and reads the published file as it is.
"""

from datetime import date

import dagster as dg

from orchestration.defs.quality import SERVING_ASSET_KEY
from orchestration.defs.resources import ServingResource

REPORT_ASSET_KEY = dg.AssetKey(["reporting", "weekly_funnel_report"])


def weekly_partitions(first_week: str, timezone: str) -> dg.WeeklyPartitionsDefinition:
    """ISO weeks (Monday to Sunday) in the reporting timezone; a partition key is its Monday."""
    from orchestration.reporting.weeks import week_start

    return dg.WeeklyPartitionsDefinition(start_date=week_start(first_week).isoformat(),
                                         day_offset=1, timezone=timezone)


def build_report_asset(partitions: dg.WeeklyPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=REPORT_ASSET_KEY,
        deps=[SERVING_ASSET_KEY],
        partitions_def=partitions,
        group_name="reporting",
        kinds={"html"},
        description=(
            "The weekly funnel report for leadership, one partition per ISO week: "
            "reports/weekly/funnel_<YYYY>-W<WW>.html (self-contained, charts inline), a "
            "Markdown summary for chat and the KPI table as CSV. Reads the serving file only."
        ),
    )
    def weekly_funnel_report(context: dg.AssetExecutionContext, serving: ServingResource):
        from pathlib import Path

        from orchestration.reporting.build import build_weekly_report
        from orchestration.reporting.data import ReportError

        week = date.fromisoformat(context.partition_key)
        try:
            files = build_weekly_report(Path(serving.serving_path), week, Path(serving.reports_dir))
        except ReportError as error:
            raise dg.Failure(description=str(error)) from None
        context.log.info(f"report {files.week}: {files.html} ({files.html_bytes:,} bytes, "
                         f"{files.seconds:.1f} s)")
        return dg.MaterializeResult(metadata={
            "week": files.week,
            "html": dg.MetadataValue.path(str(files.html)),
            "markdown": dg.MetadataValue.path(str(files.markdown)),
            "csv": dg.MetadataValue.path(str(files.csv)),
            **({"worklist_csv": dg.MetadataValue.path(str(files.worklist_csv))}
               if files.worklist_csv else {}),
            "html_bytes": files.html_bytes,
            "seconds": round(files.seconds, 2),
            "summary": dg.MetadataValue.md(files.markdown.read_text(encoding="utf-8")),
        })

    return weekly_funnel_report


def weekly_report_job():
    from orchestration.defs.jobs import WRITES_WAREHOUSE, audit_selection

    return dg.define_asset_job(
        "weekly_report",
        selection=audit_selection(SERVING_ASSET_KEY) | dg.AssetSelection.assets(REPORT_ASSET_KEY),
        description="Audit the warehouse (every guard and dbt data test), publish it when the "
                    "blocking checks pass, then build the week's report from the published file.",
        tags=WRITES_WAREHOUSE,
    )


def weekly_report_schedule(job) -> dg.ScheduleDefinition:
    """Monday 07:00 in the reporting timezone, for the ISO week that ended at midnight."""
    return dg.build_schedule_from_partitioned_job(
        job, hour_of_day=7, minute_of_hour=0, name="weekly_report_monday",
        description="Every Monday at 07:00 (reporting timezone): audit, publish, and build the "
                    "report of the last complete ISO week.",
        default_status=dg.DefaultScheduleStatus.STOPPED)
