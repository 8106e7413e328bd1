"""The daily schedule and the landing sensor, evaluated with Dagster's test contexts."""

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from orchestration.defs.jobs import elt_job, ingest_job
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.schedules import daily_elt_schedule, landing_sensor, new_or_changed


def test_new_or_changed_compares_size_and_mtime():
    before = {"a.csv": [10, 1], "b.csv": [20, 2]}
    after = {"a.csv": [10, 1], "b.csv": [21, 3], "c.csv": [5, 4]}
    assert new_or_changed(before, after) == ["b.csv", "c.csv"]
    assert new_or_changed(after, after) == []


def evaluate(sensor, landing, cursor):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"warehouse": WarehouseResource(duckdb_path=str(landing / "w.duckdb"),
                                                  landing_dir=str(landing))})
    result = sensor.evaluate_tick(context)
    return result, result.cursor


def test_the_sensor_fires_once_per_new_or_changed_file(tmp_path):
    sensor = landing_sensor(ingest_job)
    folder = tmp_path / "crm_leads"
    folder.mkdir()
    (folder / "day1.csv").write_text("lead_id,created_at,acquisition_mode\nL1,2025-01-01,inbound\n")

    first, cursor = evaluate(sensor, tmp_path, None)
    assert len(first.run_requests) == 1
    again, cursor2 = evaluate(sensor, tmp_path, cursor)
    assert again.run_requests == [] and again.skip_message
    assert cursor2 == cursor or cursor2 is None

    (folder / "day2.csv").write_text("lead_id,created_at,acquisition_mode\nL2,2025-01-02,inbound\n")
    second, cursor = evaluate(sensor, tmp_path, cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].run_key != first.run_requests[0].run_key

    (folder / "day2.csv").write_text("lead_id,created_at,acquisition_mode\nL2,2025-01-03,inbound\n")
    os.utime(folder / "day2.csv", ns=(1, 2_000_000_000_000_000_000))
    changed, cursor = evaluate(sensor, tmp_path, cursor)
    assert len(changed.run_requests) == 1
    quiet, _ = evaluate(sensor, tmp_path, cursor)
    assert quiet.run_requests == []


def test_the_daily_schedule_runs_the_elt_job_at_six_in_the_reporting_zone():
    schedule = daily_elt_schedule(elt_job, "Europe/Paris")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "Europe/Paris"
    assert schedule.job_name == "elt"
    context = dg.build_schedule_context(scheduled_execution_time=None)
    result = schedule.evaluate_tick(context)
    assert len(result.run_requests) == 1


def report_schedule(tmp_path):
    from orchestration.code_location import build_definitions
    from tests.conftest import make_settings

    defs = build_definitions(make_settings(tmp_path))
    return defs, defs.resolve_schedule_def("weekly_report_monday")


def test_the_weekly_report_schedule_runs_on_monday_at_seven_in_the_reporting_zone(tmp_path):
    from orchestration.funnel_definitions import load_definitions

    defs, schedule = report_schedule(tmp_path)
    assert schedule.cron_schedule == "0 7 * * 1"
    assert schedule.execution_timezone == load_definitions().reporting.timezone
    assert schedule.job_name == "weekly_report"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    job = defs.resolve_job_def("weekly_report")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"reporting/weekly_funnel_report", "serving/warehouse"} <= keys


@pytest.mark.parametrize(("moment_utc", "week"), [
    # Monday 07:00 in Paris (CET, UTC+1): the week that ended at midnight
    (datetime(2026, 11, 23, 6, 0), "2026-W47"),
    # across the year boundary: 2026 has 53 ISO weeks
    (datetime(2027, 1, 4, 6, 0), "2026-W53"),
    (datetime(2027, 1, 11, 6, 0), "2027-W01"),
    # in summer time (CEST, UTC+2)
    (datetime(2026, 6, 29, 5, 0), "2026-W26"),
])
def test_the_weekly_schedule_targets_the_previous_iso_week(tmp_path, moment_utc, week):
    from orchestration.reporting.weeks import week_label

    defs, schedule = report_schedule(tmp_path)
    tz = ZoneInfo(schedule.execution_timezone)
    local = moment_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    assert (local.weekday(), local.hour) == (0, 7)
    result = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=local))
    [request] = result.run_requests
    assert week_label(date.fromisoformat(request.partition_key)) == week
