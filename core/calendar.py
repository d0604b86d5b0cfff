"""Working-day calendar (工作日): Chinese public holidays and make-up workdays (调休).

`holidays.China` gives the schedule; rows loaded by `flask calendar load` from the State
Council's official notice override it. A year is *official* when such a file was loaded or when
the `holidays` package carries that year's make-up workdays; later years are rule-based
estimates, and deadlines falling in them carry a warning.

Days are Asia/Shanghai calendar days; datetimes in and out are timezone-aware.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from flask import current_app, has_app_context
from sqlalchemy import delete, select

from core.db import db
from core.models import CalendarDay, CalendarYear

log = logging.getLogger("haocha.calendar")

CACHE_SECONDS = 300


def local_tz() -> ZoneInfo:
    name = current_app.config["LOCAL_TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of an aware datetime."""
    return moment.astimezone(local_tz()).date()


def end_of_day(day: date) -> datetime:
    """The last instant (23:59:59) of a local calendar day, as an aware UTC datetime."""
    local = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=local_tz())
    return local.astimezone(UTC)


def start_of_day(day: date) -> datetime:
    """Midnight at the start of a local calendar day, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=local_tz()).astimezone(UTC)


@dataclass
class WorkingCalendar:
    """The holiday rules plus official overrides; pure, so it is easy to test and cache."""

    overrides: dict[date, bool] = field(default_factory=dict)
    official_years: set[int] = field(default_factory=set)
    country: str = "CN"

    def __post_init__(self) -> None:
        self._rules: Any = holidays.country_holidays(self.country)
        self._package_years: dict[int, bool] = {}
        self._lock = threading.Lock()

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        with self._lock:  # the holidays object fills its years lazily; not thread-safe
            return bool(self._rules.is_working_day(day))

    def is_official_year(self, year: int) -> bool:
        """Loaded by `flask calendar load`, or published with make-up workdays in `holidays`."""
        if year in self.official_years:
            return True
        with self._lock:
            if year not in self._package_years:
                # A separate object: populating a year again on the shared one loses its state.
                rules: Any = holidays.country_holidays(self.country, years=year)
                self._package_years[year] = any(d.year == year for d in rules.weekend_workdays)
            return self._package_years[year]

    def add_working_days(self, start: date, days: int) -> date:
        """The day `days` working days after `start` (start itself not counted)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def next_working_day(self, day: date) -> date:
        return self.add_working_days(day, 1)


@dataclass
class Deadline:
    """A computed due time, with a warning when it falls in a year without an official schedule."""

    due_at: datetime
    estimated: bool

    @property
    def warning(self) -> str | None:
        if not self.estimated:
            return None
        year = local_date(self.due_at).year
        return (
            f"{year} has no official holiday schedule loaded; this deadline is an estimate "
            f"(run `flask calendar load` with the State Council's notice)."
        )


_cache: dict[str, Any] = {"calendar": None, "loaded": 0.0}
_cache_lock = threading.Lock()


def _build_calendar() -> WorkingCalendar:
    overrides = {row.day: row.is_workday for row in db.session.scalars(select(CalendarDay))}
    years = set(db.session.scalars(select(CalendarYear.year)))
    return WorkingCalendar(overrides, years, current_app.config["HOLIDAY_COUNTRY"])


def get_calendar() -> WorkingCalendar:
    """The process's calendar, rebuilt from the database every few minutes."""
    with _cache_lock:
        calendar = _cache["calendar"]
        if calendar is None or time.monotonic() - _cache["loaded"] > CACHE_SECONDS:
            calendar = _build_calendar()
            _cache["calendar"] = calendar
            _cache["loaded"] = time.monotonic()
        return calendar


def invalidate_calendar() -> None:
    with _cache_lock:
        _cache["calendar"] = None


def is_working_day(day: date) -> bool:
    return get_calendar().is_working_day(day)


def add_working_days(start: date, days: int) -> date:
    return get_calendar().add_working_days(start, days)


def next_working_day(day: date) -> date:
    return get_calendar().next_working_day(day)


def deadline_after(moment: datetime, working_days: int) -> Deadline:
    """Due at the end of the `working_days`-th working day after the local day of `moment`."""
    calendar = get_calendar()
    due_day = calendar.add_working_days(local_date(moment), working_days)
    deadline = Deadline(end_of_day(due_day), not calendar.is_official_year(due_day.year))
    if deadline.estimated:
        log.warning("deadline %s: %s", due_day.isoformat(), deadline.warning)
    return deadline


class WorkingHours:
    """Working hours (office hours, `opens`..`closes` local time, on working days) between two
    aware datetimes. Working days between the first and the last day are counted through prefix
    sums, once per day however many pairs are measured, so one meter serves a whole report."""

    def __init__(self, calendar: WorkingCalendar, opens: int, closes: int) -> None:
        self.calendar, self.opens, self.closes = calendar, opens, closes
        self.tz = local_tz()
        self._base = date.max
        self._before: list[int] = [0]  # _before[i]: working days in [base, base + i)

    def _working_before(self, day: date) -> int:
        """Working days from the base day up to `day` (excluded)."""
        if day < self._base:
            self._base, self._before = day - timedelta(days=31), [0]
        index = (day - self._base).days
        while len(self._before) <= index:
            current = self._base + timedelta(days=len(self._before) - 1)
            self._before.append(self._before[-1] + self.calendar.is_working_day(current))
        return self._before[index]

    def _office(self, day: date, start: datetime, end: datetime) -> float:
        """Office hours of one local day that fall between start and end (0 off working days)."""
        if not self.calendar.is_working_day(day):
            return 0.0
        opens = datetime(day.year, day.month, day.day, self.opens, tzinfo=self.tz)
        closes = datetime(day.year, day.month, day.day, self.closes, tzinfo=self.tz)
        low, high = max(opens, start), min(closes, end)
        return (high - low).total_seconds() / 3600 if high > low else 0.0

    def between(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        start, end = start.astimezone(self.tz), end.astimezone(self.tz)
        first, last = start.date(), end.date()
        if first == last:
            return self._office(first, start, end)
        earlier = self._working_before(first + timedelta(days=1))  # first: it may move the base day
        middle = self._working_before(last) - earlier
        full_day = max(self.closes - self.opens, 0)
        return self._office(first, start, end) + middle * full_day + self._office(last, start, end)


def working_hours() -> WorkingHours:
    """A meter over the current calendar and the configured office hours (WORKDAY_START_HOUR to
    WORKDAY_END_HOUR)."""
    config = current_app.config
    return WorkingHours(get_calendar(), int(config["WORKDAY_START_HOUR"]), int(config["WORKDAY_END_HOUR"]))


class ScheduleFileError(ValueError):
    """The official schedule file is not in the expected shape."""


def load_official_schedule(path: Path) -> tuple[int, int, int]:
    """Load an official schedule file (see core/data/README): returns (year, days off, workdays).

    Replaces any earlier load of the same year. The caller commits.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        year = int(data["year"])
        days_off = [(date.fromisoformat(d["date"]), d.get("name", "")) for d in data["days_off"]]
        workdays = [
            date.fromisoformat(d) if isinstance(d, str) else date.fromisoformat(d["date"])
            for d in data["make_up_workdays"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScheduleFileError(f"{path}: {exc}") from exc
    for day in [d for d, _ in days_off] + workdays:
        if day.year != year:
            raise ScheduleFileError(f"{path}: {day.isoformat()} is not in {year}")
    source = str(data.get("source", path.name))
    db.session.execute(
        delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
    )
    db.session.execute(delete(CalendarYear).where(CalendarYear.year == year))
    db.session.flush()
    for day, name in days_off:
        db.session.add(CalendarDay(day=day, is_workday=False, name=name, source=source))
    for day in workdays:
        db.session.add(CalendarDay(day=day, is_workday=True, name="调休 make-up workday", source=source))
    db.session.add(CalendarYear(year=year, source=source))
    db.session.flush()
    invalidate_calendar()
    return year, len(days_off), len(workdays)
