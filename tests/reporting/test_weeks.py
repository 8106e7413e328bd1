"""ISO weeks: parsing, clear errors, and which week is the last complete one."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from orchestration.reporting.weeks import (
    WeekError,
    last_complete_week,
    last_complete_week_of_data,
    week_label,
    week_start,
)


@pytest.mark.parametrize(("label", "monday"), [
    ("2026-W47", date(2026, 11, 16)),
    ("2026-W53", date(2026, 12, 28)),  # 2026 has 53 ISO weeks
    ("2027-W01", date(2027, 1, 4)),
    ("2020-W01", date(2019, 12, 30)),  # week 1 can start in the previous year
])
def test_labels_and_mondays_round_trip(label, monday):
    assert week_start(label) == monday
    assert week_label(monday) == label


@pytest.mark.parametrize(("label", "message"), [
    ("2026-47", "not an ISO week"),
    ("W47", "not an ISO week"),
    ("2025-W53", "2025 has 52 ISO weeks"),
    ("2026-W00", "2026 has 53 ISO weeks"),
])
def test_a_bad_week_says_what_is_wrong(label, message):
    with pytest.raises(WeekError, match=message):
        week_start(label)


def test_the_last_complete_week_is_in_the_reporting_timezone():
    # Monday 2027-01-04 00:30 in Paris is still Sunday 23:30 UTC: in Paris the week is over.
    moment = datetime(2027, 1, 3, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert week_label(last_complete_week(moment, "Europe/Paris")) == "2026-W53"
    assert week_label(last_complete_week(moment, "UTC")) == "2026-W52"


def test_data_ending_on_a_sunday_completes_that_week_and_midweek_data_does_not():
    assert week_label(last_complete_week_of_data(datetime(2026, 11, 22, 23, 59), "UTC")) == "2026-W47"
    assert week_label(last_complete_week_of_data(datetime(2026, 11, 25, 10, 0), "UTC")) == "2026-W47"
    assert week_label(last_complete_week_of_data(datetime(2026, 11, 21, 10, 0), "UTC")) == "2026-W46"
