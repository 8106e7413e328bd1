"""Reading real exports: encodings, delimiters, quoting, and what spreadsheets do to values.

An export that cannot be read fails with the file, the line and the reason; one that can is
returned as rows of text with their physical line numbers, so every later message can point
at the line a person would open.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024

# What Excel turns a range or a code like "1-5" or "3/4" into: a day-month label.
MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
EXCEL_MANGLED = re.compile(rf"^(\d{{1,2}}-({MONTHS})|({MONTHS})-\d{{1,2}})$", re.IGNORECASE)


class ReadError(ValueError):
    """An export that cannot be read; names the file and, when known, the line."""

    def __init__(self, path: Path, reason: str, line: int | None = None):
        where = f"{path}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.reason = path, line, reason


@dataclass
class SourceFile:
    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (physical line number of the row's start, fields)
    warnings: list[str] = field(default_factory=list)


def decode(path: Path) -> tuple[str, str, list[str]]:
    """Text of the file, its encoding, and warnings. UTF-8 (BOM or not), else Latin-1."""
    raw = path.read_bytes()
    if not raw.strip():
        raise ReadError(path, "the file is empty (not even a header row)")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig", []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16", []
    try:
        return raw.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return raw.decode("latin-1"), "latin-1", [
            f"{path}: not valid UTF-8 (first at line {line}); read as Latin-1 - check accents"]


def sniff_delimiter(path: Path, text: str) -> str:
    sample = text[:SNIFF_BYTES]
    header = sample.splitlines()[0] if sample else ""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            raise ReadError(path, "cannot tell the delimiter (no comma, semicolon, tab or pipe "
                                  "in the header); declare it with `delimiter:` in the mapping",
                            1) from None
        return best


def read_export(path: Path, delimiter: str | None = None, *, header_row: int = 1,
                header_columns: list[str] | None = None) -> SourceFile:
    """Every row of a CSV export with its line number.

    The header is row `header_row`, or - when `header_columns` is given - the first of the
    first 30 rows that holds all those columns (reports with title lines above the table).
    """
    text, encoding, warnings = decode(path)
    skipped = 0
    if header_columns is not None or header_row > 1:
        text, skipped = _drop_preamble(path, text, header_row, header_columns, delimiter)
        if skipped:
            warnings.append(f"{path}: {skipped} title line(s) above the header skipped")
    delim = delimiter or sniff_delimiter(path, text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    line = 1
    try:
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            line = start
            if header is None:
                header = [h.strip() for h in fields]
                if not any(header):
                    raise ReadError(path, "the header row is empty", line)
                continue
            if not any(f.strip() for f in fields):
                continue  # blank line
            rows.append((start + skipped, fields))
    except csv.Error as exc:
        raise ReadError(path, f"malformed CSV ({exc}); is a quote left open?",
                        reader.line_num + skipped) from None
    if header is None:
        raise ReadError(path, "no header row")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise ReadError(path, f"the header names {', '.join(dupes)} more than once", 1)
    return SourceFile(path, encoding, delim, header, rows, warnings)


def _drop_preamble(path: Path, text: str, header_row: int, columns: list[str] | None,
                   delimiter: str | None) -> tuple[str, int]:
    lines = text.splitlines(keepends=True)
    if columns is None:
        return "".join(lines[header_row - 1:]), header_row - 1
    wanted = set(columns)
    for index, line in enumerate(lines[:30]):
        delim = delimiter or next((d for d in DELIMITERS if d in line), ",")
        fields = {f.strip() for f in next(csv.reader([line], delimiter=delim), [])}
        if wanted <= fields:
            return "".join(lines[index:]), index
    raise ReadError(path, f"no header row with the columns {', '.join(sorted(wanted))} in the "
                          "first 30 lines")


def parse_number(text: str, thousands: str | None, decimal: str) -> float:
    """'1.234,56' with thousands='.' and decimal=',' -> 1234.56. Raises ValueError."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    for symbol in "$€£¥":
        value = value.replace(symbol, "")
    if thousands:
        value = value.replace(thousands, "")
    if decimal != ".":
        if "." in value and decimal == "," and not thousands:
            raise ValueError(f"{text!r} mixes '.' with decimal commas")
        value = value.replace(decimal, ".")
    return float(value)


def looks_excel_mangled(value: str) -> bool:
    return bool(EXCEL_MANGLED.match(value.strip()))
