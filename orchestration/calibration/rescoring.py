"""`funnel backtest --definitions FILE` for a file that changes the scores themselves (fit
rules, engagement points, lead attributes...): its scoring is built by dbt - the same models,
nothing re-implemented - into a scratch warehouse holding a copy of the working warehouse's
raw tables, and judged against the rules in force on the same history:

- AUC for the outcome the definitions name, and lift per score decile;
- MQLs, precision and recall at each file's MQL threshold (fct_threshold_backtest);
- rule by rule, the leads each fit rule matches under either file.

The warehouse in force is only read (under its run lock, so no run writes meanwhile).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from orchestration.funnel_definitions import (
    OUTCOME_LABELS,
    FunnelDefinitions,
    dbt_vars_arg,
    definitions_version,
    load_definitions,
)
from orchestration.paths import DBT_PROJECT_DIR
from orchestration.processes import exclusive_run
from orchestration.settings import Settings

# A line of dbt's log saying a model is built: "12 of 58 OK created sql table model x.y".
DBT_MODEL_DONE = re.compile(r"(\d+) of (\d+) OK created \S+ \S+ model (\S+)")

# What the comparison reads from each warehouse.
SCORING_MARTS = "+fct_score_calibration +fct_threshold_backtest"


class RescoringError(RuntimeError):
    """The proposal could not be built or compared; the message says why."""


@dataclass
class Scoring:
    """One file's scoring on the history."""

    label: str
    version: str
    auc: float | None
    base_rate: float | None
    evaluated_leads: int
    lift: list[float | None]  # outcome lift, D1..D10
    threshold: float
    mqls: int
    precision: float | None
    recall: float | None
    rule_leads: dict[str, int]  # fit rule -> leads it matches
    curve: list[tuple[float, int, float | None, float | None]]  # threshold, MQLs, prec., recall
    outcome: str = "sql"  # what precision and recall count (calibration.outcome)

    def at_volume(self, mqls: int) -> tuple[float, int, float | None, float | None] | None:
        """The backtest threshold whose MQL count is closest to `mqls`."""
        return min(self.curve, key=lambda t: (abs(t[1] - mqls), -t[0]), default=None)


def read_scoring(con: duckdb.DuckDBPyConnection, label: str) -> Scoring:
    deciles = con.execute("""
        select outcome_lift, auc_outcome, base_outcome_rate, evaluated_leads, definitions_version
        from marts.fct_score_calibration where bucket_type = 'decile'
        order by bucket_order""").fetchall()
    if not deciles:
        raise RescoringError(f"{label}: no lead is old enough to be judged (fct_score_calibration"
                             " is empty)")
    threshold, mqls, precision, recall, outcome = con.execute("""
        select threshold, mqls, outcome_precision, outcome_recall, outcome
        from marts.fct_threshold_backtest
        where is_threshold_in_force""").fetchone() or (None, 0, None, None, "sql")
    curve = con.execute("""
        select threshold, mqls, outcome_precision, outcome_recall from marts.fct_threshold_backtest
        order by threshold""").fetchall()
    rules = dict(con.execute("""
        select rule_id, count(distinct lead_id) from intermediate.int_lead_fit_matches
        group by rule_id""").fetchall())
    first = deciles[0]
    return Scoring(label, first[4], first[1], first[2], int(first[3] or 0),
                   [d[0] for d in deciles], threshold, int(mqls or 0), precision, recall, rules,
                   curve, outcome)


def _copy_raw(source: Path, target: Path) -> int:
    """Copy the raw schema of `source` into a new warehouse at `target`; rows copied."""
    con = duckdb.connect(str(target))
    try:
        con.execute("attach '" + str(source).replace("'", "''") + "' as src (read_only)")
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'src' "
            "and schema_name = 'raw' order by table_name").fetchall()]
        con.execute("create schema raw")
        rows = 0
        for t in tables:
            con.execute(f'create table raw."{t}" as select * from src.raw."{t}"')
            rows += con.execute(f'select count(*) from raw."{t}"').fetchone()[0]
        con.execute("detach src")
        return rows
    finally:
        con.close()


def _in_force(settings: Settings) -> Scoring:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return read_scoring(con, "in force")
    except duckdb.CatalogException as exc:
        raise RescoringError(f"{settings.duckdb_path} has no scoring marts: run `funnel run` "
                             "first.") from exc
    finally:
        con.close()


def build_and_compare(settings: Settings, in_force_file: Path, proposal_file: Path,
                      say: Callable[[str], None], workdir: Path | None = None) -> RescoredComparison:
    started = time.perf_counter()
    a, b = load_definitions(in_force_file), load_definitions(proposal_file)
    judged = ("horizon_days", "outcome")
    if (a.outcome_window_days(), *(getattr(a.calibration, k) for k in judged)) != (
            b.outcome_window_days(), *(getattr(b.calibration, k) for k in judged)):
        raise RescoringError(
            f"{proposal_file} judges the scoring by another outcome, window or horizon than the "
            "file in force (calibration.outcome, outcome_window_days, horizon_days): the two "
            "would not be compared on the same question. Make them equal in both files.")
    scratch_dir = Path(workdir or tempfile.mkdtemp(prefix="funnel-backtest-"))
    scratch_dir.mkdir(parents=True, exist_ok=True)
    scratch = scratch_dir / "proposal.duckdb"
    scratch.unlink(missing_ok=True)
    try:
        with exclusive_run(settings.duckdb_path):
            if not settings.duckdb_path.exists():
                raise RescoringError(f"No warehouse at {settings.duckdb_path}: run `funnel run`.")
            in_force = _in_force(settings)
            if in_force.version != definitions_version(in_force_file):
                raise RescoringError(
                    f"The warehouse was built with definitions {in_force.version}, not with "
                    f"{in_force_file} ({definitions_version(in_force_file)}): run `funnel run` "
                    "first, so both sides are judged on the same rules in force.")
            say(f"Copying the raw tables of {settings.duckdb_path} to {scratch}.")
            rows = _copy_raw(settings.duckdb_path, scratch)
        say(f"Copied {rows:,} raw rows. Building the proposal's scoring with dbt "
            f"({SCORING_MARTS}).")
        env = {**os.environ, **replace(settings, duckdb_path=scratch).dbt_environment(),
               "FUNNEL_DEFINITIONS": str(proposal_file)}
        from orchestration.transform.project import dbt_executable

        process = subprocess.Popen(
            [dbt_executable(), "run", "--vars", dbt_vars_arg(proposal_file),
             "--select", *SCORING_MARTS.split(), "--target-path", str(scratch_dir / "target"),
             "--log-path", str(scratch_dir / "logs"), "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--no-use-colors"],
            env=env, cwd=DBT_PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        output: list[str] = []
        for line in process.stdout:  # progress: each model as dbt finishes it
            output.append(line)
            if done := DBT_MODEL_DONE.search(line):
                say(f"dbt {done.group(1)}/{done.group(2)}: {done.group(3)}")
        if process.wait():
            raise RescoringError("dbt could not build the proposal's scoring:\n"
                                 + "".join(output).strip()[-3000:])
        con = duckdb.connect(str(scratch), read_only=True)
        try:
            proposed = read_scoring(con, "proposed")
        finally:
            con.close()
    finally:
        if workdir is None:
            shutil.rmtree(scratch_dir, ignore_errors=True)
    return RescoredComparison(in_force, proposed, time.perf_counter() - started)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


@dataclass
class RescoredComparison:
    """Two files' scorings of the same history (the quick MQL replay has its own, in
    backtest.py)."""

    in_force: Scoring
    proposed: Scoring
    seconds: float

    def render(self, rule_changes: list[str]) -> str:
        a, b = self.in_force, self.proposed
        name = OUTCOME_LABELS[a.outcome][0]

        def diff(x, y, spec, scale=1.0, unit=""):
            return "n/a" if x is None or y is None else f"{(y - x) * scale:+{spec}}{unit}"

        rows = [
            ("AUC (0.5 = chance)", _fmt(a.auc, ".3f"), _fmt(b.auc, ".3f"), diff(a.auc, b.auc, ".3f")),
            ("top-decile lift", _fmt(a.lift[0], ".2f"), _fmt(b.lift[0], ".2f"),
             diff(a.lift[0], b.lift[0], ".2f")),
            ("MQL threshold", f"{a.threshold:g}", f"{b.threshold:g}", ""),
            ("MQLs", f"{a.mqls:,}", f"{b.mqls:,}", f"{b.mqls - a.mqls:+,}"),
            (f"precision ({name} / MQL)", _fmt(a.precision, ".1%"), _fmt(b.precision, ".1%"),
             diff(a.precision, b.precision, ".1f", 100, " pp")),
            (f"recall (of inbound {name})", _fmt(a.recall, ".1%"), _fmt(b.recall, ".1%"),
             diff(a.recall, b.recall, ".1f", 100, " pp")),
        ]
        same = b.at_volume(a.mqls)
        if same and same[0] != b.threshold:
            rows.append((f"nearest MQL volume ({same[1]:,} at {same[0]:g}): precision",
                         _fmt(a.precision, ".1%"), _fmt(same[2], ".1%"),
                         diff(a.precision, same[2], ".1f", 100, " pp")))
            rows.append(("nearest MQL volume: recall", _fmt(a.recall, ".1%"),
                         _fmt(same[3], ".1%"), diff(a.recall, same[3], ".1f", 100, " pp")))
        width = max(len(r[0]) for r in rows)
        lines = [f"Judged on {a.evaluated_leads:,} evaluated leads (base rate "
                 f"{_fmt(a.base_rate, '.1%')}).", "",
                 f"{'':{width}}  {'in force':>10}  {'proposed':>10}  {'change':>10}"]
        lines += [f"{n:{width}}  {x:>10}  {y:>10}  {c:>10}" for n, x, y, c in rows]
        lines += ["", "Lift by score decile (D1 = highest scores):",
                  "  " + "  ".join(f"D{i + 1:<5}" for i in range(len(a.lift))),
                  "  " + "  ".join(f"{_fmt(v, '<6.2f')}" for v in a.lift) + "  in force",
                  "  " + "  ".join(f"{_fmt(v, '<6.2f')}" for v in b.lift) + "  proposed"]
        lines += ["", "What changed, rule by rule (fit rules: the leads each matches):"]
        lines += [f"  {c}" for c in rule_changes] or ["  nothing"]
        lines += ["", f"Built and compared in {self.seconds:.1f} s."]
        return "\n".join(lines)


def rule_changes(in_force: dict[str, dict], proposed: dict[str, dict], a: Scoring,
                 b: Scoring) -> list[str]:
    """What changed between the fit rules of two files, with the leads each matches."""
    out = []
    for rid in sorted(set(in_force) | set(proposed)):
        old, new = in_force.get(rid), proposed.get(rid)
        if old and not new:
            out.append(f"- {rid}: removed ({old['points']:+g} points, {a.rule_leads.get(rid, 0):,}"
                       " leads)")
        elif new and not old:
            out.append(f"+ {rid}: {new['attribute']} {new['match']} "
                       f"{_condition(new)} {new['points']:+g} points "
                       f"({b.rule_leads.get(rid, 0):,} leads)")
        elif old != new:
            out.append(f"~ {rid}: {old['points']:+g} -> {new['points']:+g} points "
                       f"({a.rule_leads.get(rid, 0):,} -> {b.rule_leads.get(rid, 0):,} leads)")
    return out


def other_changes(in_force: FunnelDefinitions, proposed: FunnelDefinitions) -> list[str]:
    """What else changed that moves scores or MQLs: attributes, engagement rules, the MQL rule."""
    out = [f"+ lead attribute {name}" for name in proposed.lead_attributes
           if name not in in_force.lead_attributes]
    old = {r.activity_type: r for r in in_force.engagement.rules}
    new = {r.activity_type: r for r in proposed.engagement.rules}
    for t in sorted(set(old) | set(new)):
        a, b = old.get(t), new.get(t)
        if a and not b:
            out.append(f"- engagement {t}: removed ({a.points:+g} points)")
        elif b and not a:
            out.append(f"+ engagement {t}: {b.points:+g} points" + (f", cap {b.cap:g}" if b.cap
                                                                      else ""))
        elif a != b:
            out.append(f"~ engagement {t}: {a.points:+g} -> {b.points:+g} points, cap "
                       f"{_fmt(a.cap, 'g')} -> {_fmt(b.cap, 'g')}")
    for key in ("threshold", "min_fit", "fit_weight", "engagement_weight"):
        a, b = getattr(in_force.mql, key), getattr(proposed.mql, key)
        if a != b:
            out.append(f"~ mql.{key}: {a:g} -> {b:g}")
    return out


def _condition(rule: dict) -> str:
    if rule["match"] == "range":
        return f"[{_fmt(rule['min'], 'g')}, {_fmt(rule['max'], 'g')}]"
    if rule["values"]:
        return ", ".join(rule["values"])
    return ""
