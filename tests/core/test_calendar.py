"""The working-day calendar: holidays, make-up workdays, official schedules, deadlines."""

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.calendar import (
    ScheduleFileError,
    WorkingCalendar,
    add_working_days,
    deadline_after,
    get_calendar,
    is_working_day,
    load_official_schedule,
    working_hours,
)

SCHEDULE_2026 = Path(__file__).resolve().parents[1] / "data" / "cn-holidays-2026.json"


def test_fifteen_working_days_after_mid_autumn(ctx):
    assert add_working_days(date(2026, 9, 25), 15) == date(2026, 10, 22)


def test_make_up_saturday_is_a_working_day(ctx):
    assert date(2026, 10, 10).weekday() == 5
    assert is_working_day(date(2026, 10, 10))


@pytest.mark.parametrize("day", range(1, 8))
def test_national_day_week_is_off(ctx, day):
    assert not is_working_day(date(2026, 10, day))


def test_ordinary_weekend_and_weekday(ctx):
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert is_working_day(date(2026, 11, 27))  # Friday


def test_deadline_in_official_year_is_not_estimated(ctx):
    deadline = deadline_after(datetime(2026, 9, 30, 8, 0, tzinfo=UTC), 1)  # 16:00 in Shanghai
    assert deadline.due_at == datetime(2026, 10, 8, 15, 59, 59, tzinfo=UTC)  # end of 10-08 local
    assert not deadline.estimated
    assert deadline.warning is None


def test_deadline_in_year_without_official_schedule_warns(ctx, caplog):
    with caplog.at_level(logging.WARNING, logger="haocha.calendar"):
        deadline = deadline_after(datetime(2027, 12, 20, 2, 0, tzinfo=UTC), 3)
    assert deadline.estimated
    assert "2027" in (deadline.warning or "")
    assert "calendar load" in (deadline.warning or "")
    assert any("estimate" in r.getMessage() for r in caplog.records)


def test_loaded_schedule_overrides_rules_and_marks_year_official(ctx, database, tmp_path):
    schedule = {
        "year": 2027,
        "source": "test notice",
        "days_off": [{"date": "2027-12-20", "name": "test holiday"}],
        "make_up_workdays": ["2027-12-25"],
    }
    path = tmp_path / "cn-2027.json"
    path.write_text(json.dumps(schedule), encoding="utf-8")
    assert load_official_schedule(path) == (2027, 1, 1)
    assert not is_working_day(date(2027, 12, 20))  # a Monday, now a day off
    assert is_working_day(date(2027, 12, 25))  # a Saturday, now a workday
    assert get_calendar().is_official_year(2027)
    assert not deadline_after(datetime(2027, 12, 19, 2, 0, tzinfo=UTC), 1).estimated


def test_the_official_2026_file_loads_and_agrees_with_the_rules(ctx, database):
    year, off, work = load_official_schedule(SCHEDULE_2026)
    assert (year, work) == (2026, 6)
    assert off > 20
    assert add_working_days(date(2026, 9, 25), 15) == date(2026, 10, 22)


def test_bad_schedule_file_is_refused(ctx, database, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"year": 2027, "days_off": [{"date": "2028-01-01"}], "make_up_workdays": []}))
    with pytest.raises(ScheduleFileError):
        load_official_schedule(path)
    path.write_text("not json")
    with pytest.raises(ScheduleFileError):
        load_official_schedule(path)


def test_pure_calendar_counts_across_national_day():
    calendar = WorkingCalendar()
    assert calendar.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 9)  # 10-08, 10-09
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 1, 5), -1)


def test_working_hours_skip_nights_and_holidays(ctx):
    # Tue 2026-09-29 16:00 to Thu 2026-10-08 10:00 Shanghai: 1h + 8h (09-30) + 1h (10-08).
    start = datetime(2026, 9, 29, 8, 0, tzinfo=UTC)
    end = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    meter = working_hours()
    assert meter.between(start, end) == pytest.approx(10.0)
    assert meter.between(end, start) == 0.0


def test_asking_whether_a_year_is_official_does_not_change_the_calendar():
    calendar = WorkingCalendar()
    assert calendar.add_working_days(date(2026, 9, 25), 15) == date(2026, 10, 22)
    assert calendar.is_official_year(2026)
    assert not calendar.is_official_year(2027)
    assert calendar.add_working_days(date(2026, 9, 25), 15) == date(2026, 10, 22)
    assert calendar.is_working_day(date(2026, 10, 10))
