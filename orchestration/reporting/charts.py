"""The report's charts: Altair specifications rendered offline to inline SVG by vl-convert.

SVG keeps the HTML self-contained and sharp when printed or e-mailed; nothing is fetched.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

MODE_COLOURS = alt.Scale(domain=["inbound", "outbound"], range=["#2563eb", "#f59e0b"])
FONT = "Helvetica, Arial, sans-serif"


def to_svg(chart: alt.TopLevelMixin) -> str:
    import vl_convert as vlc

    spec = chart.configure(font=FONT).configure_view(stroke=None).to_dict()
    svg = vlc.vegalite_to_svg(spec)
    return svg[svg.index("<svg"):]  # drop the XML prolog: the SVG is inlined in HTML


def sparkline(points: list[tuple[str, float | None]]) -> str:
    frame = pd.DataFrame(points, columns=["week", "value"]).dropna()
    base = alt.Chart(frame).encode(
        x=alt.X("week:O", axis=None, sort=None), y=alt.Y("value:Q", axis=None,
                                                         scale=alt.Scale(zero=False)))
    chart = (base.mark_line(color="#64748b", strokeWidth=1.5)
             + base.transform_window(rank="rank()", sort=[alt.SortField("week", "descending")])
             .transform_filter("datum.rank == 1").mark_point(color="#0f172a", filled=True, size=18))
    return to_svg(chart.properties(width=130, height=34, padding=2))


def funnel_by_mode(frame: pd.DataFrame) -> str:
    stages = list(frame.sort_values("stage_order")["stage"].drop_duplicates())
    base = alt.Chart(frame).encode(
        y=alt.Y("stage:N", sort=stages, title=None),
        x=alt.X("count:Q", title="leads reaching the stage this week"),
    )
    bars = base.mark_bar().encode(color=alt.Color("acquisition_mode:N", scale=MODE_COLOURS,
                                                  legend=None))
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("count:Q", format=","))
    return to_svg((bars + labels).properties(width=300, height=170).facet(
        column=alt.Column("mode:N", title=None,
                          header=alt.Header(labelFontSize=13, labelFontWeight="bold"))))


def channel_volume_vs_cost(frame: pd.DataFrame, currency: str) -> str:
    data = frame.dropna(subset=["cost_per_opportunity"])
    base = alt.Chart(data).encode(
        x=alt.X("leads:Q", title="leads (last 12 weeks)"),
        y=alt.Y("cost_per_opportunity:Q", title=f"cost per opportunity ({currency})"),
    )
    points = base.mark_point(filled=True, opacity=0.85).encode(
        size=alt.Size("opportunities:Q", title="opportunities", scale=alt.Scale(range=[40, 600])),
        color=alt.Color("channel:N", title="channel", scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(labelLimit=220)),
        shape=alt.Shape("mode:N", title="mode"),
        tooltip=["channel", "leads", "opportunities", "cost_per_opportunity"],
    )
    # Labels sit right of their bubble, or left of it near the right edge (the legend's side).
    placed = base.transform_joinaggregate(most_leads="max(leads)").transform_calculate(
        right_half="datum.leads > 0.6 * datum.most_leads")
    labels = (placed.transform_filter("!datum.right_half")
              .mark_text(align="left", dx=10, fontSize=11).encode(text="channel:N")
              + placed.transform_filter("datum.right_half")
              .mark_text(align="right", dx=-14, fontSize=11).encode(text="channel:N"))
    return to_svg((points + labels).properties(width=560, height=280))


def segment_conversion(frame: pd.DataFrame) -> str:
    chart = alt.Chart(frame.dropna(subset=["rate"])).mark_bar().encode(
        x=alt.X("segment_label:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset="step:N",
        y=alt.Y("rate:Q", title="cohort conversion", axis=alt.Axis(format="%")),
        color=alt.Color("step:N", title=None, scale=alt.Scale(range=["#0d9488", "#7c3aed"])),
    )
    return to_svg(chart.properties(width=300, height=200))


def segment_velocity(frame: pd.DataFrame) -> str:
    chart = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("iso_week:O", title=None, sort=None, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("median_days_mql_to_sql:Q", title="median days MQL→SQL"),
        color=alt.Color("segment_label:N", title="segment"),
    )
    return to_svg(chart.properties(width=340, height=200))


def sla_trend(frame: pd.DataFrame, target_hours: float, limit_hours: float) -> str:
    long = frame.melt("iso_week", var_name="measure", value_name="rate").dropna()
    long["measure"] = long["measure"].map({
        "sla_target_compliance_rate": f"touched within target ({target_hours:g} h)",
        "sla_limit_compliance_rate": f"touched within limit ({limit_hours:g} h)"})
    chart = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("iso_week:O", title=None, sort=None, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("rate:Q", title="share of the week's MQLs", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
    )
    return to_svg(chart.properties(width=560, height=200))


def feedback_reasons(frame: pd.DataFrame) -> str:
    chart = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("reason:N", sort="-x", title=None),
        x=alt.X("count:Q", title="qualifications this week"),
        color=alt.Color("outcome:N", title=None,
                        scale=alt.Scale(domain=["rejected", "recycled"],
                                        range=["#dc2626", "#0891b2"])),
    )
    return to_svg(chart.properties(width=420, height=max(60, 22 * len(frame))))


def lift_by_decile(frame: pd.DataFrame, outcome_label: str) -> str:
    bars = alt.Chart(frame).mark_bar(color="#2563eb").encode(
        x=alt.X("bucket:N", sort=None, title="score decile (D1 = highest scores)",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("outcome_lift:Q", title=f"lift ({outcome_label} rate / base rate)"),
    )
    base_rate = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(
        color="#dc2626", strokeDash=[4, 3]).encode(y="y:Q")
    return to_svg((bars + base_rate).properties(width=340, height=200))


def threshold_backtest(frame: pd.DataFrame, current: float) -> str:
    long = frame.melt("threshold", value_vars=["precision", "recall"], var_name="measure",
                      value_name="share")
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("threshold:Q", title="MQL threshold"),
        y=alt.Y("share:Q", title="precision / recall", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
    )
    volume = alt.Chart(frame).mark_bar(opacity=0.18, color="#475569", size=12).encode(
        x="threshold:Q",
        y=alt.Y("mqls_per_week:Q", title="MQLs per week (bars)"),
    )
    marker = alt.Chart(pd.DataFrame({"threshold": [current]})).mark_rule(
        color="#dc2626", strokeDash=[4, 3]).encode(x="threshold:Q")
    label = alt.Chart(pd.DataFrame({"threshold": [current], "text": ["in force"]})).mark_text(
        align="left", dx=4, dy=-90, color="#dc2626").encode(x="threshold:Q", text="text:N")
    chart = alt.layer(volume, lines + marker + label).resolve_scale(y="independent")
    return to_svg(chart.properties(width=400, height=200))
