"""Hold back the last day of a landing folder, then append it: the daily increment that
`funnel bench` and the incremental-equals-full-rebuild test measure.

`hold_back_last_day` moves every row dated on the data's last day (by the date that makes the
row new: creation, update, occurrence) out of the landing files into files of their own in
another folder; `append_held_back` moves those files into the landing folder, as tomorrow's
extract would arrive.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from orchestration.ingest.loader import discover_files

# When a row became new, per extract (varchar columns: a value that does not parse stays put).
ROW_DAY = {
    "crm_leads": "greatest(ts(created_at), ts(updated_at))",
    "crm_activities": "ts(occurred_at)",
    "crm_qualifications": "ts(qualified_at)",
    "crm_opportunities": "greatest(ts(created_at), ts(updated_at), ts(closed_at))",
    "crm_stage_history": "ts(entered_at)",
    "ad_spend": "ts(spend_date)",
    "fx_rates": "ts(rate_date)",
}


@dataclass
class HeldBack:
    day: date
    folder: Path
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _lit(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _reader(path: Path) -> str:
    if path.name.lower().endswith(".parquet"):
        return f"read_parquet({_lit(path)})"
    return f"read_csv({_lit(path)}, all_varchar = true, header = true)"


def _writer(path: Path) -> str:
    return "(format parquet)" if path.name.lower().endswith(".parquet") else "(header true)"


def hold_back_last_day(landing: Path, held: Path, config: dict | None = None) -> HeldBack:
    """Move the rows of the data's last day (the latest activity's date) out of `landing`.
    `config`: DuckDB settings (the warehouse's memory limit and temp directory)."""
    con = duckdb.connect(config=config or {})
    try:
        con.execute("create macro ts(x) as coalesce(try_cast(x as timestamptz)::date, "
                    "try_cast(x as timestamp)::date, try_cast(x as date))")
        activities = discover_files(landing, "crm_activities")
        if not activities:
            raise FileNotFoundError(f"{landing}/crm_activities holds no files to take a day from")
        day = con.execute(
            "select max(ts(occurred_at)) from ("
            + " union all ".join(f"select occurred_at from {_reader(p)}" for p in activities)
            + ")").fetchone()[0]
        result = HeldBack(day=day, folder=held)
        for extract, expression in ROW_DAY.items():
            for path in discover_files(landing, extract):
                source = _reader(path)
                on_day = f"coalesce({expression} >= date {_lit(day.isoformat())}, false)"
                # the day's rows of each landing file go to a file of their own (a day file
                # appended before keeps its name, so a reused bench folder does not pile up)
                stem, suffix = path.name.split(".", 1)
                day_stem = stem if stem.endswith(f"_{day}") else f"{stem}_{day}"
                out = held / extract / f"{day_stem}.{suffix}"
                out.parent.mkdir(parents=True, exist_ok=True)
                count = con.execute(f"copy (select * from {source} where {on_day}) to {_lit(out)} "
                                    f"{_writer(out)}").fetchone()[0]
                if not count:
                    out.unlink()
                    continue
                rest = path.with_name(path.name + ".rest")
                con.execute(f"copy (select * from {source} where not {on_day}) to {_lit(rest)} "
                            f"{_writer(path)}")
                mtime = path.stat().st_mtime_ns  # keep the file's place in the arrival order
                os.replace(rest, path)
                os.utime(path, ns=(mtime, mtime))
                result.rows[extract] = result.rows.get(extract, 0) + count
        return result
    finally:
        con.close()


def append_held_back(held: Path, landing: Path) -> list[Path]:
    """Move the held-back files into the landing folder, newest arrivals."""
    moved = []
    for path in sorted(p for p in held.rglob("*") if p.is_file()):
        target = landing / path.relative_to(held)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        now = time.time_ns()
        os.utime(target, ns=(now, now))
        moved.append(target)
    return moved
