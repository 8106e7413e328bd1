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


def test_a_different_file_of_the_same_name_is_never_overwritten(tmp_path):
    path = write(tmp_path, "leads.csv", b"Id,Created,Company\n1,2025-01-02,A\n")
    first = imported(tmp_path, path)
    assert imported(tmp_path, path).unchanged  # the same export again: nothing to do
    write(tmp_path, "leads.csv", b"Id,Created,Company\n1,2025-01-02,B\n")
    with pytest.raises(MappingError, match="already exists with other content"):
        imported(tmp_path, path)
    assert landed(first)[0]["company_name"] == "A"


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
