"""Messy exports: encodings, line endings, delimiters, quoting, spreadsheet damage, and clear
errors that name the file, the line and the column."""

import csv
import json

import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.vendor_exports.importer import import_file
from orchestration.vendor_exports.mapping import MappingError, parse
from orchestration.vendor_exports.reading import ReadError, read_export

LEADS = {"extract": "crm_leads", "columns": {
    "lead_id": "Id", "created_at": {"from": "Created", "format": "%Y-%m-%d"},
    "company_name": "Company", "acquisition_mode": {"value": "inbound"},
    "employee_count": {"from": "Employees", "optional": True}}}


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def imported(tmp_path, path, mapping=LEADS):
    return import_file(path, parse(mapping, "test"), tmp_path / "landing")


def landed(result):
    with result.output.open() as f:
        return list(csv.DictReader(f))


def rejected(result):
    with result.rejects.open() as f:
        return list(csv.DictReader(f))


def test_utf8_with_a_bom_and_crlf(tmp_path):
    path = write(tmp_path, "bom.csv", "\ufeffId,Created,Company\r\n1,2025-01-02,Zoë\r\n".encode())
    r = imported(tmp_path, path)
    assert r.rows_written == 1 and landed(r)[0]["company_name"] == "Zoë"
    assert read_export(path).encoding == "utf-8-sig"


def test_semicolons_are_sniffed_and_quoted_separators_stay_in_their_field(tmp_path):
    path = write(tmp_path, "semi.csv", b'Id;Created;Company\n1;2025-01-02;"Acme; Inc, Ltd"\n')
    r = imported(tmp_path, path)
    assert landed(r)[0]["company_name"] == "Acme; Inc, Ltd"
    path = write(tmp_path, "comma.csv", b'Id,Created,Company\n1,2025-01-02,"Acme, Inc"\n')
    assert landed(imported(tmp_path, path))[0]["company_name"] == "Acme, Inc"


def test_latin1_is_read_with_a_warning(tmp_path):
    path = write(tmp_path, "latin.csv", "Id,Created,Company\n1,2025-01-02,Société Générale\n"
                 .encode("latin-1"))
    r = imported(tmp_path, path)
    assert landed(r)[0]["company_name"] == "Société Générale"
    assert any("read as Latin-1" in w and "line 2" in w for w in r.warnings)


def test_a_range_excel_turned_into_a_date_is_quarantined_as_such(tmp_path):
    mapping = {**LEADS, "columns": {**LEADS["columns"], "job_title": "Size band"}}
    path = write(tmp_path, "mangled.csv",
                 b"Id,Created,Company,Size band\n1,2025-01-02,A,1-5\n2,2025-01-02,B,01-May\n")
    r = imported(tmp_path, path, mapping)
    assert (r.rows_written, r.rows_quarantined) == (1, 1)
    [row] = rejected(r)
    assert row["source_line"] == "3" and row["column"] == "job_title"
    assert row["value"] == "01-May" and "spreadsheet turned into a date" in row["reason"]
    mapping["excel_mangled"] = "blank"  # or keep the row without the value, if declared
    r = import_file(path, parse(mapping, "t"), tmp_path / "other")
    assert r.rows_written == 2


def test_a_missing_required_column_is_a_clear_error(tmp_path):
    path = write(tmp_path, "nocreated.csv", b"Id,Company\n1,A\n")
    with pytest.raises(MappingError, match=r"nocreated.csv: the export has no column 'Created' "
                                           r"\(its columns: Id, Company\)"):
        imported(tmp_path, path)


def test_an_unmappable_row_is_quarantined_with_its_line_and_nothing_is_lost(tmp_path):
    path = write(tmp_path, "rows.csv", b'Id,Created,Company,Employees\n1,2025-01-02,A,10\n'
                 b'2,02/01/2025,B,20\n3,2025-01-04,"C\nwith a line break",30\n,2025-01-05,D,1\n'
                 b'5,2025-01-06,E,many\n')
    r = imported(tmp_path, path)
    assert r.rows_read == 5 and r.rows_written + r.rows_quarantined == 5
    reasons = {row["source_line"]: row for row in rejected(r)}
    assert set(reasons) == {"3", "6", "7"}  # physical lines: row 3 spans lines 4-5
    assert reasons["3"]["column"] == "created_at" and "does not match" in reasons["3"]["reason"]
    assert reasons["6"]["reason"] == "required lead_id is blank"
    assert reasons["7"]["column"] == "employee_count"
    assert json.loads(reasons["7"]["record"])["Company"] == "E"
    assert [row["lead_id"] for row in landed(r)] == ["1", "3"]


def test_a_broken_file_fails_with_the_file_and_line(tmp_path):
    path = write(tmp_path, "broken.csv", b'Id,Created,Company\n1,2025-01-02,"A\n2,2025-01-03,B\n')
    with pytest.raises(ReadError, match=r"broken.csv, line \d+: malformed CSV"):
        imported(tmp_path, path)
    with pytest.raises(ReadError, match="empty"):
        imported(tmp_path, write(tmp_path, "empty.csv", b""))


def test_declared_thousands_and_decimal_commas(tmp_path):
    mapping = {"extract": "ad_spend", "numbers": {"thousands": ".", "decimal": ","},
               "columns": {"spend_date": "Tag", "platform": {"value": "x"},
                           "campaign_id": "Kampagne", "spend": "Kosten",
                           "currency": {"value": "EUR"}}}
    path = write(tmp_path, "de.csv", b'Tag;Kampagne;Kosten\n2025-03-01;K1;"1.234,56"\n')
    assert landed(imported(tmp_path, path, mapping))[0]["spend"] == "1234.56"


def test_naive_times_are_read_in_the_declared_zone_and_written_in_utc(tmp_path):
    mapping = {**LEADS, "source_timezone": "Europe/Paris",
               "columns": {**LEADS["columns"], "created_at": "Created"}}
    path = write(tmp_path, "tz.csv", b"Id,Created,Company\n1,2025-07-01 10:00,A\n"
                 b"2,2025-07-01T10:00:00-04:00,B\n")
    assert [row["created_at"] for row in landed(imported(tmp_path, path, mapping))] == [
        "2025-07-01 08:00:00+00:00", "2025-07-01 14:00:00+00:00"]


def test_two_exports_of_the_same_name_both_land_and_neither_is_overwritten(tmp_path):
    path = write(tmp_path, "leads.csv", b"Id,Created,Company\n1,2025-01-02,A\n")
    first = imported(tmp_path, path)
    assert imported(tmp_path, path).unchanged  # the same export again: nothing to do
    write(tmp_path, "leads.csv", b"Id,Created,Company\n2,2025-01-03,B\n")
    second = imported(tmp_path, path)
    assert second.output != first.output and second.output.name.startswith("leads.")
    assert "another export named leads landed before" in second.render()
    assert landed(first)[0]["company_name"] == "A" and landed(second)[0]["company_name"] == "B"
    assert imported(tmp_path, path).unchanged  # and the second again: still two files
    assert len(list((tmp_path / "landing" / "crm_leads").glob("*.csv"))) == 2


def test_derived_ids_can_take_constants_the_file_and_the_row(tmp_path):
    """Columns alone repeat (two touches of one lead in one campaign): a constant, the file's
    name and the row's line make each id unique, and the same file gives the same ids."""
    mapping = {"extract": "crm_activities", "columns": {
        "activity_id": {"derive": ["Lead", {"value": "webinar"}, {"file_name": True},
                                   {"row_number": True}]},
        "lead_id": "Lead", "occurred_at": {"from": "When", "format": "%Y-%m-%d"},
        "activity_type": {"value": "webinar_attended"}}}
    data = b"Lead,When\nL1,2025-01-02\nL1,2025-01-02\nL2,2025-01-03\n"
    ids = [r["activity_id"] for r in landed(imported(tmp_path, write(tmp_path, "a.csv", data),
                                                     mapping))]
    assert len(set(ids)) == 3
    again = [r["activity_id"] for r in landed(imported(tmp_path / "again",
                                                       write(tmp_path, "a.csv", data), mapping))]
    assert again == ids
    other = [r["activity_id"] for r in landed(imported(tmp_path, write(tmp_path, "b.csv", data),
                                                       mapping))]
    assert not set(other) & set(ids)  # another file, other ids
    with pytest.raises(MappingError, match="a derive part is a column name"):
        parse({**mapping, "columns": {**mapping["columns"], "activity_id": {
            "derive": [{"value": "x", "row_number": True}]}}}, "test")


AD_ROWS = {"extract": "ad_spend", "aggregate": {"sum": ["spend", "impressions", "clicks"]},
           "columns": {"spend_date": {"value": "2025-03-01"}, "platform": {"value": "linkedin"},
                       "campaign_id": "Campaign", "spend": "Cost", "currency": "Currency",
                       "impressions": "Impressions", "clicks": "Clicks"}}


def test_rows_at_a_finer_grain_are_summed_per_key_exactly(tmp_path):
    """An ad export with one row per ad and no date: summed per campaign (and the day the
    mapping gives), to the cent; a campaign whose ads disagree on the currency is quarantined
    whole, not summed."""
    path = write(tmp_path, "ads.csv",
                 b"Campaign,Ad,Cost,Currency,Impressions,Clicks\n"
                 b"C1,a1,10.10,EUR,100,3\nC1,a2,20.20,EUR,50,\nC1,a3,0.7,EUR,5,1\n"
                 b"C2,b1,1.5,EUR,10,0\n"
                 b"C3,c1,5,EUR,1,0\nC3,c2,5,USD,1,0\n")
    result = imported(tmp_path, path, {**AD_ROWS, "unmapped": "drop"})
    rows = {r["campaign_id"]: r for r in landed(result)}
    assert rows["C1"]["spend"] == "31" and rows["C1"]["impressions"] == "155"
    assert rows["C1"]["clicks"] == "4" and rows["C2"]["spend"] == "1.5"
    assert set(rows) == {"C1", "C2"}
    assert [(r["source_line"], r["column"]) for r in rejected(result)] == [
        ("6", "currency"), ("7", "currency")]
    assert result.rows_read == 6 and result.rows_written == 2 and result.rows_quarantined == 2
    assert "4 rows summed into 2, one per spend_date, platform, campaign_id" in result.render()
    with pytest.raises(MappingError, match="aggregate.sum: currency is not a mapped number"):
        imported(tmp_path, path, {**AD_ROWS, "aggregate": {"sum": ["currency"]}})


def test_columns_the_mapping_does_not_name_land_as_they_are(tmp_path):
    """A CRM's own fields (how the lead came in, the person's occupation) are carried under
    the loader's names; one that would take a contract column's name is prefixed; `drop` and
    `unmapped: drop` leave columns out."""
    path = write(tmp_path, "custom.csv",
                 b"Id,Created,Company,Lead Origin,What is your current occupation,Industry,Email\n"
                 b"1,2025-01-02,A,Landing Page Submission,Student,Retail,a@b.c\n")
    result = imported(tmp_path, path, {**LEADS, "drop": ["Email"]})
    row = landed(result)[0]
    assert row["lead_origin"] == "Landing Page Submission"
    assert row["what_is_your_current_occupation"] == "Student"
    assert row["export_industry"] == "Retail"  # `industry` is the contract's column
    assert "email" not in row and "Email" not in row
    assert "carried as they are" in result.render()
    dropped = landed(imported(tmp_path / "d", path, {**LEADS, "unmapped": "drop"}))[0]
    assert set(dropped) == {"lead_id", "created_at", "acquisition_mode", "company_name",
                            "employee_count"}


def test_carried_columns_reach_the_raw_table(tmp_path):
    import duckdb

    from orchestration.ingest.contract import EXTRACTS
    from orchestration.ingest.loader import load_extract

    path = write(tmp_path, "custom.csv", b"Id,Created,Company,Lead Origin\n"
                                         b"1,2025-01-02,A,Landing Page Submission\n")
    result = imported(tmp_path, path)
    con = duckdb.connect()
    load_extract(con, EXTRACTS["crm_leads"], [result.output], landing_dir=tmp_path / "landing",
                 load_id="t")
    extra = con.execute("select extra from raw.crm_leads").fetchone()[0]
    assert json.loads(extra)["lead_origin"] == "Landing Page Submission"


@pytest.mark.parametrize(("mapping", "message"), [
    ({"extract": "crm_leads", "colums": {}}, "colums: unknown key"),
    ({"extract": "crm_lead"}, "unknown extract 'crm_lead'"),
    ({**LEADS, "columns": {**LEADS["columns"], "favourite_colour": "Id"}},
     "favourite_colour is not a column of crm_leads"),
    ({**LEADS, "columns": {**LEADS["columns"], "created_at": {"from": "Created", "fromat": "x"}}},
     "columns.created_at.ColumnSpec.fromat: unknown key"),
    ({"extract": "crm_leads", "columns": {"lead_id": "Id"}}, "crm_leads needs created_at"),
])
def test_every_mapping_problem_names_its_key(tmp_path, mapping, message):
    path = write(tmp_path, "ok.csv", b"Id,Created,Company\n1,2025-01-02,A\n")
    with pytest.raises(MappingError, match=message):
        imported(tmp_path, path, mapping)


def test_funnel_import_prints_rows_read_written_and_quarantined(tmp_path):
    import yaml

    map_file = tmp_path / "map.yml"
    map_file.write_text(yaml.safe_dump(LEADS))
    path = write(tmp_path, "leads.csv", b"Id,Created,Company\n1,2025-01-02,A\n2,bad,B\n")
    result = CliRunner().invoke(main, ["import", "--preset", "generic", "--map", str(map_file),
                                       "--extract", "crm_leads", "--landing",
                                       str(tmp_path / "landing"), str(path)])
    assert result.exit_code == 0, result.output
    assert "2 rows read, 1 written, 1 quarantined" in result.output
    assert (tmp_path / "landing" / "_rejected" / "crm_leads" / "leads.csv").exists()
    bad = CliRunner().invoke(main, ["import", "--preset", "hubspot", "--extract", "fx_rates",
                                    str(path)])
    assert bad.exit_code != 0 and "preset hubspot has no mapping for fx_rates" in bad.output
