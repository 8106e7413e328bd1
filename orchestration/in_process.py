"""Run the whole ELT graph in-process through Dagster, and summarise what it produced.

The CLI (`funnel run`, `make run`) and the end-to-end test call this, so what a person runs is
what the test checks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from orchestration.ingest.contract import EXTRACTS
from orchestration.ingest.loader import discover_files, ignored_landing_entries
from orchestration.processes import alive, exclusive_run
from orchestration.reporting.data import NoCompleteWeek, ReportError
from orchestration.reporting.weeks import last_complete_week, week_label, week_start
from orchestration.settings import Settings, connect_read_only

DBT_SCHEMAS = ("staging", "definitions", "intermediate", "marts")


@dataclass
class ExtractSummary:
    extract: str
    files: int
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    raw_rows: int
    staging_model: str
    staging_rows: int | None


@dataclass
class RunSummary:
    success: bool
    seconds: float
    duckdb_path: Path
    extracts: list[ExtractSummary] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    demo_generated: bool = False
    funnel: dict[str, int] = field(default_factory=dict)
    checks_passed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    published_to: Path | None = None
    published_to_postgres: str = ""  # the schemas, when SERVING_POSTGRES_URL is set
    nothing_new: bool = False  # dbt had nothing to rebuild: the serving file is current
    rejected_files: list[tuple[str, str]] = field(default_factory=list)  # this run: (file, why)
    notes: list[str] = field(default_factory=list)  # what the publish wants a person to know
    ignored: list[str] = field(default_factory=list)  # landing entries no extract reads
    models_built: int = 0
    models_left: int = 0  # left as the last build made them: nothing they read changed
    report: Path | None = None
    report_note: str = ""
    lake_dir: Path | None = None  # FUNNEL_ENGINE=spark: where Spark read and built the tables

    def render(self) -> str:
        head = f"{'extract':20} {'files':>5} {'read':>11} {'loaded':>11} {'rejected':>9} " \
               f"{'raw rows':>11}  {'staging model':26} {'rows':>11}"
        lines = [head, "-" * len(head)]
        for e in self.extracts:
            staging = "-" if e.staging_rows is None else f"{e.staging_rows:,}"
            lines.append(
                f"{e.extract:20} {e.files:>5} {e.rows_read:>11,} {e.rows_loaded:>11,} "
                f"{e.rows_rejected:>9,} {e.raw_rows:>11,}  {e.staging_model:26} {staging:>11}"
            )
        if self.rejected_files:
            lines.append("")
            lines.append("Files rejected as a whole (their rows are quarantined; the other files "
                         "loaded - fix the export and drop it again):")
            lines += [f"  {name}: {why}" for name, why in self.rejected_files]
        if self.ignored:
            lines.append("")
            lines.append("Ignored in the landing folder:")
            lines += [f"  {entry}" for entry in self.ignored]
        if self.funnel:
            f = dict(self.funnel)
            lines.append("")
            lines.append(
                f"Funnel (definitions {f.pop('definitions_version', '?')}): "
                + ", ".join(f"{k} {v:,}" for k, v in f.items())
            )
        if self.models_left:
            lines.append("")
            lines.append(f"dbt: {self.models_built} models rebuilt; {self.models_left} left as "
                         "the last build made them, nothing they read having changed (their own "
                         "tests not run again)")
        if self.checks_passed or self.checks_warned or self.checks_failed:
            lines.append("")
            lines.append(f"Checks: {len(self.checks_passed)} passed, {len(self.checks_warned)} "
                         f"warned, {len(self.checks_failed)} failed")
            lines += [f"  warned: {c}" for c in self.checks_warned]
            lines += [f"  FAILED: {c}" + (f" - {hint}" if (hint := failure_hint(c)) else "")
                      for c in self.checks_failed]
            if self.published_to:
                lines.append(f"Serving file: published to {self.published_to}")
                lines += [f"  note: {n}" for n in self.notes]
                if self.published_to_postgres:
                    lines.append(f"PostgreSQL: published to schemas {self.published_to_postgres}")
            elif self.nothing_new:
                lines.append("Serving file: unchanged - nothing was loaded since the published "
                             "build, and the definitions and dbt code are the same")
            else:
                lines.append("Serving file: NOT published (a blocking check failed or the run "
                             "stopped); the last good one stays")
        if self.report:
            lines.append(f"Weekly report: {self.report}")
        elif self.report_note:
            lines.append(f"Weekly report: {self.report_note}")
        status = "succeeded" if self.success else "FAILED"
        lines.append("")
        engine = f" Models built on Spark (lake: {self.lake_dir})." if self.lake_dir else ""
        lines.append(f"Run {status} in {self.seconds:.1f} s. Warehouse: {self.duckdb_path}.{engine}")
        if any(e.rows_rejected for e in self.extracts):
            lines.append("Quarantined rows (file, line, column, reason): select * from raw.rejected_rows")
        lines += [f"  failed: {f}" for f in self.failures]
        return "\n".join(lines)


# What to do when one of these checks fails (the others name the rows in their metadata).
FAILURE_HINTS = {
    "warehouse_built_with_the_definitions_in_force":
        "the definitions file changed since the warehouse was built: run `funnel run` "
        "(or `funnel dbt build`) to rebuild it with the file in force, then publish",
    "uses_the_definitions_in_force":
        "a mart holds rows of other definitions than def_settings: run `funnel run "
        "--full-refresh`",
}


def failure_hint(check: str) -> str:
    """The remedy for a failed check named `asset:check`, when there is a standard one."""
    name = check.rsplit(":", 1)[-1]
    return next((hint for key, hint in FAILURE_HINTS.items() if name.startswith(key)), "")


def landing_is_empty(settings: Settings) -> bool:
    return not any(discover_files(settings.landing_dir, name) for name in EXTRACTS)


def warehouse_has_leads(duckdb_path: Path) -> bool:
    """The warehouse already holds leads (landing files may have been archived since). True
    when it cannot be told (a writer holds the file): the run then reports what it finds."""
    import duckdb

    if not duckdb_path.exists():
        return False
    try:
        con = connect_read_only(duckdb_path)
    except duckdb.Error:
        return True
    try:
        return con.execute("select count(*) from raw.crm_leads").fetchone()[0] > 0
    except duckdb.Error:
        return False
    finally:
        con.close()


def dagster_instance():
    """The persistent instance when DAGSTER_HOME is set (runs show in the UI), else ephemeral."""
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


def release_abandoned_runs(instance, say: Callable[[str], None] = print) -> list[str]:
    """Fail the runs whose process died mid-run (killed, out of memory, machine restarted)
    and free the warehouse pool slots they held: otherwise the next run waits for those
    slots forever, saying nothing. Only runs that executed in a process of this machine
    that no longer exists are touched. Returns their run ids."""
    from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

    released = []
    for run in instance.get_runs(filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])):
        pids = [int(ev.dagster_event.engine_event_data.metadata["pid"].value)
                for ev in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
                if ev.dagster_event and ev.dagster_event.engine_event_data
                and "pid" in ev.dagster_event.engine_event_data.metadata]
        if not pids or any(alive(pid) for pid in pids):
            continue
        instance.report_run_failed(
            run, f"its process (pid {pids[-1]}) ended without finishing the run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"Run {run.run_id[:8]} of {run.job_name} was abandoned (its process "
            f"{pids[-1]} is gone): marked failed, its warehouse pool slot freed.")
        released.append(run.run_id)
    return released


def run_pipeline(
    settings: Settings,
    *,
    demo_leads_if_empty: int | None = None,
    seed: int = 42,
    full_refresh: bool = False,
    say: Callable[[str], None] = print,
) -> RunSummary:
    with exclusive_run(settings.duckdb_path):
        return _run_pipeline(settings, demo_leads_if_empty, seed, full_refresh, say)


def _run_pipeline(settings: Settings, demo_leads_if_empty: int | None, seed: int,
                  full_refresh: bool, say: Callable[[str], None]) -> RunSummary:
    start = time.perf_counter()
    demo = False
    if demo_leads_if_empty and landing_is_empty(settings):
        from orchestration.demo.generator import DemoConfig, generate

        say(f"Landing folder {settings.landing_dir} is empty: generating "
            f"{demo_leads_if_empty:,} demo leads (seed {seed}).")
        generate(DemoConfig(leads=demo_leads_if_empty, seed=seed), settings.landing_dir,
                 progress=lambda m: say(f"  demo: {m}"))
        demo = True
    if not settings.landing_dir.is_dir():
        raise FileNotFoundError(
            f"Landing folder {settings.landing_dir} does not exist. Set LANDING_DIR, or run "
            "`funnel demo` to create demo extracts."
        )
    if landing_is_empty(settings) and not warehouse_has_leads(settings.duckdb_path):
        raise FileNotFoundError(
            f"No data: no extract file under {settings.landing_dir} (one folder per extract: "
            f"{', '.join(EXTRACTS)}) and no lead in the warehouse {settings.duckdb_path}. "
            "Generate demo data (`funnel demo`, or `funnel run --demo-leads 20000`) or import "
            "an export (`funnel import --preset ...`).")

    summary = run_job(settings, "elt", say=say, start=start, demo=demo, full_refresh=full_refresh)
    summary.ignored = ignored_landing_entries(settings.landing_dir, list(EXTRACTS))
    if summary.nothing_new:
        say("Nothing new since the published build: dbt, the checks on the marts and the "
            "publish step were skipped.")
    elif not summary.published_to:
        summary.report_note = "not built: the warehouse was not published in this run"
        return summary
    try:
        week = default_report_week(settings)
        say(f"Building the weekly report of {week_label(week)} from the serving file.")
        summary.report = run_report(settings, week, say=say)
    except NoCompleteWeek as why:  # a first load of a few days: nothing failed
        summary.report_note = f"not built yet: {why}"
    except ReportError as error:
        summary.report_note = f"not built: {error}"
        summary.success = False
    summary.seconds = time.perf_counter() - start
    return summary


def default_report_week(settings: Settings) -> date:
    """The last complete ISO week of the published data, but never a week not yet over."""
    from orchestration.funnel_definitions import load_definitions
    from orchestration.reporting.data import data_range, open_serving

    con = open_serving(settings.serving_path)
    try:
        _, last_of_data, _, _ = data_range(con)
    finally:
        con.close()
    now = last_complete_week(datetime.now(UTC), load_definitions().reporting.timezone)
    return min(last_of_data, now)


def run_report(settings: Settings, week: date, *, say: Callable[[str], None] = print) -> Path:
    """Build one week's report through Dagster (it shows in the UI), from the serving file.

    Raises ReportError, before starting Dagster, for a week the report cannot be built for.
    """
    from orchestration.code_location import build_definitions
    from orchestration.defs.reporting import REPORT_ASSET_KEY
    from orchestration.reporting.build import report_paths
    from orchestration.reporting.data import check_week, open_serving

    con = open_serving(settings.serving_path)
    try:
        check_week(con, week)
    finally:
        con.close()
    if week < week_start(settings.report_first_week):
        # Older than the schedule's partitions (e.g. an imported history): build it directly.
        from orchestration.reporting.build import build_weekly_report

        files = build_weekly_report(settings.serving_path, week, settings.reports_path)
        say(f"Report written: {files.html} ({files.html_bytes / 1024:,.0f} KiB; "
            f"{files.week} is before REPORT_FIRST_WEEK={settings.report_first_week}, so it "
            "is not a Dagster partition - set REPORT_FIRST_WEEK earlier to backfill in the UI)")
        return files.html
    defs = build_definitions(settings)
    job = defs.resolve_job_def("weekly_report")
    instance = dagster_instance()
    release_abandoned_runs(instance, say)
    result = job.execute_in_process(
        instance=instance, partition_key=week.isoformat(),
        asset_selection=[REPORT_ASSET_KEY], raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    if not result.success:
        errors = [step_failure_reason(ev.event_specific_data.error)
                  for ev in result.all_events
                  if ev.is_step_failure and ev.event_specific_data and ev.event_specific_data.error]
        raise ReportError("; ".join(errors) or "the report run failed (see the Dagster logs)")
    html = report_paths(settings.reports_path, week)[0]
    say(f"Report written: {html} ({html.stat().st_size / 1024:,.0f} KiB)")
    return html


def run_job(settings: Settings, job_name: str, *, say: Callable[[str], None] = print,
            start: float | None = None, demo: bool = False,
            full_refresh: bool = False) -> RunSummary:
    """Execute one job of the code location in-process and summarise the warehouse after it."""
    with exclusive_run(settings.duckdb_path):
        return _run_job(settings, job_name, say, start, demo, full_refresh)


def _run_job(settings: Settings, job_name: str, say: Callable[[str], None],
             start: float | None, demo: bool, full_refresh: bool) -> RunSummary:
    from orchestration.code_location import build_definitions

    start = start if start is not None else time.perf_counter()
    say("Loading the Dagster definitions (dbt manifest is parsed only when the project changed).")
    defs = build_definitions(settings)
    job = defs.resolve_job_def(job_name)
    say(f"Materializing {len(list(job.asset_layer.executable_asset_keys))} assets in-process.")
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if full_refresh:
        run_config["ops"] = {"dbt_models": {"config": {"full_refresh": True}}}
    instance = dagster_instance()
    release_abandoned_runs(instance, say)
    run_started = datetime.now(UTC).replace(tzinfo=None)
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config)
    failures = [
        f"{ev.step_key}: {step_failure_reason(ev.event_specific_data.error)}"
        for ev in result.all_events
        if ev.is_step_failure and ev.event_specific_data and ev.event_specific_data.error
    ]
    summary = RunSummary(
        success=result.success,
        seconds=time.perf_counter() - start,
        duckdb_path=settings.duckdb_path,
        failures=failures,
        demo_generated=demo,
        lake_dir=settings.lake_path if settings.engine == "spark" else None,
    )
    collect_checks(result, summary, settings)
    dbt_ran = any(ev.is_step_success and ev.step_key == "dbt_models" for ev in result.all_events)
    summary.nothing_new = dbt_ran and not summary.models_built
    if settings.duckdb_path.exists():
        import duckdb

        try:
            summary.extracts = summarise_warehouse(settings.duckdb_path)
            summary.funnel = summarise_funnel(settings.duckdb_path)
            summary.rejected_files = rejected_files(settings.duckdb_path, run_started)
        except duckdb.Error:  # held by another process: the failed steps already say by whom
            summary.success = False
    return summary


def rejected_files(duckdb_path: Path, since: datetime) -> list[tuple[str, str]]:
    """Landing files rejected as a whole by loads that finished after `since`."""
    import duckdb

    con = connect_read_only(duckdb_path)
    try:
        return con.execute(
            """select file_name, file_error from raw.load_log
               where file_status = 'rejected' and finished_at >= ? order by 1""",
            [since]).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()


def summarise_funnel(duckdb_path: Path) -> dict:
    """Stage counts from the lifecycle mart, when it was built."""
    con = connect_read_only(duckdb_path)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'fct_lead_lifecycle'").fetchone()[0]
        if not exists:
            return {}
        row = con.execute(
            """select count(*), count(mql_at), count(sql_at), count(opportunity_at),
                      count(customer_at), count(*) filter (where is_excluded),
                      any_value(definitions_version)
               from marts.fct_lead_lifecycle""").fetchone()
        exceptions = con.execute("select count(*) from marts.fct_definition_exceptions").fetchone()[0]
    finally:
        con.close()
    keys = ["leads", "MQLs", "SQLs", "opportunities", "customers", "excluded"]
    out = dict(zip(keys, row[:6], strict=True))
    out["definition exceptions"] = exceptions
    out["definitions_version"] = row[6]
    return out


def collect_checks(result, summary: RunSummary, settings: Settings) -> None:
    """Sort the run's check evaluations into passed, warned and failed."""
    from dagster import AssetCheckSeverity, DagsterEventType

    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
            if ev.passed:
                summary.checks_passed.append(name)
            elif ev.severity == AssetCheckSeverity.WARN:
                note = (ev.metadata or {}).get("note")
                summary.checks_warned.append(name + (f" - {note.value}" if note else ""))
            else:
                summary.checks_failed.append(name)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key:
            if event.asset_key.path == ["serving", "warehouse"]:
                summary.published_to = settings.serving_path
                notes = event.event_specific_data.materialization.metadata.get("notes")
                summary.notes += list(notes.value) if notes is not None else []
            elif event.asset_key.path == ["serving", "postgres"]:
                metadata = event.event_specific_data.materialization.metadata
                summary.published_to_postgres = str(metadata["schemas"].value)
            elif event.asset_key.path[0] in DBT_SCHEMAS:
                rebuilt = event.event_specific_data.materialization.metadata.get("rebuilt")
                # a model a daily build left as it was (defs/transform.py unchanged_results)
                if rebuilt is None or rebuilt.value:
                    summary.models_built += 1
                else:
                    summary.models_left += 1


def failure_reason(message: str) -> str:
    """The part of a step's error a person needs: dbt's own errors when dbt failed."""
    text = message.strip()
    marker = "Errors parsed from dbt logs:"
    if marker in text:
        lines = [ln.strip() for ln in text.split(marker, 1)[1].splitlines() if ln.strip()]
        useful = [ln for ln in lines if not ln.startswith(("Encountered an error", "Done."))]
        return " | ".join(useful[:6])
    return text.splitlines()[0] if text else ""


# Dagster's wrappers around the error that happened, which say nothing of the cause.
_WRAPPERS = ("Error occurred while executing", "dagster._core.errors.Dagster")


def step_failure_reason(error) -> str:
    """The cause of a failed step in one line: dbt's errors, the blocking checks that failed,
    or the innermost error (a full disk, a locked file, a rejected file), with its class when
    that says something (OSError: [Errno 28] No space left on device: '...')."""
    chain = []
    while error is not None:
        chain.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    for err in chain:
        if "Errors parsed from dbt logs:" in (err.message or ""):
            return failure_reason(err.message)
    for err in chain:
        if err.cls_name == "DagsterAssetCheckFailedError":
            lines = [ln.strip() for ln in (err.message or "").splitlines() if ln.strip()]
            return "blocking check(s) failed: " + ", ".join(
                ln.lstrip("- ") for ln in lines[1:]) if len(lines) > 1 else lines[0]
    root = chain[-1]
    text = failure_reason(root.message or "")
    for prefix in (f"{root.cls_name}: ", f"dagster._core.definitions.events.{root.cls_name}: "):
        text = text.removeprefix(prefix)
    if root.cls_name in ("Failure", "WarehouseLocked") or text.startswith(_WRAPPERS):
        return text
    return f"{root.cls_name}: {text}"


def summarise_warehouse(duckdb_path: Path) -> list[ExtractSummary]:
    con = connect_read_only(duckdb_path)
    try:
        tables = {
            (s, t)
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        log = {}
        if ("raw", "load_log") in tables:
            log = {
                r[0]: r[1:]
                for r in con.execute(
                    """select extract, count(*), sum(rows_read), sum(rows_loaded),
                              sum(rows_rejected)
                       from raw.load_log group by 1"""
                ).fetchall()
            }
        out = []
        for name, extract in EXTRACTS.items():
            files, read, loaded, rejected = log.get(name, (0, 0, 0, 0))
            raw_rows = (
                con.execute(f"select count(*) from raw.{name}").fetchone()[0]
                if ("raw", name) in tables
                else 0
            )
            staging_rows = (
                con.execute(f"select count(*) from staging.{extract.staging_model}").fetchone()[0]
                if ("staging", extract.staging_model) in tables
                else None
            )
            out.append(ExtractSummary(name, files, read, loaded, rejected, raw_rows,
                                      extract.staging_model, staging_rows))
        return out
    finally:
        con.close()
