"""Run a guard: DuckDB prepares each probe's frame, Great Expectations validates it.

GX is imported lazily (it costs ~5 s): only check steps pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import os
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


@functools.cache
def _gx_batch_definition():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

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


def _run_probe(con: duckdb.DuckDBPyConnection, probe: Probe) -> tuple[int, int, list[str], list[dict]]:
    gx, batch_definition = _gx_batch_definition()
    frame = _with_nanosecond_times(con.execute(probe.sql).df())
    suite = gx.ExpectationSuite(name=f"probe_{abs(hash(probe.sql))}")
    for e in probe.expectations:
        suite.add_expectation(getattr(gx.expectations, e.type)(**e.kwargs))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": [probe.key_column]})
    failing_keys: set[str] = set()
    failing_counts = 0
    details = []
    for r in result.results:
        count = r.result.get("unexpected_count") or (0 if r.success else 1)
        keys = [str(row.get(probe.key_column)) for row in (r.result.get("unexpected_index_list") or [])
                if isinstance(row, dict)]
        failing_keys.update(keys)
        failing_counts = max(failing_counts, count)
        detail = {"expectation": r.expectation_config.type,
                  "column": r.expectation_config.kwargs.get("column")
                  or r.expectation_config.kwargs.get("column_A"),
                  "success": bool(r.success), "unexpected_count": int(count or 0)}
        errors = [v.get("exception_message") for v in (r.exception_info or {}).values()
                  if isinstance(v, dict) and v.get("raised_exception")]
        if errors:  # a check that cannot run is a failed check, and says why
            detail["error"] = errors[0]
        details.append(detail)
    if not result.success and not failing_keys:
        failing_counts = max(failing_counts, 1)
    return len(frame), len(failing_keys) or failing_counts, sorted(failing_keys)[:SAMPLE_SIZE], details


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
