"""`funnel suggest`: a proposed definitions file learned from the history.

The evidence is the mart marts.fct_scoring_suggestions (smoothed log-odds of every attribute
value and activity type against the outcome the definitions name, on the 0-100 scale). This
module only turns it into rules:

- fit: for each informative attribute, a `not_null` rule worth the attribute's baseline (the
  points that lift its worst well-evidenced value to 0), one rule per well-evidenced value (an
  `in` rule, or a `range` rule for a numeric quintile) worth its suggested points, and an
  `is_null` rule for leads without a value. Each attribute then gives 0 (its worst value) to
  its span, the spans add up to 100, and no lead's sum needs clamping at 0;
- engagement: one rule per informative activity type, its cap scaled with its points (a new
  rule counts once: the evidence is having done it);
- the export's own columns that rules now use are declared under `lead_attributes`.

Everything else of the file in force is kept. The proposal is a new file named by its
content hash; the file in force is never written.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

from orchestration.funnel_definitions import FIT_ATTRIBUTES, load_definitions, parse_yaml
from orchestration.settings import connect_snapshot


class ProposalError(RuntimeError):
    """No proposal can be made; the message says why and what to do."""


@dataclass
class Proposal:
    definitions: dict[str, Any]
    in_force_version: str
    outcome: str
    evaluated_leads: int
    attributes: list[tuple[str, float, int]]  # (attribute, information value, rules)
    skipped: list[tuple[str, float]] = field(default_factory=list)  # not informative
    engagement: list[tuple[str, float, float]] = field(default_factory=list)  # type, now, new

    def text(self, source: Path) -> str:
        body = yaml.safe_dump(self.definitions, sort_keys=False, allow_unicode=True, width=100)
        header = (
            "# Proposed by `funnel suggest` - not in force. Learned from "
            f"{self.evaluated_leads:,} evaluated leads of {source}\n"
            f"# (definitions in force: {self.in_force_version}; outcome: {self.outcome}).\n"
            "# Compare: funnel backtest --definitions <this file>\n"
            "# Adopt: copy it over the definitions file in force, then funnel run.\n")
        return header + body


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:40] or "value"


def _points(value: float) -> float:
    return float(max(-100, min(100, round(value))))


def _fit_rules(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Rules of one informative attribute (rows: its well-evidenced values)."""
    name = rows[0]["field_name"]
    baseline = -min(0.0, min(r["suggested_points"] for r in rows))
    rules: list[dict] = []
    if baseline >= 1:
        rules.append({"id": f"{name}_known", "attribute": name, "match": "not_null",
                      "points": _points(baseline)})
    ranges = sorted((r for r in rows if r["range_min"] is not None), key=lambda r: r["range_min"])
    for i, r in enumerate(ranges):
        # edges halfway to the neighbouring quintiles, the outer ones open
        low = None if i == 0 else (ranges[i - 1]["range_max"] + r["range_min"]) / 2
        high = None if i == len(ranges) - 1 else (r["range_max"] + ranges[i + 1]["range_min"]) / 2
        if _points(r["suggested_points"]) == 0:
            continue
        rule = {"id": f"{name}_{_slug(r['field_value'])}", "attribute": name, "match": "range"}
        if low is not None:
            rule["min"] = low
        if high is not None:
            rule["max"] = high
        rules.append({**rule, "points": _points(r["suggested_points"])})
    for r in rows:
        value = r["field_value"]
        if r["range_min"] is not None or value == "(other)":
            continue  # "(other)" pools rare values: the baseline already stands for them
        if value == "(missing)":
            points = _points(baseline + r["suggested_points"])
            if points:
                rules.append({"id": f"{name}_missing", "attribute": name, "match": "is_null",
                              "points": points})
            continue
        if _points(r["suggested_points"]):
            rules.append({"id": f"{name}_{_slug(value)}", "attribute": name, "match": "in",
                          "values": [value], "points": _points(r["suggested_points"])})
    return rules, ([name] if name not in FIT_ATTRIBUTES else [])


def _engagement_rules(rows: list[dict], in_force: dict[str, dict]) -> list[dict]:
    out = []
    for r in sorted(rows, key=lambda r: -r["suggested_points"]):
        points = _points(r["suggested_points"])
        if not points:
            continue
        old = in_force.get(r["field_value"], {})
        rule: dict[str, Any] = {"activity_type": r["field_value"], "points": points}
        if old.get("per_unit"):
            rule["per_unit"] = True
        if points > 0:
            ratio = (old["cap"] / old["points"]) if old.get("cap") and old.get("points") else 1
            rule["cap"] = float(max(points, round(points * ratio)))
        out.append(rule)
    return out


def propose(serving_path: Path, definitions_file: Path) -> Proposal:
    if not serving_path.exists():
        raise ProposalError(f"No published warehouse at {serving_path}: run `funnel run` first.")
    con = connect_snapshot(serving_path)
    try:
        try:
            frame = con.execute("select * from marts.fct_scoring_suggestions").df()
            evaluated, version = con.execute(
                "select any_value(evaluated_leads), any_value(definitions_version) "
                "from marts.fct_score_calibration").fetchone()
        except duckdb.CatalogException as exc:
            raise ProposalError(f"{serving_path} has no scoring suggestions: it was published by"
                                " an older version; run `funnel run`.") from exc
    finally:
        con.close()
    if frame.empty or not evaluated:
        raise ProposalError("No lead is old enough to be judged yet (see fct_score_calibration):"
                            " nothing to learn from.")
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]
    current = parse_yaml(definitions_file.read_text(encoding="utf-8"))
    defs = load_definitions(definitions_file)
    usable = [r for r in rows if r["is_informative"] and r["suggested_points"] is not None]

    fit_rules: list[dict] = []
    declared: list[str] = []
    attributes, skipped = [], []
    by_attribute: dict[str, list[dict]] = {}
    for r in usable:
        if r["family"] == "fit":
            by_attribute.setdefault(r["field_name"], []).append(r)
    strength = {r["field_name"]: r["information_value"] for r in rows if r["family"] == "fit"}
    for name, iv in sorted(strength.items(), key=lambda kv: -kv[1]):
        if name not in by_attribute:
            skipped.append((name, iv))
            continue
        rules, own = _fit_rules(by_attribute[name])
        fit_rules += rules
        declared += own
        attributes.append((name, iv, len(rules)))
    if not fit_rules:
        raise ProposalError("No attribute separates the outcome well enough "
                            "(calibration.min_information_value): nothing to propose.")

    in_force_engagement = {r.activity_type: r.model_dump() for r in defs.engagement.rules}
    engagement = _engagement_rules([r for r in usable if r["family"] == "engagement"],
                                   in_force_engagement)
    # a type without informative evidence (no evaluated lead did it, or too few, or it
    # separates nothing) keeps its rule as it is: weak evidence changes nothing
    seen = {r["field_value"] for r in usable if r["family"] == "engagement"}
    engagement += [{k: v for k, v in rule.items() if v is not None and v is not False}
                   for t, rule in in_force_engagement.items() if t not in seen]
    proposed = dict(current)
    proposed["lead_attributes"] = sorted(set(defs.lead_attributes) | set(declared))
    proposed["fit_rules"] = fit_rules
    if engagement:
        proposed["engagement"] = {**current.get("engagement", {}), "rules": engagement}
    # Weights that make the lead score one sum of log-odds: a family whose points are spread
    # thinner (more points per log-odds) weighs less; one with no informative evidence at
    # all (activity separates nothing) weighs nothing.
    scale = {r["family"]: r["points_per_log_odds"] for r in usable if r["points_per_log_odds"]}
    if "fit" in scale:
        fit_weight = (round(20 * scale["engagement"] / (scale["fit"] + scale["engagement"])) / 20
                      if "engagement" in scale else 1.0)
        proposed["mql"] = {**current.get("mql", {}), "fit_weight": fit_weight,
                           "engagement_weight": round(1 - fit_weight, 2)}
    changes = [(e["activity_type"], in_force_engagement.get(e["activity_type"], {}).get("points", 0.0),
                e["points"]) for e in engagement]
    return Proposal(proposed, version, str(rows[0]["outcome"]), int(evaluated), attributes,
                    skipped, changes)


def write_proposal(proposal: Proposal, source: Path, out: Path | None,
                   definitions_file: Path) -> Path:
    """Write the proposal (validated like any definitions file) and return its path."""
    text = proposal.text(source)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    path = out or definitions_file.parent / "proposals" / f"funnel.proposed-{digest}.yml"
    if path.resolve() == definitions_file.resolve():
        raise ProposalError(f"{path} is the definitions file in force: a proposal never "
                            "replaces it (adopt one by copying it over, once compared).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_definitions(tmp)  # a proposal that would not load is a bug here, not the user's
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(path)
    return path


def render_summary(p: Proposal, path: Path, at: datetime | None = None) -> str:
    at = at or datetime.now(UTC)
    lines = [f"Learned from {p.evaluated_leads:,} evaluated leads (outcome: {p.outcome}), "
             f"{at:%Y-%m-%d %H:%M} UTC.", "", "Fit attributes by information value:"]
    lines += [f"  {name:<28} IV {iv:6.3f}  {n:3d} rules" for name, iv, n in p.attributes]
    if p.skipped:
        lines.append("  not informative (no rules): " + ", ".join(
            f"{name} ({iv:.3f})" for name, iv in p.skipped))
    if p.engagement:
        lines += ["", "Engagement points (in force -> proposed):"]
        lines += [f"  {t:<28} {a:6g} -> {b:6g}" for t, a, b in p.engagement]
    lines += ["", f"Proposal written to {path}", f"Next: funnel backtest --definitions {path}"]
    return "\n".join(lines)
