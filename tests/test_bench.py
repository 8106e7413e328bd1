"""The benchmark's own arithmetic: the baseline does the bare minimum on every activity, and
the growth table flags a step that grows faster than the data."""

import duckdb

from orchestration.bench import BenchResult, baseline, compare, timed_baseline
from orchestration.demo.generator import DemoConfig, generate


def test_the_baseline_computes_a_running_sum_over_every_activity_row(tmp_path):
    generate(DemoConfig(leads=300, seed=3, dirty_rate=0.02), tmp_path / "landing")
    seconds, rows = baseline(tmp_path / "landing", tmp_path, {"memory_limit": "1GB"})
    [(expected,)] = duckdb.sql(
        f"select count(*) from read_csv('{tmp_path}/landing/crm_activities/*.csv', "
        "header = true, union_by_name = true, all_varchar = true)").fetchall()
    assert expected * 0.95 < rows <= expected and rows > 1000 and seconds > 0  # dirty rows out
    assert not (tmp_path / "baseline.duckdb").exists()


def test_the_ratio_uses_the_median_of_three_baseline_runs(tmp_path):
    generate(DemoConfig(leads=100, seed=3), tmp_path / "landing")
    median, rows, runs = timed_baseline(tmp_path / "landing", tmp_path, {"memory_limit": "1GB"})
    assert len(runs) == 3 and median == sorted(runs)[1] and rows > 0
    machine = {"cores": 2, "memory_gb": 23.5, "platform": "linux", "python": "3.11",
               "duckdb": "2", "dbt-core": "1.11", "dagster": "1.13"}
    text = BenchResult(leads=100, seed=3, machine=machine, total_seconds=400.0,
                       baseline_seconds=20.0, baseline_rows=rows,
                       baseline_runs=[25.0, 20.0, 19.0]).render()
    assert "median of 25.0, 20.0, 19.0 s" in text
    assert [line.split()[-1] for line in text.splitlines() if line.startswith("ratio")] == ["20.0"]


def test_compare_flags_a_step_that_grows_faster_than_the_data():
    small = {"leads": 250_000, "total_seconds": 80.0, "steps": [
        {"name": "linear", "seconds": 10.0}, {"name": "quadratic", "seconds": 4.0},
        {"name": "tiny", "seconds": 0.1}]}
    large = {"leads": 1_000_000, "total_seconds": 300.0, "steps": [
        {"name": "linear", "seconds": 41.0}, {"name": "quadratic", "seconds": 64.0},
        {"name": "tiny", "seconds": 0.3}]}
    table = compare(small, large)
    lines = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert "faster than linear" in lines["quadratic"] and "faster" not in lines["linear"]
    assert "tiny" not in lines  # sub-second steps are noise
    assert "3.8x" in lines["total"]


def test_a_failed_daily_run_gets_no_share_of_the_full_run():
    """A daily run that stopped part way is faster than a real one: its time must not read as
    the daily figure, and the output names the run and what failed."""
    machine = {"cores": 2, "memory_gb": 23.5, "platform": "linux", "python": "3.11",
               "duckdb": "2", "dbt-core": "1.11", "dagster": "1.13"}
    done = BenchResult(leads=1000, seed=1, machine=machine, total_seconds=400.0,
                       incremental_seconds=60.0, nodata_seconds=20.0)
    assert "above the no-new-data run (20.0 s): 40.0 s" \
        in done.render() and "run succeeded" in done.render()

    failed = BenchResult(leads=1000, seed=1, machine=machine, total_seconds=400.0,
                         incremental_seconds=60.0, nodata_seconds=20.0, success=False,
                         failed_runs={"incremental": ["dbt_models: Out of Memory Error"]})
    text = failed.render()
    assert "incremental run FAILED after 60.0 s" in text and "target <= 10 %" not in text
    assert "the incremental run failed: dbt_models: Out of Memory Error" in text
    # the run after it built what the failed one left: it is not shown as a no-new-data run
    assert "no new s" not in text and "next s" in text and "no no-new-data run" in text
    assert "no new s" in done.render()


def test_peak_memory_tells_dbt_subprocesses_from_others(tmp_path):
    """Each descendant's high-water mark is read apart; a process named dbt counts as dbt."""
    import os
    import subprocess
    import sys

    from orchestration.bench import PeakMemory

    fake_dbt = tmp_path / "dbt"
    os.symlink(sys.executable, fake_dbt)
    hold = "import time; x = bytearray({mib} * 2**20); x[::4096] = b'1' * len(x[::4096]); time.sleep(1.5)"
    memory = PeakMemory(interval=0.1)
    memory.start()
    subprocess.run([str(fake_dbt), "-c", hold.format(mib=300)], check=True)
    subprocess.run([sys.executable, "-c", hold.format(mib=120)], check=True)
    memory.stop()
    figures = memory.figures()
    assert 300 <= figures["dbt subprocess"] < 600
    assert 120 <= figures["other subprocess"] < 300
    assert figures["pipeline process"] > 0


def test_each_step_gets_the_memory_peak_of_its_own_window():
    """A subprocess holding 300 MiB during one step shows in that step's peak, not in the
    step before; a step shorter than the sampling interval gets the nearest sample."""
    import subprocess
    import sys
    import time

    from orchestration.bench import PeakMemory

    memory = PeakMemory(interval=0.1)
    memory.start()
    quiet = (time.time(), None)
    time.sleep(0.5)
    quiet = (quiet[0], time.time())
    busy_start = time.time()
    subprocess.run([sys.executable, "-c", "import time; x = bytearray(300 * 2**20); "
                    "x[::4096] = b'1' * len(x[::4096]); time.sleep(1)"], check=True)
    busy = (busy_start, time.time())
    memory.stop()
    before, during = memory.peak_between(*quiet), memory.peak_between(*busy)
    assert during - before >= 250
    blink = busy[0] + 0.5
    assert memory.peak_between(blink, blink + 0.001) is not None  # no sample inside: the nearest


def test_the_bench_generates_its_data_in_a_process_of_its_own(tmp_path):
    from orchestration.bench import generate_in_subprocess

    peak = generate_in_subprocess(500, 7, tmp_path / "landing")
    assert list((tmp_path / "landing" / "crm_activities").glob("*.csv"))
    assert peak > 50  # MiB: a Python process that imported numpy and pyarrow


def test_models_built_again_on_one_thread_report_their_final_attempt(monkeypatch):
    """After an out-of-memory retry, each model appears once, with the attempt that built it,
    and the retry shows as a step of its own."""
    from orchestration import bench

    def node(uid, status, seconds):
        return {"unique_id": uid, "status": status, "execution_time": seconds, "timing": []}

    first = {"elapsed_time": 30.0, "results": [
        node("model.p.small", "success", 1.0), node("model.p.big", "error", 12.0),
        node("test.p.unique_small", "pass", 0.5), node("test.p.unique_big", "skipped", 0.0)]}
    retry = {"elapsed_time": 20.0, "results": [
        node("model.p.big", "success", 18.0), node("test.p.unique_big", "pass", 0.7)]}
    monkeypatch.setattr(bench, "_run_results_since", lambda since: [first, retry])
    steps = {s.name: s.seconds for s in bench._dbt_steps(0.0, {"marts.big": 7})}
    assert steps["  dbt model big"] == 18.0 and steps["  dbt model small"] == 1.0
    assert steps["  dbt tests (all)"] == 0.5 + 0.7
    assert steps["  dbt run_results elapsed"] == 50.0
    assert steps["  dbt again on one thread (2 nodes)"] == 20.0


def test_the_table_shows_steps_only_the_daily_run_had():
    """A retry on one thread happens in one run only: its row must still be printed."""
    from orchestration.bench import Step

    machine = {"cores": 2, "memory_gb": 23.5, "platform": "linux", "python": "3.11",
               "duckdb": "2", "dbt-core": "1.11", "dagster": "1.13"}
    result = BenchResult(leads=1000, seed=1, machine=machine, total_seconds=400.0,
                         steps=[Step("  dbt model big", 30.0)],
                         incremental_seconds=60.0, nodata_seconds=20.0,
                         incremental_steps={"  dbt model big": 9.0,
                                            "  dbt again on one thread (13 nodes)": 118.0},
                         nodata_steps={"  dbt model big": 0.5})
    rows = {line[:48].strip(): line[48:].split() for line in result.render().splitlines()}
    assert rows["dbt model big"] == ["30.0", "9.0", "0.5"]
    assert rows["dbt again on one thread (13 nodes)"] == ["118.0"]
