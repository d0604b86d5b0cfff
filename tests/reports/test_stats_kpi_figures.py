"""KPI figures without HTTP: 解决率, handling time in working hours across weekends, the Mid-Autumn
and National Day holidays and a make-up workday, and `group_by`, each checked against figures
worked out here from the rows the test wrote."""

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import factories as f
import pytest
from stats_support import callback_row

from callbacks.models import Callback, CallbackStatus, Purpose
from core.calendar import get_calendar, working_hours
from core.db import db
from hotline.models import Ticket, TicketType
from reports.stats import kpis
from reports.stats.kpis import KpiFilters

SHANGHAI = ZoneInfo("Asia/Shanghai")
_numbers = itertools.count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock time as the aware UTC datetime the database stores."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def ticket(dept, created, dispatched=None, closed=None, due=None, **fields) -> Ticket:
    row = Ticket(
        number=f"KPI{next(_numbers):08d}",
        type=fields.pop("type", TicketType.COMPLAINT),
        content="测试工单",
        region_code=dept.region_code,
        lead_department_id=dept.id,
        take_due_at=created + timedelta(days=1),
        handle_due_at=due or created + timedelta(days=20),
        created_at=created,
        dispatched_at=dispatched,
        closed_at=closed,
        **fields,
    )
    db.session.add(row)
    return row


def satisfaction_callback(dept, due, status=CallbackStatus.DONE, outcome="", **fields) -> Callback:
    return callback_row(dept, due, Purpose.TICKET_SATISFACTION, status, outcome=outcome, **fields)


# Office hours 9-17 (WORKDAY_START_HOUR, WORKDAY_END_HOUR). In 2026, Fri 09-25 is 中秋节 (then a
# weekend), 10-01..10-07 国庆节, and Sun 09-20 and Sat 10-10 are make-up workdays (调休).
HANDLED = [
    # (dispatched, created when never dispatched, closed, working hours worked out by hand)
    # Thu 15:00 → Sat 10-10 11:00: 2 (09-24) + 0 (holiday, weekend) + 3×8 (09-28..30)
    # + 0 (国庆) + 2×8 (10-08, 10-09) + 2 (the make-up Saturday) = 44
    (local(date(2026, 9, 24), 15), None, local(date(2026, 10, 10), 11), 44.0),
    # Fri 16:30 → Mon 09:45 over a weekend whose Sunday is a make-up workday: 0.5 + 0 + 8 + 0.75
    (local(date(2026, 9, 18), 16, 30), None, local(date(2026, 9, 21), 9, 45), 9.25),
    # One day, 08:00 → 20:00: only office hours count
    (local(date(2026, 9, 22), 8), None, local(date(2026, 9, 22), 20), 8.0),
    # Never dispatched: from creation, on a holiday (10-03 10:00) to 10-08 10:30
    (None, local(date(2026, 10, 3), 10), local(date(2026, 10, 8), 10, 30), 1.5),
]


def test_handling_time_counts_working_hours_only(database):
    dept = f.department()
    for dispatched, created, closed, _hours in HANDLED:
        ticket(dept, created or dispatched - timedelta(hours=1), dispatched, closed)
    ticket(dept, local(date(2026, 10, 9), 9), local(date(2026, 10, 9), 9), local(date(2026, 10, 12), 10))  # later
    ticket(dept, local(date(2026, 9, 28), 9), local(date(2026, 9, 28), 9))  # still open
    db.session.flush()
    filters = KpiFilters(date(2026, 9, 21), date(2026, 10, 10), department_id=dept.id)
    expected = sum(hours for *_, hours in HANDLED)
    assert expected == 62.75
    assert kpis.kpis(filters)["handling_hours"] == {"tickets": 4, "total": 62.75, "average": 15.69}
    meter = working_hours()
    for dispatched, created, closed, hours in HANDLED:
        assert meter.between(dispatched or created, closed) == pytest.approx(hours)


def office_hours_day_by_day(start: datetime, end: datetime) -> float:
    """The working hours between two moments, counted here one local day at a time."""
    calendar, total = get_calendar(), 0.0
    day = start.astimezone(SHANGHAI).date()
    while start < end and day <= end.astimezone(SHANGHAI).date():
        if calendar.is_working_day(day):
            low = max(datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI), start)
            high = min(datetime(day.year, day.month, day.day, 17, tzinfo=SHANGHAI), end)
            total += max((high - low).total_seconds(), 0) / 3600
        day += timedelta(days=1)
    return total


def test_the_working_hours_meter_matches_the_calendar(database):
    meter = working_hours()
    assert (meter.opens, meter.closes) == (9, 17)  # the office hours counted below
    rng = random.Random(6)
    start = datetime(2025, 12, 20, tzinfo=UTC)
    pairs = []
    for _ in range(400):
        a = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 400))
        pairs.append((a, a + timedelta(minutes=rng.randrange(-600, 60 * 24 * 40))))
    pairs.append((start + timedelta(days=500), start))  # a base day before the first one seen
    pairs.append((start - timedelta(days=90), start + timedelta(days=3)))
    for a, b in pairs:
        assert meter.between(a, b) == pytest.approx(office_hours_day_by_day(a, b)), (a, b)
    assert get_calendar().is_working_day(date(2026, 10, 10))  # the make-up Saturday the test relies on


def test_resolution_rate_is_the_callers_answer(database):
    dept, other = f.department(), f.department(region="460200")
    due = local(date(2026, 9, 22), 17)
    for outcome in ("level_5", "level_4", "level_3", "level_2", "level_1"):
        satisfaction_callback(dept, due, outcome=outcome)
    satisfaction_callback(dept, due, CallbackStatus.UNREACHABLE, "no_answer")  # nobody said
    satisfaction_callback(dept, due, CallbackStatus.PENDING)
    satisfaction_callback(dept, local(date(2026, 10, 12), 17), outcome="level_1")  # due after the range
    satisfaction_callback(other, due, outcome="level_2")
    db.session.flush()
    # Independently: answered = reached with a level; resolved = above BAD_REVIEW_MAX_LEVEL (2).
    rows = db.session.scalars(db.select(Callback).where(Callback.purpose == Purpose.TICKET_SATISFACTION)).all()
    in_range = [c for c in rows if date(2026, 9, 21) <= c.due_at.astimezone(SHANGHAI).date() <= date(2026, 10, 10)]
    answered = [c for c in in_range if c.status == CallbackStatus.DONE and c.outcome.startswith("level_")]
    resolved = [c for c in answered if int(c.outcome.removeprefix("level_")) > 2]
    body = kpis.kpis(KpiFilters(date(2026, 9, 21), date(2026, 10, 10)))
    assert body["resolution_rate"] == kpis.ratio(len(resolved), len(answered)) == kpis.ratio(3, 6)
    mine = kpis.kpis(KpiFilters(date(2026, 9, 21), date(2026, 10, 10), department_id=dept.id))
    assert mine["resolution_rate"] == {"numerator": 3, "denominator": 5, "rate": 0.6}
    by_region = kpis.kpis(KpiFilters(date(2026, 9, 21), date(2026, 10, 10)), "region")
    rates = {g["key"]: g["resolution_rate"]["rate"] for g in by_region["groups"]}
    assert rates == {dept.region_code: 0.6, "460200": 0.0}


def test_resolution_follows_the_ticket_filters(database):
    dept = f.department()
    due = local(date(2026, 9, 22), 17)
    help_ticket = ticket(dept, due, type=TicketType.HELP, is_enterprise=True)
    complaint = ticket(dept, due)
    db.session.flush()
    satisfaction_callback(dept, due, outcome="level_5", subject_id=help_ticket.id)
    satisfaction_callback(dept, due, outcome="level_1", subject_id=complaint.id)
    db.session.flush()
    span = (date(2026, 9, 22), date(2026, 9, 22))
    assert kpis.kpis(KpiFilters(*span, ticket_type=TicketType.HELP))["resolution_rate"]["rate"] == 1.0
    assert kpis.kpis(KpiFilters(*span, enterprise=False))["resolution_rate"]["rate"] == 0.0
    assert kpis.kpis(KpiFilters(*span, department_id=dept.id))["resolution_rate"]["denominator"] == 2


def test_groups_split_the_totals_by_department_and_beijing_day(database):
    north, south = f.department(), f.department(region="460200")
    day = date(2026, 9, 22)
    # Closed one minute either side of Beijing midnight: different local days.
    late = ticket(north, local(day, 10), local(day, 10), local(day, 23, 59), due=local(day, 23, 59))
    early = ticket(north, local(day, 10), local(day, 10), local(day + timedelta(days=1), 0, 1), due=local(day, 23))
    third = ticket(south, local(day, 9), local(day, 9), local(day + timedelta(days=1), 10), is_enterprise=True)
    db.session.flush()
    filters = KpiFilters(day, day + timedelta(days=1))
    body = kpis.kpis(filters, "day")
    by_day = {g["key"]: g for g in body["groups"]}
    assert set(by_day) == {"2026-09-22", "2026-09-23"}
    assert by_day["2026-09-22"]["on_time_completion"] == kpis.ratio(1, 1)
    assert by_day["2026-09-23"]["on_time_completion"] == kpis.ratio(1, 2)  # `early` missed its deadline
    assert by_day["2026-09-22"]["enterprise_share"] == kpis.ratio(1, 3)  # all created on the 22nd
    assert by_day["2026-09-22"]["overdue"] is None
    meter = working_hours()
    hours = {t.id: meter.between(t.dispatched_at, t.closed_at) for t in (late, early, third)}
    assert by_day["2026-09-23"]["handling_hours"]["total"] == round(hours[early.id] + hours[third.id], 2)
    assert body["on_time_completion"] == kpis.ratio(2, 3)

    by_department = kpis.kpis(filters, "department")
    groups = {g["key"]: g for g in by_department["groups"]}
    assert set(groups) == {str(north.id), str(south.id)}
    assert groups[str(north.id)]["label"] == north.name
    for dept in (north, south):
        alone = kpis.kpis(KpiFilters(*filters_span(filters), department_id=dept.id))
        for name in (*kpis.RATIOS, "handling_hours", "overdue"):
            assert groups[str(dept.id)][name] == alone[name], name
    for name in kpis.RATIOS:
        assert sum(g[name]["denominator"] for g in groups.values()) == by_department[name]["denominator"]
    week = kpis.kpis(filters, "week")["groups"]
    assert [g["key"] for g in week] == ["2026-W39"] and week[0]["on_time_completion"] == kpis.ratio(2, 3)


def filters_span(filters: KpiFilters) -> tuple[date, date]:
    return filters.start, filters.end
