"""Build one week's report: self-contained HTML, a Markdown summary for chat, the KPI CSV."""

from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jinja2

from orchestration.reporting import charts
from orchestration.reporting.data import HEADLINE, Kpi, WeeklyReportData, load_week
from orchestration.reporting.weeks import week_label

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class ReportFiles:
    week: str
    html: Path
    markdown: Path
    csv: Path
    seconds: float
    worklist_csv: Path | None = None  # the sales worklist, for the sales team

    @property
    def html_bytes(self) -> int:
        return self.html.stat().st_size


def report_paths(reports_dir: Path, week_start: date) -> tuple[Path, Path, Path]:
    stem = reports_dir / "weekly" / f"funnel_{week_label(week_start)}"
    return stem.with_suffix(".html"), stem.with_suffix(".md"), stem.with_suffix(".csv")


def build_weekly_report(serving_path: Path, week_start: date, reports_dir: Path) -> ReportFiles:
    started = time.perf_counter()
    html_path, md_path, csv_path = report_paths(reports_dir, week_start)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    # the whole worklist comes from the snapshot the figures come from, written beside and
    # renamed last, like the other files: a report that fails leaves the previous one whole
    worklist_csv = csv_path.with_name(f"worklist_{week_label(week_start)}.csv")
    staged = worklist_csv.with_name(f".{worklist_csv.name}.tmp")
    try:
        data = load_week(serving_path, week_start, worklist_csv=staged)
        env = _environment(data.currency)
        _write(html_path, env.get_template("weekly.html.j2").render(
            d=data, charts=_charts(data), headline=HEADLINE, definitions=_definitions(data)))
        _write(md_path, env.get_template("weekly.md.j2").render(d=data, html_name=html_path.name))
        _write_csv(csv_path, data)
        if data.worklist_leads:
            os.replace(staged, worklist_csv)
    finally:
        staged.unlink(missing_ok=True)
    return ReportFiles(data.label, html_path, md_path, csv_path, time.perf_counter() - started,
                       worklist_csv if data.worklist_leads else None)


def _write(path: Path, text: str) -> None:
    """Write beside, then rename: a mail job never picks up half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_csv(path: Path, data: WeeklyReportData) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["iso_week", "kpi", "label", "unit", "value", "previous_week_value",
                      "change", "currency", "definitions_version"])
        for k in data.kpis:
            out.writerow([data.label, k.spec.column, k.title, k.spec.unit,
                          _raw(k.value), _raw(k.previous), _raw(k.change), data.currency,
                          data.settings["definitions_version"]])
    os.replace(tmp, path)


def _raw(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _charts(d: WeeklyReportData) -> dict[str, str]:
    s = d.settings
    out = {f"spark_{k.spec.column}": charts.sparkline(k.trend) for k in d.kpis}
    out["funnel"] = charts.funnel_by_mode(d.funnel_by_mode)
    if not d.channels.empty and d.channels["cost_per_opportunity"].notna().any():
        out["channels"] = charts.channel_volume_vs_cost(d.channels, d.currency)
    if not d.segment_conversion.empty and d.segment_conversion["rate"].notna().any():
        out["segment_conversion"] = charts.segment_conversion(d.segment_conversion)
    if not d.segment_velocity.empty:
        out["segment_velocity"] = charts.segment_velocity(d.segment_velocity)
    if d.sla_trend.drop(columns="iso_week").notna().any().any():
        out["sla"] = charts.sla_trend(d.sla_trend, s["sla_target_hours"], s["sla_limit_hours"])
    if not d.feedback_reasons.empty:
        out["feedback"] = charts.feedback_reasons(d.feedback_reasons)
    if not d.calibration.empty and d.calibration["outcome_lift"].notna().any():
        out["scoring_lift"] = charts.lift_by_decile(d.calibration, d.scoring["outcome_label"])
    if not d.backtest.empty:
        out["backtest"] = charts.threshold_backtest(d.backtest, s["mql_threshold"])
    return out


def _definitions(d: WeeklyReportData) -> list[tuple[str, str]]:
    s = d.settings
    next_step = " and a scheduled next step" if s["sql_requires_next_step"] else ""
    hours = (f"business hours {s['sla_business_hours_start']}:00-{s['sla_business_hours_end']}:00"
             if s["sla_business_hours_only"] else "calendar hours")
    return [
        ("MQL", f"lead score ≥ {s['mql_threshold']:g} and fit ≥ {s['mql_min_fit']:g} "
                f"(score = {s['fit_weight']:g} × fit + {s['engagement_weight']:g} × engagement, "
                f"engagement half-life {s['half_life_days']:g} days)"),
        ("SQL", f"a qualification accepted with at least {s['sql_min_bant_criteria']} of 4 BANT "
                f"criteria{next_step}"),
        ("SLA", f"first sales touch within {s['sla_target_hours']:g} h (target), "
                f"{s['sla_limit_hours']:g} h (limit), {hours}, {s['reporting_timezone']}"),
        ("Cohort maturity", f"MQL→SQL {s['mql_to_sql_maturity_days']} days, SQL→opportunity "
                            f"{s['sql_to_opportunity_maturity_days']} days, opportunity→won "
                            f"{s['opportunity_to_won_maturity_days']} days, MQL→customer "
                            f"{s['mql_to_customer_maturity_days']} days"
                            + _segment_windows(d)),
        ("Rejections", _rejections(d)),
        ("Stage source", str(s["stage_source"])),
        ("Definitions version", str(s["definitions_version"])),
    ]


def _segment_windows(d: WeeklyReportData) -> str:
    """The segments whose cohort windows differ from the defaults, by label."""
    s, parts = d.settings, []
    names = {"mql_to_sql": "MQL→SQL", "sql_to_opportunity": "SQL→opportunity",
             "opportunity_to_won": "opportunity→won", "mql_to_customer": "MQL→customer"}
    for r in d.maturity_windows.to_dict("records"):
        own = [f"{label} {r[f'{t}_days']}" for t, label in names.items()
               if r[f"{t}_days"] != s[f"{t}_maturity_days"]]
        if own:
            parts.append(f"{d.labels.get(('segment', r['segment']), r['segment'])}: "
                         f"{', '.join(own)} days")
    return f" ({'; '.join(parts)})" if parts else ""


def _rejections(d: WeeklyReportData) -> str:
    """What a rejection does: which reasons nurture, and when a lead may come back."""
    s = d.settings
    nurture = sorted(r["reason"] for r in d.rejection_reasons.to_dict("records")
                     if r["treatment"] == "nurture")
    listed = f"nurture: {', '.join(nurture)}; " if nurture else ""
    return (f"{listed}other reasons {s['unlisted_rejection_treatment']}. A nurtured or recycled "
            f"lead may become an MQL again after {s['return_after_days']} days with engagement "
            f"≥ {s['return_min_engagement']:g}")


def _environment(currency: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    # An unknown figure (no cost recorded, no denominator) reads "n/a", never 0.
    env.filters["count"] = lambda v: NOT_AVAILABLE if _missing(v) else f"{v:,.0f}"
    env.filters["money"] = lambda v: NOT_AVAILABLE if _missing(v) else f"{currency} {v:,.0f}"
    env.filters["rate"] = lambda v: NOT_AVAILABLE if _missing(v) else f"{v:.1%}"
    env.filters["num"] = lambda v, digits=1: NOT_AVAILABLE if _missing(v) else f"{v:,.{digits}f}"
    env.filters["kpi"] = format_kpi
    env.filters["change"] = format_change
    env.filters["raw"] = _raw
    env.globals["currency"] = currency
    return env


NOT_AVAILABLE = "n/a"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def format_kpi(k: Kpi) -> str:
    v = k.value
    if _missing(v):
        return NOT_AVAILABLE
    if k.spec.unit == "rate":
        return f"{v:.1%}"
    if k.spec.unit == "money":
        return f"{v:,.0f}"
    return f"{v:,.0f}"


def format_change(k: Kpi) -> tuple[str, str]:
    """Text and tone (good / bad / flat) of the week-over-week change."""
    c = k.change
    if c is None:
        return "no comparison", "flat"
    text = f"{c * 100:+.1f} pp" if k.spec.unit == "rate" else f"{c:+.1%}"
    if abs(c) < 1e-9:
        return text, "flat"
    good = (c > 0) == (k.spec.better == "up")
    return text, "good" if good else "bad"
