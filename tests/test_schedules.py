"""The daily schedule and the landing sensor, evaluated with Dagster's test contexts."""

import os

import dagster as dg

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
