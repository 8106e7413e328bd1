"""Where the suite's time goes, per test file and per xdist worker: the `slow(seconds=...)`
marks order the files longest first (conftest.py), so the summary shows each file's measured
time beside its mark (as conftest.py read it for the ordering) and flags the marks that are
far off."""

from __future__ import annotations

from collections.abc import Mapping


def render(busy: Mapping[tuple[str, str], float], marks: Mapping[str, int | None],
           top: int = 20, off_by: float = 2.0) -> list[str]:
    """Lines of the summary. `busy`: seconds of setup, call and teardown by (file, worker);
    `marks`: each file's slow mark. A mark is flagged when the file took more than `off_by`
    times its mark or less than its mark over `off_by` (and over 30 s either way)."""
    by_file: dict[str, float] = {}
    by_worker: dict[str, float] = {}
    for (file, worker), seconds in busy.items():
        by_file[file] = by_file.get(file, 0.0) + seconds
        by_worker[worker] = by_worker.get(worker, 0.0) + seconds
    lines = [f"{'seconds':>8}  {'mark':>5}  file"]
    for file, seconds in sorted(by_file.items(), key=lambda kv: -kv[1])[:top]:
        mark = marks.get(file)
        far = mark is not None and max(seconds, mark) > 30 and (
            seconds > off_by * mark or seconds * off_by < mark)
        unmarked = mark is None and seconds > 30
        note = ("  <- mark far from the time taken" if far
                else "  <- no slow mark: it starts after every marked file" if unmarked else "")
        lines.append(f"{seconds:8.1f}  {mark if mark is not None else '-':>5}  {file}{note}")
    lines.append("busy per worker: " + ", ".join(
        f"{worker} {seconds:.0f} s" for worker, seconds in sorted(by_worker.items())))
    return lines
