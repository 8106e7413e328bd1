"""What the weekly report shows, read from the serving file (read-only, audited data only).

Every figure comes from a mart as it is: the report sums counts and spend across rows where a
section needs a wider window, and divides sums (never averages rates or medians).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from orchestration.funnel_definitions import OUTCOME_LABELS
from orchestration.reporting.weeks import last_complete_week_of_data, week_label
from orchestration.settings import connect_snapshot

TREND_WEEKS = 12
STAGE_LABELS = {"lead": "Lead", "mql": "MQL", "sql": "SQL", "opportunity": "Opportunity",
                "customer": "Customer"}
FUNNEL_STAGES = [("leads", "Lead"), ("mqls", "MQL"), ("sqls", "SQL"),
                 ("new_opportunities", "Opportunity"), ("customers", "Customer")]


class ReportError(RuntimeError):
    """The report cannot be built; the message says what to do."""


class NoCompleteWeek(ReportError):
    """The data has not yet covered one whole week: nothing is wrong, there is no week to
    report on yet."""


@dataclass(frozen=True)
class KpiSpec:
    column: str
    label: str
    unit: str  # count | money | rate
    better: str = "up"  # which direction is good, for the colour of the change


HEADLINE = [
    KpiSpec("leads", "Leads", "count"),
    KpiSpec("mqls", "MQLs", "count"),
    KpiSpec("sqls", "SQLs", "count"),
    KpiSpec("new_opportunities", "Opportunities", "count"),
    KpiSpec("won_amount", "Won amount", "money"),
    KpiSpec("mql_to_sql_cohort_rate", "MQL→SQL cohort rate", "rate"),
    KpiSpec("cost_per_sql", "Cost per SQL", "money", better="down"),
    KpiSpec("cost_per_opportunity", "Cost per opportunity", "money", better="down"),
    KpiSpec("sla_limit_compliance_rate", "SLA compliance", "rate"),
]


@dataclass
class Kpi:
    spec: KpiSpec
    value: float | None
    previous: float | None
    trend: list[tuple[str, float | None]]
    note: str = ""
    label: str = ""  # the card's title, when it says more than the spec's (a cohort week)

    @property
    def title(self) -> str:
        return self.label or self.spec.label

    @property
    def change(self) -> float | None:
        """Relative change for counts and money; percentage points for rates."""
        if self.value is None or self.previous is None:
            return None
        if self.spec.unit == "rate":
            return self.value - self.previous
        return None if self.previous == 0 else self.value / self.previous - 1


@dataclass
class WeeklyReportData:
    week_start: date
    settings: dict
    published: dict
    data_until: datetime
    kpis: list[Kpi]
    summary_row: dict
    trend: pd.DataFrame
    funnel_by_mode: pd.DataFrame
    channels: pd.DataFrame
    # paid campaigns over the trend window (fct_ad_performance_weekly)
    campaigns: pd.DataFrame
    segments_week: pd.DataFrame
    segment_conversion: pd.DataFrame
    segment_velocity: pd.DataFrame
    sla_trend: pd.DataFrame
    sla_by_owner: pd.DataFrame
    feedback_reasons: pd.DataFrame
    exceptions_by_rep: pd.DataFrame
    checks: pd.DataFrame
    quarantine_week: pd.DataFrame
    quarantine_total: int
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    backtest: pd.DataFrame = field(default_factory=pd.DataFrame)
    suggestions: pd.DataFrame = field(default_factory=pd.DataFrame)
    # what sales decided about every MQL episode so far (fct_sales_feedback), by channel and by
    # fit band at the MQL
    decisions_by_channel: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions_by_fit: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the top of the sales worklist as of the data's cut-off (fct_sales_worklist), best first,
    # and its length (the whole list goes to a CSV file: export_worklist)
    worklist: pd.DataFrame = field(default_factory=pd.DataFrame)
    worklist_leads: int = 0
    worklist_check: pd.DataFrame = field(default_factory=pd.DataFrame)
    # cohort conversion of first and returning MQL episodes, pooled over the mature cohorts
    episode_conversion: pd.DataFrame = field(default_factory=pd.DataFrame)
    # definitions shown in the report's definitions section: cohort windows per segment and
    # what each rejection reason does
    maturity_windows: pd.DataFrame = field(default_factory=pd.DataFrame)
    rejection_reasons: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the funnel by account: the week's accounts entering each stage, by segment, and every
    # account by the furthest stage it reached (fct_account_funnel_weekly, dim_accounts)
    accounts_week: pd.DataFrame = field(default_factory=pd.DataFrame)
    accounts_by_stage: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def scoring(self) -> dict:
        """Overall figures of the calibration (the same on every row of the mart)."""
        if self.calibration.empty:
            return {}
        out = self.calibration.iloc[0][[
            "outcome", "auc_outcome", "base_outcome_rate", "evaluated_leads", "too_young_leads",
            "horizon_days", "outcome_window_days"]].to_dict()
        out["outcome_label"], out["reached"] = OUTCOME_LABELS[out["outcome"]]
        return out

    @property
    def label(self) -> str:
        return week_label(self.week_start)

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    def check_counts(self) -> dict[str, int]:
        """passed / warned / failed among the checks published with the data."""
        if self.checks.empty:
            return {"passed": 0, "warned": 0, "failed": 0, "total": 0}
        passed = self.checks["passed"].astype(bool)
        error = self.checks["severity"] == "ERROR"
        return {"passed": int(passed.sum()), "warned": int((~passed & ~error).sum()),
                "failed": int((~passed & error).sum()), "total": len(self.checks)}

    def checks_by_layer(self) -> list[dict]:
        """Check counts per warehouse layer (the first part of the asset key)."""
        if self.checks.empty:
            return []
        c = self.checks.assign(layer=self.checks["asset"].str.split("/").str[0],
                               passed=self.checks["passed"].astype(bool))
        error = c["severity"] == "ERROR"
        c["warned"], c["failed"] = ~c["passed"] & ~error, ~c["passed"] & error
        return (c.groupby("layer")[["passed", "warned", "failed"]].sum().astype(int)
                .reset_index().to_dict("records"))

    @property
    def quarantined_this_week(self) -> int:
        return 0 if self.quarantine_week.empty else int(self.quarantine_week["rows"].sum())

    @property
    def currency(self) -> str:
        return self.settings["reporting_currency"]

    @property
    def timezone(self) -> str:
        return self.settings["reporting_timezone"]

    @property
    def data_until_local(self) -> datetime:
        """The data's cut-off on the reporting time zone's clock."""
        return self.data_until.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(self.timezone))

    @property
    def sla(self) -> dict:
        """The report week's handovers, as of the data's cut-off."""
        r = self.summary_row
        keys = ["mql_episodes", "first_mql_handovers", "sla_touched", "sla_within_target",
                "sla_target_missed", "sla_within_limit", "sla_limit_breached",
                "sla_never_touched", "sla_pending", "sla_unmeasured"]
        out = {k: int(r.get(k) or 0) for k in keys}
        out["touched_late"] = out["sla_touched"] - out["sla_within_target"]
        out["mqls_again"] = out["mql_episodes"] - out["first_mql_handovers"]
        # of them: back after a recycle or a nurtured rejection; the others came after the SQL
        out["returning_mqls"] = int(r.get("returning_mql_cohort_size") or 0)
        out["mqls_after_sql"] = out["mqls_again"] - out["returning_mqls"]
        # untouched, still within the limit, but already past the target
        out["pending_past_target"] = (out["sla_target_missed"] - out["touched_late"]
                                      - out["sla_never_touched"])
        out["target_rate"] = _value(r.get("sla_target_compliance_rate"))
        out["limit_rate"] = _value(r.get("sla_limit_compliance_rate"))
        return out


def open_serving(serving_path: Path) -> duckdb.DuckDBPyConnection:
    return _open_serving(serving_path)[0]


def _open_serving(serving_path: Path) -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    """A snapshot of the serving file, checked complete, and its tables (served_tables())."""
    if not serving_path.exists():
        raise ReportError(
            f"No published warehouse at {serving_path}. Run `funnel run` (or `make run`) first: "
            "the report reads only data that passed the quality checks and was published.")
    try:
        con = connect_snapshot(serving_path)
    except duckdb.Error as exc:
        from orchestration.processes import lock_holder

        holder = lock_holder(exc)
        if holder is not None:
            raise ReportError(f"{serving_path} cannot be read: {holder.describe()} (open "
                              "read-write). Open the serving file read-only in BI tools; the "
                              "next `funnel run` or `funnel check` publishes a new file.") from None
        raise ReportError(f"{serving_path} cannot be read ({str(exc).splitlines()[0]}): run "
                          "`funnel check` to publish it again from the warehouse.") from None
    tables = served_tables(con)
    needed = {"marts.fct_funnel_summary_weekly", "marts.fct_funnel_weekly",
              "definitions.def_settings", "marts.dim_leads"}
    if missing := sorted(needed - tables):
        con.close()
        raise ReportError(f"{serving_path} is not a complete serving file (missing "
                          f"{', '.join(missing)}). Run `funnel run` to rebuild and publish it.")
    if not con.execute("select count(*) from marts.dim_leads").fetchone()[0]:
        con.close()
        raise ReportError(f"The published warehouse {serving_path} has no leads. Put extracts "
                          "under the landing folder (or `funnel demo`), then `funnel run`.")
    return con, tables


def data_range(con: duckdb.DuckDBPyConnection) -> tuple[date, date, datetime, str]:
    """First week, last complete week, the moment the data runs to, and the timezone."""
    tz = con.execute("select reporting_timezone from definitions.def_settings").fetchone()[0]
    first, until = con.execute(
        "select min(created_date), max(scored_as_of_at) from marts.dim_leads").fetchone()
    return first - timedelta(days=first.weekday()), last_complete_week_of_data(until, tz), until, tz


def check_week(con: duckdb.DuckDBPyConnection, week_start: date) -> None:
    """A clear error unless `week_start` is a complete week the warehouse covers."""
    first, last, until, _ = data_range(con)
    if last < first:
        raise NoCompleteWeek(
            f"the data runs from the week of {week_label(first)} to {until:%Y-%m-%d %H:%M} UTC "
            f"and holds no complete week yet: the first report is the one of "
            f"{week_label(first)}, once that week has ended in the data")
    if not first <= week_start <= last:
        raise ReportError(
            f"No complete week {week_label(week_start)} in the published warehouse: it covers "
            f"{week_label(first)} to {week_label(last)} (data until {until:%Y-%m-%d %H:%M} "
            f"UTC). Pick a week in that range, e.g. --week {week_label(last)}.")


def _frame(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _value(v):
    """A figure as a float, None when unknown (NULL, NaN)."""
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return None
    return float(v)


def served_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The serving file's tables and views, as `schema.name`: what the report can show."""
    return {f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables").fetchall()}


def load_week(serving_path: Path, week_start: date,
              worklist_csv: Path | None = None) -> WeeklyReportData:
    """The week's figures; with `worklist_csv`, the whole worklist is written there too, from
    the same snapshot of the serving file (so the CSV and the report show one publish)."""
    con, tables = _open_serving(serving_path)
    try:
        check_week(con, week_start)
        data = _load(con, week_start, tables)
        if worklist_csv is not None and data.worklist_leads:
            export_worklist(con, worklist_csv, tables)
        return data
    finally:
        con.close()


# Worklist rows the report shows; the whole list is in the worklist CSV.
WORKLIST_SHOWN = 10


def _worklist_sql(tables: set[str]) -> str:
    """The worklist, best first, with its codes as the definitions' labels (`tables`: the
    serving file's, served_tables())."""
    if "definitions.def_labels" not in tables:
        return ("select *, segment as segment_label, channel_group as channel_group_label "
                "from marts.fct_sales_worklist order by worklist_rank")
    return """
        select w.*, coalesce(s.label, w.segment) as segment_label,
               coalesce(c.label, w.channel_group) as channel_group_label
        from marts.fct_sales_worklist as w
        left join definitions.def_labels as s
            on s.dimension = 'segment' and s.code = w.segment
        left join definitions.def_labels as c
            on c.dimension = 'channel_group' and c.code = w.channel_group
        order by w.worklist_rank"""


def export_worklist(con: duckdb.DuckDBPyConnection, path: Path, tables: set[str]) -> int:
    """Write the whole worklist as CSV to `path`; returns its rows. DuckDB writes it: through
    pandas, 214 k rows took 4.7 s at 1 M leads."""
    target = str(path).replace("'", "''")
    [rows] = con.execute(f"copy ({_worklist_sql(tables)}) to '{target}' (header, format csv)"
                         ).fetchone()
    return rows


def _load(con: duckdb.DuckDBPyConnection, week: date, tables: set[str]) -> WeeklyReportData:
    first_trend = week - timedelta(weeks=TREND_WEEKS - 1)
    settings = _frame(con, "select * from definitions.def_settings").iloc[0].to_dict()
    _, _, until, tz = data_range(con)
    labels = {}
    if "definitions.def_labels" in tables:
        labels = {(d, c): lbl for d, c, lbl in con.execute(
            "select dimension, code, label from definitions.def_labels").fetchall()}

    def labelled(frame: pd.DataFrame, column: str, dimension: str, to: str) -> pd.DataFrame:
        """Codes shown as the definitions' labels (reports never show `mid_market`)."""
        if not frame.empty:
            frame[to] = [labels.get((dimension, c), c) for c in frame[column]]
        return frame

    trend = _frame(con, """
        select * from marts.fct_funnel_summary_weekly
        where week_start_date between ? and ? order by week_start_date""", [first_trend, week])
    rows = {r["week_start_date"].date() if hasattr(r["week_start_date"], "date")
            else r["week_start_date"]: r for r in trend.to_dict("records")}
    current = rows[week]
    previous = rows.get(week - timedelta(weeks=1), {})
    kpis = []
    for spec in HEADLINE:
        if spec.column == "mql_to_sql_cohort_rate":
            kpis.append(_latest_mature_cohort(con, spec, week, first_trend,
                                              _longest_window(con, tables, settings,
                                                              "mql_to_sql")))
            continue
        points = [(week_label(d), _value(r[spec.column])) for d, r in sorted(rows.items())]
        kpis.append(Kpi(spec, _value(current[spec.column]), _value(previous.get(spec.column)),
                        points))

    funnel = _frame(con, f"""
        select acquisition_mode, {", ".join(f"sum({c}) as {c}" for c, _ in FUNNEL_STAGES)}
        from marts.fct_funnel_weekly where week_start_date = ? group by 1 order by 1""", [week])
    funnel_long = funnel.melt("acquisition_mode", var_name="column", value_name="count")
    order = {c: i for i, (c, _) in enumerate(FUNNEL_STAGES)}
    funnel_long["stage"] = funnel_long["column"].map(dict(FUNNEL_STAGES))
    funnel_long["stage_order"] = funnel_long["column"].map(order)
    funnel_long["count"] = funnel_long["count"].astype("int64")
    labelled(funnel_long, "acquisition_mode", "acquisition_mode", "mode")

    channels = _frame(con, """
        select channel_group, acquisition_mode, sum(leads) as leads, sum(mqls) as mqls,
               sum(sqls) as sqls, sum(new_opportunities) as opportunities,
               sum(customers) as customers, sum(spend_amount) as spend,
               sum(spend_amount) / nullif(sum(leads), 0) as cost_per_lead,
               sum(spend_amount) / nullif(sum(new_opportunities), 0) as cost_per_opportunity
        from marts.fct_funnel_weekly where week_start_date between ? and ?
        group by 1, 2 having sum(leads) > 0 or sum(spend_amount) > 0
        order by opportunities desc, leads desc""", [first_trend, week])
    labelled(channels, "channel_group", "channel_group", "channel")
    labelled(channels, "acquisition_mode", "acquisition_mode", "mode")
    campaigns = pd.DataFrame()
    if "marts.fct_ad_performance_weekly" in tables:
        # ratios from the window's sums, never averaged over weeks
        campaigns = _frame(con, """
            select channel_group, utm_campaign, any_value(campaign_name) as campaign_name,
                   sum(spend_amount) as spend, sum(impressions) as impressions,
                   sum(clicks) as clicks, 1.0 * sum(clicks) / nullif(sum(impressions), 0) as ctr,
                   sum(spend_amount) / nullif(sum(clicks), 0) as cpc, sum(leads) as leads,
                   sum(spend_amount) / nullif(sum(leads), 0) as cost_per_lead,
                   sum(spend_amount) / nullif(sum(mqls), 0) as cost_per_mql,
                   sum(spend_amount) / nullif(sum(sqls), 0) as cost_per_sql
            from marts.fct_ad_performance_weekly where week_start_date between ? and ?
            group by 1, 2 having sum(spend_amount) > 0
            order by spend desc""", [first_trend, week])
        labelled(campaigns, "channel_group", "channel_group", "channel")

    segments_week = segment_conversion = segment_velocity = pd.DataFrame()
    if "marts.fct_funnel_segment_weekly" in tables:
        segments_week = _frame(con, """
            select segment, leads, mqls, sqls, new_opportunities, customers,
                   median_days_lead_to_mql, median_days_mql_to_sql,
                   median_days_sql_to_opportunity, median_days_opportunity_to_won
            from marts.fct_funnel_segment_weekly where week_start_date = ?
              and leads + mqls + sqls + new_opportunities + customers > 0
            order by segment""", [week])
        # Pooled over the mature cohorts of the window: sum of conversions / sum of cohorts.
        segment_conversion = _frame(con, """
            select segment, step, converted / nullif(cohort, 0) as rate, cohort
            from (
                select segment, 'MQL→SQL' as step,
                       sum(case when is_mql_to_sql_mature then mql_cohort_sqls end) as converted,
                       sum(case when is_mql_to_sql_mature then mql_cohort_size end) as cohort
                from marts.fct_funnel_segment_weekly where week_start_date between ? and ?
                group by 1
                union all
                select segment, 'SQL→Opportunity',
                       sum(case when is_sql_to_opportunity_mature then sql_cohort_opportunities end),
                       sum(case when is_sql_to_opportunity_mature then sql_cohort_size end)
                from marts.fct_funnel_segment_weekly where week_start_date between ? and ?
                group by 1
            ) order by segment, step""", [first_trend, week] * 2)
        segment_velocity = _frame(con, """
            select iso_week, week_start_date, segment, median_days_mql_to_sql
            from marts.fct_funnel_segment_weekly
            where week_start_date between ? and ? and median_days_mql_to_sql is not null
            order by week_start_date, segment""", [first_trend, week])
        for frame in (segments_week, segment_conversion, segment_velocity):
            labelled(frame, "segment", "segment", "segment_label")

    sla_trend = trend[["iso_week", "sla_target_compliance_rate", "sla_limit_compliance_rate"]]
    sla_by_owner = pd.DataFrame()
    if "marts.fct_sla" in tables:
        sla_by_owner = _frame(con, """
            select coalesce(owner_id, '(no owner)') as owner_id, count(*) as handovers,
                   count(*) filter (where is_target_missed) as target_missed,
                   count(*) filter (where is_limit_breached) as not_touched_within_limit,
                   count(*) filter (where is_never_touched) as never_touched,
                   count(*) filter (where is_pending) as pending,
                   median(hours_to_first_touch) as median_hours_to_first_touch
            from marts.fct_sla where mql_week_start_date = ?
            group by 1 having count(*) filter (where is_target_missed) > 0
            order by not_touched_within_limit desc, target_missed desc, owner_id""", [week])

    feedback = exceptions = pd.DataFrame()
    if "marts.fct_qualifications" in tables:
        feedback = _frame(con, """
            select outcome, coalesce(reason, '(no reason given)') as reason, count(*) as count
            from marts.fct_qualifications
            where qualified_week_start_date = ? and outcome <> 'accepted'
            group by 1, 2 order by 1, 3 desc, 2""", [week])
    if "marts.fct_definition_exceptions" in tables:
        exceptions = _frame(con, f"""
            select coalesce(rep_id, '(no rep)') as rep_id,
                   count(*) filter (where exception_type = 'accepted_without_sql_criteria')
                       as accepted_without_sql_rule,
                   count(*) filter (where exception_type = 'opportunity_without_sql'
                       or (exception_type = 'sql_after_opportunity' and object_id <> lead_id))
                       as opportunity_without_sql,
                   count(*) filter (where exception_type in ({_quoted(OUT_OF_ORDER)})
                       and not (exception_type = 'sql_after_opportunity' and object_id <> lead_id))
                       as stage_dates_out_of_order,
                   count(*) as total
            from marts.fct_definition_exceptions
            where occurred_week_start_date = ? and exception_type in
                ('accepted_without_sql_criteria', 'opportunity_without_sql',
                 {_quoted(OUT_OF_ORDER)})
            group by 1 order by total desc, rep_id""", [week])

    checks = (_frame(con, "select * from audit.check_results order by passed, severity, asset")
              if "audit.check_results" in tables else pd.DataFrame())
    published = (_frame(con, "select * from audit.publish_log").iloc[0].to_dict()
                 if "audit.publish_log" in tables else {})
    quarantine_week, quarantine_total = pd.DataFrame(), 0
    if "audit.quarantine_summary" in tables:
        quarantine_total = int(con.execute("select coalesce(sum(rows_rejected), 0) "
                                           "from audit.quarantine_summary").fetchone()[0])
        quarantine_week = _frame(con, """
            select extract, reason_code, sum(rows_rejected) as rows
            from audit.quarantine_summary
            where cast(timezone(?, rejected_hour_utc at time zone 'UTC') as date)
                  between ? and ?
            group by 1, 2 order by rows desc""", [tz, week, week + timedelta(days=6)])

    return WeeklyReportData(
        week_start=week, settings=settings, published=published, data_until=until,
        kpis=kpis, summary_row=current, trend=trend, funnel_by_mode=funnel_long,
        channels=channels, campaigns=campaigns, segments_week=segments_week, segment_conversion=segment_conversion,
        segment_velocity=segment_velocity, sla_trend=sla_trend, sla_by_owner=sla_by_owner,
        feedback_reasons=feedback, exceptions_by_rep=exceptions, checks=checks,
        quarantine_week=quarantine_week, quarantine_total=quarantine_total, labels=labels,
        **_scoring_health(con, tables), **_sales_loop(con, tables, labelled),
        **_accounts(con, tables, week, labelled), **_definition_tables(con, tables),
    )


def _definition_tables(con, tables: set[str]) -> dict:
    """The definitions the report's definitions section spells out: cohort windows per
    segment and what each rejection reason does."""
    return {name: _frame(con, f"select * from definitions.def_{name}")
            for name in ("maturity_windows", "rejection_reasons")
            if f"definitions.def_{name}" in tables}


def _accounts(con, tables: set[str], week: date, labelled) -> dict:
    """The funnel read by account: the report week's accounts entering each stage by
    segment, and all accounts by the furthest stage any of their leads reached."""
    out = {}
    if "marts.fct_account_funnel_weekly" in tables:
        out["accounts_week"] = _frame(con, """
            select segment, new_accounts, mql_accounts, sql_accounts, opportunity_accounts,
                   customer_accounts, account_leads, leads_of_known_accounts
            from marts.fct_account_funnel_weekly where week_start_date = ?
            order by segment""", [week])
        labelled(out["accounts_week"], "segment", "segment", "segment_label")
    if "marts.dim_accounts" in tables:
        out["accounts_by_stage"] = _frame(con, """
            select furthest_stage, count(*) as accounts, sum(leads) as leads,
                   sum(open_pipeline_amount) as open_pipeline_amount,
                   sum(won_amount) as won_amount
            from marts.dim_accounts group by 1
            order by list_position(['lead', 'mql', 'sql', 'opportunity', 'customer'],
                                   furthest_stage)""")
        frame = out["accounts_by_stage"]
        frame["stage_label"] = frame["furthest_stage"].map(STAGE_LABELS)
    return out


def _sales_loop(con, tables: set[str], labelled) -> dict:
    """Sales' decisions on MQLs so far (by channel, by fit band) and the worklist as of the
    cut-off, with its ranking check (whole history)."""
    out = {}
    if "marts.fct_sales_feedback" in tables:
        for name, column, order in (("decisions_by_channel", "channel_group", "2 desc, 1"),
                                    ("decisions_by_fit", "fit_band", "1")):
            out[name] = _frame(con, f"""
                select {column} as grouped_by, sum(mqls) as mqls,
                       sum(mqls) filter (where decision = 'accepted') as accepted,
                       sum(mqls) filter (where decision = 'nurtured') as nurtured,
                       sum(mqls) filter (where decision = 'disqualified') as disqualified,
                       sum(mqls) filter (where decision = 'recycled') as recycled,
                       sum(mqls) filter (where decision = 'undecided') as undecided,
                       sum(mqls) filter (where decision = 'undecided'
                                         and undecided_age = 'over 90 days') as undecided_90,
                       1.0 * sum(mqls) filter (where decision in ('nurtured', 'disqualified'))
                           / nullif(sum(mqls) filter (where decision <> 'undecided'), 0)
                           as rejection_rate,
                       arg_max(decision_reason, mqls)
                           filter (where decision in ('nurtured', 'disqualified'))
                           as top_rejection_reason
                from marts.fct_sales_feedback group by 1 order by {order}""")
        labelled(out["decisions_by_channel"], "grouped_by", "channel_group", "grouped_by")
    if "marts.fct_funnel_summary_weekly" in tables:
        out["episode_conversion"] = _frame(con, """
            select 'first MQL' as episodes,
                   sum(mql_cohort_size) filter (where is_mql_to_sql_mature) as sql_cohort,
                   sum(mql_cohort_sqls) filter (where is_mql_to_sql_mature) as sqls,
                   sum(mql_cohort_size) filter (where is_mql_to_customer_mature) as customer_cohort,
                   sum(mql_cohort_customers) filter (where is_mql_to_customer_mature) as customers
            from marts.fct_funnel_summary_weekly
            union all
            select 'returning MQL',
                   sum(returning_mql_cohort_size) filter (where is_mql_to_sql_mature),
                   sum(returning_mql_cohort_sqls) filter (where is_mql_to_sql_mature),
                   sum(returning_mql_cohort_size) filter (where is_mql_to_customer_mature),
                   sum(returning_mql_cohort_customers) filter (where is_mql_to_customer_mature)
            from marts.fct_funnel_summary_weekly""")
        frame = out["episode_conversion"]
        frame["sql_rate"] = frame["sqls"] / frame["sql_cohort"].where(frame["sql_cohort"] > 0)
        frame["customer_rate"] = (frame["customers"]
                                  / frame["customer_cohort"].where(frame["customer_cohort"] > 0))
    if "marts.fct_sales_worklist" in tables:
        out["worklist"] = _frame(con, f"{_worklist_sql(tables)} limit {WORKLIST_SHOWN}")
        out["worklist_leads"] = con.execute(
            "select count(*) from marts.fct_sales_worklist").fetchone()[0]
    if "marts.fct_worklist_ranking_check" in tables:
        out["worklist_check"] = _frame(con, "select * from marts.fct_worklist_ranking_check "
                                            "order by ranked_by")
    return out


# Suggestions worth a look: well evidenced, informative, with the strongest evidence.
TOP_SUGGESTIONS = 8


def _scoring_health(con, tables: set[str]) -> dict:
    """Calibration deciles, the threshold backtest and the top suggestions (whole history)."""
    out = {}
    if "marts.fct_score_calibration" in tables:
        out["calibration"] = _frame(con, """
            select * from marts.fct_score_calibration where bucket_type = 'decile'
            order by bucket_order""")
    if "marts.fct_threshold_backtest" in tables:
        out["backtest"] = _frame(con, "select * from marts.fct_threshold_backtest order by threshold")
    if "marts.fct_scoring_suggestions" in tables:
        out["suggestions"] = _frame(con, f"""
            select family,
                   case when family = 'fit'
                        then field_name || coalesce(' (' || rule_id || ')', ' (no rule yet)')
                        else rule_id end as subject,
                   field_value, leads, conversion_rate, current_points, suggested_points,
                   evidence
            from marts.fct_scoring_suggestions
            where has_enough_evidence and is_informative and suggested_points is not null
            order by abs(smoothed_log_odds) desc, leads desc, field_name, field_value
            limit {TOP_SUGGESTIONS}""")
    return out


# Stage dates the sources gave in an impossible order (fct_definition_exceptions); a
# computed SQL after the opportunity (object = the opportunity) is an opportunity without SQL.
OUT_OF_ORDER = ("opportunity_before_created", "won_before_created", "sql_before_created",
                "mql_before_created", "mql_after_sql", "sql_after_opportunity")


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _longest_window(con, tables: set[str], settings: dict, transition: str) -> int:
    """A cohort window over every segment: the longest of the segments' own windows
    (maturity_days.by_segment) and the default - when the summary's cohorts mature."""
    window = int(settings[f"{transition}_maturity_days"])
    if "definitions.def_maturity_windows" in tables:
        longest = con.execute(f"select max({transition}_days) "
                              "from definitions.def_maturity_windows").fetchone()[0]
        window = max(window, int(longest or 0))
    return window


def _latest_mature_cohort(con, spec: KpiSpec, week: date, first_trend: date,
                          window_days: int) -> Kpi:
    """The MQL->SQL card shows a rate, not a dash: the latest cohort whose window has passed
    by the report week's data (the week's own cohort matures `window_days` later), compared
    with the cohort before it; the sparkline follows the mature cohorts of the window."""
    rows = con.execute("""
        select week_start_date, iso_week, mql_to_sql_cohort_rate
        from marts.fct_funnel_summary_weekly
        where week_start_date <= ? and is_mql_to_sql_mature
          and mql_to_sql_cohort_rate is not null
        order by week_start_date desc limit 2""", [week]).fetchall()
    trend = [(week_label(d), _value(rate)) for d, rate in con.execute("""
        select week_start_date, mql_to_sql_cohort_rate from marts.fct_funnel_summary_weekly
        where week_start_date between ? and ? and is_mql_to_sql_mature
          and mql_to_sql_cohort_rate is not null
        order by week_start_date""", [first_trend, week]).fetchall()]
    if not rows:
        return Kpi(spec, None, None, trend,
                   note=f"no cohort mature yet ({window_days}-day window)")
    latest, earlier = rows[0], (rows[1] if len(rows) > 1 else None)
    return Kpi(spec, _value(latest[2]), _value(earlier[2]) if earlier else None, trend,
               note=f"latest cohort whose {window_days}-day window has passed; the "
                    f"{week_label(week)} cohort matures later",
               label=f"{spec.label} ({latest[1]})")
