"""The business definitions file (SPEC §5): schema, loading, and what dbt receives.

One YAML file holds every threshold, weight, window and list. It is validated here (unknown
keys and bad values fail with the key named), then handed to dbt as one variable, so no
number is written twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestration.paths import DBT_PROJECT_DIR

DEFAULT_DEFINITIONS_PATH = DBT_PROJECT_DIR / "definitions" / "funnel.yml"

Points = Annotated[float, Field(ge=-100, le=100)]
Score = Annotated[float, Field(ge=0, le=100)]
Weight = Annotated[float, Field(ge=0, le=1)]
PositiveDays = Annotated[int, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reporting(_Strict):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    timezone: str = "UTC"
    week_start: Literal["monday"] = "monday"
    fx_max_staleness_days: Annotated[int, Field(ge=0, le=366)] = 7

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class EmployeeRange(_Strict):
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None


class Icp(_Strict):
    industries: list[str] = []
    employee_range: EmployeeRange = EmployeeRange()
    countries: list[str] = []
    departments: list[str] = []
    seniorities: list[str] = []


class Segment(_Strict):
    """A band of employee_count, or (with `attribute`) the leads whose attribute is one of
    `values`. A lead is in the first segment of the list it matches."""

    name: str
    label: str
    min_employees: Annotated[int, Field(ge=0)] = 0
    max_employees: Annotated[int, Field(ge=0)] | None = None
    attribute: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")] | None = None
    values: list[str] = []

    @model_validator(mode="after")
    def _one_kind(self) -> Segment:
        if bool(self.attribute) != bool(self.values):
            raise ValueError(f"segment {self.name!r}: `attribute` and `values` go together")
        return self


class ChannelRule(_Strict):
    group: str
    lead_source: list[str] | None = None
    utm_source: list[str] | None = None
    utm_medium: list[str] | None = None
    utm_campaign: list[str] | None = None
    acquisition_mode: list[Literal["inbound", "outbound"]] | None = None

    @model_validator(mode="after")
    def _has_a_condition(self) -> ChannelRule:
        if not any(getattr(self, f) for f in self.CONDITIONS):
            raise ValueError(f"channel rule for {self.group!r} has no condition")
        return self

    # the fields a rule may test (def_channel_rules reads every one a rule sets)
    CONDITIONS: ClassVar[tuple[str, ...]] = (
        "lead_source", "utm_source", "utm_medium", "utm_campaign", "acquisition_mode")


def default_label(code: str) -> str:
    """The display name of a code the definitions give none: `paid_search` -> `Paid search`."""
    return code.replace("_", " ").strip().capitalize()


class Channels(_Strict):
    groups: dict[str, Literal["inbound", "outbound"]]
    default_group: str = "other"
    sdr_cost_group: str = "outbound_sdr"
    unattributed_spend_group: str = "unattributed"
    # display names (reports, BI); a group without one shows as its code, humanised
    labels: dict[str, str] = {}
    rules: list[ChannelRule] = []

    def label(self, group: str) -> str:
        return self.labels.get(group) or default_label(group)

    @model_validator(mode="after")
    def _groups_exist(self) -> Channels:
        if not self.rules:
            raise ValueError(
                f"rules is empty: every lead would go to the default group {self.default_group!r}"
                " (outbound leads too, so SDR cost would buy no lead); add at least "
                "{group: outbound_sdr, acquisition_mode: [outbound]}")
        for name in self.labels:
            if name not in self.groups and name != self.unattributed_spend_group:
                raise ValueError(f"labels: {name!r} is not one of channels.groups")
        for i, rule in enumerate(self.rules):
            if rule.group not in self.groups:
                raise ValueError(f"rules[{i}].group {rule.group!r} is not one of channels.groups")
        if self.default_group not in self.groups:
            raise ValueError(f"default_group {self.default_group!r} is not one of channels.groups")
        if self.sdr_cost_group not in self.groups:
            raise ValueError(f"sdr_cost_group {self.sdr_cost_group!r} is not one of channels.groups")
        if self.unattributed_spend_group in self.groups:
            raise ValueError("unattributed_spend_group must not be a channel group of leads")
        return self


class ExclusionRule(_Strict):
    """Leads whose attribute (the contract's or a declared one of the export's own) matches
    never become MQL, with `reason` as their disqualification reason."""

    reason: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    attribute: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    match: Literal["in", "contains", "prefix"] = "in"
    values: Annotated[list[str], Field(min_length=1)]


class Exclusions(_Strict):
    personal_email_domains: list[str] = []
    competitor_domains: list[str] = []
    own_domains: list[str] = []
    title_keywords: list[str] = []
    seniorities: list[str] = []
    test_domains: list[str] = []
    test_email_prefixes: list[str] = []
    # rules on any lead attribute, after the lists above (the first matching rule's reason)
    rules: list[ExclusionRule] = []


FIT_ATTRIBUTES = ("industry", "employee_count", "country_code", "department", "seniority",
                  "job_title", "email_domain", "company_domain", "lead_source")


class FitRule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    # one of FIT_ATTRIBUTES or of the file's lead_attributes (checked by FunnelDefinitions)
    attribute: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    match: Literal["equals", "in", "range", "contains", "prefix", "regex", "is_null", "not_null"]
    value: str | None = None
    values: list[str] | None = None
    values_from: str | None = None
    min: float | None = None
    max: float | None = None
    range_from: str | None = None
    points: Points


class EngagementRule(_Strict):
    activity_type: str
    points: Points
    # per_unit: the points are per unit of the activity's quantity (27 visits x 0.5 points),
    # an activity without a quantity counting as 1; the cap still bounds the rule's total
    per_unit: bool = False
    cap: Annotated[float, Field(gt=0)] | None = None


class Engagement(_Strict):
    half_life_days: Annotated[float, Field(gt=0)] = 30
    fast_track: list[str] = []
    rules: list[EngagementRule]

    @model_validator(mode="after")
    def _unique_types(self) -> Engagement:
        seen = [r.activity_type for r in self.rules]
        dupes = sorted({t for t in seen if seen.count(t) > 1})
        if dupes:
            raise ValueError(f"activity types with more than one rule: {', '.join(dupes)}")
        return self


class Mql(_Strict):
    threshold: Score = 60
    min_fit: Score = 40
    fit_weight: Weight = 0.5
    engagement_weight: Weight = 0.5

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Mql:
        if abs(self.fit_weight + self.engagement_weight - 1) > 1e-9:
            raise ValueError("fit_weight + engagement_weight must be 1")
        return self


class Sql(_Strict):
    min_bant_criteria: Annotated[int, Field(ge=0, le=4)] = 3
    require_next_step: bool = True


Treatment = Literal["nurture", "disqualify"]


class Recycle(_Strict):
    """What a sales decision does to a lead's episodes (SPEC §7). A `recycled` qualification,
    or a rejection whose reason is a nurture case, starts a new episode: the lead may become
    an MQL again, no sooner than `return_after_days` after the decision and with at least
    `return_min_engagement` points of engagement. A disqualifying rejection ends the episode:
    no MQL in it any more."""

    reset_engagement: bool = True
    # rejection reason, as the CRM writes it (matched trimmed and case-insensitive) -> treatment
    rejection_reasons: dict[str, Treatment] = {}
    unlisted_rejections: Treatment = "disqualify"  # other reasons, and none given
    return_after_days: Annotated[int, Field(ge=0)] = 0
    return_min_engagement: Score = 0

    @field_validator("rejection_reasons")
    @classmethod
    def _normalised_reasons(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for reason, treatment in value.items():
            key = reason.strip().lower()
            if key in out:
                raise ValueError(f"rejection reason {reason!r} is listed twice")
            out[key] = treatment
        return out


class Lifecycle(_Strict):
    stage_source: Literal["computed", "crm"] = "computed"


class BusinessHours(_Strict):
    start: Annotated[int, Field(ge=0, le=23)] = 9
    end: Annotated[int, Field(ge=1, le=24)] = 18
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = [
        "mon", "tue", "wed", "thu", "fri"]


class Sla(_Strict):
    target_hours: Annotated[float, Field(gt=0)] = 24
    limit_hours: Annotated[float, Field(gt=0)] = 48
    business_hours_only: bool = False
    business_hours: BusinessHours = BusinessHours()
    first_touch_activity_types: list[str] = ["call", "sales_email", "meeting"]

    @model_validator(mode="after")
    def _target_within_limit(self) -> Sla:
        if self.target_hours > self.limit_hours:
            raise ValueError("target_hours must not exceed limit_hours")
        return self


class SegmentMaturity(_Strict):
    """A segment's own windows; a transition not given keeps the default window."""

    mql_to_sql: PositiveDays | None = None
    sql_to_opportunity: PositiveDays | None = None
    opportunity_to_won: PositiveDays | None = None
    mql_to_customer: PositiveDays | None = None


MATURITY_TRANSITIONS = ("mql_to_sql", "sql_to_opportunity", "opportunity_to_won",
                        "mql_to_customer")


class MaturityDays(_Strict):
    mql_to_sql: PositiveDays = 30
    sql_to_opportunity: PositiveDays = 30
    opportunity_to_won: PositiveDays = 90
    mql_to_customer: PositiveDays = 180
    # segment name -> its own windows (enterprise deals take longer than SMB ones)
    by_segment: dict[str, SegmentMaturity] = {}

    def for_segment(self, segment: str | None) -> dict[str, int]:
        """Every transition's window for a segment: its own where given, else the default."""
        own = self.by_segment.get(segment or "")
        return {t: (getattr(own, t, None) if own else None) or getattr(self, t)
                for t in MATURITY_TRANSITIONS}


class Drift(_Strict):
    warn_share: Annotated[float, Field(ge=0, le=1)] = 0.15
    crm_stages: dict[Literal["lead", "mql", "sql", "opportunity", "customer"], list[str]] = {}


class BacktestThresholds(_Strict):
    start: Annotated[float, Field(ge=0, le=100)] = 0
    stop: Annotated[float, Field(ge=0, le=100)] = 100
    step: Annotated[float, Field(gt=0, le=100)] = 5

    @model_validator(mode="after")
    def _ordered(self) -> BacktestThresholds:
        if self.start > self.stop:
            raise ValueError("start must not exceed stop")
        return self


# calibration.outcome -> (its short name, what a lead that reached it did): reports and CLI
OUTCOME_LABELS = {
    "sql": ("SQL", "reached SQL"),
    "opportunity": ("opportunity", "got an opportunity"),
    "won": ("won", "won a deal"),
    "won_amount": ("won", "won a deal (weighted by the amount won)"),
}


class Calibration(_Strict):
    """How the scoring is judged against history (SPEC §9)."""

    horizon_days: PositiveDays = 14
    # What the scoring should predict: reaching SQL, an opportunity, a won deal, or the won
    # amount (leads weighted by what they brought), within `outcome_window_days` after the
    # horizon; no window given: the maturity window of that stage (outcome_window_days()).
    outcome: Literal["sql", "opportunity", "won", "won_amount"] = "sql"
    outcome_window_days: PositiveDays | None = None
    score_band_width: Annotated[float, Field(gt=0, le=100)] = 20
    backtest_thresholds: BacktestThresholds = BacktestThresholds()
    smoothing_leads: Annotated[float, Field(ge=0)] = 50
    min_evidence_leads: Annotated[int, Field(ge=1)] = 30
    # an attribute whose values separate the outcome less than this (information value) gets
    # no suggested rules: 0.02 is the usual floor of a "weak" predictor
    min_information_value: Annotated[float, Field(ge=0)] = 0.02
    # an attribute a more informative one fixes for this share of leads (a job title fixes
    # the department) adds no evidence of its own: it gets no suggested rules
    redundancy_share: Annotated[float, Field(gt=0, le=1)] = 0.9


class Revenue(_Strict):
    """Each lead's probability of a won deal and its expected value, from history."""

    # P(a deal won within this many days after the lead's evaluation moment)
    win_horizon_days: PositiveDays = 180
    score_band_width: Annotated[float, Field(gt=0, le=100)] = 10
    # rates of a score band pulled toward its segment's (and a channel's toward its band's) as
    # if this many leads at that rate were added
    smoothing_leads: Annotated[float, Field(ge=0)] = 50
    # a channel's own average deal value counts as if this many deals were added at the
    # segment's average (a channel with few won deals keeps about its segment's value)
    smoothing_deals: Annotated[float, Field(ge=0)] = 10
    # the latest weeks of matured leads the check holds out: calibrated without them, then
    # compared with what they did
    holdout_weeks: Annotated[int, Field(ge=1)] = 12


# The lead columns of the contract an account may be keyed by (int_lead_accounts).
ACCOUNT_KEY_COLUMNS = ("company_domain", "email_domain", "company_name")


class Accounts(_Strict):
    """How leads group into accounts (the companies that buy): by a lead attribute - the
    company's domain, or the CRM's own account id declared under lead_attributes."""

    key: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")] = "company_domain"
    # the account's score: its best lead's, or the mean of its best `score_leads` leads'
    score: Literal["best_lead", "mean_of_best"] = "best_lead"
    score_leads: Annotated[int, Field(ge=1)] = 3


class Ingest(_Strict):
    """How landing files are read (SPEC §4)."""

    # A row dated later than the load time plus this is quarantined as `in_future`: one bad
    # date (2030, 9999) must not move the data's "now". Slack for clocks and time zones.
    future_tolerance_hours: Annotated[float, Field(ge=0)] = 24
    # An extract whose newest row (its own event time, not the load time) is older than this
    # at a run: a freshness warning - the export stopped, or runs behind.
    max_data_age_days: Annotated[float, Field(gt=0)] = 3


class FunnelDefinitions(_Strict):
    reporting: Reporting = Reporting()
    null_placeholders: list[str] = ["", "select", "n/a", "unknown", "-"]
    ingest: Ingest = Ingest()
    icp: Icp = Icp()
    segments: list[Segment]
    channels: Channels
    exclusions: Exclusions = Exclusions()
    # The export's own lead columns fit rules may test (carried by `funnel import`, kept in
    # raw.crm_leads.extra): their snake_case names.
    lead_attributes: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] = []
    fit_rules: list[FitRule]
    engagement: Engagement
    mql: Mql = Mql()
    sql: Sql = Sql()
    recycle: Recycle = Recycle()
    lifecycle: Lifecycle = Lifecycle()
    sla: Sla = Sla()
    maturity_days: MaturityDays = MaturityDays()
    drift: Drift = Drift()
    calibration: Calibration = Calibration()
    revenue: Revenue = Revenue()
    accounts: Accounts = Accounts()

    @model_validator(mode="after")
    def _fit_rules_resolve(self) -> FunnelDefinitions:
        ids = [r.id for r in self.fit_rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"fit_rules ids used twice: {', '.join(dupes)}")
        shadowing = sorted(set(self.lead_attributes) & set(FIT_ATTRIBUTES))
        if shadowing:
            raise ValueError(f"lead_attributes: {', '.join(shadowing)} is already a lead "
                             "attribute of the contract")
        known = [*FIT_ATTRIBUTES, *self.lead_attributes]
        for i, rule in enumerate(self.fit_rules):
            if rule.attribute not in known:
                raise ValueError(
                    f"fit_rules[{i}] ({rule.id}): unknown attribute {rule.attribute!r}; known "
                    f"attributes: {', '.join(known)} (declare an export's own column under "
                    "lead_attributes)")
        for i, rule in enumerate(self.fit_rules):
            self._resolved_fit_rule(rule, f"fit_rules[{i}]")
        for where, attribute in [
                *((f"exclusions.rules[{i}] ({r.reason})", r.attribute)
                  for i, r in enumerate(self.exclusions.rules)),
                *((f"segments[{i}] ({s.name})", s.attribute)
                  for i, s in enumerate(self.segments) if s.attribute)]:
            if attribute not in known:
                raise ValueError(f"{where}: unknown attribute {attribute!r}; known attributes: "
                                 f"{', '.join(known)}")
        names = [s.name for s in self.segments]
        unknown = sorted(set(self.maturity_days.by_segment) - set(names))
        if unknown:
            raise ValueError(f"maturity_days.by_segment: unknown segment {', '.join(unknown)}; "
                             f"segments: {', '.join(names)}")
        keys = [*ACCOUNT_KEY_COLUMNS, *self.lead_attributes]
        if self.accounts.key not in keys:
            raise ValueError(f"accounts.key: {self.accounts.key!r} cannot key accounts; use one "
                             f"of {', '.join(keys)} (declare the CRM's account id under "
                             "lead_attributes)")
        return self

    def _lookup(self, path: str, where: str) -> Any:
        node: Any = self
        parts = path.split(".")
        for part in parts:
            node = getattr(node, part, None)
            if node is None:
                raise ValueError(f"{where}: {path!r} does not name a value of this file")
        return node

    def _resolved_fit_rule(self, rule: FitRule, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rule.id, "attribute": rule.attribute, "match": rule.match,
                               "points": rule.points, "values": None, "min": rule.min,
                               "max": rule.max}
        if rule.match in ("equals", "contains", "prefix", "regex"):
            if rule.value is None:
                raise ValueError(f"{where}: match {rule.match} needs `value`")
            if rule.match == "regex":
                try:
                    re.compile(rule.value)
                except re.error as exc:
                    raise ValueError(f"{where}: {rule.value!r} is not a regular expression "
                                     f"({exc})") from None
            out["values"] = [rule.value]
        elif rule.match == "in":
            values = rule.values
            if rule.values_from:
                values = self._lookup(rule.values_from, where)
            if not values:
                raise ValueError(f"{where}: match in needs `values` or `values_from`")
            out["values"] = list(values)
        elif rule.match == "range":
            if rule.range_from:
                rng = self._lookup(rule.range_from, where)
                out["min"], out["max"] = rng.min, rng.max
            if out["min"] is None and out["max"] is None:
                raise ValueError(f"{where}: match range needs `min`, `max` or `range_from`")
        elif any(v is not None for v in (rule.value, rule.values, rule.values_from, rule.min,
                                         rule.max, rule.range_from)):
            raise ValueError(f"{where}: match {rule.match} takes no value")
        return out

    def outcome_window_days(self) -> int:
        """The calibration outcome's window after the horizon: the one given, else the
        maturity window of the stage (SQL; SQL + opportunity; MQL to customer)."""
        c, m = self.calibration, self.maturity_days
        if c.outcome_window_days is not None:
            return c.outcome_window_days
        return {"sql": m.mql_to_sql, "opportunity": m.mql_to_sql + m.sql_to_opportunity}.get(
            c.outcome, m.mql_to_customer)

    def resolved_fit_rules(self) -> list[dict[str, Any]]:
        return [self._resolved_fit_rule(r, f"fit_rules[{i}]") for i, r in enumerate(self.fit_rules)]


class DefinitionsError(ValueError):
    """A definitions file that cannot be used, with every bad key named."""


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key")
        else:
            lines.append(f"  {loc}: {err['msg']}")
    return f"{path}: invalid definitions\n" + "\n".join(lines)


def definitions_path() -> Path:
    return Path(os.environ.get("FUNNEL_DEFINITIONS") or DEFAULT_DEFINITIONS_PATH).resolve()


# libyaml's parser where PyYAML has it: a run reads the definitions file about 30 times (each
# check and step), 42 ms each with PyYAML's Python parser against 4 ms.
_FAST_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """YAML as `yaml.safe_load` reads it, parsed by libyaml when PyYAML has it. On an error the
    Python parser reads it again for its message, which shows the line and a caret."""
    try:
        return yaml.load(text, Loader=_FAST_YAML_LOADER)  # a safe loader, C or Python
    except yaml.YAMLError:
        return yaml.safe_load(text)


def load_definitions(path: Path | str | None = None) -> FunnelDefinitions:
    path = Path(path) if path else definitions_path()
    try:
        raw = parse_yaml(path.read_text())
    except FileNotFoundError as exc:
        raise DefinitionsError(f"{path}: definitions file not found") from exc
    except yaml.YAMLError as exc:
        raise DefinitionsError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DefinitionsError(f"{path}: expected a mapping of sections at the top level")
    try:
        return FunnelDefinitions.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionsError(_format_errors(path, exc)) from exc


def definitions_version(path: Path | str | None = None) -> str:
    """Content hash of the file: what the marts record as definitions_version."""
    path = Path(path) if path else definitions_path()
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def dbt_vars(path: Path | str | None = None) -> dict[str, Any]:
    """What dbt receives: the validated definitions (`funnel`), flattened where SQL wants
    rows; the key of each extract (`extract_keys`, from the extract contract: the staging
    models' unique keys) and the lead attributes of the contract fit rules may test
    (`fit_attributes`: int_lead_fit_fields)."""
    from orchestration.ingest.contract import EXTRACTS

    defs = load_definitions(path)
    data = defs.model_dump(mode="json")
    data["fit_rules"] = defs.resolved_fit_rules()
    data["calibration"]["outcome_window_days"] = defs.outcome_window_days()
    channels = defs.channels
    data["channels"]["labels"] = {g: channels.label(g) for g in
                                  [*channels.groups, channels.unattributed_spend_group]}
    return {"funnel": data, "definitions_version": definitions_version(path),
            "extract_keys": {name: list(e.key) for name, e in EXTRACTS.items()},
            "fit_attributes": list(FIT_ATTRIBUTES)}


def dbt_vars_arg(path: Path | str | None = None) -> str:
    return json.dumps(dbt_vars(path), separators=(",", ":"), sort_keys=True)
