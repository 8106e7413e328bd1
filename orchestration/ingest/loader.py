"""Load landing files of one extract into ``raw.<extract>``.

Every input row ends in exactly one place: the raw table (possibly replacing an older version
of its key) or ``raw.rejected_rows`` with the file, line, column and reason. ``raw.load_log``
records per file rows read = loaded + rejected. One extract loads in one transaction, so a
failure leaves the warehouse as it was.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.ingest.contract import SQL_TYPES, Column, Extract

LANDING_SUFFIXES = (".csv", ".csv.gz", ".parquet")
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

REJECTED_ROWS_DDL = """
create table if not exists raw.rejected_rows (
    load_id varchar,
    extract varchar,
    file_name varchar,
    row_number bigint,
    line_number bigint,
    column_name varchar,
    raw_value varchar,
    reason_code varchar,
    reason varchar,
    raw_record json,
    rejected_at timestamp
)"""

LOAD_LOG_DDL = """
create table if not exists raw.load_log (
    load_id varchar,
    extract varchar,
    file_name varchar,
    file_hash varchar,
    file_bytes bigint,
    file_seq integer,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    rows_inserted bigint,
    rows_updated bigint,
    rows_superseded bigint,
    started_at timestamp,
    finished_at timestamp,
    file_mtime_ns bigint
)"""


class ContractError(ValueError):
    """A landing file that breaks the extract contract as a whole (not a single row)."""

    def __init__(self, file: Path | str, message: str):
        self.file = str(file)
        super().__init__(f"{file}: {message}")


@dataclass
class FileLoad:
    file_name: str
    file_hash: str
    file_bytes: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_superseded: int = 0  # loaded, then replaced by a newer version from a later file


@dataclass
class ExtractLoad:
    extract: str
    files: list[FileLoad] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    table_rows: int = 0

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def snake_case(name: str) -> str:
    """Header normalisation: 'Lead ID' -> 'lead_id', 'utmSource' -> 'utm_source'."""
    name = name.strip().lstrip("\ufeff")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return name


def discover_files(landing_dir: Path, extract: str) -> list[Path]:
    """Files of one extract in arrival order (modification time, then path)."""
    folder = landing_dir / extract
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name.lower().endswith(LANDING_SUFFIXES) and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Create raw tables; add columns the contract gained since the table was created."""
    con.execute("create schema if not exists raw")
    con.execute(REJECTED_ROWS_DDL)
    con.execute(LOAD_LOG_DDL)
    con.execute("alter table raw.load_log add column if not exists file_mtime_ns bigint")
    cols = ",\n    ".join(f"{_q(c.name)} {SQL_TYPES[c.type]}" for c in extract.columns)
    con.execute(
        f"""create table if not exists raw.{extract.name} (
    {cols},
    extra json,
    _file_name varchar,
    _line_number bigint,
    _load_id varchar,
    _loaded_at timestamp
)"""
    )
    existing = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = ?",
            [extract.name],
        ).fetchall()
    }
    for c in extract.columns:
        if c.name not in existing:
            con.execute(f"alter table raw.{extract.name} add column {_q(c.name)} {SQL_TYPES[c.type]}")


# ---------------------------------------------------------------- SQL expression builders


def _clean_expr(col: str, placeholders: Sequence[str]) -> str:
    """Trimmed value, NULL for blanks and placeholders such as 'N/A' or 'Select'."""
    ph = ", ".join(_lit(p) for p in placeholders) or "''"
    return f"case when lower(trim({_q(col)})) in ({ph}) then null else trim({_q(col)}) end"


def _parse_expr(c: Column, v: str) -> str:
    """Typed value of the cleaned string ``v``; NULL when it cannot be read."""
    match c.type:
        case "varchar":
            return f"lower({v})" if c.allowed else v
        case "timestamp":
            # Offsets are honoured; naive values are read in the session time zone (the
            # configured source time zone). Result: naive UTC.
            return f"timezone('UTC', try_cast({v} as timestamptz))"
        case "date":
            return f"coalesce(try_cast({v} as date), try_cast(try_cast({v} as timestamp) as date))"
        case "month":
            return (
                f"coalesce(try_strptime({v}, '%Y-%m')::date, "
                f"date_trunc('month', try_cast({v} as date))::date)"
            )
        case "integer":
            return f"try_cast({v} as bigint)"
        case "money" | "rate":
            return f"try_cast({v} as {SQL_TYPES[c.type]})"
        case "boolean":
            t = ", ".join(_lit(w) for w in TRUE_WORDS)
            f = ", ".join(_lit(w) for w in FALSE_WORDS)
            return f"case when lower({v}) in ({t}) then true when lower({v}) in ({f}) then false end"
    raise ValueError(f"unknown column type {c.type}")


def _error_expr(c: Column, v: str, parsed: str) -> str:
    """'code: message' for the first problem of this column, or NULL."""
    name = c.name
    shown = f"left({v}, 80)"
    whens = []
    if c.required:
        whens.append(f"when {v} is null then 'missing_required: {name} is required but empty'")
    whens.append(
        f"when {v} is not null and {parsed} is null then "
        f"'invalid_type: {name}: cannot read ''' || {shown} || ''' as {c.type}'"
    )
    if c.allowed:
        allowed = ", ".join(_lit(a) for a in c.allowed)
        whens.append(
            f"when lower({v}) not in ({allowed}) then "
            f"'invalid_value: {name}: ''' || {shown} || ''' is not one of {', '.join(c.allowed)}'"
        )
    if c.non_negative:
        whens.append(
            f"when {parsed} < 0 then 'negative_value: {name}: ' || {shown} || ' is negative'"
        )
    if c.positive:
        whens.append(
            f"when {parsed} <= 0 then 'invalid_value: {name}: ' || {shown} || ' is not positive'"
        )
    return "case " + " ".join(whens) + " end"


# ---------------------------------------------------------------- reading one file


@dataclass
class _FileRead:
    rows: int
    malformed: list[tuple[int, str | None, str, str]]  # line, column, message, raw line


def _checked_select(extract: Extract, placeholders: Sequence[str]) -> str:
    """Typed values plus, per row, the problems found. Reads the view _ingest_src.

    Only rows with a problem keep their raw text (as JSON), so memory follows the typed data.
    """
    cleaned = ", ".join(
        f"{_clean_expr(c, placeholders)} as {_q('s__' + c)}" for c in extract.column_names
    )
    parsed, errors = [], []
    for c in extract.columns:
        v = _q("s__" + c.name)
        p = _parse_expr(c, v)
        parsed.append(f"{p} as {_q(c.name)}")
        errors.append(f"{_error_expr(c, v, p)} as {_q('e__' + c.name)}")
    error_cols = [_q("e__" + c) for c in extract.column_names]
    first_col = "coalesce(" + ", ".join(
        f"case when {e} is not null then {_lit(c)} end"
        for c, e in zip(extract.column_names, error_cols, strict=True)
    ) + ")"
    raw_pairs = ", ".join(f"{_lit(c)}, {_q('r__' + c)}" for c in extract.column_names)
    raw_cols = ", ".join(f"{_q(c)} as {_q('r__' + c)}" for c in extract.column_names)
    return f"""
        select _file_seq, _row_number, _line_number, extra,
               {", ".join(_q(c) for c in extract.column_names)},
               concat_ws('; ', {", ".join(error_cols)}) as _reason,
               {first_col} as _first_bad_column,
               case when concat_ws('; ', {", ".join(error_cols)}) <> '' then
                   case when extra is null then json_object({raw_pairs})
                        else json_merge_patch(extra, json_object({raw_pairs})) end
               end as _raw_record,
               null::varchar as _fate
        from (
            select _file_seq, _row_number, _line_number, extra, {raw_cols},
                   {", ".join(parsed)}, {", ".join(errors)}
            from (select *, {cleaned} from _ingest_src)
        )"""


def _read_file(
    con: duckdb.DuckDBPyConnection, path: Path, extract: Extract, seq: int, checked_sql: str
) -> _FileRead:
    """Read one file as text, validate and type it into ingest_work.checked.

    Malformed CSV lines (wrong number of fields, broken quoting) are returned, not lost.
    """
    is_parquet = path.name.lower().endswith(".parquet")
    con.execute("drop table if exists ingest_work.file")
    malformed: list[tuple[int, str | None, str, str]] = []
    # A Parquet file is read where it lies (its schema and row count are in its footer); a
    # CSV file is copied into a table first, for its rejects and its row order.
    source = (f"read_parquet({_lit(str(path))}, file_row_number = true)" if is_parquet
              else "ingest_work.file")
    if is_parquet:
        try:
            source_cols = [r[0] for r in con.execute(f"describe select * from {source}").fetchall()
                           if r[0] != "file_row_number"]
        except duckdb.Error as exc:
            raise ContractError(path, f"cannot read Parquet file ({exc})") from exc
    else:
        if path.stat().st_size == 0:
            raise ContractError(path, "file is empty (not even a header row)")
        for t in ("_ingest_rejects", "_ingest_reject_scans"):
            con.execute(f"drop table if exists {t}")
        try:
            con.execute(
                f"""create table ingest_work.file as select * from read_csv(
                        {_lit(str(path))}, all_varchar = true, header = true,
                        store_rejects = true, rejects_table = '_ingest_rejects',
                        rejects_scan = '_ingest_reject_scans')"""
            )
        except duckdb.Error as exc:
            raise ContractError(path, f"cannot read CSV file ({exc})") from exc
        malformed = [
            (int(line), col, f"{etype}: {msg}", raw)
            for line, col, etype, msg, raw in con.execute(
                "select line, column_name, error_type, error_message, csv_line "
                "from _ingest_rejects order by line"
            ).fetchall()
        ]
        source_cols = [r[0] for r in con.execute("describe ingest_work.file").fetchall()]

    normalised: dict[str, str] = {}
    for col in source_cols:
        norm = snake_case(col)
        if norm in normalised:
            raise ContractError(
                path, f"columns {normalised[norm]!r} and {col!r} both mean {norm!r}"
            )
        normalised[norm] = col
    missing = [c for c in extract.required_columns if c not in normalised]
    if missing:
        raise ContractError(
            path,
            f"missing required column(s) {', '.join(missing)} for extract {extract.name}; "
            f"found: {', '.join(normalised) or '(none)'}",
        )
    extras = [n for n in normalised if n not in extract.column_names]

    selects = []
    for c in extract.columns:
        src = normalised.get(c.name)
        selects.append(f"{_q(src)}::varchar as {_q(c.name)}" if src else f"null::varchar as {_q(c.name)}")
    if extras:
        pairs = ", ".join(f"{_lit(n)}, {_q(normalised[n])}::varchar" for n in extras)
        selects.append(f"json_object({pairs}) as extra")
    else:
        selects.append("null::json as extra")
    if is_parquet:
        row_number = line_number = "file_row_number + 1"
    else:
        # rowid follows file order; inside a transaction it starts at an offset.
        base = con.execute("select coalesce(min(rowid), 0) from ingest_work.file").fetchone()[0]
        row_number = f"rowid - {base} + 1"
        line_number = f"rowid - {base} + 2"  # header is line 1, when every record is one line
    con.execute(
        f"""create or replace temp view _ingest_src as
            select {seq} as _file_seq, {row_number} as _row_number,
                   {line_number} as _line_number, {", ".join(selects)}
            from {source}"""
    )
    try:
        con.execute(f"insert into ingest_work.checked {checked_sql}")
    except duckdb.Error as exc:
        if not is_parquet:
            raise
        # a damaged column chunk shows only when the rows are read
        raise ContractError(path, f"cannot read Parquet file ({exc})") from exc
    rows = con.execute(f"select count(*) from {source}").fetchone()[0]
    if not is_parquet:
        _fix_line_numbers(con, path, seq, rows, malformed)
    con.execute("drop view _ingest_src")
    con.execute("drop table if exists ingest_work.file")
    return _FileRead(rows=rows, malformed=malformed)


def _fix_line_numbers(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    seq: int,
    rows: int,
    malformed: list[tuple[int, str | None, str, str]],
) -> None:
    """Make line numbers exact when records span lines or malformed lines were skipped.

    The common case (one line per record, nothing skipped) costs one newline count.
    """
    with path.open("rb") as fh:
        newlines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
    if not malformed and newlines in (rows, rows + 1):
        return
    skipped_lines = {m[0] for m in malformed}
    starts: list[int] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        sample = fh.read(65536)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample)
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        prev_end = 0
        for i, _ in enumerate(reader):
            start = prev_end + 1
            prev_end = reader.line_num
            if i == 0:
                continue  # header
            if start not in skipped_lines:
                starts.append(start)
    if len(starts) != rows:
        con.execute(f"update ingest_work.checked set _line_number = null where _file_seq = {seq}")
        return
    con.execute("create or replace table ingest_work.lines (row_number bigint, line_number bigint)")
    con.executemany(
        "insert into ingest_work.lines values (?, ?)", [(i + 1, s) for i, s in enumerate(starts)]
    )
    con.execute(
        f"""update ingest_work.checked b set _line_number = l.line_number from ingest_work.lines l
            where b._file_seq = {seq} and b._row_number = l.row_number"""
    )
    con.execute("drop table ingest_work.lines")


# ---------------------------------------------------------------- loading an extract

# The load's work tables live in a schema of the warehouse, created and dropped inside the
# load's transaction: DuckDB writes them compressed to the file and frees them at commit,
# where temp tables would keep every file's rows uncompressed (spilled) until the end.
WORK_SCHEMA = "ingest_work"


def load_extract(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    files: Sequence[Path],
    *,
    landing_dir: Path,
    load_id: str,
    source_timezone: str = "UTC",
    null_placeholders: Sequence[str] = ("",),
    progress: Callable[[str], None] | None = None,
) -> ExtractLoad:
    """Load the new files of one extract in a single transaction."""
    result = ExtractLoad(extract=extract.name)
    say = progress or (lambda _msg: None)
    con.execute(f"set TimeZone = {_lit(source_timezone)}")
    con.execute("begin transaction")
    try:
        ensure_raw_tables(con, extract)
        con.execute(f"create schema if not exists {WORK_SCHEMA}")
        logged = con.execute(
            "select file_hash, file_name, file_bytes, file_mtime_ns from raw.load_log "
            "where extract = ?", [extract.name]).fetchall()
        loaded_hashes = {r[0] for r in logged}
        # A file seen before with the same name, size and modification time is not hashed
        # again: a daily run should not read the whole history to find one new file.
        seen = {(r[1], r[2], r[3]) for r in logged if r[3] is not None}
        new_files: list[tuple[Path, str, str]] = []
        for path in files:
            name = _relative_name(path, landing_dir)
            stat = path.stat()
            if (name, stat.st_size, stat.st_mtime_ns) in seen:
                result.skipped_files.append(name)
                continue
            digest = file_sha256(path)
            if digest in loaded_hashes or digest in {d for _, _, d in new_files}:
                result.skipped_files.append(name)
            else:
                new_files.append((path, name, digest))
        if new_files:
            groups = _file_groups(new_files, _memory_limit_bytes(con))
            logged_loads: list[tuple[int, FileLoad, int, datetime, datetime]] = []
            for number, group in enumerate(groups, start=1):
                if len(groups) > 1:
                    say(f"{extract.name}: file group {number} of {len(groups)} "
                        f"({len(group)} files)")
                logged_loads += _load_new_files(con, extract, group, result, load_id,
                                                null_placeholders, say,
                                                first_seq=len(logged_loads) + 1)
            _log_loads(con, extract, load_id, logged_loads)
        result.table_rows = con.execute(f"select count(*) from raw.{extract.name}").fetchone()[0]
        _drop_work_tables(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


# One group's files weigh at most the memory limit, counted as CSV text: Parquet holds about
# 10 times its size of CSV text (10 M demo leads' activities: 2.4 GB against about 26 GB),
# gzip about 5 times. Each group's key search and joins then hold what a 1 M-lead load does.
_EXPANSION = {".parquet": 10, ".gz": 5}


def _drop_work_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the work tables one by one, then their schema, before the commit (DuckDB cannot
    commit a `drop schema ... cascade` of tables the same transaction changed)."""
    for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = ?", [WORK_SCHEMA]).fetchall():
        con.execute(f"drop table {WORK_SCHEMA}.{_q(name)}")
    con.execute(f"drop schema {WORK_SCHEMA}")


def _file_groups(new_files: list[tuple[Path, str, str]], memory_bytes: int | None
                 ) -> list[list[tuple[Path, str, str]]]:
    """Split a load's new files (in arrival order) into groups that are checked and written
    one after the other, so each group's key search and joins stay near the memory limit on a
    first load of a long history. A later group's rows replace the earlier groups' rows of
    their key like any stored row; the accounting stays that of one batch."""
    if memory_bytes is None:
        return [new_files]
    groups: list[list[tuple[Path, str, str]]] = [[]]
    weight = 0.0
    for item in new_files:
        w = item[0].stat().st_size * _EXPANSION.get(item[0].suffix.lower(), 1)
        if groups[-1] and weight + w > memory_bytes:
            groups.append([])
            weight = 0.0
        groups[-1].append(item)
        weight += w
    return groups


def _memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int | None:
    """DuckDB's memory limit in bytes (it reports it as text, e.g. '2.8 GiB')."""
    text = con.execute("select current_setting('memory_limit')").fetchone()[0]
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B|bytes)\s*", str(text), re.IGNORECASE)
    if not match:
        return None
    unit = match.group(2).upper()
    power = "BKMGT".index(unit[0])
    return int(float(match.group(1)) * (1024 if "I" in unit else 1000) ** power)


def _relative_name(path: Path, landing_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(landing_dir.resolve()))
    except ValueError:
        return str(path)


def _load_new_files(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    new_files: list[tuple[Path, str, str]],
    result: ExtractLoad,
    load_id: str,
    null_placeholders: Sequence[str],
    say: Callable[[str], None],
    first_seq: int = 1,
) -> list[tuple[int, FileLoad, int, datetime, datetime]]:
    """Check and write one group of new files; returns each file's (seq, load, mtime,
    started, finished) for the load log."""
    table = f"raw.{extract.name}"
    now = datetime.now(UTC).replace(tzinfo=None)
    now_sql = f"{_lit(now.isoformat(sep=' '))}::timestamp"
    typed_cols = ", ".join(f"{_q(c.name)} {SQL_TYPES[c.type]}" for c in extract.columns)
    con.execute(
        f"""create or replace table ingest_work.checked (
            _file_seq integer, _row_number bigint, _line_number bigint, extra json,
            {typed_cols}, _reason varchar, _first_bad_column varchar, _raw_record json,
            _fate varchar)"""
    )
    con.execute(
        """create or replace table ingest_work.rejected (
            _file_seq integer, row_number bigint, line_number bigint, column_name varchar,
            raw_value varchar, reason_code varchar, reason varchar, raw_record json)"""
    )
    con.execute("create or replace table ingest_work.files (seq integer, name varchar)")
    con.executemany("insert into ingest_work.files values (?, ?)",
                    [(seq, name) for seq, (_p, name, _d) in enumerate(new_files, start=first_seq)])
    checked_sql = _checked_select(extract, null_placeholders)

    loads: dict[int, FileLoad] = {}
    mtimes: dict[int, int] = {}
    for seq, (path, name, digest) in enumerate(new_files, start=first_seq):
        say(f"{extract.name}: reading {name} ({seq - first_seq + 1}/{len(new_files)})")
        read = _read_file(con, path, extract, seq, checked_sql)
        loads[seq] = FileLoad(name, digest, path.stat().st_size, rows_read=read.rows)
        mtimes[seq] = path.stat().st_mtime_ns
        by_line: dict[int, list] = {}
        for line, col, msg, raw in read.malformed:
            by_line.setdefault(line, []).append((col, msg, raw))
        for line, problems in by_line.items():
            loads[seq].rows_read += 1
            con.execute(
                "insert into ingest_work.rejected values (?, null, ?, ?, null, 'malformed_row', ?, ?)",
                [seq, line, problems[0][0], "; ".join(p[1] for p in problems),
                 json.dumps({"csv_line": problems[0][2]})],
            )

    say(f"{extract.name}: resolving keys and versions")
    con.execute(
        """insert into ingest_work.rejected
           select _file_seq, _row_number, _line_number, _first_bad_column,
                  json_extract_string(_raw_record, '$.' || _first_bad_column),
                  split_part(_reason, ':', 1), _reason, _raw_record
           from ingest_work.checked where _reason <> ''"""
    )
    _resolve_versions(con, extract)
    _reject_stale_against_stored(con, extract)

    applied = "_reason = '' and _fate is null"
    key_join = " and ".join(f"t.{_q(k)} = c.{_q(k)}" for k in extract.key)
    table_empty = con.execute(f"select count(*) = 0 from (select 1 from {table} limit 1)").fetchone()[0]
    existed: dict[int, int] = {}
    if not table_empty:
        # A key stored by an earlier group of this same load was loaded and then superseded,
        # as in one batch: the earlier file counts it superseded, this file inserted.
        earlier = {f.file_name: f for f in result.files}
        # one join finds the stored rows to replace; the delete then goes by row id
        con.execute(
            f"""create or replace table ingest_work.replaced as
                select c._file_seq, t.rowid as stored_rowid, t._file_name as stored_file,
                       t._load_id = {_lit(load_id)} as same_load
                from ingest_work.checked c join {table} t on {key_join}
                where c.{applied.replace(" and ", " and c.")}""")
        for seq, stored_file, same_load, count in con.execute(
                "select _file_seq, stored_file, same_load, count(*) from ingest_work.replaced "
                "group by all").fetchall():
            if same_load and stored_file in earlier:
                earlier[stored_file].rows_superseded += count
                earlier[stored_file].rows_inserted -= count
            else:
                existed[seq] = existed.get(seq, 0) + count
        con.execute(f"delete from {table} where rowid in (select stored_rowid from ingest_work.replaced)")
    say(f"{extract.name}: writing {table}")
    cols = ", ".join(_q(c) for c in extract.column_names)
    con.execute(
        f"""insert into {table} ({cols}, extra, _file_name, _line_number, _load_id, _loaded_at)
            select {", ".join("c." + _q(c) for c in extract.column_names)}, c.extra, f.name,
                   c._line_number, {_lit(load_id)}, {now_sql}
            from ingest_work.checked c join ingest_work.files f on f.seq = c._file_seq
            where c.{applied.replace(" and ", " and c.")}"""
    )

    # Per-file accounting: rows read = loaded + rejected, always.
    counts = con.execute(
        f"""select s.seq,
               count(c._row_number) filter (where c.{applied.replace(" and ", " and c.")}),
               count(c._row_number) filter (where c._fate = 'superseded'),
               (select count(*) from ingest_work.rejected j where j._file_seq = s.seq)
           from ingest_work.files s left join ingest_work.checked c on c._file_seq = s.seq
           group by s.seq"""
    ).fetchall()
    for seq, applied_rows, superseded, rejected in counts:
        load = loads[seq]
        load.rows_loaded = applied_rows + superseded
        load.rows_superseded, load.rows_rejected = superseded, rejected
        load.rows_inserted = applied_rows - existed.get(seq, 0)
        load.rows_updated = existed.get(seq, 0)
        if load.rows_read != load.rows_loaded + load.rows_rejected:
            raise RuntimeError(
                f"{load.file_name}: internal accounting error: read {load.rows_read} != "
                f"loaded {load.rows_loaded} + rejected {load.rows_rejected}"
            )
    con.execute(
        f"""insert into raw.rejected_rows
            select {_lit(load_id)}, {_lit(extract.name)}, f.name, j.row_number, j.line_number,
                   j.column_name, j.raw_value, j.reason_code, j.reason, j.raw_record, {now_sql}
            from ingest_work.rejected j join ingest_work.files f on f.seq = j._file_seq
            order by j._file_seq, coalesce(j.line_number, j.row_number)"""
    )
    finished = datetime.now(UTC).replace(tzinfo=None)
    result.files += loads.values()
    for reason, count in con.execute(
            "select reason_code, count(*) from ingest_work.rejected group by 1").fetchall():
        result.rejected_by_reason[reason] = result.rejected_by_reason.get(reason, 0) + count
    result.rejected_by_reason = dict(sorted(result.rejected_by_reason.items()))
    return [(seq, load, mtimes[seq], now, finished) for seq, load in loads.items()]


def _log_loads(con: duckdb.DuckDBPyConnection, extract: Extract, load_id: str,
               logged: list[tuple[int, FileLoad, int, datetime, datetime]]) -> None:
    """One load-log row per file, written once every group is in (a later group can still
    supersede an earlier group's rows)."""
    for seq, load, mtime, started, finished in logged:
        con.execute(
            """insert into raw.load_log (load_id, extract, file_name, file_hash, file_bytes,
                   file_seq, rows_read, rows_loaded, rows_rejected, rows_inserted, rows_updated,
                   rows_superseded, started_at, finished_at, file_mtime_ns)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [load_id, extract.name, load.file_name, load.file_hash, load.file_bytes, seq,
             load.rows_read, load.rows_loaded, load.rows_rejected, load.rows_inserted,
             load.rows_updated, load.rows_superseded, started, finished, mtime],
        )


def _typed_record(extract: Extract, alias: str = "c") -> str:
    """A valid row as JSON (for rows that lose on version: they keep their full record)."""
    pairs = ", ".join(f"{_lit(c)}, {alias}.{_q(c)}::varchar" for c in extract.column_names)
    return (f"case when {alias}.extra is null then json_object({pairs}) "
            f"else json_merge_patch({alias}.extra, json_object({pairs})) end")


def _resolve_versions(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Settle keys that occur more than once in this batch.

    The newer version column wins (a dated row beats an undated one), then the later arrival.
    Two rows of one key in the same file are a duplicate: the loser is quarantined. Across
    files the batch behaves as if the files were loaded one run at a time: an older file's
    row was loaded and then superseded; a later file's row with an older version is stale.
    Only the (few) rows of repeated keys are ranked, so unique keys cost one aggregation.
    """
    key = ", ".join(_q(k) for k in extract.key)
    con.execute(
        f"""create or replace table ingest_work.dupkeys as
            select {key} from ingest_work.checked where _reason = ''
            group by {key} having count(*) > 1"""
    )
    if not con.execute("select count(*) from ingest_work.dupkeys").fetchone()[0]:
        return
    version = f"c.{_q(extract.version_column)} desc nulls last, " if extract.version_column else ""
    key_c = ", ".join(f"c.{_q(k)}" for k in extract.key)
    con.execute(
        f"""create or replace table ingest_work.dups as
            select c._file_seq, c._row_number,
                row_number() over in_file as file_rank,
                first_value(coalesce(c._line_number, c._row_number)) over in_file as file_winner_line,
                row_number() over overall as global_rank,
                first_value(c._file_seq) over overall as winner_seq,
                first_value(c._line_number) over overall as winner_line
            from ingest_work.checked c semi join ingest_work.dupkeys d using ({key})
            where c._reason = ''
            window in_file as (partition by c._file_seq, {key_c}
                               order by {version}c._row_number desc),
                   overall as (partition by {key_c}
                               order by {version}c._file_seq desc, c._row_number desc)"""
    )
    con.execute(
        """update ingest_work.checked c set _fate = case
                when d.file_rank > 1 then 'duplicate_key'
                when d._file_seq < d.winner_seq then 'superseded'
                else 'stale_version' end
           from ingest_work.dups d
           where d.global_rank > 1 and c._file_seq = d._file_seq and c._row_number = d._row_number"""
    )
    key_text = " || ', ' || ".join(f"c.{_q(k)}::varchar" for k in extract.key)
    key_label = _lit(", ".join(extract.key))
    why = (f"' (newer {extract.version_column} or later in the file)'"
           if extract.version_column else "' (later in the file)'")
    con.execute(
        f"""insert into ingest_work.rejected
            select c._file_seq, c._row_number, c._line_number,
                   case when c._fate = 'duplicate_key' then {_lit(extract.key[0])}
                        else {_lit(extract.version_column or extract.key[0])} end,
                   case when c._fate = 'duplicate_key' then {key_text}
                        else {(("c." + _q(extract.version_column) + "::varchar") if extract.version_column else key_text)} end,
                   c._fate,
                   case when c._fate = 'duplicate_key' then
                       'duplicate_key: ' || {key_label} || ' ' || {key_text} || ' also at line '
                       || d.file_winner_line::varchar || ' of the same file, which wins' || {why}
                   else
                       'stale_version: ' || {key_label} || ' ' || {key_text}
                       || ' has a newer version in ' || f.name || ' line '
                       || coalesce(d.winner_line::varchar, '?') || ', which arrived earlier'
                   end,
                   {_typed_record(extract)}
            from ingest_work.checked c
            join ingest_work.dups d on c._file_seq = d._file_seq and c._row_number = d._row_number
            join ingest_work.files f on f.seq = d.winner_seq
            where c._fate in ('duplicate_key', 'stale_version')"""
    )


def _reject_stale_against_stored(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """A row older (by version column) than the stored one does not overwrite it."""
    if not extract.version_column:
        return
    table = f"raw.{extract.name}"
    vc = _q(extract.version_column)
    key_join = " and ".join(f"t.{_q(k)} = c.{_q(k)}" for k in extract.key)
    con.execute(
        f"""create or replace table ingest_work.stale as
            select c._file_seq, c._row_number, t._file_name as stored_file
            from ingest_work.checked c join {table} t on {key_join}
            where c._reason = '' and c._fate is null
              and t.{vc} is not null and (c.{vc} is null or t.{vc} > c.{vc})"""
    )
    con.execute(
        """update ingest_work.checked c set _fate = 'stale_version' from ingest_work.stale s
           where c._file_seq = s._file_seq and c._row_number = s._row_number"""
    )
    key_text = " || ', ' || ".join(f"c.{_q(k)}::varchar" for k in extract.key)
    con.execute(
        f"""insert into ingest_work.rejected
            select c._file_seq, c._row_number, c._line_number, {_lit(extract.version_column)},
                   c.{vc}::varchar, 'stale_version',
                   'stale_version: the warehouse already holds a newer {extract.version_column} for '
                     || {key_text} || ' (from ' || s.stored_file || ')',
                   {_typed_record(extract)}
            from ingest_work.checked c
            join ingest_work.stale s on c._file_seq = s._file_seq and c._row_number = s._row_number"""
    )
