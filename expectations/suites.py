"""The Great Expectations suites that guard the warehouse, built from code (SPEC §10).

Every threshold and allowed-value list comes from the definitions file or the extract
contract: a suite never repeats one. GX's SQL datasource is broken on DuckDB, so each suite
validates a pandas frame that a query pushed down to DuckDB prepares; at 1 M leads the frames
stay small: whole tables only where they are one row per lead or smaller, aggregates or the
top repeated keys for the 30 M activities (each probe says which).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # types only: the orchestration passes both in (it imports this package)
    from orchestration.funnel_definitions import FunnelDefinitions
    from orchestration.ingest.contract import Extract

Kind = Literal["contract", "freshness", "definition", "reconciliation", "drift"]


@dataclass(frozen=True)
class Expect:
    """One GX expectation: its class name in gx.expectations and its arguments."""

    type: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """A frame prepared by DuckDB and the expectations GX checks on it."""

    description: str
    sql: str
    key_column: str
    expectations: tuple[Expect, ...]
    # `{lead_range}` in the SQL: run once per range of lead_id (bounds between ranges), so a
    # probe over hundreds of millions of rows holds one range at a time
    lead_bounds: tuple[str, ...] = ()

    def statements(self) -> list[str]:
        if "{lead_range}" not in self.sql:
            return [self.sql]

        def literal(value: str) -> str:
            return "'" + value.replace("'", "''") + "'"

        edges = [None, *self.lead_bounds, None]
        statements = []
        for low, high in zip(edges, edges[1:], strict=False):
            conditions = ([f"lead_id >= {literal(low)}"] if low is not None else []) \
                + ([f"lead_id < {literal(high)}"] if high is not None else [])
            statements.append(self.sql.replace("{lead_range}", " and ".join(conditions) or "true"))
        return statements


@dataclass(frozen=True)
class Guard:
    name: str
    asset: tuple[str, ...]  # the asset key it is attached to
    kind: Kind
    description: str
    probes: tuple[Probe, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> bool:
        """Wrong definitions or unreconciled marts must not be published; the rest warns."""
        return self.kind in ("definition", "reconciliation")


def _between(column: str, lo: Any = None, hi: Any = None, **kw: Any) -> Expect:
    args: dict[str, Any] = {"column": column, **kw}
    if lo is not None:
        args["min_value"] = lo
    if hi is not None:
        args["max_value"] = hi
    return Expect("ExpectColumnValuesToBeBetween", args)


def _not_null(column: str) -> Expect:
    return Expect("ExpectColumnValuesToNotBeNull", {"column": column})


def _in_set(column: str, values: list[Any]) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(values)})


def _ordered(later: str, earlier: str) -> Expect:
    return Expect("ExpectColumnPairValuesAToBeGreaterThanB", {
        "column_A": later, "column_B": earlier, "or_equal": True,
        "ignore_row_if": "either_value_is_missing"})


def _key_sql(extract: Extract) -> str:
    return " || '|' || ".join(f"cast({k} as varchar)" for k in extract.key)


# ---------------------------------------------------------------- contract suites (raw)


def _latest_load(extract: Extract) -> str:
    """Rows the extract's latest load wrote: a daily run checks what it loaded, not the whole
    history again (earlier rows were checked by the run that loaded them)."""
    return (f"_load_id = (select arg_max(load_id, finished_at) from raw.load_log "
            f"where extract = '{extract.name}')")


def _contract_guard(extract: Extract, d: FunnelDefinitions, now: datetime,
                    currencies: set[str], history_load: bool = False) -> Guard:
    table = f"raw.{extract.name}"
    key = _key_sql(extract)
    big = extract.name == "crm_activities"
    probes: list[Probe] = []
    future_limit = now + timedelta(hours=d.ingest.future_tolerance_hours)  # the loader's too
    latest = _latest_load(extract)
    # how often each key of the latest load occurs in the whole table
    occurrences = (f"select {key} as record_key, count(*) as occurrences from {table} "
                   f"where {key} in (select {key} from {table} where {latest}) group by 1")

    if big:
        if history_load:
            # The latest load wrote most of the table (a first load of the history): one
            # aggregate over the table, which DuckDB spills, instead of a semi join whose
            # hash table of 300 M keys ran out of memory at 10 M leads.
            occurrences = (f"select {key} as record_key, count(*) as occurrences from {table} "
                           f"group by 1 having bool_or({latest})")
        probes.append(Probe(
            "the 100 most repeated keys of the latest load (aggregated in DuckDB; the table is "
            "too large for pandas)",
            f"{occurrences} order by 2 desc limit 100",
            "record_key", (_between("occurrences", hi=1),)))
        probes.append(Probe(
            "activity types of the latest load and their counts (aggregated)",
            # compared as staging will read them (trimmed, lower case)
            f"select coalesce(lower(trim(activity_type)), '(null)') as activity_type, "
            f"count(*) as n from {table} where {latest} group by 1",
            "activity_type",
            (_in_set("activity_type", sorted(_known_activity_types(d))),)))
        probes.append(Probe(
            "null and future counts over the latest load (aggregated)",
            f"""select 'all' as record_key,
                   count(*) filter (where activity_id is null or lead_id is null
                                    or occurred_at is null or activity_type is null) as null_required,
                   count(*) filter (where occurred_at > '{future_limit:%Y-%m-%d %H:%M:%S}') as future_rows
                from {table} where {latest}""",
            "record_key", (_between("null_required", 0, 0), _between("future_rows", 0, 0))))
    else:
        cols = [f"{key} as record_key", "k.occurrences"]
        expects: list[Expect] = [_between("occurrences", hi=1)]
        for c in extract.columns:
            if (c.required or c.allowed or c.non_negative or c.positive or c.name == "currency"
                    or c.type in ("timestamp", "date")):
                cols.append(c.name)
            if c.required:
                expects.append(_not_null(c.name))
            if c.allowed:
                expects.append(_in_set(c.name, list(c.allowed)))
            if c.non_negative:
                expects.append(_between(c.name, lo=0))
            if c.positive:
                expects.append(_between(c.name, lo=0, strict_min=True))
            if c.type in ("timestamp", "date") and not c.may_be_future:
                expects.append(_between(c.name, hi=future_limit))
            if c.name == "currency":
                expects.append(_in_set(c.name, sorted(currencies)))
        probes.append(Probe("every row of the latest load (one per key; small enough for pandas)",
                            f"select {', '.join(cols)} from {table} "
                            f"join ({occurrences}) as k on {key} = k.record_key where {latest}",
                            "record_key", tuple(expects)))
    probes.append(Probe(
        "per-file accounting of raw.load_log: rows read = loaded + rejected",
        f"""select file_name as record_key, rows_read - rows_loaded - rows_rejected as unaccounted_rows
            from raw.load_log where extract = '{extract.name}'""",
        "record_key", (_between("unaccounted_rows", 0, 0),)))
    return Guard(
        name=f"{extract.name}_contract",
        asset=("raw", extract.name),
        kind="contract",
        description=(f"The rows of raw.{extract.name}'s latest load keep the extract contract: unique "
                     f"({', '.join(extract.key)}), required columns, allowed values, no "
                     "negative amounts, no timestamps in the future, rows read = loaded + "
                     "rejected. Warns; quarantined rows are counted in the metadata."),
        probes=tuple(probes),
    )


def _freshness_guard(extract: Extract, d: FunnelDefinitions, now: datetime) -> Guard:
    """The extract's newest row by its own clock, against the run: a load can succeed every
    day while the export behind it stopped. No dated row (an empty optional extract, ads at
    the ad grain without dates) gives no age and no warning."""
    limit = d.ingest.max_data_age_days
    return Guard(
        name=f"{extract.name}_data_freshness",
        asset=("raw", extract.name),
        kind="freshness",
        description=(f"The newest row of raw.{extract.name} ({extract.data_time}) is at most "
                     f"{limit:g} days (ingest.max_data_age_days) before the run. Warns."),
        probes=(Probe(
            "the newest row's time and its age in days at the run",
            f"""select '{extract.name}' as record_key, max({extract.data_time}) as newest_at,
                       round(date_diff('second', max({extract.data_time}),
                                       timestamp '{now:%Y-%m-%d %H:%M:%S}') / 86400.0, 2)
                           as age_days
                from raw.{extract.name}""",
            "record_key", (_between("age_days", hi=limit),)),),
    )


def _known_activity_types(d: FunnelDefinitions) -> set[str]:
    return ({r.activity_type for r in d.engagement.rules} | set(d.engagement.fast_track)
            | set(d.sla.first_touch_activity_types))


# ---------------------------------------------------------------- definition suites (marts)


# Each stage's count in every mart that shows it, minus fct_lead_lifecycle's.
_STAGE_COUNTS_SQL = """
    with lifecycle as (
        select count(*) as leads, count(mql_at) as mqls, count(sql_at) as sqls,
               count(opportunity_at) as opportunities, count(customer_at) as customers,
               coalesce(sum(mql_episode_count), 0) as mql_episodes
        from marts.fct_lead_lifecycle),
    weekly_marts as (
        select 'fct_funnel_weekly' as mart, sum(leads) as leads, sum(mqls) as mqls,
               sum(sqls) as sqls, sum(new_opportunities) as opportunities,
               sum(customers) as customers, sum(mql_episodes) as mql_episodes
        from marts.fct_funnel_weekly
        union all
        select 'fct_funnel_segment_weekly', sum(leads), sum(mqls), sum(sqls),
               sum(new_opportunities), sum(customers), sum(mql_episodes)
        from marts.fct_funnel_segment_weekly
        union all
        select 'fct_funnel_summary_weekly', sum(leads), sum(mqls), sum(sqls),
               sum(new_opportunities), sum(customers), sum(mql_episodes)
        from marts.fct_funnel_summary_weekly),
    counts as (
        unpivot weekly_marts on leads, mqls, sqls, opportunities, customers, mql_episodes
        into name stage value n),
    expected as (
        unpivot lifecycle on leads, mqls, sqls, opportunities, customers, mql_episodes
        into name stage value n)
    select c.mart || '|' || c.stage as record_key,
           cast(coalesce(c.n, 0) - e.n as bigint) as difference
    from counts c join expected e using (stage)
    union all
    select 'fct_sla|mql_episodes', (select count(*) from marts.fct_sla) - l.mql_episodes
    from lifecycle l
    union all
    select 'fct_sla|mqls', (select count(*) from marts.fct_sla where is_first_mql) - l.mqls
    from lifecycle l
    union all
    select 'dim_leads|leads', (select count(*) from marts.dim_leads) - l.leads from lifecycle l
    union all
    select 'dim_leads|current_stage', count(*)
    from marts.dim_leads d
    full join marts.fct_lead_lifecycle c using (lead_id)
    where d.current_stage is distinct from c.current_stage"""

# The summary's MQLs and leads of every week, against fct_sla and dim_leads.
_WEEKLY_AGREEMENT_SQL = """
    with summary as (select week_start_date, mqls, leads from marts.fct_funnel_summary_weekly),
    first_mqls as (select mql_week_start_date as week_start_date, count(*) as n
                   from marts.fct_sla where is_first_mql group by 1),
    created as (select created_week_start_date as week_start_date, count(*) as n
                from marts.dim_leads group by 1)
    select 'mqls|' || cast(coalesce(s.week_start_date, f.week_start_date) as varchar)
               as record_key,
           coalesce(s.mqls, 0) - coalesce(f.n, 0) as difference
    from summary s full join first_mqls f using (week_start_date)
    union all
    select 'leads|' || cast(coalesce(s.week_start_date, c.week_start_date) as varchar),
           coalesce(s.leads, 0) - coalesce(c.n, 0)
    from summary s full join created c using (week_start_date)"""


def _definition_guards(d: FunnelDefinitions, ledger_lead_bounds: tuple[str, ...] = (),
                       version: str = "") -> list[Guard]:
    fast = ", ".join(f"'{t}'" for t in d.engagement.fast_track) or "''"
    bant = ("(case when q.has_need then 1 else 0 end + case when q.has_budget then 1 else 0 end"
            " + case when q.has_authority then 1 else 0 end + case when q.has_timing then 1 else 0 end)")
    guards = [
        Guard(
            DEFINITIONS_GUARD, ("definitions", "def_settings"), "definition",
            f"The warehouse was built with the definitions file in force ({version}): a "
            "warehouse built with other definitions is not published - run `funnel run` to "
            "rebuild it first. (dbt's test uses_the_definitions_in_force checks that every mart "
            "follows def_settings.)",
            (Probe("the definitions version def_settings holds, against the file's",
                   f"""select definitions_version as record_key,
                              definitions_version = '{version}' as is_in_force
                       from definitions.def_settings""",
                   "record_key", (_in_set("is_in_force", [True]),)),),
        ),
        Guard(
            "mqls_met_the_definition", ("marts", "fct_lead_lifecycle"), "definition",
            f"Every MQL, at its MQL time: inbound, not excluded, fit >= {d.mql.min_fit:g}, and "
            f"lead score >= {d.mql.threshold:g} unless fast-tracked. Reads every MQL episode, "
            "and every MQL the lifecycle mart counts (it must be one of those episodes).",
            (Probe("every lifecycle MQL: an MQL episode at that moment, of an inbound lead",
                   """select l.lead_id as record_key, l.acquisition_mode,
                             e.mql_at as episode_mql_at
                      from marts.fct_lead_lifecycle l
                      left join intermediate.int_lead_mql_episodes e
                        on e.lead_id = l.lead_id and e.mql_at = l.mql_at
                      where l.mql_at is not null""",
                   "record_key",
                   (_in_set("acquisition_mode", ["inbound"]), _not_null("episode_mql_at"))),
             Probe("every MQL episode with its scores at MQL time",
                   f"""select e.lead_id || '#' || cast(e.mql_episode as varchar) as record_key,
                              e.mql_lead_score, e.mql_fit_score,
                              e.mql_activity_type in ({fast}) as is_fast_track,
                              l.is_excluded, l.acquisition_mode
                       from intermediate.int_lead_mql_episodes e
                       join intermediate.int_leads_classified l using (lead_id)""",
                   "record_key",
                   (_between("mql_fit_score", lo=d.mql.min_fit),
                    _between("mql_lead_score", lo=d.mql.threshold,
                             row_condition="is_fast_track == False", condition_parser="pandas"),
                    _in_set("acquisition_mode", ["inbound"]),
                    _in_set("is_excluded", [False]))),),
        ),
        Guard(
            "no_excluded_lead_is_mql", ("marts", "fct_lead_lifecycle"), "definition",
            "Leads the definitions exclude (students, competitors, personal e-mail, tests) have "
            "no MQL. Reads the excluded leads only.",
            (Probe("every excluded lead",
                   """select lead_id as record_key, mql_at, latest_mql_at
                      from marts.fct_lead_lifecycle where is_excluded""",
                   "record_key", (Expect("ExpectColumnValuesToBeNull", {"column": "mql_at"}),
                                  Expect("ExpectColumnValuesToBeNull", {"column": "latest_mql_at"}))),),
        ),
        Guard(
            "sqls_meet_the_sql_rule", ("marts", "fct_lead_lifecycle"), "definition",
            f"Every SQL rests on a qualification accepted by a rep with >= "
            f"{d.sql.min_bant_criteria} BANT criteria"
            + (" and a scheduled next step" if d.sql.require_next_step else "")
            + ", recounted from the staged qualifications.",
            (Probe("every SQL with its qualification, BANT recounted from staging",
                   f"""select l.lead_id as record_key,
                              max(q.qualification_id) as qualification_id,
                              coalesce(max({bant}), 0) as bant_criteria_met,
                              coalesce(max(case when q.next_step_at is not null then 1 else 0 end), 0)
                                  as has_next_step
                       from marts.fct_lead_lifecycle l
                       left join staging.stg_crm__qualifications q
                         on q.lead_id = l.lead_id and q.qualified_at = l.sql_at
                        and q.outcome = 'accepted'
                       where l.sql_at is not null
                       group by l.lead_id""",
                   "record_key",
                   (_not_null("qualification_id"),
                    _between("bant_criteria_met", lo=d.sql.min_bant_criteria),
                    *((_between("has_next_step", lo=1),) if d.sql.require_next_step else ()))),),
        ),
        Guard(
            "stage_timestamps_ordered", ("marts", "fct_lead_lifecycle"), "definition",
            "Stage timestamps never decrease along lead -> MQL -> SQL -> opportunity -> customer. "
            "Reads one row per lead (six columns).",
            (Probe("every lead's stage timestamps",
                   """select lead_id as record_key, lead_created_at, mql_at, sql_at,
                             opportunity_at, customer_at,
                             coalesce(mql_at, lead_created_at) as sql_floor,
                             coalesce(sql_at, mql_at, lead_created_at) as opportunity_floor
                      from marts.fct_lead_lifecycle""",
                   "record_key",
                   (_ordered("mql_at", "lead_created_at"), _ordered("sql_at", "sql_floor"),
                    _ordered("opportunity_at", "opportunity_floor"),
                    _ordered("customer_at", "opportunity_at"))),),
        ),
        Guard(
            "cohort_rates_within_0_and_1", ("marts", "fct_funnel_weekly"), "definition",
            "Cohort conversion rates are shares: within [0, 1] (period ratios may exceed 1).",
            (Probe("every weekly row's cohort rates",
                   """select cast(week_start_date as varchar) || '|' || segment || '|' ||
                             channel_group || '|' || acquisition_mode as record_key,
                             mql_to_sql_cohort_rate, sql_to_opportunity_cohort_rate,
                             opportunity_to_won_cohort_rate, mql_to_customer_cohort_rate
                      from marts.fct_funnel_weekly""",
                   "record_key",
                   tuple(_between(c, 0, 1) for c in (
                       "mql_to_sql_cohort_rate", "sql_to_opportunity_cohort_rate",
                       "opportunity_to_won_cohort_rate", "mql_to_customer_cohort_rate"))),),
        ),
        Guard(
            STAGE_COUNTS_GUARD, ("marts", "fct_funnel_summary_weekly"), "reconciliation",
            "Each stage is counted the same in every mart that shows it: leads, MQLs, SQLs, "
            "opportunities, customers and MQL episodes of fct_lead_lifecycle equal the sums of "
            "fct_funnel_weekly, fct_funnel_segment_weekly and fct_funnel_summary_weekly; "
            "dim_leads holds every lead at the lifecycle's stage; fct_sla holds every MQL "
            "episode, and its first-MQL handovers are the headline's MQLs week by week; "
            "dim_leads' leads per created week are the weekly marts' (aggregated in DuckDB).",
            (Probe("each mart's count minus the lifecycle's, per mart and stage",
                   _STAGE_COUNTS_SQL, "record_key", (_between("difference", 0, 0),)),
             Probe("week by week: the summary's MQLs minus fct_sla's first-MQL handovers, and "
                   "its leads minus dim_leads' leads created that week",
                   _WEEKLY_AGREEMENT_SQL, "record_key", (_between("difference", 0, 0),))),
        ),
        Guard(
            "mart_spend_equals_raw_spend", ("marts", "fct_spend_daily"), "reconciliation",
            "Spend survives to the cent: per currency, raw ad spend and SDR cost equal "
            "fct_spend_daily; in the reporting currency, fct_spend_daily up to the data's "
            "cut-off equals the weekly funnel (aggregated in DuckDB).",
            (Probe("raw minus mart amounts per source and currency",
                   """with raw_side as (
                          select 'ad_platform' as source, currency, sum(spend) as amount
                          from raw.ad_spend group by all
                          union all
                          select 'sdr_team', currency, sum(cost) from raw.sdr_costs group by all),
                      mart_side as (
                          select spend_source as source, currency, sum(spend_amount_original) as amount
                          from marts.fct_spend_daily group by all)
                      select coalesce(r.source, m.source) || '|' || coalesce(r.currency, m.currency)
                                 as record_key,
                             cast(coalesce(r.amount, 0) - coalesce(m.amount, 0) as double) as difference
                      from raw_side r full join mart_side m
                        on r.source = m.source and r.currency = m.currency
                      union all
                      select 'reporting_currency|weekly',
                             cast(coalesce((select sum(spend_amount) from marts.fct_spend_daily
                                            where not is_after_data_end), 0)
                                  - coalesce((select sum(spend_amount)
                                              from marts.fct_funnel_weekly), 0) as double)""",
                   "record_key", (_between("difference", -0.005, 0.005),)),),
        ),
        Guard(
            LEDGER_GUARD, ("marts", "fct_score_ledger"), "reconciliation",
            "For every lead and moment (now, and each MQL) the ledger's weighted points add up "
            "to the lead score (the ledger is summed in DuckDB; one row per lead and moment).",
            (Probe("ledger sum minus lead score, per lead and moment",
                   """with ledger as (
                          select lead_id, moment, scored_at, sum(weighted_points) as total
                          from marts.fct_score_ledger where {lead_range} group by all),
                      scores as (
                          select lead_id, 'current' as moment, scored_as_of_at as scored_at, lead_score
                          from marts.dim_leads where {lead_range}
                          union all
                          select lead_id, 'mql', mql_at, mql_lead_score
                          from intermediate.int_lead_mql_episodes where {lead_range})
                      select s.lead_id || '|' || s.moment || '|' || cast(s.scored_at as varchar)
                                 as record_key,
                             coalesce(l.total, 0) - s.lead_score as difference
                      from scores s left join ledger l using (lead_id, moment, scored_at)""",
                   "record_key", (_between("difference", -1e-6, 1e-6),), ledger_lead_bounds),),
        ),
        Guard(
            "crm_stage_drift", ("marts", "fct_stage_drift"), "drift",
            f"In every channel, at most {d.drift.warn_share:.0%} of leads have a CRM stage that "
            "disagrees with the stage the definitions give them. Warns.",
            (Probe("drift share per channel",
                   "select channel_group as record_key, drift_share from marts.fct_stage_drift",
                   "record_key", (_between("drift_share", 0, d.drift.warn_share),)),),
        ),
    ]
    if not version:  # no definitions file to compare with (guards built from an object)
        guards = [g for g in guards if g.name != DEFINITIONS_GUARD]
    if d.lifecycle.stage_source == "crm":
        # The CRM decides MQL and SQL: no rule of these definitions for those stages to meet.
        crm_decides = {"mqls_met_the_definition", "no_excluded_lead_is_mql",
                       "sqls_meet_the_sql_rule"}
        guards = [g for g in guards if g.name not in crm_decides]
    return guards


def build_guards(d: FunnelDefinitions, extracts: Mapping[str, Extract],
                 fx_currencies: set[str] | None = None,
                 now: datetime | None = None, history_loads: set[str] = frozenset(),
                 ledger_lead_bounds: tuple[str, ...] = (), version: str = "") -> list[Guard]:
    """Every guard, parameterised by the definitions, the extract contract (`extracts`, by
    name) and the currencies fx_rates carries (with the reporting currency, the only ones
    amounts can be converted from).
    `history_loads`: extracts whose latest load wrote most of their table;
    `ledger_lead_bounds`: where the ledger guard splits the leads (see ledger_lead_bounds);
    `version`: the definitions file's version, which the warehouse must have been built with."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    currencies = {d.reporting.currency, *(fx_currencies or ())}
    guards = [_contract_guard(e, d, now, currencies, e.name in history_loads)
              for e in extracts.values()]
    guards += [_freshness_guard(e, d, now) for e in extracts.values() if e.data_time]
    return guards + _definition_guards(d, ledger_lead_bounds, version)


def history_loads(con, extracts: Mapping[str, Extract]) -> set[str]:
    """Extracts whose latest load wrote more than half of their raw table's rows."""
    if not con.execute("select count(*) from information_schema.tables where table_schema = "
                       "'raw' and table_name = 'load_log'").fetchone()[0]:
        return set()
    written = con.execute(
        """with latest as (select extract, arg_max(load_id, finished_at) as load_id
                           from raw.load_log group by 1)
           select extract, sum(rows_inserted + rows_updated)
           from raw.load_log join latest using (extract, load_id) group by 1""").fetchall()
    present = {t for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    return {extract for extract, rows in written
            if extract in extracts and extract in present and rows
            and 2 * rows > con.execute(f"select count(*) from raw.{extract}").fetchone()[0]}


LEDGER_GUARD = "score_ledger_sums_to_scores"
DEFINITIONS_GUARD = "warehouse_built_with_the_definitions_in_force"
STAGE_COUNTS_GUARD = "stage_counts_agree_across_marts"

# Ledger rows the ledger guard sums at once: past this the leads are checked in ranges (at
# 10 M leads one pass over 370 M rows and the view's joins ran out of memory at 2.8 GiB).
LEDGER_ROWS_PER_RANGE = 40_000_000


def ledger_rows_estimate(con) -> int | None:
    """About how many rows the score ledger view reads: its MQL rows and the scored activities
    with points (the current rows are a subset of these); None before the build."""
    present = {(s, t) for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables").fetchall()}
    needed = {("intermediate", "int_score_ledger_items"), ("intermediate", "int_activities_scored"),
              ("marts", "dim_leads")}
    if not needed <= present:
        return None
    return con.execute(
        "select (select count(*) from intermediate.int_score_ledger_items) + (select count(*) "
        "from intermediate.int_activities_scored where rule_points <> 0)").fetchone()[0]


def ledger_lead_bounds(con) -> tuple[str, ...]:
    """Split points of lead_id that cut the score ledger into ranges of about
    LEDGER_ROWS_PER_RANGE rows (quantiles of a sample of the leads); none when it is smaller."""
    rows = ledger_rows_estimate(con)
    if rows is None:
        return ()
    ranges = -(-rows // LEDGER_ROWS_PER_RANGE)
    if ranges <= 1:
        return ()
    points = ", ".join(str(i / ranges) for i in range(1, ranges))
    [bounds] = con.execute(
        f"""select quantile_disc(lead_id, [{points}]) from (
                select lead_id from marts.dim_leads using sample reservoir(200000 rows)
                repeatable (7))""").fetchone()
    return tuple(dict.fromkeys(b for b in bounds if b is not None))
