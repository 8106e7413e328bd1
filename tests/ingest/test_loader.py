"""The landing loader: contract, coercion, quarantine, idempotence, versions, atomicity."""

import json

import pytest

from orchestration.ingest.contract import EXTRACTS
from orchestration.ingest.loader import snake_case
from tests.conftest import drop, load

LEADS_HEADER = "lead_id,created_at,updated_at,acquisition_mode,employee_count,industry\n"


def table(con, name, order="1"):
    return con.execute(f"select * exclude (_load_id, _loaded_at) from raw.{name} order by {order}").fetchall()


def rejected(con):
    return con.execute(
        "select file_name, line_number, column_name, raw_value, reason_code, reason "
        "from raw.rejected_rows order by file_name, line_number"
    ).fetchall()


def test_good_file_loads_with_types_and_utc(con, landing):
    drop(landing, "crm_leads", "leads.csv", LEADS_HEADER
         + "L1,2025-03-01T10:00:00+02:00,2025-03-02 09:00:00,inbound,120,Software\n"
         + "L2,2025-07-01 12:00:00,,Outbound,N/A,Select\n")
    result = load(con, landing, "crm_leads", tz="Europe/Paris")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    rows = con.execute(
        "select lead_id, created_at::varchar, updated_at::varchar, acquisition_mode, "
        "employee_count, industry from raw.crm_leads order by lead_id").fetchall()
    assert rows == [
        # offset honoured: 10:00+02:00 is 08:00 UTC; naive 09:00 in Paris (CET) is 08:00 UTC
        ("L1", "2025-03-01 08:00:00", "2025-03-02 08:00:00", "inbound", 120, "Software"),
        # naive 12:00 in Paris in summer (CEST) is 10:00 UTC; placeholders became NULL
        ("L2", "2025-07-01 10:00:00", None, "outbound", None, None),
    ]
    types = dict(con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema='raw' and table_name='crm_leads'").fetchall())
    assert types["created_at"] == "TIMESTAMP"
    assert types["employee_count"] == "BIGINT"

@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris"])
def test_a_timestamp_reads_the_same_by_the_plain_path_and_the_zone_aware_one(con, landing, tz):
    """With the source zone UTC a value shaped 'YYYY-MM-DD HH:MM:SS' is read as a plain
    timestamp (faster); every other shape, and every value in another zone, goes through the
    zone-aware parse. Both must give what the zone-aware parse alone gives."""
    values = ["2025-03-01 10:00:00", "2025-03-01T10:00:00", "2025-03-01 10:00+02",
              "2025-03-01 10:00:00Z", "2025-03-01 10:00:00+02:00", "2025-03-01 10:00:00.5",
              "2025-03-01", "2025-03-30 02:30:00", "2025-13-01 10:00:00", "2025-03-01 1x:00:00"]
    drop(landing, "crm_leads", "leads.csv", LEADS_HEADER + "".join(
        f"L{i},{v},,inbound,,\n" for i, v in enumerate(values)))
    load(con, landing, "crm_leads", tz=tz)
    con.execute(f"set TimeZone = '{tz}'")
    loaded = dict(con.execute("select lead_id, created_at from raw.crm_leads").fetchall())
    expected = {f"L{i}": con.execute("select timezone('UTC', try_cast(? as timestamptz))",
                                     [v]).fetchone()[0] for i, v in enumerate(values)}
    invalid = {k for k, v in expected.items() if v is None}
    assert invalid == {"L8", "L9"}  # quarantined, not loaded
    assert loaded == {k: v for k, v in expected.items() if k not in invalid}



def test_reloading_the_same_file_changes_nothing(con, landing):
    drop(landing, "crm_leads", "leads.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-02,inbound,120,software\nL2,2025-03-01,,inbound,x,\n")
    load(con, landing, "crm_leads", load_id="run1")
    before = (con.execute("select * from raw.crm_leads order by lead_id").fetchall(),
              rejected(con), con.execute("select count(*) from raw.load_log").fetchone())
    again = load(con, landing, "crm_leads", load_id="run2")
    after = (con.execute("select * from raw.crm_leads order by lead_id").fetchall(),
             rejected(con), con.execute("select count(*) from raw.load_log").fetchone())
    assert again.files == [] and again.skipped_files == ["crm_leads/leads.csv"]
    assert before == after


def test_files_seen_before_are_not_read_again(con, landing, monkeypatch):
    """A daily run must not hash the whole history: same name, size and mtime = loaded."""
    from orchestration.ingest import loader

    drop(landing, "crm_leads", "old.csv", LEADS_HEADER + "L1,2025-03-01,,inbound,120,software\n",
         mtime=1_000)
    load(con, landing, "crm_leads", load_id="run1")
    hashed = []
    real_hash = loader.file_sha256
    monkeypatch.setattr(loader, "file_sha256", lambda path: hashed.append(path.name) or real_hash(path))
    drop(landing, "crm_leads", "new.csv", LEADS_HEADER + "L2,2025-03-02,,inbound,12,software\n",
         mtime=2_000)
    result = load(con, landing, "crm_leads", load_id="run2")
    assert hashed == ["new.csv"]
    assert result.skipped_files == ["crm_leads/old.csv"]
    assert [f.file_name for f in result.files] == ["crm_leads/new.csv"]
    # touched (new mtime), same content: hashed again, and still recognised
    drop(landing, "crm_leads", "old.csv", LEADS_HEADER + "L1,2025-03-01,,inbound,120,software\n",
         mtime=3_000)
    again = load(con, landing, "crm_leads", load_id="run3")
    assert hashed == ["new.csv", "old.csv"] and again.files == []


def test_same_content_under_another_name_changes_nothing(con, landing):
    text = LEADS_HEADER + "L1,2025-03-01,2025-03-02,inbound,120,software\n"
    drop(landing, "crm_leads", "a.csv", text, mtime=1_000)
    load(con, landing, "crm_leads", load_id="run1")
    before = con.execute("select * from raw.crm_leads").fetchall()
    drop(landing, "crm_leads", "copy_of_a.csv", text, mtime=2_000)
    result = load(con, landing, "crm_leads", load_id="run2")
    assert result.skipped_files == ["crm_leads/a.csv", "crm_leads/copy_of_a.csv"]
    assert con.execute("select * from raw.crm_leads").fetchall() == before


def test_newer_version_wins_by_updated_at_across_runs(con, landing):
    drop(landing, "crm_leads", "day1.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-02,inbound,10,software\n", mtime=1_000)
    load(con, landing, "crm_leads")
    drop(landing, "crm_leads", "day2.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-05,inbound,99,software\n", mtime=2_000)
    result = load(con, landing, "crm_leads")
    assert result.files[0].rows_updated == 1
    assert con.execute("select employee_count from raw.crm_leads").fetchall() == [(99,)]
    # A late file carrying an older version does not overwrite the newer one.
    drop(landing, "crm_leads", "day3.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-03,inbound,50,software\n", mtime=3_000)
    result = load(con, landing, "crm_leads")
    assert (result.rows_loaded, result.rows_rejected) == (0, 1)
    assert con.execute("select employee_count from raw.crm_leads").fetchall() == [(99,)]
    assert rejected(con)[0][4] == "stale_version"


def test_versions_within_one_batch_match_one_file_at_a_time(con, landing):
    drop(landing, "crm_leads", "day1.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-02,inbound,10,software\n", mtime=1_000)
    drop(landing, "crm_leads", "day2.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-05,inbound,99,software\n", mtime=2_000)
    drop(landing, "crm_leads", "day3.csv", LEADS_HEADER
         + "L1,2025-03-01,2025-03-03,inbound,50,software\n", mtime=3_000)
    result = load(con, landing, "crm_leads")
    by_file = {f.file_name: (f.rows_loaded, f.rows_rejected, f.rows_superseded) for f in result.files}
    assert by_file == {
        "crm_leads/day1.csv": (1, 0, 1),  # loaded, then superseded by day2
        "crm_leads/day2.csv": (1, 0, 0),
        "crm_leads/day3.csv": (0, 1, 0),  # older version arriving later: stale
    }
    assert con.execute("select employee_count, _file_name from raw.crm_leads").fetchall() == [
        (99, "crm_leads/day2.csv")]


def test_without_version_column_the_later_file_wins(con, landing):
    header = "spend_date,platform,campaign_id,spend,currency\n"
    drop(landing, "ad_spend", "a.csv", header + "2025-01-01,google_ads,c1,10.00,USD\n", mtime=1_000)
    drop(landing, "ad_spend", "b.csv", header + "2025-01-01,google_ads,c1,12.50,USD\n", mtime=2_000)
    load(con, landing, "ad_spend")
    assert con.execute("select spend::double from raw.ad_spend").fetchall() == [(12.5,)]


def test_each_kind_of_bad_row_is_quarantined_with_line_and_reason(con, landing):
    drop(landing, "crm_leads", "bad.csv", LEADS_HEADER
         + "L1,2025-03-01,,inbound,10,software\n"        # line 2: good, later duplicated
         + "L2,31/02/2025,,inbound,10,software\n"        # line 3: unparseable date
         + ",2025-03-01,,inbound,10,software\n"          # line 4: missing key
         + "L3,2025-03-01,,partner,10,software\n"        # line 5: value not allowed
         + "L4,2025-03-01,,inbound,-5,software\n"        # line 6: negative count
         + "L5,2025-03-01,,inbound,ten,software\n"       # line 7: not an integer
         + "L1,2025-03-01,,inbound,10,software\n"        # line 8: duplicate key in the file
         + "L6,2025-03-01,,inbound,10,software,extra\n"  # line 9: too many fields
         + "L7,2025-03-01,,inbound,10,software\n")      # line 10: good
    result = load(con, landing, "crm_leads")
    got = {(line, col, code) for _f, line, col, _v, code, _r in rejected(con)}
    assert got == {
        (2, "lead_id", "duplicate_key"),
        (3, "created_at", "invalid_type"),
        (4, "lead_id", "missing_required"),
        (5, "acquisition_mode", "invalid_value"),
        (6, "employee_count", "negative_value"),
        (7, "employee_count", "invalid_type"),
        (9, None, "malformed_row"),
    }
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (9, 2, 7)
    assert sorted(r[0] for r in table(con, "crm_leads")) == ["L1", "L7"]
    reason = {r[4]: r[5] for r in rejected(con)}
    assert "created_at" in reason["invalid_type"] or "employee_count" in reason["invalid_type"]
    assert reason["duplicate_key"].startswith("duplicate_key: lead_id L1 also at line 8")
    # The quarantined record keeps every value, so it can be fixed and replayed.
    raw = json.loads(con.execute(
        "select raw_record from raw.rejected_rows where reason_code = 'invalid_value'").fetchone()[0])
    assert raw["lead_id"] == "L3" and raw["acquisition_mode"] == "partner"


def test_line_numbers_are_physical_lines_when_records_span_lines(con, landing):
    drop(landing, "crm_activities", "a.csv",
         "activity_id,lead_id,occurred_at,activity_type,actor,detail\n"
         'A1,L1,2025-01-01 10:00:00,page_view,prospect,"two\nlines"\n'
         "A2,L1,2025-01-01 11:00:00,page_view,robot,x\n")
    load(con, landing, "crm_activities")
    assert rejected(con)[0][1:3] == (4, "actor")
    assert con.execute("select detail, _line_number from raw.crm_activities").fetchall() == [
        ("two\nlines", 2)]


def file_log(con, name):
    return con.execute("""select file_status, file_error, rows_read, rows_loaded, rows_rejected
                          from raw.load_log where file_name = ?""", [name]).fetchone()


def test_a_file_missing_a_required_column_is_rejected_and_the_others_load(con, landing):
    """One bad file no longer stops the extract: it is recorded as rejected in the load log,
    with the file and the missing columns named, and its rows are quarantined; the good file
    of the same run loads. The next run does not read it again."""
    drop(landing, "crm_leads", "ok.csv", LEADS_HEADER + "L1,2025-03-01,,inbound,1,software\n",
         mtime=1_000)
    load(con, landing, "crm_leads")
    drop(landing, "crm_leads", "new.csv", LEADS_HEADER + "L2,2025-03-01,,inbound,1,software\n",
         mtime=2_000)
    drop(landing, "crm_leads", "broken.csv", "lead_id,updated_at\nL9,2025-01-01\n", mtime=3_000)
    result = load(con, landing, "crm_leads")
    assert [f.file_name for f in result.rejected_files] == ["crm_leads/broken.csv"]
    status, error, read, loaded, rejected_rows = file_log(con, "crm_leads/broken.csv")
    assert (status, read, loaded, rejected_rows) == ("rejected", 1, 0, 1)
    assert "created_at" in error and "acquisition_mode" in error
    assert con.execute("select lead_id from raw.crm_leads order by 1").fetchall() == [
        ("L1",), ("L2",)]
    [(name, line, _col, _value, code, reason)] = rejected(con)
    assert (name, line, code) == ("crm_leads/broken.csv", 2, "missing_columns")
    assert reason.startswith("missing_columns: missing required column(s) created_at")
    assert json.loads(con.execute("select raw_record from raw.rejected_rows").fetchone()[0]) == {
        "csv_line": "L9,2025-01-01"}
    again = load(con, landing, "crm_leads")
    assert again.files == [] and "crm_leads/broken.csv" in again.skipped_files


def test_extra_columns_are_kept_as_json(con, landing):
    drop(landing, "crm_leads", "x.csv",
         "Lead ID,Created At,Acquisition Mode,Favourite Colour\nL1,2025-03-01,inbound,teal\n")
    load(con, landing, "crm_leads")
    extra = con.execute("select extra from raw.crm_leads").fetchone()[0]
    assert json.loads(extra) == {"favourite_colour": "teal"}


def test_rows_read_equal_loaded_plus_rejected_for_every_file(con, landing):
    header = "activity_id,lead_id,occurred_at,activity_type\n"
    drop(landing, "crm_activities", "a.csv", header + "A1,L1,2025-01-01,page_view\n"
         "A1,L1,2025-01-01,page_view\nA2,,2025-01-01,page_view\n", mtime=1)
    drop(landing, "crm_activities", "b.csv", header + "A3,L1,nope,page_view\n"
         "A4,L1,2025-01-02,demo_request\n", mtime=2)
    load(con, landing, "crm_activities")
    rows = con.execute("select file_name, rows_read, rows_loaded, rows_rejected from raw.load_log "
                       "order by file_name").fetchall()
    assert rows == [("crm_activities/a.csv", 3, 1, 2), ("crm_activities/b.csv", 2, 1, 1)]
    rejected_per_file = dict(con.execute(
        "select file_name, count(*) from raw.rejected_rows group by 1").fetchall())
    assert rejected_per_file == {"crm_activities/a.csv": 2, "crm_activities/b.csv": 1}


def test_parquet_files_load_like_csv(con, landing, tmp_path):
    import duckdb

    folder = landing / "sdr_costs"
    folder.mkdir()
    duckdb.sql("select '2025-01' as month, 'SDR EMEA' as team, 1000.5 as cost, 'EUR' as currency "
               "union all select '2025-02', 'SDR EMEA', -1, 'EUR'").write_parquet(
        str(folder / "costs.parquet"))
    result = load(con, landing, "sdr_costs")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert con.execute("select month::varchar, cost::double from raw.sdr_costs").fetchall() == [
        ("2025-01-01", 1000.5)]
    assert rejected(con)[0][1:5] == (2, "cost", "-1.0", "negative_value")


@pytest.mark.parametrize("damage", ["not_parquet", "damaged_data_page"])
def test_a_damaged_parquet_file_is_rejected_and_the_good_one_loads(con, landing, damage):
    """Parquet files are read where they lie: damage found only while the rows are read (a
    data page, past an intact footer) rolls the load back, which runs again without that
    file: it is recorded as rejected, the good file of the run loads."""
    import duckdb

    folder = landing / "sdr_costs"
    folder.mkdir()
    duckdb.sql("select '2025-01' as month, 'SDR EMEA' as team, 10 as cost, 'EUR' as currency"
               ).write_parquet(str(folder / "a_good.parquet"))
    bad = folder / "b_bad.parquet"
    if damage == "not_parquet":
        bad.write_bytes(b"month,team,cost,currency\n2025-02,SDR EMEA,5,EUR\n")
    else:
        duckdb.sql("select '2025-' || lpad((i % 12 + 1)::varchar, 2, '0') as month, "
                   "'SDR ' || md5(i::varchar) as team, i as cost, 'EUR' as currency "
                   "from range(20000) t(i)").write_parquet(str(bad), compression="zstd")
        data = bytearray(bad.read_bytes())
        data[len(data) // 4:len(data) // 2] = b"Z" * (len(data) // 2 - len(data) // 4)
        bad.write_bytes(bytes(data))
        # the footer is intact: the schema reads, the rows do not
        duckdb.sql(f"describe select * from read_parquet('{bad}')").fetchall()
    messages = []
    result = load(con, landing, "sdr_costs", progress=messages.append)
    [rejected_file] = result.rejected_files
    assert rejected_file.file_name == "sdr_costs/b_bad.parquet"
    assert "cannot read Parquet file" in rejected_file.error
    status, _error, read, loaded, rejected_count = file_log(con, "sdr_costs/b_bad.parquet")
    assert status == "rejected" and read == loaded + rejected_count and loaded == 0
    assert con.execute("select team, cost::double from raw.sdr_costs").fetchall() == [
        ("SDR EMEA", 10.0)]
    if damage == "damaged_data_page":
        assert any("loading again without it" in m for m in messages), messages


def test_optional_extract_without_files_gives_empty_table(con, landing):
    result = load(con, landing, "fx_rates")
    assert result.rows_read == 0
    assert con.execute("select count(*) from raw.fx_rates").fetchone() == (0,)


def test_an_empty_file_is_recorded_as_rejected_with_the_reason(con, landing):
    drop(landing, "sdr_costs", "empty.csv", "")
    result = load(con, landing, "sdr_costs")
    assert [f.error for f in result.rejected_files] == ["file is empty (not even a header row)"]
    assert file_log(con, "sdr_costs/empty.csv")[0] == "rejected"


@pytest.mark.parametrize(("raw", "expected"), [
    ("Lead ID", "lead_id"), ("utmSource", "utm_source"), ("\ufeffcreated_at", "created_at"),
    (" Employee Count (est.) ", "employee_count_est"),
])
def test_header_names_become_snake_case(raw, expected):
    assert snake_case(raw) == expected


def test_every_extract_has_a_key_made_of_required_columns():
    for extract in EXTRACTS.values():
        assert set(extract.key) <= set(extract.required_columns), extract.name
        assert extract.staging_model.startswith("stg_"), extract.name


def test_a_load_in_file_groups_equals_one_batch(tmp_path, monkeypatch):
    """A first load bigger than the memory limit is checked and written in groups of files
    (bounded memory, not the whole history spilled at once). Every table, quarantined row and
    load-log figure must equal the single-batch load's, with versions of one key in files
    of different groups (the demo's leads are exported again when they change)."""
    import duckdb

    from orchestration.demo.generator import DemoConfig, generate
    from orchestration.ingest import loader
    from orchestration.ingest.loader import discover_files, load_extract
    from tests.conftest import PLACEHOLDERS

    landing = tmp_path / "landing"
    generate(DemoConfig(leads=1500, seed=9), landing)
    groups_seen = []

    def load_all(db):
        con = duckdb.connect(str(db))
        for name, extract in EXTRACTS.items():
            files = discover_files(landing, name)
            load_extract(con, extract, files, landing_dir=landing, load_id="t",
                         null_placeholders=PLACEHOLDERS, progress=groups_seen.append)
        return con

    def snapshot(con):
        tables = {name: table(con, name) for name in EXTRACTS}
        log = con.execute(
            "select extract, file_name, file_seq, rows_read, rows_loaded, rows_rejected, "
            "rows_inserted, rows_updated, rows_superseded from raw.load_log "
            "order by extract, file_seq").fetchall()
        quarantine = con.execute(
            "select extract, file_name, row_number, line_number, reason_code from "
            "raw.rejected_rows order by all").fetchall()
        return tables, log, quarantine

    one_batch = snapshot(load_all(tmp_path / "one.duckdb"))
    assert not any("file group" in m for m in groups_seen)
    monkeypatch.setattr(loader, "_memory_limit_bytes", lambda _con: 60_000)
    grouped = snapshot(load_all(tmp_path / "grouped.duckdb"))
    assert any("crm_leads: file group 3 of" in m for m in groups_seen), groups_seen
    assert grouped[0] == one_batch[0]
    assert grouped[2] == one_batch[2]
    assert grouped[1] == one_batch[1]
    superseded = sum(r[8] for r in one_batch[1] if r[0] == "crm_leads")
    assert superseded > 0  # the case the groups must account like one batch


def test_a_future_row_stored_by_an_earlier_load_is_moved_to_the_quarantine(con, landing):
    """A warehouse loaded before rows were checked against the load time holds an activity of
    2030: the next load moves it to the quarantine (it must not move "now"), the load log says
    so in a row that keeps rows read = loaded + rejected, and the next dbt build is a full
    refresh (it would not otherwise see a removed row)."""
    header = "activity_id,lead_id,occurred_at,activity_type\n"
    drop(landing, "crm_activities", "old.csv", header + "A1,L1,2030-01-01 10:00:00,page_view\n"
         "A2,L1,2025-01-01 10:00:00,page_view\n", mtime=1_000)
    load(con, landing, "crm_activities", future_tolerance_hours=10_000_000)  # no check then
    con.execute("create schema if not exists audit")
    con.execute("create table audit.dbt_builds as select 'int_activities_scored' as model")
    assert con.execute("select count(*) from raw.crm_activities").fetchone() == (2,)

    messages = []
    load(con, landing, "crm_activities", progress=messages.append)
    assert con.execute("select activity_id from raw.crm_activities").fetchall() == [("A2",)]
    assert con.execute("""select line_number, column_name, reason_code, raw_record->>'activity_id'
                          from raw.rejected_rows""").fetchall() == [
        (2, "occurred_at", "in_future", "A1")]
    per_file = con.execute("""select sum(rows_read), sum(rows_loaded), sum(rows_rejected),
                                     sum(rows_inserted), count(*) filter (where
                                     rows_read <> rows_loaded + rows_rejected)
                              from raw.load_log where file_name = 'crm_activities/old.csv'
                              """).fetchone()
    assert per_file == (2, 1, 1, 1, 0)
    assert con.execute("select count(*) from audit.dbt_builds").fetchone() == (0,)
    assert any("moved to the quarantine" in m for m in messages)
