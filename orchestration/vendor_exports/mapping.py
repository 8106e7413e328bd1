"""Mapping files: how the columns of an export become the columns of one landing extract.

A mapping is YAML, validated strictly (an unknown key, an unknown target column or a source
column the export does not have is an error naming it). Presets are mappings written for the
headers HubSpot, Salesforce and the ad platforms put in their exports; a user's mapping file
extends or overrides the preset's columns.

    extract: crm_opportunities
    source_timezone: Europe/Paris        # for timestamps without an offset
    numbers: {thousands: ".", decimal: ","}
    placeholders: ["", "n/a", "-", "select", "unknown"]
    columns:
      opportunity_id: Deal ID                       # a source column
      lead_id: {from: [Contact ID, Deal ID]}        # the first non-blank of several
      created_at: {from: Create Date, format: "%d/%m/%Y %H:%M"}
      stage: {from: Deal Stage, case: lower}
      is_won: {from: Deal Stage, map: {closed won: true}, else: false}
      currency: {value: EUR}                        # a constant
      activity_id: {derive: [Contact ID, Campaign ID]}   # an id made from other columns
      touch_id: {derive: [{value: webinar}, {file_name: true}, {row_number: true}]}  # and constants
      country_code: {from: Country, map: {united states: US}, keep_unmapped: true}
      closed_at: {from: Close Date, only_if: {column: Deal Stage, in: [closed won, closed lost]}}
      lead_id: {from: Associated Contact IDs, split: ";"}  # the first of several
      utm_campaign: {from: Campaign, optional: true}       # the export may lack the column
    explode:                                        # one row per listed column with a value
      into: [stage, entered_at]
      columns: {mql: "Became a Marketing Qualified Lead Date", sql: "..."}
    header_row: auto          # the first row holding the mapped columns (reports with a title)
    skip_when: {Campaign: "^Total"}                 # rows that are not data (report totals)
    aggregate: {sum: [spend, impressions, clicks]}  # finer rows summed per key (per ad -> campaign)
    unmapped: keep            # other columns land too (the loader keeps them in `extra`); or drop
    drop: [Email, Phone]      # ... but never these
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestration.ingest.contract import EXTRACTS


class MappingError(ValueError):
    """A mapping that cannot apply; the message names the key or column."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OnlyIf(_Strict):
    column: str
    values: list[str] = Field(alias="in")


class DerivePart(_Strict):
    """A part of a derived id that is not a source column: a constant, the file's name or the
    row's line in it (ids that columns alone would repeat)."""

    value: str | None = None
    file_name: bool = False
    row_number: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> DerivePart:
        if (self.value is not None) + self.file_name + self.row_number != 1:
            raise ValueError("a derive part is a column name, or one of {value: ...}, "
                             "{file_name: true}, {row_number: true}")
        return self


class ColumnSpec(_Strict):
    source: list[str] = Field(default_factory=list, alias="from")
    value: Any = None
    derive: list[str | DerivePart] = Field(default_factory=list)
    map: dict[str, Any] | None = None
    otherwise: Any = Field(default=None, alias="else")
    keep_unmapped: bool = False
    default: Any = None
    format: list[str] = Field(default_factory=list)
    case: Literal["lower", "upper", "title", "as_is"] = "as_is"
    split: str | None = None
    only_if: OnlyIf | None = None
    optional: bool = False

    @field_validator("source", "derive", "format", mode="before")
    @classmethod
    def _listify(cls, v):
        return [v] if isinstance(v, str) else v

    def derive_columns(self) -> list[str]:
        return [part for part in self.derive if isinstance(part, str)]

    def sources(self) -> list[str]:
        return [*self.source, *self.derive_columns(),
                *([self.only_if.column] if self.only_if else [])]


class Numbers(_Strict):
    thousands: str | None = None
    decimal: str = "."


class Explode(_Strict):
    into: Annotated[list[str], Field(min_length=2, max_length=2)]
    columns: dict[str, str]


class Aggregate(_Strict):
    """Rows at a finer grain than the extract (one per ad, per keyword): one row per key of
    the extract, these target columns summed; every other column must agree within a key."""

    sum: Annotated[list[str], Field(min_length=1)]


class Mapping(_Strict):
    extract: str
    delimiter: str | None = None
    source_timezone: str = "UTC"
    numbers: Numbers = Numbers()
    placeholders: list[str] = ["", "n/a", "na", "-", "select", "unknown", "null", "none"]
    excel_mangled: Literal["quarantine", "blank"] = "quarantine"
    header_row: Literal["auto"] | Annotated[int, Field(ge=1)] = 1
    skip_when: dict[str, str] = {}
    columns: dict[str, ColumnSpec | str] = {}
    explode: Explode | None = None
    aggregate: Aggregate | None = None
    unmapped: Literal["keep", "drop"] = "keep"  # source columns no target column reads
    drop: list[str] = []  # source columns never carried, whatever `unmapped` says

    @field_validator("extract")
    @classmethod
    def _known_extract(cls, v: str) -> str:
        if v not in EXTRACTS:
            raise ValueError(f"unknown extract {v!r}; one of {', '.join(EXTRACTS)}")
        return v

    def specs(self) -> dict[str, ColumnSpec]:
        return {k: ColumnSpec(source=[v]) if isinstance(v, str) else v
                for k, v in self.columns.items()}

    def target_columns(self) -> list[str]:
        out = list(self.specs())
        if self.explode:
            out += [c for c in self.explode.into if c not in out]
        return out

    def required_sources(self, header: list[str] | None = None) -> list[str]:
        """Source columns the export must have. Optional columns may be absent; of a `from`
        list, one is enough (the first the export has, when the header is known)."""
        used: list[str] = []
        for spec in self.specs().values():
            if spec.optional:
                continue
            if spec.source:
                present = [c for c in spec.source if header is None or c in header]
                used.append(present[0] if present else spec.source[0])
            used += spec.derive_columns() + ([spec.only_if.column] if spec.only_if else [])
        used += list(self.skip_when)
        if self.explode:
            used += list(self.explode.columns.values())
        return list(dict.fromkeys(used))

    def read_columns(self) -> set[str]:
        """Every source column a target column, an explode or a filter reads (optional ones
        included): the others are the export's own columns, carried as they are."""
        used = {c for spec in self.specs().values() for c in spec.sources()}
        used |= set(self.skip_when)
        if self.explode:
            used |= set(self.explode.columns.values())
        return used

    def header_markers(self) -> list[str]:
        """Columns that must be in the header row (to find it below a report's title lines)."""
        markers = [spec.source[0] for spec in self.specs().values()
                   if not spec.optional and len(spec.source) == 1]
        return list(dict.fromkeys(markers)) or self.required_sources()

    def check(self, header: list[str], where: str) -> None:
        """Every target column is in the contract, every source column in the export, and
        every required column is produced."""
        contract = EXTRACTS[self.extract]
        unknown = [c for c in self.target_columns() if c not in contract.column_names]
        if unknown:
            raise MappingError(f"{where}: {', '.join(unknown)} is not a column of "
                               f"{self.extract} (columns: {', '.join(contract.column_names)}); "
                               "a column of your own needs no mapping: unmapped columns land "
                               "as they are (`unmapped: keep`)")
        if self.aggregate:
            kinds = {c.name: c.type for c in contract.columns}
            wrong = [c for c in self.aggregate.sum if c not in self.target_columns()
                     or kinds[c] not in ("money", "integer", "rate", "quantity")]
            if wrong:
                raise MappingError(f"{where}: aggregate.sum: {', '.join(wrong)} is not a mapped "
                                   "number column of " + self.extract)
            keys = [c for c in contract.key if c not in self.target_columns()]
            if keys:
                raise MappingError(f"{where}: aggregate sums per key of {self.extract}; map "
                                   f"{', '.join(keys)}")
        have = set(header)
        missing = [s for s in self.required_sources(header) if s not in have]
        if missing:
            raise MappingError(f"{where}: the export has no column {', '.join(map(repr, missing))}"
                               f" (its columns: {', '.join(header)})")
        specs = self.specs()
        absent = [c for c in contract.required_columns if c not in self.target_columns()
                  or (c in specs and specs[c].value is None and specs[c].default is None
                      and specs[c].sources()
                      and not any(s in have for s in specs[c].sources()))]
        if absent:
            raise MappingError(f"{where}: {self.extract} needs {', '.join(absent)}; map "
                               f"{'it' if len(absent) == 1 else 'them'} under `columns:` to a "
                               "column the export has")


def merge(preset: dict | None, user: dict | None) -> dict:
    """A preset extended by a user's mapping: scalars and sections replaced, columns merged."""
    out: dict = dict(preset or {})
    for key, value in (user or {}).items():
        if key == "columns":
            out["columns"] = {**out.get("columns", {}), **(value or {})}
        else:
            out[key] = value
    return out


def parse(data: dict, where: str) -> Mapping:
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{key}: {msg}")
        raise MappingError(f"{where}: " + "; ".join(problems)) from None


def load_mapping_file(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise MappingError(f"{path}: a mapping file is a YAML mapping (key: value)")
    return data
