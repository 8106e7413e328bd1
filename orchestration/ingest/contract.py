"""The extract contract of SPEC §4: which columns each landing extract has, their types and keys.

Pure data, no I/O: the loader, the tests and the demo generator all read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["varchar", "timestamp", "date", "month", "integer", "money", "rate", "quantity",
                     "boolean"]

# DuckDB storage type for each contract type. Money keeps sub-cent precision so that
# reconciliation to the cent happens after sums, not per row.
SQL_TYPES: dict[str, str] = {
    "varchar": "VARCHAR",
    "timestamp": "TIMESTAMP",  # always UTC, naive
    "date": "DATE",
    "month": "DATE",  # first day of the month
    "integer": "BIGINT",
    "money": "DECIMAL(18,4)",
    "rate": "DECIMAL(18,8)",
    "quantity": "DECIMAL(18,4)",  # counts and measures: visits, seconds, pages
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "varchar"
    required: bool = False
    allowed: tuple[str, ...] | None = None  # compared after trim + lower-case
    non_negative: bool = False
    positive: bool = False
    may_be_future: bool = False  # e.g. a scheduled next step


@dataclass(frozen=True)
class Extract:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Column deciding which version of a key wins; None means the latest file wins.
    version_column: str | None = None
    optional: bool = False
    staging_model: str = ""  # the dbt model that cleans this extract
    # When the extract's newest row happened, by its own clock (SQL over its raw table): the
    # data's freshness, not the load time. None: a periodic extract (monthly costs, rates)
    # that is not expected to be days fresh. dbt's sources use the same expressions.
    data_time: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, type: ColumnType = "varchar", **kw) -> Column:
    return Column(name, type, **kw)


ACQUISITION_MODES = ("inbound", "outbound")
ACTORS = ("prospect", "sales", "marketing")
QUALIFICATION_OUTCOMES = ("accepted", "rejected", "recycled")

EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in (
        Extract(
            "crm_leads",
            (
                _c("lead_id", required=True),
                _c("created_at", "timestamp", required=True),
                _c("updated_at", "timestamp"),
                _c("email"),
                _c("job_title"),
                _c("seniority"),
                _c("department"),
                _c("company_name"),
                _c("company_domain"),
                _c("industry"),
                _c("employee_count", "integer", non_negative=True),
                _c("country_code"),
                _c("acquisition_mode", required=True, allowed=ACQUISITION_MODES),
                _c("lead_source"),
                _c("utm_source"),
                _c("utm_medium"),
                _c("utm_campaign"),
                _c("owner_id"),
                _c("crm_lifecycle_stage"),
                _c("merged_into_lead_id"),
            ),
            key=("lead_id",),
            version_column="updated_at",
            staging_model="stg_crm__leads",
            data_time="coalesce(updated_at, created_at)",
        ),
        Extract(
            "crm_activities",
            (
                _c("activity_id", required=True),
                _c("lead_id", required=True),
                _c("occurred_at", "timestamp", required=True),
                _c("activity_type", required=True),
                _c("actor", allowed=ACTORS),
                _c("detail"),
                # how much of it (27 visits, 1,200 seconds); engagement rules may count per unit
                _c("quantity", "quantity", non_negative=True),
            ),
            key=("activity_id",),
            staging_model="stg_crm__activities",
            data_time="occurred_at",
        ),
        Extract(
            "crm_qualifications",
            (
                _c("qualification_id", required=True),
                _c("lead_id", required=True),
                _c("qualified_at", "timestamp", required=True),
                _c("outcome", required=True, allowed=QUALIFICATION_OUTCOMES),
                _c("has_need", "boolean"),
                _c("has_budget", "boolean"),
                _c("has_authority", "boolean"),
                _c("has_timing", "boolean"),
                _c("next_step_at", "timestamp", may_be_future=True),
                _c("reason"),
                _c("rep_id"),
            ),
            key=("qualification_id",),
            staging_model="stg_crm__qualifications",
            data_time="qualified_at",
        ),
        Extract(
            "crm_opportunities",
            (
                _c("opportunity_id", required=True),
                _c("lead_id", required=True),
                _c("created_at", "timestamp", required=True),
                _c("stage"),
                _c("amount", "money", non_negative=True),
                _c("currency"),
                _c("is_closed", "boolean"),
                _c("is_won", "boolean"),
                _c("closed_at", "timestamp"),
                _c("lost_reason"),
                _c("updated_at", "timestamp"),
            ),
            key=("opportunity_id",),
            version_column="updated_at",
            staging_model="stg_crm__opportunities",
            data_time="coalesce(updated_at, created_at)",
        ),
        Extract(
            "ad_spend",
            (
                _c("spend_date", "date", required=True),
                _c("platform", required=True),
                _c("campaign_id", required=True),
                _c("spend", "money", required=True, non_negative=True),
                _c("currency", required=True),
                _c("campaign_name"),
                _c("utm_source"),
                _c("utm_medium"),
                _c("utm_campaign"),
                _c("impressions", "integer", non_negative=True),
                _c("clicks", "integer", non_negative=True),
            ),
            key=("spend_date", "platform", "campaign_id"),
            staging_model="stg_ads__spend",
            data_time="cast(spend_date as timestamp) + interval 1 day",
        ),
        Extract(
            "sdr_costs",
            (
                _c("month", "month", required=True),
                _c("team", required=True),
                _c("cost", "money", required=True, non_negative=True),
                _c("currency", required=True),
            ),
            key=("month", "team"),
            staging_model="stg_finance__sdr_costs",
        ),
        Extract(
            "fx_rates",
            (
                _c("rate_date", "date", required=True),
                _c("currency", required=True),
                _c("rate_to_reporting", "rate", required=True, positive=True),
            ),
            key=("rate_date", "currency"),
            optional=True,
            staging_model="stg_finance__fx_rates",
        ),
        Extract(
            "crm_stage_history",
            (
                _c("lead_id", required=True),
                _c("stage", required=True),
                _c("entered_at", "timestamp", required=True),
            ),
            key=("lead_id", "stage", "entered_at"),
            optional=True,
            staging_model="stg_crm__stage_history",
            data_time="entered_at",
        ),
    )
}


def snake_case(name: str) -> str:
    """Header normalisation: 'Lead ID' -> 'lead_id', 'utmSource' -> 'utm_source'."""
    name = name.strip().lstrip("\ufeff")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return name
