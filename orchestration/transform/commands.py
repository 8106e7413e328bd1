"""The dbt commands a run issues, the retry after an out-of-memory error, and the results."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any


def dbt_build_args(vars_json: str, full_refresh: bool = False,
                   leave: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Arguments of the dbt command the transform asset runs (pure, unit-tested).

    The definitions file travels as --vars: dbt never reads a threshold from anywhere else.
    dbt unit tests check the SQL on fixed inputs, not the data: they run in `make test`
    (tests/test_dbt_unit_tests.py), not on every run (dbt's advice for production).
    `leave`: models and tests not to run (plan.unchanged_nodes), each named. Indirect
    selection is off so that leaving a model does not drop the tests that read it beside a
    rebuilt one; dagster-dbt's own selection (fqn:*) names every test directly.
    """
    left = ["--exclude", " ".join(leave), "--indirect-selection", "empty"] if leave else []
    return ["build", "--vars", vars_json, "--exclude-resource-type", "unit_test",
            *(["--full-refresh"] if full_refresh else []), *left]


def dbt_audit_args(vars_json: str) -> list[str]:
    """Arguments of the audit before a publish (`funnel check`, the Monday job): dbt's data
    tests on the warehouse as it is, building nothing. dagster-dbt adds the selected tests."""
    return ["test", "--vars", vars_json, "--exclude-resource-type", "unit_test"]


# DuckDB's error when a statement needs more than the memory limit and cannot spill: the
# statement failed and its model's transaction rolled back, so building it again is safe.
OUT_OF_MEMORY = "Out of Memory Error"


def out_of_memory_nodes(results: list[dict]) -> list[str]:
    """unique_ids of the dbt nodes that failed with DuckDB's out-of-memory error."""
    return [r["unique_id"] for r in results
            if r["status"] == "error" and OUT_OF_MEMORY in (r.get("message") or "")]


def retry_on_one_thread_args(build_args: list[str], first_attempt: Path) -> list[str]:
    """Arguments of the second attempt after an out-of-memory error (tests/test_pipeline_e2e.py
    starves a first attempt of memory and checks what the second builds).

    dbt's threads share one DuckDB and its memory limit, so two large statements that each fit
    alone can fail together (at 10 M leads: int_score_ledger_items beside
    int_lead_scores_current). The second attempt builds what the first did not finish - every
    node that errored, failed or was skipped, read from the first attempt's run_results.json
    - on one thread, so each statement has the whole limit. (`dbt retry` would do the same but
    takes no selection flags, and dagster-dbt adds them to every command.)

    dagster-dbt joins our --select to its own (the run's assets) as a union, so the unfinished
    nodes are selected by their result and the finished ones excluded by theirs. That also
    keeps the tests dbt picked indirectly in the first attempt (a test reading a selected model
    beside one outside a subset). Indirect selection is off: otherwise excluding a finished
    model would drop the unfinished tests that read it beside an unfinished one.
    """
    return [*build_args, "--select", "result:error result:fail result:skipped",
            "--exclude", "result:success result:pass result:warn",
            "--indirect-selection", "empty", "--state", str(first_attempt), "--threads", "1"]


def stop_dbt(process: subprocess.Popen, timeout: float = 60) -> None:
    """Interrupt a dbt process still running (as Ctrl-C would: dbt rolls back and closes the
    warehouse), and kill it if it has not ended within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def latest_results(run_results: list[dict]) -> list[dict]:
    """Each node's result from the last of these run_results.json (oldest first) that ran it."""
    return list({r["unique_id"]: r for attempt in run_results for r in attempt["results"]}
                .values())


def final_results(invocations: list[Any]) -> list[dict]:
    """Each node's run result from the last dbt attempt that ran it."""
    return latest_results([i.get_artifact("run_results.json") for i in invocations
                           if (i.target_path / "run_results.json").exists()])
