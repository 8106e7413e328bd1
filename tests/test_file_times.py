"""The suite's per-file timing summary: files by time with their slow marks, far-off marks
flagged, and each worker's busy time."""

from pathlib import Path

import pytest

from tests.file_times import render


@pytest.mark.slow(seconds=1)
def test_each_report_carries_the_slow_mark_the_ordering_read(request):
    """conftest.py attaches the seconds it ordered the test by; the summary reads them from
    the reports (under xdist the controller never sees the items)."""
    assert ("slow_seconds", 1) in request.node.user_properties


def test_files_come_longest_first_with_far_off_marks_flagged():
    busy = {("tests/a.py", "gw0"): 300.0, ("tests/a.py", "gw1"): 40.0,
            ("tests/b.py", "gw1"): 90.0, ("tests/c.py", "gw0"): 5.0,
            ("tests/d.py", "gw1"): 45.0}
    marks = {"tests/a.py": 100, "tests/b.py": 80, "tests/c.py": None, "tests/d.py": None}
    lines = render(busy, marks)
    files = [line.split()[2] for line in lines[1:-1]]
    assert files == ["tests/a.py", "tests/b.py", "tests/d.py", "tests/c.py"]
    flagged = {line.split()[2]: line for line in lines[1:-1]}
    assert "far from" in flagged["tests/a.py"]  # 340 s against a mark of 100
    assert "<-" not in flagged["tests/b.py"]  # 90 s against 80: near enough
    assert "no slow mark" in flagged["tests/d.py"]  # 45 s, unmarked: it would start late
    assert "<-" not in flagged["tests/c.py"]  # 5 s: too short to matter
    assert lines[-1] == "busy per worker: gw0 305 s, gw1 175 s"


def test_make_test_keeps_the_longest_first_order_of_the_files():
    """xdist's default re-sorts the files by their number of tests (--loadscope-reorder):
    the 5-test Spark parity file, one of the longest, would start 23rd of 36."""
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    [pytest_line] = [line for line in makefile.splitlines() if "/pytest -n" in line]
    assert "--dist loadfile" in pytest_line and "--no-loadscope-reorder" in pytest_line
