"""A run killed mid-step must not block the next one: its warehouse pool slot is freed."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

from orchestration.defs.resources import WAREHOUSE_POOL
from orchestration.paths import PROJECT_ROOT

JOB = textwrap.dedent(f"""
    import sys, time
    from pathlib import Path
    from dagster import DagsterInstance, asset, materialize

    @asset(pool={WAREHOUSE_POOL!r})
    def slow_writer():
        Path(sys.argv[1]).write_text("claimed")
        time.sleep(300)

    materialize([slow_writer], instance=DagsterInstance.get())
""")


def test_a_killed_run_is_failed_and_frees_its_pool_slot(tmp_path, monkeypatch):
    from dagster import DagsterInstance, DagsterRunStatus

    from orchestration.in_process import release_abandoned_runs

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    script, marker = tmp_path / "job.py", tmp_path / "claimed"
    script.write_text(JOB)
    proc = subprocess.Popen([sys.executable, str(script), str(marker)], cwd=PROJECT_ROOT,
                            env={**os.environ, "DAGSTER_HOME": str(home)})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up, as an OOM kill
        proc.wait()

    with DagsterInstance.get() as instance:
        def claimed() -> int:
            return len(instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots)

        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.STARTED and claimed() == 1  # would block the next run
        messages = []
        assert release_abandoned_runs(instance, messages.append) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert claimed() == 0
        assert "abandoned" in messages[0] and str(proc.pid) in messages[0]
        # a run whose process is alive (this one) is left alone
        assert release_abandoned_runs(instance, messages.append) == []
