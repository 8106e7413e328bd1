"""How the warehouse runs by itself: a daily ELT schedule, a sensor on the landing folder,
and freshness checks on the raw extracts. All switchable in the Dagster UI."""

import hashlib
import json
import warnings
from datetime import timedelta
from pathlib import Path

import dagster as dg

from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.contract import EXTRACTS
from orchestration.ingest.loader import discover_files

# A raw extract that has not been loaded for this long warns (daily drops are the norm).
RAW_FRESHNESS = timedelta(days=2)


def landing_signature(landing_dir: Path) -> dict[str, list[int]]:
    """Every landing file with its size and modification time: what the sensor compares."""
    files = {}
    for extract in EXTRACTS:
        for path in discover_files(landing_dir, extract):
            stat = path.stat()
            files[str(path.relative_to(landing_dir))] = [stat.st_size, stat.st_mtime_ns]
    return files


def new_or_changed(previous: dict[str, list[int]], current: dict[str, list[int]]) -> list[str]:
    """Files that appeared or changed since the cursor (pure, unit-tested)."""
    return sorted(name for name, sig in current.items() if previous.get(name) != sig)


def daily_elt_schedule(elt_job, timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_elt",
        cron_schedule="0 6 * * *",
        execution_timezone=timezone,
        job=elt_job,
        description=f"Every day at 06:00 {timezone}: load new files, rebuild, check, publish.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )


def landing_sensor(ingest_job) -> dg.SensorDefinition:
    @dg.sensor(
        name="new_landing_files",
        job=ingest_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts an ingestion run when files appear or change under the landing "
        "folder. The cursor remembers every file's size and modification time, so a file "
        "triggers once.",
    )
    def new_landing_files(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        landing = Path(warehouse.landing_dir)
        previous = json.loads(context.cursor) if context.cursor else {}
        current = landing_signature(landing) if landing.is_dir() else {}
        changed = new_or_changed(previous, current)
        if not changed:
            return dg.SkipReason(f"no new or changed files under {landing}")
        context.update_cursor(json.dumps(current, sort_keys=True))
        run_key = hashlib.sha256(
            json.dumps({n: current[n] for n in changed}, sort_keys=True).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=run_key, tags={"landing_files": str(len(changed))})

    return new_landing_files


def raw_freshness_checks(raw_assets) -> list:
    # Dagster 1.13 prefers FreshnessPolicy, which only the daemon evaluates; these checks also
    # run in-process and show as checks (SPEC §11), so the supersession notice is silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return list(dg.build_last_update_freshness_checks(assets=raw_assets,
                                                          lower_bound_delta=RAW_FRESHNESS))
