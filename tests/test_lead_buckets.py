"""The scoring's buckets (dbt_project/macros/lead_buckets.sql) are ranges of lead_id: together
they must hold every lead exactly once, whatever characters the ids hold, and the marker that
carries the split points to the post-hook must survive the trip through a SQL comment."""
import json
import os
import subprocess
import sys

import duckdb

# A quote and a comment terminator in ids that are also split points; a repeated split point
# (an empty bucket, as when one lead holds many activities); non-ASCII; an empty id.
IDS = ["", "A-1", "a'a", "a'b", "a'c", "c*/c", "c*/d", "c*/e", "lead 7", "zz", "zzz", "Ärger"]
BOUNDS = ["a'b", "c*/d", "c*/d", "zz"]


def _compile_inline(tmp_path, code: str) -> str:
    env = {**os.environ, "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "dbt", "compile", "--quiet", "--inline", code],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout.strip()


def test_the_ranges_hold_every_lead_once_and_the_marker_keeps_the_split_points(tmp_path):
    buckets = len(BOUNDS) + 1
    values = ", ".join("('" + i.replace("'", "''") + "')" for i in IDS)
    matches = " + ".join(
        f"({{{{ lead_bucket_range('lead_id', bounds, {b}) }}}})::int "
        f"{{{{ lead_bucket_marker(bounds, {b}) }}}}" for b in range(buckets))
    code = (f"{{% set bounds = {json.dumps(BOUNDS, ensure_ascii=False)} %}}"
            f"select lead_id, {matches} as buckets from (values {values}) as ids(lead_id)")
    sql = _compile_inline(tmp_path, code)

    rows = duckdb.connect().execute(sql).fetchall()  # the comments do not end early
    assert sorted(rows) == sorted((i, 1) for i in IDS)
    markers = sql.split(" split at ")[1:]
    assert len(markers) == buckets
    assert all(json.loads(m.split(" */")[0]) == BOUNDS for m in markers)
