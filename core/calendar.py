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

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


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


def working_hours_between(start: datetime, end: datetime) -> float:
    """Working hours (configured office hours on working days) between two aware datetimes."""
    if end <= start:
        return 0.0
    calendar = get_calendar()
    tz = local_tz()
    open_h = current_app.config["WORKDAY_START_HOUR"]
    close_h = current_app.config["WORKDAY_END_HOUR"]
    start_l, end_l = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = start_l.date()
    while day <= end_l.date():
        if calendar.is_working_day(day):
            opens = datetime(day.year, day.month, day.day, open_h, tzinfo=tz)
            closes = datetime(day.year, day.month, day.day, close_h, tzinfo=tz)
            lo, hi = max(opens, start_l), min(closes, end_l)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total


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


def now_utc() -> datetime:
    return datetime.now(UTC)
