"""Processes a run depends on: the dbt child that must die with its run, whoever holds a
DuckDB file's lock, and the one run at a time that may write a warehouse.

- `funnel-dbt` (the console script `dbt_child`) is how the pipeline starts dbt: it asks Linux
  to send it SIGTERM when the process that started it dies (PR_SET_PDEATHSIG), then runs
  dbt. Killing `funnel run` - any signal, `kill -9` included - stops its dbt too, so no
  orphan keeps the warehouse locked.
- DuckDB names the process holding a file's lock in its error. `lock_holder()` reads it; a
  dbt left by a dead pipeline run (an earlier version's, or one started elsewhere) is
  stopped safely (DuckDB rolls back what it had not committed); any other holder is named,
  with its command line, in the error the run reports.
- A run holds the warehouse's run lock (`<warehouse>.run.lock`, an flock the system releases
  when the process dies, whatever killed it) from start to end, so a second run fails at once
  naming the first, before it opens the warehouse between two of the first run's steps and
  makes the next one fail. Steps of runs launched by Dagster check it before opening.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_ERROR = re.compile(r'Could not set lock on file "(?P<file>[^"]+)": Conflicting lock is held '
                        r"in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
# dagster-dbt runs each build in a target folder named after the op: how a pipeline's dbt is
# told from a `funnel dbt build` a person started.
PIPELINE_DBT_MARK = "dbt_models-"


@dataclass(frozen=True)
class LockHolder:
    file: str
    pid: int
    command: str  # its whole command line ("" when it is gone or not readable)
    parent_pid: int | None

    @property
    def is_pipeline_dbt(self) -> bool:
        return "dbt" in self.command and PIPELINE_DBT_MARK in self.command

    @property
    def is_orphan(self) -> bool:
        """The run that started it is gone: it was re-parented (to init, or to a reaper)."""
        if self.parent_pid in (None, 0, 1):
            return True
        started_by = environment(self.pid).get("FUNNEL_PARENT_PID", "")
        if started_by.isdigit():  # started by `funnel-dbt`, which records its run
            return self.parent_pid != int(started_by)
        # an earlier version's dbt: orphaned unless its parent is a pipeline process
        parent = command_line(self.parent_pid)
        return not any(word in parent for word in ("funnel", "dagster", "orchestration"))

    def describe(self) -> str:
        what = f"PID {self.pid}" + (f" ({shorten(self.command)})" if self.command else "")
        return f"{what} holds a lock on {self.file}"


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(" ".join(part.decode(errors="replace").split())
                    for part in raw.split(b"\0") if part)


def shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (part.decode(errors="replace").partition("=") for part in raw.split(b"\0") if part)
    return {key: value for key, _, value in pairs}


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields follow the last ')'
    return int(stat.rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.lower()
    except OSError:
        pass
    return ""


def lock_holder(error: BaseException | str) -> LockHolder | None:
    """Who holds the lock DuckDB could not take, from its error message."""
    match = LOCK_ERROR.search(str(error))
    if not match:
        return None
    pid = int(match.group("pid"))
    return LockHolder(match.group("file"), pid, command_line(pid) or match.group("program"),
                      parent_pid(pid))


def stop(pid: int, grace_seconds: float = 30) -> bool:
    """Interrupt a process as Ctrl-C would (dbt rolls back and closes the warehouse), kill it
    if it has not ended after `grace_seconds`. True when it is gone."""
    for sig, wait in ((signal.SIGINT, grace_seconds), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.1)
    return not alive(pid)


def dbt_child() -> None:
    """`funnel-dbt`: run dbt, but die with the process that started us."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        expected = os.environ.get("FUNNEL_PARENT_PID")
        if expected and os.getppid() != int(expected):
            sys.exit("funnel-dbt: the run that started dbt is gone; not starting it")
    # A run started where Ctrl-C is ignored (a daemon, some test runners) would hand that on:
    # dbt must honour the interrupt that stops it cleanly (orchestration/transform/commands.py)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from orchestration.transform.parse_state import run_dbt

    run_dbt(sys.argv[1:])


class RunInProgress(RuntimeError):
    """Another run (or `funnel dbt`) is writing the warehouse; the message names it."""


_HELD: dict[str, int] = {}  # run locks this process holds: lock file -> descriptor


def run_lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".run.lock")


@contextmanager
def exclusive_run(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's run lock, or raise RunInProgress naming who holds it. Nested use in
    one process is free."""
    path = run_lock_path(warehouse)
    key = str(path.resolve())
    if key in _HELD:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write the warehouse's folder ({exc.strerror}); a "
                        "run writes its run lock beside the warehouse", str(path)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunInProgress(_busy_message(warehouse, path)) from None
    os.ftruncate(fd, 0)
    os.write(fd, (f"PID {os.getpid()} ({shorten(command_line(os.getpid()))}), started "
                  f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC").encode())
    _HELD[key] = fd
    try:
        yield
    finally:
        del _HELD[key]
        os.close(fd)  # releases the lock


def check_no_other_run(warehouse: Path) -> None:
    """Raise RunInProgress when another process holds the warehouse's run lock."""
    path = run_lock_path(warehouse)
    if str(path.resolve()) in _HELD or not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunInProgress(_busy_message(warehouse, path)) from None
    finally:
        os.close(fd)  # a shared lock taken to look is released with it


def _busy_message(warehouse: Path, path: Path) -> str:
    try:
        holder = path.read_text().strip() or "a process"
    except OSError:
        holder = "a process"
    return (f"another run is writing the warehouse {warehouse}: {holder}. One run at a time "
            "writes a warehouse; wait for it to finish (it holds " + path.name + ")")
