"""`funnel bench`: time every step of a full run on generated data, and say on what machine.

Speed targets are proven by this command's figures, not by timed tests.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings


@dataclass
class Step:
    name: str
    seconds: float
    rows: int | None = None


@dataclass
class BenchResult:
    leads: int
    seed: int
    machine: dict
    steps: list[Step] = field(default_factory=list)
    data_bytes: int = 0
    total_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    success: bool = True
    memory_limit: str = ""
    baseline_seconds: float = 0.0
    baseline_rows: int = 0

    def render(self) -> str:
        m = self.machine
        lines = [
            f"Benchmark: {self.leads:,} leads (seed {self.seed}), landing data "
            f"{self.data_bytes / 1e6:,.0f} MB",
            f"Machine: {m['cores']} cores, {m['memory_gb']:.1f} GiB, {m['platform']}, "
            f"Python {m['python']}, duckdb {m['duckdb']}, dbt-core {m['dbt-core']}, "
            f"dagster {m['dagster']}",
            "",
            f"{'step':48} {'seconds':>9} {'rows':>14}",
            "-" * 73,
        ]
        for s in self.steps:
            rows = "" if s.rows is None else f"{s.rows:,}"
            lines.append(f"{s.name:48} {s.seconds:>9.1f} {rows:>14}")
        lines += ["-" * 73,
                  f"{'total (generation excluded)':48} {self.total_seconds:>9.1f}"]
        if self.baseline_seconds:
            lines += [f"{'baseline: load activities + running sum per lead':48} "
                      f"{self.baseline_seconds:>9.1f} {self.baseline_rows:>14,}",
                      f"{'ratio total / baseline (target <= 3)':48} "
                      f"{self.total_seconds / self.baseline_seconds:>9.1f}"]
        lines += [f"peak RSS (largest process): {self.peak_rss_mb:,.0f} MB "
                  f"(DuckDB memory limit {self.memory_limit})",
                  f"run {'succeeded' if self.success else 'FAILED'}"]
        return "\n".join(lines)


def compare(a: dict, b: dict) -> str:
    """Per-step growth between two saved bench results (a smaller, b larger)."""
    scale = b["leads"] / a["leads"]
    before = {s["name"]: s["seconds"] for s in a["steps"]}
    lines = [f"Growth from {a['leads']:,} to {b['leads']:,} leads ({scale:g} x the data); "
             f"a step growing more than {scale * 1.25:g} x is flagged",
             f"{'step':48} {'small s':>8} {'large s':>8} {'growth':>7}"]
    for step in b["steps"]:
        small = before.get(step["name"])
        if small is None or small < 0.5:
            continue
        growth = step["seconds"] / small
        flag = "  <- faster than linear" if growth > scale * 1.25 else ""
        lines.append(f"{step['name']:48} {small:>8.1f} {step['seconds']:>8.1f} {growth:>6.1f}x"
                     f"{flag}")
    lines.append(f"{'total':48} {a['total_seconds']:>8.1f} {b['total_seconds']:>8.1f} "
                 f"{b['total_seconds'] / a['total_seconds']:>6.1f}x")
    return "\n".join(lines)


def baseline(landing: Path, workdir: Path, config: dict) -> tuple[float, int]:
    """The least any point-in-time scoring must do: load the activities into a table and
    compute one running sum per lead ordered by time (SPEC targets are ratios to this)."""
    db = workdir / "baseline.duckdb"
    db.unlink(missing_ok=True)
    files = str(landing / "crm_activities" / "*.csv")
    start = time.perf_counter()
    con = duckdb.connect(str(db), config=config)
    try:
        # demo data holds a few dirty rows on purpose: the baseline skips them
        con.execute(f"create table activities as select * from read_csv('{files}', "
                    "header = true, union_by_name = true, ignore_errors = true)")
        con.execute("""create table running as
                       select lead_id, occurred_at,
                              count(*) over (partition by lead_id order by occurred_at
                                             rows between unbounded preceding and current row)
                                  as running_count
                       from activities""")
        rows = con.execute("select count(*) from running").fetchone()[0]
    finally:
        con.close()
        db.unlink(missing_ok=True)
    return time.perf_counter() - start, rows


def machine_info() -> dict:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = 0.0
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dbt-core": version("dbt-core"),
        "dagster": version("dagster"),
    }


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux; children covers the dbt subprocess.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _latest_run_results(since: float) -> dict | None:
    candidates = [p for p in (DBT_PROJECT_DIR / "target").rglob("run_results.json")
                  if p.stat().st_mtime >= since]
    if not candidates:
        return None
    return json.loads(max(candidates, key=lambda p: p.stat().st_mtime).read_text())


def _table_rows(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                for s, t in tables}
    finally:
        con.close()


def run_bench(leads: int, seed: int = 42, workdir: Path | None = None, keep: bool = False,
              say: Callable[[str], None] = print) -> BenchResult:
    from orchestration.demo.generator import DemoConfig, generate
    from orchestration.pipeline import dagster_instance, run_pipeline

    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="funnel-bench-"))
    landing = root / "landing"
    configured = Settings.from_env()  # DUCKDB_MEMORY_LIMIT and DUCKDB_TEMP_DIR apply here too
    settings = Settings(duckdb_path=root / "warehouse" / "funnel.duckdb", landing_dir=landing,
                        null_placeholders=configured.null_placeholders,
                        memory_limit=configured.memory_limit, temp_dir=configured.temp_dir)
    result = BenchResult(leads=leads, seed=seed, machine=machine_info())
    try:
        marker = landing / f".generated-{leads}-{seed}"
        start = time.perf_counter()
        if not marker.exists():
            say(f"generating {leads:,} leads into {landing}")
            generate(DemoConfig(leads=leads, seed=seed), landing, progress=lambda m: say(f"  {m}"))
            marker.touch()
            result.steps.append(Step("generate demo data (not in total)", time.perf_counter() - start))
        result.data_bytes = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
        if settings.duckdb_path.exists():
            settings.duckdb_path.unlink()

        say("running the pipeline through Dagster")
        run_started = time.time()
        start = time.perf_counter()
        summary = run_pipeline(settings, say=lambda m: say(f"  {m}"))
        result.total_seconds = time.perf_counter() - start
        result.success = summary.success
        rows = _table_rows(settings.duckdb_path)

        instance = dagster_instance()
        from expectations.suites import guard_names

        guards = guard_names()
        # the ELT run, then the report run of run_pipeline
        runs = [r for r in instance.get_run_records(limit=10)
                if r.create_timestamp.timestamp() >= run_started - 1]
        for record in sorted(runs, key=lambda r: r.create_timestamp):
            for stat in instance.get_run_step_stats(record.dagster_run.run_id):
                if not (stat.start_time and stat.end_time):
                    continue
                seconds = stat.end_time - stat.start_time
                guard = next((g for g in guards if stat.step_key.endswith("_" + g)), None)
                if guard:
                    result.steps.append(Step(f"check {guard}", seconds))
                elif stat.step_key.startswith("raw__"):
                    table = "raw." + stat.step_key.removeprefix("raw__")
                    result.steps.append(Step(f"ingest {table}", seconds, rows.get(table)))
                else:
                    result.steps.append(Step(stat.step_key.replace("__", "/"), seconds))
        if summary.published_to:
            from orchestration.calibration.backtest import MqlRule, compare
            from orchestration.funnel_definitions import load_definitions

            in_force = MqlRule.of(load_definitions())
            comparison = compare(settings.serving_path, in_force,
                                 MqlRule(in_force.threshold + 10, in_force.min_fit,
                                         in_force.fit_weight, in_force.engagement_weight))
            result.steps.append(Step("funnel backtest (threshold +10, not in total)",
                                     comparison.seconds, comparison.in_force.mqls))
        run_results = _latest_run_results(run_started)
        if run_results:
            for node in sorted(run_results["results"], key=lambda r: -r["execution_time"]):
                uid = node["unique_id"]
                if not uid.startswith("model."):
                    continue
                model = uid.split(".")[-1]
                table = next((k for k in rows if k.endswith("." + model)), None)
                result.steps.append(Step(f"  dbt model {model}", node["execution_time"],
                                         rows.get(table) if table else None))
            tests = sum(r["execution_time"] for r in run_results["results"]
                        if not r["unique_id"].startswith("model."))
            result.steps.append(Step("  dbt tests (all)", tests))
        result.peak_rss_mb = _peak_rss_mb()
        result.memory_limit = settings.duckdb_config["memory_limit"]
        say("timing the baseline (activities loaded, one running sum per lead)")
        result.baseline_seconds, result.baseline_rows = baseline(
            landing, root, settings.duckdb_config)
        return result
    finally:
        if not keep and workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def save(result: BenchResult, folder: Path = PROJECT_ROOT / "bench" / "results") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y-%m-%dT%H%M}-{result.leads}.json"
    path.write_text(json.dumps(asdict(result), indent=2, default=str))
    return path
