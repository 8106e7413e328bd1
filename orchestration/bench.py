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
                  f"{'total (generation excluded)':48} {self.total_seconds:>9.1f}",
                  f"peak RSS (largest process): {self.peak_rss_mb:,.0f} MB",
                  f"run {'succeeded' if self.success else 'FAILED'}"]
        return "\n".join(lines)


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
    settings = Settings(duckdb_path=root / "warehouse" / "funnel.duckdb", landing_dir=landing,
                        null_placeholders=Settings.from_env().null_placeholders)
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
        return result
    finally:
        if not keep and workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def save(result: BenchResult, folder: Path = PROJECT_ROOT / "bench" / "results") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y-%m-%dT%H%M}-{result.leads}.json"
    path.write_text(json.dumps(asdict(result), indent=2, default=str))
    return path
