"""`funnel backtest`: what another MQL threshold, minimum fit or weighting would have given on
this history, next to the definitions in force - in seconds, from the serving file.

The replay needs one row per lead (marts.fct_lead_score_peaks: fit, peak engagement before
SQL, fast-track activity), so nothing is rescored. The MQL rule itself is the dbt macro
`meets_mql_rule` (dbt_project/macros/definitions.sql), rendered here with Jinja: the
lifecycle, the backtest mart and this command apply one definition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from orchestration.funnel_definitions import OUTCOME_LABELS, FunnelDefinitions
from orchestration.paths import DBT_PROJECT_DIR
from orchestration.settings import connect_snapshot

# What decides which leads are MQL. A proposal that changes anything else of these needs a
# rebuild (the scores themselves change); the rest of the file does not touch MQLs.
RESCORING_SECTIONS = ("icp", "fit_rules", "engagement", "exclusions", "recycle", "channels",
                      "null_placeholders", "segments")


class BacktestError(RuntimeError):
    """The backtest cannot answer; the message says why and what to do."""


@dataclass(frozen=True)
class MqlRule:
    threshold: float
    min_fit: float
    fit_weight: float
    engagement_weight: float

    @classmethod
    def of(cls, d: FunnelDefinitions) -> MqlRule:
        return cls(d.mql.threshold, d.mql.min_fit, d.mql.fit_weight, d.mql.engagement_weight)

    def label(self) -> str:
        return (f"score ≥ {self.threshold:g}, fit ≥ {self.min_fit:g}, "
                f"{self.fit_weight:g}×fit + {self.engagement_weight:g}×engagement")


@dataclass(frozen=True)
class Replay:
    rule: MqlRule
    mqls: int
    sqls_among_mqls: int
    new_mqls: int
    lost_mqls: int
    weeks: int
    inbound_sqls: int
    reps: int
    # the outcome the definitions name (calibration.outcome): a won-only history has no SQL
    outcome: str = "sql"
    outcomes_among_mqls: int = 0
    inbound_outcomes: int = 0

    @property
    def outcome_precision(self) -> float:
        return self.outcomes_among_mqls / self.mqls if self.mqls else float("nan")

    @property
    def outcome_recall(self) -> float:
        return (self.outcomes_among_mqls / self.inbound_outcomes if self.inbound_outcomes
                else float("nan"))

    @property
    def mqls_per_week(self) -> float:
        return self.mqls / self.weeks if self.weeks else float("nan")

    @property
    def precision(self) -> float:
        return self.sqls_among_mqls / self.mqls if self.mqls else float("nan")

    @property
    def recall(self) -> float:
        return self.sqls_among_mqls / self.inbound_sqls if self.inbound_sqls else float("nan")

    @property
    def mqls_per_week_per_rep(self) -> float:
        return self.mqls_per_week / self.reps if self.reps else float("nan")


@cache
def _macros():
    import jinja2

    source = (DBT_PROJECT_DIR / "macros" / "definitions.sql").read_text(encoding="utf-8")
    return jinja2.Environment(extensions=["jinja2.ext.do"]).from_string(source).module


def mql_rule_sql(rule: MqlRule, fit: str, engagement: str, fast_track: str) -> str:
    """The dbt macro `meets_mql_rule` with this rule's numbers, as a SQL expression."""
    return str(_macros().meets_mql_rule(
        fit, engagement, fast_track, repr(float(rule.threshold)), repr(float(rule.min_fit)),
        repr(float(rule.fit_weight)), repr(float(rule.engagement_weight))))


def replay(con: duckdb.DuckDBPyConnection, rule: MqlRule) -> Replay:
    would_be = mql_rule_sql(rule, "fit_score", "peak_engagement_score", "has_fast_track_activity")
    mqls, sqls, new, lost, outcomes = con.execute(f"""
        with replayed as (
            select is_mql, is_sql, reached_outcome,
                   acquisition_mode = 'inbound' and not is_excluded and {would_be} as would_be_mql
            from marts.fct_lead_score_peaks
        )
        select count(*) filter (where would_be_mql),
               count(*) filter (where would_be_mql and is_sql),
               count(*) filter (where would_be_mql and not is_mql),
               count(*) filter (where is_mql and not would_be_mql),
               count(*) filter (where would_be_mql and reached_outcome)
        from replayed""").fetchone()
    weeks, inbound_sqls, reps, outcome, inbound_outcomes = con.execute(
        "select any_value(history_weeks), any_value(inbound_sqls), any_value(reps), "
        "any_value(outcome), any_value(inbound_outcomes) "
        "from marts.fct_threshold_backtest").fetchone()
    return Replay(rule, mqls, sqls, new, lost, int(weeks or 0), int(inbound_sqls or 0),
                  int(reps or 0), outcome or "sql", outcomes, int(inbound_outcomes or 0))


def rescoring_changes(current: FunnelDefinitions, proposed: FunnelDefinitions) -> list[str]:
    """Sections of `proposed` that differ from `current` and change the scores themselves."""
    a, b = current.model_dump(), proposed.model_dump()
    return [s for s in RESCORING_SECTIONS if a.get(s) != b.get(s)]


def open_serving_for_backtest(serving_path: Path) -> duckdb.DuckDBPyConnection:
    if not serving_path.exists():
        raise BacktestError(f"No published warehouse at {serving_path}: run `funnel run` first.")
    con = connect_snapshot(serving_path)
    has = con.execute("select count(*) from information_schema.tables where table_schema = "
                      "'marts' and table_name in ('fct_lead_score_peaks', "
                      "'fct_threshold_backtest')").fetchone()[0]
    if has < 2:
        con.close()
        raise BacktestError(f"{serving_path} has no fct_lead_score_peaks/fct_threshold_backtest:"
                            " it was published by an older version; run `funnel run`.")
    return con


@dataclass
class Comparison:
    in_force: Replay
    proposed: Replay
    seconds: float

    def _outcome_rows(self) -> list[tuple[str, str, str, str]]:
        """Precision and recall for the definitions' outcome, when it is not SQL."""
        a, b = self.in_force, self.proposed
        if a.outcome == "sql":
            return []
        name = OUTCOME_LABELS[a.outcome][0]
        return [(f"precision ({name} / MQL)", f"{a.outcome_precision:.1%}",
                 f"{b.outcome_precision:.1%}",
                 f"{(b.outcome_precision - a.outcome_precision) * 100:+.1f} pp"),
                (f"recall (of inbound {name})", f"{a.outcome_recall:.1%}",
                 f"{b.outcome_recall:.1%}",
                 f"{(b.outcome_recall - a.outcome_recall) * 100:+.1f} pp")]

    def render(self) -> str:
        a, b = self.in_force, self.proposed
        rows = [
            ("MQLs", f"{a.mqls:,}", f"{b.mqls:,}", f"{b.mqls - a.mqls:+,}"),
            ("MQLs per week", f"{a.mqls_per_week:,.1f}", f"{b.mqls_per_week:,.1f}",
             f"{b.mqls_per_week - a.mqls_per_week:+,.1f}"),
            ("SQLs among them", f"{a.sqls_among_mqls:,}", f"{b.sqls_among_mqls:,}",
             f"{b.sqls_among_mqls - a.sqls_among_mqls:+,}"),
            ("precision (SQL / MQL)", f"{a.precision:.1%}", f"{b.precision:.1%}",
             f"{(b.precision - a.precision) * 100:+.1f} pp"),
            ("recall (of inbound SQLs)", f"{a.recall:.1%}", f"{b.recall:.1%}",
             f"{(b.recall - a.recall) * 100:+.1f} pp"),
            *self._outcome_rows(),
            (f"MQLs per week per rep ({a.reps} reps)", f"{a.mqls_per_week_per_rep:.2f}",
             f"{b.mqls_per_week_per_rep:.2f}",
             f"{b.mqls_per_week_per_rep - a.mqls_per_week_per_rep:+.2f}"),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"in force:  {a.rule.label()}", f"proposed:  {b.rule.label()}", "",
                 f"{'':{width}}  {'in force':>12}  {'proposed':>12}  {'change':>10}"]
        lines += [f"{n:{width}}  {x:>12}  {y:>12}  {c:>10}" for n, x, y, c in rows]
        lines += ["", f"Leads MQL only under the proposal: {b.new_mqls:,}; no longer MQL: "
                      f"{b.lost_mqls:,}. Replayed on {a.weeks} weeks of history in "
                      f"{self.seconds:.2f} s."]
        return "\n".join(lines)


def compare(serving_path: Path, in_force: MqlRule, proposed: MqlRule) -> Comparison:
    started = time.perf_counter()
    con = open_serving_for_backtest(serving_path)
    try:
        a, b = replay(con, in_force), replay(con, proposed)
    finally:
        con.close()
    return Comparison(a, b, time.perf_counter() - started)
