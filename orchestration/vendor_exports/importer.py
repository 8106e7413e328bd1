"""Turn one export into a canonical landing file (SPEC §4), row by row, losing nothing.

Each row is mapped, typed to the contract (UTC timestamps with an explicit offset, plain
numbers, true/false) and written to `landing/<extract>/<export name>.csv`; a row that cannot
be mapped goes to `landing/_rejected/<extract>/<export name>.csv` with its line, column, value
and reason. Rows read = rows written + rows quarantined (exploded extracts write several rows
per source row, aggregated ones sum several into one, and say so). Columns no target reads
land as they are (`unmapped: keep`): a CRM's own fields.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestration.ingest.contract import EXTRACTS, snake_case
from orchestration.vendor_exports.mapping import ColumnSpec, Mapping, MappingError
from orchestration.vendor_exports.reading import looks_excel_mangled, parse_number, read_export

REJECT_COLUMNS = ["source_file", "source_line", "column", "value", "reason", "record"]
TRUE = {"true", "t", "yes", "y", "1", "x"}
FALSE = {"false", "f", "no", "n", "0"}
# Formats tried when a column declares none: unambiguous ones only (no 03/04/2025).
AUTO_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
                "%d %b %Y", "%b %d, %Y", "%d %B %Y", "%B %d, %Y")


class RowError(ValueError):
    def __init__(self, column: str, value: str | None, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


@dataclass
class ImportResult:
    source: Path
    extract: str
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    output: Path | None = None
    rejects: Path | None = None
    unchanged: bool = False
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"{self.source.name} -> {self.extract}: {self.rows_read:,} rows read, "
                 f"{self.rows_written:,} written, {self.rows_quarantined:,} quarantined"
                 + (f", {self.rows_skipped:,} skipped (skip_when)" if self.rows_skipped else "")]
        if self.output:
            lines.append(f"  landing file: {self.output}"
                         + (" (already there, identical)" if self.unchanged else ""))
        if self.rejects:
            lines.append(f"  quarantined rows (line, column, value, reason): {self.rejects}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class _Converter:
    def __init__(self, mapping: Mapping, file_name: str = ""):
        self.m = mapping
        self.file_name = file_name
        self.contract = EXTRACTS[mapping.extract]
        self.placeholders = {p.strip().lower() for p in mapping.placeholders}
        self.tz = ZoneInfo(mapping.source_timezone)

    def blank(self, value: str | None) -> str | None:
        if value is None:
            return None
        v = value.strip()
        return None if v.lower() in self.placeholders else v

    def raw(self, target: str, spec: ColumnSpec, record: dict[str, str],
            line: int = 0) -> str | None:
        if spec.value is not None:
            return spec.value if isinstance(spec.value, str) else json.dumps(spec.value)
        if spec.derive:
            parts = [self.blank(record.get(part)) if isinstance(part, str)
                     else part.value if part.value is not None
                     else self.file_name if part.file_name else str(line)
                     for part in spec.derive]
            if any(p is None for p in parts):
                return None
            return "id_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
        if spec.only_if:
            gate = (self.blank(record.get(spec.only_if.column)) or "").lower()
            if gate not in {v.strip().lower() for v in spec.only_if.values}:
                return None
        for column in spec.source:
            value = self.blank(record.get(column))
            if value is not None and spec.split:
                value = self.blank(value.split(spec.split)[0])
            if value is not None:
                return value
        return None

    def mapped(self, target: str, spec: ColumnSpec, value: str | None) -> object:
        if spec.map is not None:
            table = {str(k).strip().lower(): v for k, v in spec.map.items()}
            if value is not None and value.strip().lower() in table:
                value = table[value.strip().lower()]
            elif spec.otherwise is not None:
                value = spec.otherwise
            elif value is not None and not spec.keep_unmapped:
                raise RowError(target, value, f"no mapping for {value!r} (mapped values: "
                                              f"{', '.join(map(str, spec.map))})")
        if value is None and spec.default is not None:
            value = spec.default
        if isinstance(value, str):
            value = {"lower": value.lower, "upper": value.upper,
                     "title": value.title}.get(spec.case, lambda: value)()
        return value

    def typed(self, target: str, value: object, fmt: list[str]) -> str:
        if value is None:
            return ""
        kind = self.contract.column(target).type
        text = value if isinstance(value, str) else json.dumps(value)
        if isinstance(value, bool):
            text = "true" if value else "false"
        if looks_excel_mangled(text) and kind != "date":
            if self.m.excel_mangled == "blank":
                return ""
            raise RowError(target, text, f"{text!r} looks like a value a spreadsheet turned "
                                         "into a date (was it a range such as 1-5?)")
        try:
            if kind == "timestamp":
                return self.timestamp(text, fmt)
            if kind in ("date", "month"):
                day = self.day(text, fmt)
                return (day.replace(day=1) if kind == "month" else day).isoformat()
            if kind in ("integer", "money", "rate", "quantity"):
                number = parse_number(text, self.m.numbers.thousands, self.m.numbers.decimal)
                if kind == "integer":
                    if number != int(number):
                        raise ValueError(f"{text!r} is not a whole number")
                    return str(int(number))
                return repr(number)
            if kind == "boolean":
                lowered = text.strip().lower()
                if lowered in TRUE:
                    return "true"
                if lowered in FALSE:
                    return "false"
                raise ValueError(f"{text!r} is not true/false/yes/no/1/0")
        except ValueError as exc:
            if looks_excel_mangled(text):
                raise RowError(target, text, f"{text!r} looks like a value a spreadsheet "
                                             "turned into a date") from None
            raise RowError(target, text, str(exc)) from None
        return text

    def _datetime(self, text: str, fmt: list[str]) -> datetime:
        if not fmt:
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                pass
        moment = _first_match(text, fmt or AUTO_FORMATS)
        if moment is not None:
            return moment
        if fmt:
            raise ValueError(f"{text!r} does not match the format {' or '.join(map(repr, fmt))}")
        raise ValueError(f"{text!r} is not a date this import can read without a declared "
                         "`format:` (e.g. \"%m/%d/%Y %H:%M\")")

    def timestamp(self, text: str, fmt: list[str]) -> str:
        moment = self._datetime(text, fmt)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S+00:00")

    def day(self, text: str, fmt: list[str]) -> date:
        return self._datetime(text, fmt).date()


def _first_match(text: str, formats) -> datetime | None:
    for candidate in formats:
        try:
            return datetime.strptime(text, candidate)
        except ValueError:
            continue
    return None


def convert(rows, header: list[str], mapping: Mapping, file_name: str = ""):
    """Yield ('ok', line, values), ('skip', line) or ('reject', line, RowError, record).
    `values` holds the mapped columns, then the carried ones (carried_columns)."""
    conv = _Converter(mapping, file_name)
    carried = carried_columns(header, mapping)
    specs = mapping.specs()
    skips = {c: re.compile(p, re.IGNORECASE) for c, p in mapping.skip_when.items()}
    position = {c: i for i, c in enumerate(header)}
    for line, fields in rows:
        if any(position[c] < len(fields) and rx.search(fields[position[c]])
               for c, rx in skips.items()):
            yield ("skip", line)
            continue
        if len(fields) != len(header):
            record = dict(zip(header, fields, strict=False))
            yield ("reject", line, RowError("", None, f"{len(fields)} fields where the header "
                                                      f"has {len(header)}"), record)
            continue
        record = dict(zip(header, fields, strict=True))
        try:
            base = {t: conv.typed(t, conv.mapped(t, s, conv.raw(t, s, record, line)), s.format)
                    for t, s in specs.items()}
            base.update({name: conv.blank(record[column]) or ""
                         for column, name in carried.items()})
            missing = [c for c in conv.contract.required_columns
                       if c in base and base[c] == "" and not (
                           mapping.explode and c in mapping.explode.into)]
            if missing:
                raise RowError(missing[0], None, f"required {missing[0]} is blank")
            if not mapping.explode:
                yield ("ok", line, base)
                continue
            key_col, value_col = mapping.explode.into
            fmt = specs[value_col].format if value_col in specs else []
            for key, source in mapping.explode.columns.items():
                value = conv.blank(record.get(source))
                if value is None:
                    continue
                yield ("ok", line, {**base, key_col: key,
                                    value_col: conv.typed(value_col, value, fmt)})
        except RowError as err:
            yield ("reject", line, err, record)


def carried_columns(header: list[str], mapping: Mapping) -> dict[str, str]:
    """The export's own columns that land as they are (`unmapped: keep`), by the name they get:
    the loader's snake_case, prefixed with `export_` where that would be a column of the
    contract or of another carried column (the loader keeps them in `extra`)."""
    if mapping.unmapped == "drop":
        return {}
    taken = set(EXTRACTS[mapping.extract].column_names) | set(mapping.target_columns())
    read, dropped = mapping.read_columns(), set(mapping.drop)
    out: dict[str, str] = {}
    for column in header:
        if column in read or column in dropped or not snake_case(column):
            continue
        name = snake_case(column)
        while name in taken:
            name = "export_" + name
        taken.add(name)
        out[column] = name
    return out


def aggregate(rows: list[tuple[int, dict]], mapping: Mapping
              ) -> tuple[list[dict], list[tuple[int, RowError, dict]]]:
    """One row per key of the extract: the `aggregate.sum` columns added up (exactly, as
    decimals); a key whose rows disagree on any other column is quarantined whole, naming the
    column, so nothing is summed that should not be."""
    keys, measures = EXTRACTS[mapping.extract].key, mapping.aggregate.sum
    groups: dict[tuple, list[tuple[int, dict]]] = {}
    for line, row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append((line, row))
    out, rejected = [], []
    for key, members in groups.items():
        first = members[0][1]
        clash = next((c for c in first if c not in measures
                      and any(row[c] != first[c] for _line, row in members)), None)
        if clash is not None:
            values = sorted({row[clash] for _line, row in members})
            err = RowError(clash, " | ".join(values[:3]),
                           f"rows of key {', '.join(map(str, key))} disagree on {clash} "
                           f"({len(values)} values): not summed")
            rejected += [(line, err, row) for line, row in members]
            continue
        total = dict(first)
        for column in measures:
            present = [Decimal(row[column]) for _line, row in members if row[column] != ""]
            total[column] = _number_text(sum(present)) if present else ""
        out.append(total)
    return out, rejected


def _number_text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_new(path: Path, text: str) -> tuple[Path, bool]:
    """Write `text` at `path`, or beside it when another content holds that name (two exports
    named alike both land: `<name>.<content hash>.csv`); never replace a file. Returns where it
    is and whether it was written (False: those bytes had landed already)."""
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() != data:
        path = path.with_name(f"{path.stem}.{hashlib.sha256(data).hexdigest()[:8]}{path.suffix}")
    if path.exists():
        if path.read_bytes() == data:
            return path, False
        raise MappingError(f"{path} already exists with other content: it is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path, True


def import_file(path: Path, mapping: Mapping, landing_dir: Path) -> ImportResult:
    source = read_export(path, mapping.delimiter,
                         header_columns=mapping.header_markers()
                         if mapping.header_row == "auto" else None,
                         header_row=mapping.header_row if mapping.header_row != "auto" else 1)
    mapping.check(source.header, str(path))
    result = ImportResult(path, mapping.extract, rows_read=len(source.rows),
                          warnings=list(source.warnings))
    written: list[tuple[int, dict]] = []
    rejected = []
    skipped = 0

    def reject(line: int, err: RowError, record: dict) -> None:
        rejected.append({"source_file": path.name, "source_line": line,
                         "column": err.column, "value": err.value or "",
                         "reason": err.reason, "record": json.dumps(record)})

    for kind, line, *rest in convert(source.rows, source.header, mapping, path.name):
        if kind == "ok":
            written.append((line, rest[0]))
        elif kind == "skip":
            skipped += 1
        else:
            reject(line, *rest)
    rows = [row for _line, row in written]
    if mapping.aggregate:
        rows, clashes = aggregate(written, mapping)
        for line, err, record in clashes:
            reject(line, err, record)
        result.warnings.append(
            f"{len(written) - len(clashes):,} rows summed into {len(rows):,}, one per "
            f"{', '.join(EXTRACTS[mapping.extract].key)} ({', '.join(mapping.aggregate.sum)} "
            "added up)")
    carried = list(carried_columns(source.header, mapping).values())
    if carried:
        result.warnings.append(f"carried as they are (the loader keeps them in `extra`): "
                               f"{', '.join(carried)}")
    stem = path.name.rsplit(".", 1)[0]
    columns = [c for c in EXTRACTS[mapping.extract].column_names
               if c in mapping.target_columns()] + carried
    result.rows_written, result.rows_quarantined = len(rows), len(rejected)
    result.rows_skipped = skipped
    result.output, written_now = _write_new(landing_dir / mapping.extract / f"{stem}.csv",
                                            _csv_text(columns, rows))
    result.unchanged = not written_now
    if result.output.name != f"{stem}.csv":
        result.warnings.append(f"another export named {stem} landed before: this one is "
                               f"{result.output.name}")
    if rejected:
        result.rejects = (landing_dir / "_rejected" / mapping.extract / result.output.name)
        result.rejects.parent.mkdir(parents=True, exist_ok=True)
        result.rejects.write_text(_csv_text(REJECT_COLUMNS, rejected), encoding="utf-8")
        lines = ", ".join(str(r["source_line"]) for r in rejected[:5])
        result.warnings.append(f"{len(rejected)} rows quarantined (lines {lines}"
                               f"{', ...' if len(rejected) > 5 else ''}): "
                               f"{rejected[0]['reason']}")
    if mapping.explode:
        result.warnings.append(f"each source row gives one row per stage with a date: "
                               f"{len(written):,} rows from {len(source.rows) - len(rejected):,}")
    return result
