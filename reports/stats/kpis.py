"""KPIs from callbacks, rectification cases and 12345 tickets, computed directly from those
(indexed, far smaller than ratings) tables over a required Asia/Shanghai date range.

- 差评回访及时率: bad-review verification callbacks due in the range that were done on time /
  those done or already past due (a pending one not yet due can still be on time).
- 整改按期率: rectification cases due in the range accepted on time / those accepted or past due.
- 按时办结率: tickets closed in the range closed by their handling deadline / tickets closed.
- 回访率: tickets closed in the range that have been called back / tickets closed.
- 解决率 (resolved, per citizen): nothing records a separate "was it resolved?" answer; the
  citizen's verdict is the satisfaction callback after 办结 (`Purpose.TICKET_SATISFACTION`,
  outcome `level_N`), and an answer at or below BAD_REVIEW_MAX_LEVEL sends the ticket back (重办).
  So: ticket satisfaction callbacks due in the range whose answer did not send the ticket back /
  those answered (unreachable and still pending callbacks are left out: nobody said either way).
- handling hours: working hours (core.calendar, WORKDAY_START_HOUR..WORKDAY_END_HOUR on working
  days) from the last dispatch (or creation, when never dispatched) to the reply, of tickets
  closed in the range: `{tickets, total, average}`. After 重办 the clock restarts at the reopening.
- 涉企 share: tickets created in the range marked 涉企 / tickets created.
- overdue: callbacks and cases pending past their deadline now (not limited to the range).

`group_by` splits each figure by department (the callback's, the case's, the ticket's lead), region,
or the Asia/Shanghai day, week, month or quarter of the moment that put the row in the range.
Department and region groups are one GROUP BY each; periods need the local day of a UTC timestamp,
which SQLite and PostgreSQL do not compute alike, so those rows are streamed (`yield_per`) and
bucketed here. Overdue counts are split by department and region only (they are "now", not a period).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import join

from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.calendar import local_date, start_of_day, working_hours
from core.db import db, utcnow
from hotline.models import Ticket, TicketType
from reports.stats.service import PERIODS, group_order, labels, period_key

KPI_GROUP_BY = ("department", "region", *PERIODS)
RATIOS = (
    "bad_review_callback_timeliness",
    "rectification_on_time",
    "on_time_completion",
    "callback_rate",
    "resolution_rate",
    "enterprise_share",
)
BATCH = 5000
OVERDUE_LIST = 20
LIVE_CASES = (CaseStatus.OPEN, CaseStatus.SUBMITTED)


@dataclass(frozen=True)
class KpiFilters:
    start: date
    end: date
    department_id: int | None = None
    region_code: str | None = None
    ticket_type: TicketType | None = None
    enterprise: bool | None = None


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": round(numerator / denominator, 4) if denominator else None,
    }


def _bounds(filters: KpiFilters) -> tuple[Any, Any]:
    return start_of_day(filters.start), start_of_day(filters.end + timedelta(days=1))


def _where(model: Any, department: Any, filters: KpiFilters) -> list[Any]:
    conditions = []
    if filters.department_id is not None:
        conditions.append(department == filters.department_id)
    if filters.region_code is not None:
        conditions.append(model.region_code == filters.region_code)
    return conditions


def _ticket_filters(filters: KpiFilters) -> list[Any]:
    conditions = _where(Ticket, Ticket.lead_department_id, filters)
    if filters.ticket_type is not None:
        conditions.append(Ticket.type == filters.ticket_type)
    if filters.enterprise is not None:
        conditions.append(Ticket.is_enterprise.is_(filters.enterprise))
    return conditions


# --- ratio KPIs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The rows of one ratio KPI: where they come from, which of them count below and above the
    line, and the columns they group by (department, region, the moment that falls in the range)."""

    origin: Any
    department: Any
    region: Any
    moment: Any
    numerator: Any
    denominator: Any
    where: list[Any]

    def column(self, group_by: str) -> Any:
        return {"department": self.department, "region": self.region}.get(group_by, self.moment)


def _in_range(column: Any, filters: KpiFilters) -> list[Any]:
    low, high = _bounds(filters)
    return [column >= low, column < high]


def _callback_timeliness(filters: KpiFilters) -> Source:
    finished = Callback.status.in_([CallbackStatus.DONE, CallbackStatus.UNREACHABLE])
    counted = or_(finished, and_(Callback.status == CallbackStatus.PENDING, Callback.due_at < utcnow()))
    return Source(
        Callback,
        Callback.department_id,
        Callback.region_code,
        Callback.due_at,
        and_(finished, Callback.on_time.is_(True)),
        counted,
        [
            Callback.purpose == Purpose.VERIFY_BAD_REVIEW,
            *_in_range(Callback.due_at, filters),
            *_where(Callback, Callback.department_id, filters),
        ],
    )


def _rectification_on_time(filters: KpiFilters) -> Source:
    accepted = RectificationCase.accepted_at.is_not(None)
    live = RectificationCase.status.in_(LIVE_CASES)
    return Source(
        RectificationCase,
        RectificationCase.department_id,
        RectificationCase.region_code,
        RectificationCase.due_at,
        and_(accepted, RectificationCase.accepted_on_time.is_(True)),
        or_(accepted, and_(live, RectificationCase.due_at < utcnow())),
        [
            *_in_range(RectificationCase.due_at, filters),
            *_where(RectificationCase, RectificationCase.department_id, filters),
        ],
    )


def _closed_tickets(numerator: Any) -> Callable[[KpiFilters], Source]:
    def source(filters: KpiFilters) -> Source:
        return Source(
            Ticket,
            Ticket.lead_department_id,
            Ticket.region_code,
            Ticket.closed_at,
            numerator,
            Ticket.id.is_not(None),
            [*_in_range(Ticket.closed_at, filters), *_ticket_filters(filters)],
        )

    return source


def _enterprise_share(filters: KpiFilters) -> Source:
    return Source(
        Ticket,
        Ticket.lead_department_id,
        Ticket.region_code,
        Ticket.created_at,
        Ticket.is_enterprise.is_(True),
        Ticket.id.is_not(None),
        [*_in_range(Ticket.created_at, filters), *_ticket_filters(filters)],
    )


def answer_outcomes(resolved: bool | None = None) -> list[str]:
    """The outcomes of answered ticket satisfaction callbacks (`level_1`..`level_5`): all, only
    those that left the ticket resolved (above BAD_REVIEW_MAX_LEVEL), or only those that did not."""
    worst_bad = int(current_app.config["BAD_REVIEW_MAX_LEVEL"])
    levels = range(1, 6)
    if resolved is not None:
        levels = range(worst_bad + 1, 6) if resolved else range(1, worst_bad + 1)
    return [f"level_{level}" for level in levels]


def _resolution(filters: KpiFilters) -> Source:
    answered = and_(Callback.status == CallbackStatus.DONE, Callback.outcome.in_(answer_outcomes()))
    where = [
        Callback.purpose == Purpose.TICKET_SATISFACTION,
        *_in_range(Callback.due_at, filters),
        *_where(Callback, Callback.department_id, filters),
    ]
    origin: Any = Callback
    if filters.ticket_type is not None or filters.enterprise is not None:
        origin = join(Callback, Ticket, and_(Callback.subject_type == "ticket", Callback.subject_id == Ticket.id))
        if filters.ticket_type is not None:
            where.append(Ticket.type == filters.ticket_type)
        if filters.enterprise is not None:
            where.append(Ticket.is_enterprise.is_(filters.enterprise))
    return Source(
        origin,
        Callback.department_id,
        Callback.region_code,
        Callback.due_at,
        and_(answered, Callback.outcome.in_(answer_outcomes(resolved=True))),
        answered,
        where,
    )


SOURCES: dict[str, Callable[[KpiFilters], Source]] = {
    "bad_review_callback_timeliness": _callback_timeliness,
    "rectification_on_time": _rectification_on_time,
    "on_time_completion": _closed_tickets(Ticket.closed_at <= Ticket.handle_due_at),
    "callback_rate": _closed_tickets(Ticket.called_back_at.is_not(None)),
    "resolution_rate": _resolution,
    "enterprise_share": _enterprise_share,
}

Counts = dict[Any, list[int]]


def _add(buckets: Counts, key: Any, numbers: Iterable[Any]) -> None:
    bucket = buckets.setdefault(key, [0, 0])
    for i, n in enumerate(numbers):
        bucket[i] += int(n or 0)


def count(source: Source, group_by: str | None = None) -> Counts:
    """{group key: [numerator, denominator]}; the key is None without `group_by` (and for rows
    without a department or region)."""
    above = case((source.numerator, 1), else_=0)
    below = case((source.denominator, 1), else_=0)
    buckets: Counts = {}
    if group_by in PERIODS:
        stmt = select(source.moment, above, below).select_from(source.origin).where(*source.where)
        for moment, n, d in db.session.execute(stmt.execution_options(yield_per=BATCH)):
            _add(buckets, period_key(local_date(moment), str(group_by)), (n, d))
        return buckets
    sums = [func.sum(above), func.sum(below)]
    if group_by is None:
        row = db.session.execute(select(*sums).select_from(source.origin).where(*source.where)).one()
        _add(buckets, None, row)
        return buckets
    key = source.column(group_by)
    stmt = select(key, *sums).select_from(source.origin).where(*source.where).group_by(key)
    for row in db.session.execute(stmt):
        _add(buckets, row[0] or None, row[1:])
    return buckets


# --- handling time in working hours ------------------------------------------------------------


def handling_start(dispatched_at: datetime | None, created_at: datetime) -> datetime:
    """When the department's clock started: the last dispatch (reset by 重办), else creation."""
    return dispatched_at or created_at


def handling_hours(filters: KpiFilters, group_by: str | None = None) -> dict[Any, list[float]]:
    """{group key: [tickets, working hours]} over tickets closed in the range, streamed."""
    meter = working_hours()  # before streaming: the calendar may need its own query
    key = {"department": Ticket.lead_department_id, "region": Ticket.region_code}.get(group_by or "", Ticket.id)
    stmt = select(Ticket.dispatched_at, Ticket.created_at, Ticket.closed_at, key).where(
        *_in_range(Ticket.closed_at, filters), *_ticket_filters(filters)
    )
    buckets: dict[Any, list[float]] = {}
    row: Any
    for row in db.session.execute(stmt.execution_options(yield_per=BATCH)):
        dispatched, created, closed, raw = row
        group: Any = None
        if group_by in PERIODS:
            group = period_key(local_date(closed), str(group_by))
        elif group_by is not None:
            group = raw or None
        bucket = buckets.setdefault(group, [0, 0.0])
        bucket[0] += 1
        bucket[1] += meter.between(handling_start(dispatched, created), closed)
    return buckets


def hours_figure(tickets: float, total: float) -> dict[str, Any]:
    return {
        "tickets": int(tickets),
        "total": round(total, 2),
        "average": round(total / tickets, 2) if tickets else None,
    }


# --- overdue ---------------------------------------------------------------------------------


def _overdue_callbacks(filters: KpiFilters) -> list[Any]:
    return [
        Callback.status == CallbackStatus.PENDING,
        Callback.due_at < utcnow(),
        *_where(Callback, Callback.department_id, filters),
    ]


def _overdue_cases(filters: KpiFilters) -> list[Any]:
    return [
        RectificationCase.status.in_(LIVE_CASES),
        RectificationCase.due_at < utcnow(),
        *_where(RectificationCase, RectificationCase.department_id, filters),
    ]


def overdue_counts(filters: KpiFilters, group_by: str | None = None) -> dict[Any, dict[str, int]]:
    """{group key: {"callbacks": n, "rectifications": n}}, by department or region or not at all."""
    found: dict[Any, dict[str, int]] = {}
    for name, model, conditions in (
        ("callbacks", Callback, _overdue_callbacks(filters)),
        ("rectifications", RectificationCase, _overdue_cases(filters)),
    ):
        key = {"department": model.department_id, "region": model.region_code}.get(group_by or "")
        if key is None:
            rows: Iterable[Any] = [(None, db.session.scalar(select(func.count()).where(*conditions)))]
        else:
            rows = db.session.execute(select(key, func.count()).where(*conditions).group_by(key))
        for group, n in rows:
            entry = found.setdefault(group or None, {"callbacks": 0, "rectifications": 0})
            entry[name] += int(n or 0)
    return found


def overdue(filters: KpiFilters) -> dict[str, int]:
    return overdue_counts(filters).get(None, {"callbacks": 0, "rectifications": 0})


@dataclass(frozen=True)
class OverdueItem:
    """One callback or rectification case past its deadline."""

    kind: str  # "callback" | "case"
    id: int
    detail: str  # a callback's purpose, a case's status
    department: str
    due_at: datetime
    late: timedelta


def overdue_list(filters: KpiFilters, limit: int = OVERDUE_LIST) -> tuple[list[OverdueItem], int]:
    """What is overdue now, longest overdue first, at most `limit` items, and how many there are."""
    now = utcnow()
    callbacks = db.session.scalars(
        select(Callback).where(*_overdue_callbacks(filters)).order_by(Callback.due_at, Callback.id).limit(limit)
    )
    cases = db.session.scalars(
        select(RectificationCase)
        .where(*_overdue_cases(filters))
        .order_by(RectificationCase.due_at, RectificationCase.id)
        .limit(limit)
    )
    items = [
        OverdueItem(
            "callback", c.id, c.purpose.value, c.department.name if c.department else "", c.due_at, now - c.due_at
        )
        for c in callbacks
    ]
    items += [
        OverdueItem("case", c.id, c.status.value, c.department.name, c.due_at, now - c.due_at)
        for c in cases
        if c.due_at is not None
    ]
    items.sort(key=lambda item: (item.due_at, item.kind, item.id))
    counts = overdue(filters)
    return items[:limit], counts["callbacks"] + counts["rectifications"]


# --- the body --------------------------------------------------------------------------------


def _figures(ratios: dict[str, Counts], hours: dict[Any, list[float]], key: Any) -> dict[str, Any]:
    body = {name: ratio(*ratios[name].get(key, [0, 0])) for name in RATIOS}
    body["handling_hours"] = hours_figure(*hours.get(key, [0, 0.0]))
    return body


def _total(buckets: dict[Any, list[Any]]) -> list[Any]:
    """One bucket summing all groups: every row lands in exactly one group."""
    total: list[Any] = [0, 0]
    for numbers in buckets.values():
        total = [a + b for a, b in zip(total, numbers, strict=True)]
    return total


def kpis(filters: KpiFilters, group_by: str | None = None) -> dict[str, Any]:
    """The `GET /api/v1/stats/kpis` body: the figures over the whole range and, with `group_by`,
    `groups` with the same figures per group, in key order (no department or region: key "",
    label "-", last)."""
    ratios = {name: count(SOURCES[name](filters), group_by) for name in RATIOS}
    hours = handling_hours(filters, group_by)
    late = overdue_counts(filters, group_by if group_by in ("department", "region") else None)
    totals = {name: {None: _total(buckets)} for name, buckets in ratios.items()}
    body: dict[str, Any] = {
        "from": filters.start,
        "to": filters.end,
        **_figures(totals, {None: _total(hours)}, None),
        "overdue": {name: sum(entry[name] for entry in late.values()) for name in ("callbacks", "rectifications")},
    }
    if group_by is None:
        return body
    keys: set[Any] = set(hours)
    for buckets in ratios.values():
        keys |= set(buckets)
    if group_by in ("department", "region"):
        keys |= set(late)
    names = labels(group_by, [k for k in keys if k is not None])
    body["groups"] = [
        {
            "key": "" if key is None else str(key),
            "label": "-" if key is None else names.get(key, ""),
            **_figures(ratios, hours, key),
            "overdue": late.get(key, {"callbacks": 0, "rectifications": 0}) if group_by not in PERIODS else None,
        }
        for key in sorted(keys, key=group_order)
    ]
    return body
