"""Run a guard: DuckDB prepares each probe's frame, Great Expectations validates it.

GX is imported lazily (6-7 s here, 11-16 s on a busy machine): only a process that runs checks
pays for it, and `warm_up` lets it pay while the extracts load.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from expectations.suites import Guard, Probe

SAMPLE_SIZE = 10


@dataclass
class GuardResult:
    guard: Guard
    passed: bool
    failing_rows: int
    sample_keys: list[str]
    rows_checked: int
    seconds: float
    details: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        state = "passed" if self.passed else f"{self.failing_rows} failing row(s)"
        keys = f"; e.g. {', '.join(self.sample_keys)}" if self.sample_keys else ""
        return f"{self.guard.name}: {state}{keys}"


_gx_lock = threading.Lock()  # held for the whole import: a check waits for GX here
_gx: tuple | None = None  # (the gx module, the batch definition), once per process
_warming_lock = threading.Lock()  # only guards the flag: warm_up never waits for the import
_warming = False


def warm_up() -> None:
    """Import GX and build its context in a background thread: the loader's statements run in
    DuckDB without Python's lock, so the import costs the run nothing where the checks would
    otherwise wait for it (7 s of the first contract check at 1 M leads). Once per process;
    a failure there is left for the first check to raise. Returns at once, also while the
    import runs (under `_gx_lock` the next extract's load waited the whole import)."""
    global _warming
    with _warming_lock:
        if _warming or _gx is not None:
            return
        _warming = True
    threading.Thread(target=_try_gx, name="gx-warm-up", daemon=True).start()


def _try_gx() -> None:
    with contextlib.suppress(Exception):
        _gx_batch_definition()


def _gx_batch_definition():
    """The gx module and a whole-frame batch definition on an ephemeral context (threads
    share one: the warm-up's, or the first caller's)."""
    global _gx
    with _gx_lock:
        if _gx is None:
            _gx = _load_gx()
        return _gx


def _load_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch by hashing all its values (batch markers only; a
    # frame's results do not depend on it): 4 s per daily run at 1 M leads, most of it on the
    # string keys. Frames above this many bytes are not hashed; no frame is.
    pandas_execution_engine.HASH_THRESHOLD = 0

    context = gx.get_context(mode="ephemeral")
    # progress bars would flood the run logs; older configs may refuse, then they stay on
    with contextlib.suppress(Exception):
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas("warehouse_frames")
    asset = source.add_dataframe_asset("probe")
    return gx, asset.add_batch_definition_whole_dataframe("whole_frame")


def _with_nanosecond_times(frame):
    """DuckDB hands pandas microsecond timestamps; GX compares only nanosecond ones
    vectorised and falls back to one Python call per value otherwise (5 s per million rows).
    A column outside the nanosecond range (years after 2262) keeps its unit and the slow path."""
    import numpy as np
    import pandas as pd

    for column in frame.columns:
        dtype = frame[column].dtype
        if not pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        zoned = isinstance(dtype, pd.DatetimeTZDtype)
        if (dtype.unit if zoned else np.datetime_data(dtype)[0]) != "ns":
            target = pd.DatetimeTZDtype("ns", dtype.tz) if zoned else "datetime64[ns]"
            with contextlib.suppress(pd.errors.OutOfBoundsDatetime, OverflowError):
                frame[column] = frame[column].astype(target)
    return frame


# Rows per GX batch (256 DuckDB vectors of 2,048): a probe over millions of rows is validated
# in slices, so pandas holds one slice at a time next to DuckDB's own memory.
PROBE_BATCH_VECTORS = 256


def _frames(con: duckdb.DuckDBPyConnection, sql: str):
    """The probe's rows as pandas frames of at most PROBE_BATCH_VECTORS vectors; at least one
    (empty when the probe has no rows, so the expectations still run and say so)."""
    con.execute(sql)
    frame = con.fetch_df_chunk(PROBE_BATCH_VECTORS)
    yield _with_nanosecond_times(frame)
    while len(frame):
        frame = con.fetch_df_chunk(PROBE_BATCH_VECTORS)
        if len(frame):
            yield _with_nanosecond_times(frame)


def _run_probe(con: duckdb.DuckDBPyConnection, probe: Probe) -> tuple[int, int, list[str], list[dict]]:
    gx, batch_definition = _gx_batch_definition()
    suite = gx.ExpectationSuite(name=f"probe_{abs(hash(probe.sql))}")
    for e in probe.expectations:
        suite.add_expectation(getattr(gx.expectations, e.type)(**e.kwargs))
    rows = 0
    failed = False
    failing_keys: set[str] = set()
    details: dict[tuple, dict] = {}  # per expectation, summed over the slices
    for frame in (f for sql in probe.statements() for f in _frames(con, sql)):
        rows += len(frame)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format={
            "result_format": "COMPLETE", "unexpected_index_column_names": [probe.key_column]})
        failed = failed or not result.success
        for r in result.results:
            config = r.expectation_config
            count = r.result.get("unexpected_count") or (0 if r.success else 1)
            failing_keys.update(str(row.get(probe.key_column))
                                for row in (r.result.get("unexpected_index_list") or [])
                                if isinstance(row, dict))
            detail = details.setdefault((config.type, repr(sorted(config.kwargs.items()))), {
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_A"),
                "success": True, "unexpected_count": 0})
            detail["success"] = detail["success"] and bool(r.success)
            detail["unexpected_count"] += int(count or 0)
            errors = [v.get("exception_message") for v in (r.exception_info or {}).values()
                      if isinstance(v, dict) and v.get("raised_exception")]
            if errors and "error" not in detail:  # a check that cannot run fails, and says why
                detail["error"] = errors[0]
    failing_counts = max((d["unexpected_count"] for d in details.values()), default=0)
    if failed and not failing_keys:
        failing_counts = max(failing_counts, 1)
    return rows, len(failing_keys) or failing_counts, sorted(failing_keys)[:SAMPLE_SIZE], \
        list(details.values())


def run_guard(con: duckdb.DuckDBPyConnection, guard: Guard) -> GuardResult:
    start = time.perf_counter()
    rows = failing = 0
    keys: list[str] = []
    details: list[dict] = []
    for probe in guard.probes:
        n, bad, sample, d = _run_probe(con, probe)
        rows += n
        failing += bad
        keys += [k for k in sample if k not in keys]
        details += [{"probe": probe.description, **x} for x in d]
    return GuardResult(guard, failing == 0, failing, keys[:SAMPLE_SIZE], rows,
                       time.perf_counter() - start, details)
