"""The loader's promise on a corpus of bad inputs: every file ends loaded, or recorded as
rejected with its reason - never a crash - and every row is loaded or quarantined, in every
case: rows read = loaded + rejected in raw.load_log. Each case states what must happen."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.contract import EXTRACTS
from orchestration.ingest.loader import discover_files, load_extract
from tests.conftest import PLACEHOLDERS

LEADS = "lead_id,created_at,acquisition_mode,company_name\n"
ACTIVITIES = "activity_id,lead_id,occurred_at,activity_type\n"
SPEND = "spend_date,platform,campaign_id,spend,currency\n"
QUALIFICATIONS = "qualification_id,lead_id,qualified_at,outcome,next_step_at,has_need\n"
FX = "rate_date,currency,rate_to_reporting\n"
SDR = "month,team,cost,currency\n"


def parquet(sql: str):
    """A builder writing the rows of `sql` as a Parquet file."""
    def build(path: Path) -> None:
        duckdb.sql(sql).write_parquet(str(path))
    return build


def damaged_parquet(path: Path) -> None:
    duckdb.sql("select '2025-' || lpad((i % 12 + 1)::varchar, 2, '0') as month, "
               "'SDR ' || md5(i::varchar) as team, i as cost, 'EUR' as currency "
               "from range(20000) t(i)").write_parquet(str(path), compression="zstd")
    data = bytearray(path.read_bytes())
    data[len(data) // 4:len(data) // 2] = b"Z" * (len(data) // 2 - len(data) // 4)
    path.write_bytes(bytes(data))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@dataclass
class Case:
    name: str
    extract: str
    file: str
    content: bytes | object  # bytes, or a builder(path)
    status: str = "loaded"  # of the file: loaded | rejected
    read: int | None = None  # rows read (when it matters)
    loaded: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # quarantined rows per reason code
    error: str = ""  # in the file's recorded error
    check: tuple[str, list] | None = None  # a query on the warehouse and its rows


CASES = [
    # ---- encodings: read right, or rejected with the encoding named
    Case("latin1_every_row", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Müller GmbH\n").encode("latin-1"), read=1, loaded=1,
         check=("select company_name from raw.crm_leads", [("Müller GmbH",)])),
    Case("latin1_some_rows", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Acme\n").encode()
         + "L2,2025-03-01,inbound,Müller GmbH\n".encode("latin-1")
         + "L3,2025-03-01,inbound,Zoë\n".encode(), read=3, loaded=3,
         check=("select company_name from raw.crm_leads order by 1",
                [("Acme",), ("Müller GmbH",), ("Zoë",)])),
    Case("cp1252_euro_and_quotes", "crm_leads", "a.csv",
         (LEADS + 'L1,2025-03-01,inbound,"Café “Bleu” 5€"\n').encode("cp1252"), loaded=1,
         check=("select company_name from raw.crm_leads", [("Café “Bleu” 5€",)])),
    Case("latin1_bad_row_keeps_its_characters", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,partner,Müller GmbH\n").encode("latin-1"), read=1, loaded=0,
         reasons={"invalid_value": 1},
         check=("select raw_record->>'company_name' from raw.rejected_rows", [("Müller GmbH",)])),
    Case("latin1_ragged_row_keeps_its_characters", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Müller,extra\nL2,2025-03-01,inbound,Ok\n"
          ).encode("latin-1"), read=2, loaded=1, reasons={"malformed_row": 1},
         check=("select raw_record->>'csv_line' from raw.rejected_rows",
                [("L1,2025-03-01,inbound,Müller,extra",)])),
    Case("utf16_le_with_bom", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Müller\n").encode("utf-16"), loaded=1,
         check=("select company_name from raw.crm_leads", [("Müller",)])),
    Case("utf16_be_with_bom", "crm_leads", "a.csv",
         b"\xfe\xff" + (LEADS + "L1,2025-03-01,inbound,Müller\n").encode("utf-16-be"), loaded=1),
    Case("utf16_le_without_bom", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Müller\n").encode("utf-16-le"), loaded=1,
         check=("select lead_id, company_name from raw.crm_leads", [("L1", "Müller")])),
    Case("utf8_with_bom", "crm_leads", "a.csv",
         b"\xef\xbb\xbf" + (LEADS + "L1,2025-03-01,inbound,Müller\n").encode(), loaded=1,
         check=("select lead_id from raw.crm_leads", [("L1",)])),
    Case("cyrillic_windows_1251", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,ООО Ромашка Иванов\n"
          "L2,2025-03-02,inbound,Сергей Петров и партнёры\n").encode("cp1251"),
         status="rejected", read=2, loaded=0, reasons={"unsupported_encoding": 2},
         error="encoded as cp1251"),
    Case("japanese_shift_jis", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,株式会社サンプル 田中太郎\n"
          "L2,2025-03-01,inbound,山田花子 株式会社テスト\n").encode("shift_jis"),
         status="rejected", loaded=0, error="export it again as UTF-8"),
    Case("binary_file_named_csv", "crm_leads", "a.csv",
         b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, status="rejected",
         loaded=0),
    Case("gzip_of_latin1", "crm_leads", "a.csv.gz",
         gz((LEADS + "L1,2025-03-01,inbound,Müller\n").encode("latin-1")), loaded=1,
         check=("select company_name from raw.crm_leads", [("Müller",)])),
    # ---- file structure
    Case("empty_file", "crm_leads", "a.csv", b"", status="rejected", read=0, error="empty"),
    Case("blank_lines_only", "crm_leads", "a.csv", b"\n\n  \n", status="rejected", read=0,
         error="empty"),
    Case("header_only", "crm_leads", "a.csv", LEADS.encode(), read=0, loaded=0),
    Case("single_row_too_few_fields", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01\n").encode(), read=1, loaded=0, reasons={"malformed_row": 1}),
    Case("single_row_too_many_fields", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Acme,surplus\n").encode(), read=1, loaded=0,
         reasons={"malformed_row": 1}),
    Case("unterminated_quote", "crm_leads", "a.csv",
         (LEADS + 'L1,2025-03-01,inbound,"Acme\nL2,2025-03-01,inbound,Beta\n').encode(),
         loaded=0),
    Case("missing_required_column", "crm_leads", "a.csv",
         b"lead_id,updated_at\nL9,2025-01-01\nL10,2025-01-02\n", status="rejected", read=2,
         loaded=0, reasons={"missing_columns": 2}, error="created_at, acquisition_mode"),
    Case("column_named_twice", "crm_leads", "a.csv",
         (LEADS.strip() + ",lead_id\nL1,2025-03-01,inbound,Acme,L1\n").encode(),
         status="rejected", read=1, reasons={"ambiguous_columns": 1}, error="more than once"),
    Case("two_spellings_of_one_column", "crm_leads", "a.csv",
         b"Lead ID,lead_id,created_at,acquisition_mode\nL1,L1,2025-03-01,inbound\n",
         status="rejected", read=1, reasons={"ambiguous_columns": 1}, error="both mean"),
    Case("semicolon_delimited", "crm_leads", "a.csv",
         b"lead_id;created_at;acquisition_mode\nL1;2025-03-01;inbound\n", loaded=1),
    Case("tab_delimited", "crm_leads", "a.csv",
         b"lead_id\tcreated_at\tacquisition_mode\nL1\t2025-03-01\tinbound\n", loaded=1),
    Case("windows_line_endings", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,Acme\nL2,2025-03-01,inbound,Beta\n").replace(
             "\n", "\r\n").encode(), loaded=2),
    Case("quoted_line_break", "crm_activities", "a.csv",
         b"activity_id,lead_id,occurred_at,activity_type,detail\n"
         b'A1,L1,2025-01-01 10:00:00,page_view,"two\nlines"\n'
         b"A2,L1,2025-01-01 11:00:00,page_view,x\n", loaded=2,
         check=("select activity_id, _line_number from raw.crm_activities order by 1",
                [("A1", 2), ("A2", 4)])),
    Case("gzip_csv", "crm_leads", "a.csv.gz",
         gz((LEADS + "L1,2025-03-01,inbound,Acme\n").encode()), loaded=1),
    Case("truncated_gzip", "crm_leads", "a.csv.gz",
         gz((LEADS + "L1,2025-03-01,inbound,Acme\n" * 200).encode())[:60], status="rejected",
         loaded=0),
    # ---- values, row by row
    Case("activity_dated_2030", "crm_activities", "a.csv",
         (ACTIVITIES + "A1,L1,2030-01-01 10:00:00,page_view\nA2,L1,2025-01-01,page_view\n"
          ).encode(), read=2, loaded=1, reasons={"in_future": 1}),
    Case("lead_dated_9999", "crm_leads", "a.csv",
         (LEADS + "L1,9999-12-31,inbound,Acme\nL2,2025-03-01,inbound,B\n").encode(), read=2,
         loaded=1, reasons={"in_future": 1},
         check=("select lead_id from raw.crm_leads", [("L2",)])),
    Case("spend_of_a_future_day", "ad_spend", "a.csv",
         (SPEND + "2031-05-01,google_ads,c1,10,USD\n2025-05-01,google_ads,c1,10,USD\n").encode(),
         loaded=1, reasons={"in_future": 1}),
    Case("sdr_cost_of_a_future_month", "sdr_costs", "a.csv",
         (SDR + "2031-01,SDR,1000,USD\n2025-01,SDR,1000,USD\n").encode(), loaded=1,
         reasons={"in_future": 1}),
    Case("a_next_step_may_be_in_the_future", "crm_qualifications", "a.csv",
         (QUALIFICATIONS + "Q1,L1,2025-03-01,accepted,2031-01-01,yes\n").encode(), loaded=1),
    Case("unreadable_date", "crm_leads", "a.csv",
         (LEADS + "L1,31/02/2025,inbound,Acme\n").encode(), loaded=0,
         reasons={"invalid_type": 1}),
    Case("negative_spend", "ad_spend", "a.csv",
         (SPEND + "2025-05-01,google_ads,c1,-3,USD\n").encode(), loaded=0,
         reasons={"negative_value": 1}),
    Case("amount_in_words", "ad_spend", "a.csv",
         (SPEND + "2025-05-01,google_ads,c1,ten,USD\n").encode(), loaded=0,
         reasons={"invalid_type": 1}),
    Case("unknown_acquisition_mode", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,partner,Acme\n").encode(), loaded=0,
         reasons={"invalid_value": 1}),
    Case("blank_key", "crm_leads", "a.csv", (LEADS + ",2025-03-01,inbound,Acme\n").encode(),
         loaded=0, reasons={"missing_required": 1}),
    Case("placeholder_key", "crm_leads", "a.csv",
         (LEADS + "N/A,2025-03-01,inbound,Acme\n").encode(), loaded=0,
         reasons={"missing_required": 1}),
    Case("key_twice_in_a_file", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01,inbound,A\nL1,2025-03-01,inbound,B\n").encode(), read=2,
         loaded=1, reasons={"duplicate_key": 1}),
    Case("boolean_maybe", "crm_qualifications", "a.csv",
         (QUALIFICATIONS + "Q1,L1,2025-03-01,accepted,,maybe\n").encode(), loaded=0,
         reasons={"invalid_type": 1}),
    Case("zero_exchange_rate", "fx_rates", "a.csv",
         (FX + "2025-01-01,EUR,0\n2025-01-01,GBP,1.2\n").encode(), loaded=1,
         reasons={"invalid_value": 1}),
    Case("a_value_of_100_kb", "crm_activities", "a.csv",
         (ACTIVITIES.strip() + ",detail\nA1,L1,2025-01-01,page_view," + "x" * 100_000 + "\n"
          ).encode(), loaded=1),
    Case("offset_timestamps", "crm_leads", "a.csv",
         (LEADS + "L1,2025-03-01T10:00:00+05:00,inbound,Acme\n").encode(), loaded=1,
         check=("select created_at::varchar from raw.crm_leads", [("2025-03-01 05:00:00",)])),
    # ---- Parquet
    Case("parquet_missing_a_column", "sdr_costs", "a.parquet",
         parquet("select '2025-01' as month, 'SDR' as team union all select '2025-02', 'SDR'"),
         status="rejected", read=2, loaded=0, reasons={"missing_columns": 2},
         error="cost, currency"),
    Case("text_named_parquet", "sdr_costs", "a.parquet",
         b"month,team,cost,currency\n2025-02,SDR,5,EUR\n", status="rejected", loaded=0,
         error="cannot read Parquet file"),
    Case("parquet_with_a_damaged_page", "sdr_costs", "a.parquet", damaged_parquet,
         status="rejected", loaded=0, error="cannot read Parquet file"),
    Case("parquet_with_a_future_month", "sdr_costs", "a.parquet",
         parquet("select '2031-01' as month, 'SDR' as team, 5 as cost, 'EUR' as currency "
                 "union all select '2025-01', 'SDR', 5, 'EUR'"), loaded=1,
         reasons={"in_future": 1}),
]


def _load(tmp_path: Path, case: Case):
    folder = tmp_path / "landing" / case.extract
    folder.mkdir(parents=True)
    path = folder / case.file
    if callable(case.content):
        case.content(path)
    else:
        path.write_bytes(case.content)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = load_extract(con, EXTRACTS[case.extract],
                          discover_files(tmp_path / "landing", case.extract),
                          landing_dir=tmp_path / "landing", load_id="t",
                          null_placeholders=PLACEHOLDERS)
    return con, result


def test_the_corpus_is_big_enough_and_every_case_is_named_once():
    names = [c.name for c in CASES]
    assert len(names) >= 40 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_bad_input_is_loaded_or_quarantined_never_a_crash(tmp_path, case):
    con, result = _load(tmp_path, case)
    try:
        [file] = result.files
        log = con.execute("""select file_status, coalesce(file_error, ''), rows_read,
                                    rows_loaded, rows_rejected from raw.load_log""").fetchall()
        reasons = Counter(code for (code,) in con.execute(
            "select reason_code from raw.rejected_rows").fetchall())
        check = con.execute(case.check[0]).fetchall() if case.check else None
    finally:
        con.close()
    [(status, error, read, loaded, rejected)] = log
    assert read == loaded + rejected  # nothing lost, in every case
    assert rejected == sum(reasons.values())
    assert (status, file.status) == (case.status, case.status), error
    assert case.error in error
    if case.read is not None:
        assert read == case.read
    if case.loaded is not None:
        assert loaded == case.loaded
    for code, count in case.reasons.items():
        assert reasons[code] == count, reasons
    if case.check:
        assert check == case.check[1]


def test_a_link_out_of_the_landing_folder_is_refused_unread(tmp_path):
    """Its target's content must not reach the warehouse or any message."""
    secret = tmp_path / "outside.csv"
    secret.write_text(LEADS + "SECRET,2025-03-01,inbound,Acme\n")
    folder = tmp_path / "landing" / "crm_leads"
    folder.mkdir(parents=True)
    (folder / "leads.csv").symlink_to(secret)
    con = duckdb.connect()
    try:
        result = load_extract(con, EXTRACTS["crm_leads"],
                              discover_files(tmp_path / "landing", "crm_leads"),
                              landing_dir=tmp_path / "landing", load_id="t")
        stored = json.dumps(con.execute(
            "select * from raw.load_log, raw.rejected_rows").fetchall(), default=str)
        table = con.execute("select count(*) from raw.crm_leads").fetchone()[0]
    finally:
        con.close()
    [file] = result.files
    assert file.status == "rejected" and "outside the landing folder" in file.error
    assert table == 0 and "SECRET" not in stored and "SECRET" not in file.error
