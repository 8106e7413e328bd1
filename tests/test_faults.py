"""No fault wedges the pipeline. Each test injects one - `kill -9` during ingestion, dbt or the
publish, a BI tool holding the serving file read-write, a truncated serving file, temporary
files left by a killed publish, a full disk, a landing folder full of bad files, a process
holding the warehouse, a dbt left by a dead run, readers querying during a publish - and then
checks what must always hold: rows read = loaded + rejected in the load log, the serving file
is the previous good one or a new good one, nothing holds the warehouse, and the next run
succeeds without anyone cleaning up."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestration import processes
from orchestration.defs.resources import WarehouseLocked, open_writer
from orchestration.demo.append import append_held_back, hold_back_last_day
from orchestration.demo.generator import DemoConfig, generate
from orchestration.in_process import run_pipeline
from orchestration.paths import PROJECT_ROOT
from orchestration.processes import RunInProgress
from tests.conftest import settings_at

pytestmark = pytest.mark.slow(seconds=650)  # runs the pipeline a dozen times


@pytest.fixture(scope="module")
def base(tmp_path_factory, persistent_dagster_runs):
    """A published warehouse of 600 demo leads, its last day held back (new data for a run)."""
    root = tmp_path_factory.mktemp("faults")
    settings = settings_at(root)
    generate(DemoConfig(leads=600, seed=3), settings.landing_dir)
    hold_back_last_day(settings.landing_dir, root / "held", settings.duckdb_config)
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, summary.failures
    return root


def copy_of(base: Path, tmp_path: Path, *, with_new_day: bool = True):
    """The base warehouse, serving file and landing folder, copied; the held-back day appended."""
    root = tmp_path / "run"
    root.mkdir()
    for name in ("funnel.duckdb", "serving.duckdb"):
        shutil.copy(base / name, root / name)
    shutil.copytree(base / "landing", root / "landing")
    shutil.copytree(base / "held", root / "held")
    if with_new_day:
        append_held_back(root / "held", root / "landing")
    return settings_at(root)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli_run(settings, *args: str, preexec=None, dagster_home: Path | None = None
            ) -> subprocess.Popen:
    env = {**os.environ, "DUCKDB_PATH": str(settings.duckdb_path),
           "LANDING_DIR": str(settings.landing_dir),
           "SERVING_DUCKDB_PATH": str(settings.serving_path),
           "REPORTS_DIR": str(settings.reports_path)}
    if dagster_home:
        dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", dagster_home)
        env["DAGSTER_HOME"] = str(dagster_home)
    return subprocess.Popen([sys.executable, "-m", "orchestration.cli", "run", "--demo-leads",
                             "0", *args], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=preexec)


def kill_when(proc: subprocess.Popen, marker: str, delay: float = 0.0,
              timeout: float = 300) -> str:
    """kill -9 the run once `marker` shows in its output (after `delay` seconds); returns
    the output. Fails the test when the run ends before the marker."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not any(marker in line for line in list(lines)):
        assert proc.poll() is None, "the run ended before " + marker + ":\n" + "".join(lines[-30:])
        assert time.monotonic() < deadline, "timed out waiting for " + marker
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    return "".join(lines)


def assert_consistent(settings, good_serving: str) -> None:
    """What must hold after any fault."""
    deadline = time.monotonic() + 15
    while True:  # nothing holds the warehouse: no dbt outlived its run
        try:
            con = duckdb.connect(str(settings.duckdb_path))
            break
        except duckdb.IOException:
            assert time.monotonic() < deadline, "the warehouse is still locked after the fault"
            time.sleep(0.2)
    try:
        unbalanced = con.execute("""select count(*) from raw.load_log
                                    where rows_read <> rows_loaded + rows_rejected""").fetchone()
        per_file = con.execute("""select count(*) from (
                                      select file_name from raw.load_log group by 1
                                      having sum(rows_read) <> sum(rows_loaded)
                                                             + sum(rows_rejected))""").fetchone()
    finally:
        con.close()
    assert unbalanced == (0,) and per_file == (0,)
    if sha(settings.serving_path) != good_serving:
        with duckdb.connect(str(settings.serving_path), read_only=True) as serving:
            failed = serving.execute("""select count(*) from audit.check_results
                                        where not passed and severity = 'ERROR'""").fetchone()
            assert failed == (0,)
            assert serving.execute("select count(*) from marts.dim_leads").fetchone()[0] > 0


def recovers(settings) -> None:
    """The next run succeeds without any cleanup, and publishes."""
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, (summary.failures, summary.checks_failed)
    leftovers = list(settings.serving_path.parent.glob(".serving.duckdb.*"))
    assert leftovers == []
    assert_consistent(settings, "")


@pytest.mark.parametrize(("stage", "marker", "delay"), [
    ("ingestion", "crm_activities: reading", 0.0),
    ("dbt", "START sql incremental model", 0.5),  # mid-build: some models done
    ("publish", "serving: writing .serving.duckdb.", 0.0),
])
def test_kill_9_at_any_stage_leaves_nothing_to_clean_up(base, tmp_path, stage, marker, delay):
    settings = copy_of(base, tmp_path)
    good = sha(settings.serving_path)
    output = kill_when(cli_run(settings), marker, delay)
    assert marker in output
    assert_consistent(settings, good)
    recovers(settings)


def test_a_bi_tool_holding_the_serving_file_read_write_never_fails_a_run(base, tmp_path):
    """DuckDB's CLI and DBeaver open files read-write by default. The run still publishes (the
    file is replaced, never written in place) and names the holder in its summary; the
    report is built from the new file."""
    settings = copy_of(base, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print(c.execute('select run_id from audit.publish_log').fetchone()[0], flush=True); "
         "time.sleep(600)", str(settings.serving_path)], stdout=subprocess.PIPE, text=True)
    try:
        old_run = holder.stdout.readline().strip()
        summary = run_pipeline(settings, say=lambda _m: None)
    finally:
        holder.kill()
        holder.wait()
    assert summary.success, summary.failures
    assert summary.published_to == settings.serving_path and summary.report.exists()
    text = summary.render()
    assert f"is open read-write: PID {holder.pid}" in text and "read-only" in text
    with duckdb.connect(str(settings.serving_path), read_only=True) as serving:
        assert serving.execute("select run_id from audit.publish_log").fetchone()[0] != old_run


READER = """
import duckdb, sys
path = sys.argv[1]
held = duckdb.connect(path, read_only=True)  # kept open for the whole session
def fresh():  # the README's pattern
    con = duckdb.connect()
    con.execute(f"attach '{path}' as serving (read_only)")
    try:
        return con.execute("select run_id from serving.audit.publish_log").fetchone()[0]
    finally:
        con.close()
for command in sys.stdin:
    if command.strip() == "fresh":
        print(fresh(), flush=True)
    else:
        print(held.execute("select run_id from audit.publish_log").fetchone()[0], flush=True)
"""


HAMMER = """
import duckdb, os, sys
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(out, "w") as answers:  # a file, not a pipe: a full pipe would stall the reader
    while not os.path.exists(stop):
        try:
            con = duckdb.connect()
            con.execute(f"attach '{path}' as s (read_only)")
            row = con.execute(\"\"\"select (select run_id from s.audit.publish_log),
                                           (select count(*) from s.marts.dim_leads),
                                           (select sum(leads) from s.marts.fct_funnel_summary_weekly)
                                \"\"\").fetchone()
            con.close()
            print(*row, sep="|", file=answers, flush=True)
        except Exception as exc:  # a half-written or missing file would show here
            print("ERROR", type(exc).__name__, str(exc).splitlines()[0], sep="|",
                  file=answers, flush=True)
"""


def _lines(path: Path) -> list[str]:
    """The reader's complete answers so far (a line being written is left out)."""
    text = path.read_text() if path.exists() else ""
    return text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_readers_during_a_publish_see_the_old_file_or_the_new_one(base, tmp_path):
    """Two readers while a run publishes (one run serves both):
    - one querying the serving file in a loop: every query succeeds, and each sees one whole
      publish - its run, its leads, its weekly sums;
    - one that attaches the file read-only into a fresh in-memory connection per query (the
      README's pattern) sees the new publish, even in a process that holds another connection
      to it; `duckdb.connect(path)` kept open keeps reading the replaced file."""
    settings = copy_of(base, tmp_path)
    stop, out = tmp_path / "stop", tmp_path / "answers.txt"
    hammer = subprocess.Popen([sys.executable, "-c", HAMMER, str(settings.serving_path),
                               str(stop), str(out)])
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.serving_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(command: str) -> str:
        reader.stdin.write(command + "\n")
        reader.stdin.flush()
        return reader.stdout.readline().strip()

    try:
        assert _wait_for(lambda: _lines(out), 60), "the reader never answered"
        before = _lines(out)[0].split("|")[0]
        assert ask("fresh") == before and ask("held") == before
        summary = run_pipeline(settings, say=lambda _m: None)
        # the reader goes on until it has answered from the new file a few times
        assert _wait_for(lambda: sum(not a.startswith(before) for a in _lines(out)) >= 5, 60)
        assert summary.success and summary.published_to, summary.failures
        assert ask("fresh") not in ("", before)
        assert ask("held") == before
    finally:
        stop.touch()
        hammer.wait(timeout=60)
        reader.kill()
        reader.wait()
    answers = _lines(out)
    assert not [a for a in answers if a.startswith("ERROR")]
    seen = {tuple(a.split("|")) for a in answers}
    assert len(seen) == 2, seen  # the file before, the file after: nothing in between
    assert all(leads == weekly for _run, leads, weekly in seen)
    print(f"{len(answers)} reader queries during the run, {len(seen)} states seen")


def test_a_truncated_serving_file_and_leftover_temporary_files_are_mended(base, tmp_path):
    """The serving file is damaged (truncated) and a killed publish left its temporary files:
    the next run rebuilds the serving file whole from the warehouse and removes them."""
    settings = copy_of(base, tmp_path)
    folder = settings.serving_path.parent
    for name in (".serving.duckdb.0123abcd.tmp", ".serving.duckdb.0123abcd.tmp.wal"):
        (folder / name).write_bytes(b"left by a killed publish")
    with settings.serving_path.open("r+b") as f:
        f.truncate(settings.serving_path.stat().st_size // 3)
    recovers(settings)


def _file_size_limit(limit: int):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_a_full_disk_fails_the_run_with_its_cause_and_loses_nothing(base, tmp_path):
    """A disk-full stand-in: the run may write no file past its first 4 MiB (the warehouse is
    bigger: loading the new day cannot be written). The run fails and says why in its
    summary; the warehouse and the serving file are as they were, and the next run (room
    again) succeeds. (Dagster's own files are kept apart, below the limit.)"""
    settings = copy_of(base, tmp_path)
    good = sha(settings.serving_path)
    assert settings.duckdb_path.stat().st_size > 4 << 20
    proc = cli_run(settings, preexec=_file_size_limit(4 << 20),
                   dagster_home=tmp_path / "dagster_home")
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0
    failed = [line for line in output.splitlines() if line.startswith("  failed:")]
    assert failed and any("File too large" in line for line in failed), output[-3000:]
    assert not any("Error occurred while executing" in line for line in failed)
    assert_consistent(settings, good)
    recovers(settings)


def test_a_landing_folder_of_bad_files_does_not_stop_the_run(base, tmp_path):
    """A file missing a column, an activity dated 2030, a folder no extract knows, a text
    file and a folder named like a CSV file: the run succeeds, names each, and "now" is not
    moved by the bad date; the run after it has nothing new."""
    settings = copy_of(base, tmp_path)
    landing = settings.landing_dir
    (landing / "crm_leads" / "broken.csv").write_text("lead_id,updated_at\nX1,2025-01-01\n")
    (landing / "crm_activities" / "late.csv").write_text(
        "activity_id,lead_id,occurred_at,activity_type\nFUTURE1,L00000001,2030-01-01,page_view\n")
    (landing / "crm_contacts").mkdir()
    (landing / "crm_contacts" / "contacts.csv").write_text("a,b\n1,2\n")
    (landing / "crm_leads" / "notes.txt").write_text("for the record")
    (landing / "crm_leads" / "old.csv").mkdir()
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, summary.failures
    assert [name for name, _ in summary.rejected_files] == ["crm_leads/broken.csv"]
    assert {e.split(" ")[0] for e in summary.ignored} == {
        "crm_contacts/", "crm_leads/notes.txt", "crm_leads/old.csv/"}
    text = summary.render()
    assert "Files rejected as a whole" in text and "Ignored in the landing folder" in text
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        quarantined = con.execute("select reason_code from raw.rejected_rows "
                                  "where raw_record->>'activity_id' = 'FUTURE1'").fetchall()
        cut_off = con.execute("select scored_as_of_at from intermediate.int_scoring_as_of"
                              ).fetchone()[0]
    assert quarantined == [("in_future",)] and cut_off.year < 2030
    assert run_pipeline(settings, say=lambda _m: None).nothing_new


HOLD = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
        "time.sleep(600)")


def test_a_process_holding_the_warehouse_is_named_not_a_traceback(base, tmp_path):
    settings = copy_of(base, tmp_path, with_new_day=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.duckdb_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        summary = run_pipeline(settings, say=lambda _m: None)
    finally:
        holder.kill()
        holder.wait()
    assert not summary.success
    assert any(f"is locked: PID {holder.pid}" in f and "read-only" in f
               for f in summary.failures), summary.failures
    assert not any("Traceback" in f or "Error occurred while executing" in f
                   for f in summary.failures)


def test_a_dbt_left_by_a_dead_pipeline_run_is_stopped_and_the_run_goes_on(base, tmp_path):
    """An orphan (its run is gone) of an earlier version, still holding the warehouse: the
    next run stops it - DuckDB rolls back what it had not committed - and goes on."""
    settings = copy_of(base, tmp_path)
    # the go-between starts the holder and exits at once: the holder's parent is gone
    go_between = ("import subprocess, sys; "
                  "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); print(p.pid)")
    started = subprocess.run(
        [sys.executable, "-c", go_between, sys.executable, "-c", HOLD, str(settings.duckdb_path),
         "dbt", "build", "--target-path", "target/dbt_models-0a1b2c3-deadbee"],
        stdout=subprocess.PIPE, text=True, check=True)
    orphan_pid = int(started.stdout.split()[0])
    try:
        deadline = time.monotonic() + 30
        while not _holds_lock(settings.duckdb_path) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes.parent_pid(orphan_pid) != os.getpid()
        summary = run_pipeline(settings, say=lambda _m: None)
        assert not processes.alive(orphan_pid)
    finally:
        processes.stop(orphan_pid, grace_seconds=1)
    assert summary.success, summary.failures


def _holds_lock(path) -> bool:
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException:
        return True
    return False


def test_the_dbt_of_a_run_still_going_is_named_never_stopped(tmp_path):
    """Two runs at once: the second finds the first's dbt holding the warehouse. Its run is
    alive, so it is no orphan: the second run stops, naming it, and the first goes on."""
    path = tmp_path / "funnel.duckdb"
    duckdb.connect(str(path)).close()
    running = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "dbt", "build", "--target-path",
         "target/dbt_models-0a1b2c3-deadbee"], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "FUNNEL_PARENT_PID": str(os.getpid())})
    try:
        assert running.stdout.readline().strip() == "holding"
        with pytest.raises(WarehouseLocked, match=f"is locked: PID {running.pid} "):
            open_writer(path, {})
        assert running.poll() is None
    finally:
        running.kill()
        running.wait()


def test_a_second_run_while_one_is_going_stops_at_once_and_the_first_succeeds(base, tmp_path):
    """Two runs at once: the second would open the warehouse between the first's steps and make
    them fail. It stops before touching it, naming the first; the first is not disturbed."""
    settings = copy_of(base, tmp_path)
    first = cli_run(settings)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(first.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("crm_activities: reading" in line for line in list(lines)):
        assert first.poll() is None and time.monotonic() < deadline, "".join(lines[-30:])
        time.sleep(0.02)
    for _ in range(20):  # again and again while the first runs
        with pytest.raises(RunInProgress, match=f"PID {first.pid} "):
            run_pipeline(settings, say=lambda _m: None)
    assert first.wait(timeout=300) == 0, "".join(lines[-40:])
    reader.join(timeout=10)
    assert "Run succeeded" in "".join(lines)
    assert run_pipeline(settings, say=lambda _m: None).success  # the lock went with the run


def test_the_run_lock_is_released_when_its_holder_is_killed(tmp_path):
    warehouse = tmp_path / "funnel.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from orchestration.processes import exclusive_run\n"
         "with exclusive_run(Path(sys.argv[1])):\n    print('holding', flush=True); "
         "time.sleep(600)", str(warehouse)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(RunInProgress, match=f"PID {holder.pid} "):
            processes.check_no_other_run(warehouse)
        with pytest.raises(RunInProgress), processes.exclusive_run(warehouse):
            pass
    finally:
        holder.kill()
        holder.wait()
    processes.check_no_other_run(warehouse)
    with processes.exclusive_run(warehouse), processes.exclusive_run(warehouse):
        pass  # nested in one process
