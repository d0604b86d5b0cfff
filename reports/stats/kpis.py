"""KPIs from callbacks, rectification cases and 12345 tickets, computed directly from those
(indexed, far smaller than ratings) tables over a required Asia/Shanghai date range.

- 差评回访及时率: bad-review verification callbacks due in the range that were done on time /
  those done or already past due (a pending one not yet due can still be on time).
- 整改按期率: rectification cases due in the range accepted on time / those accepted or past due.
- 按时办结率: tickets closed in the range closed by their handling deadline / tickets closed.
- 回访率: tickets closed in the range that have been called back / tickets closed.
- 涉企 share: tickets created in the range marked 涉企 / tickets created.
- overdue: callbacks and cases pending past their deadline now (not limited to the range).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.calendar import start_of_day
from core.db import db, utcnow
from hotline.models import Ticket, TicketType
from ratings.models import Rating, RatingStatus


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


def _pair(stmt: Any) -> tuple[int, int]:
    row = db.session.execute(stmt).one()
    return int(row[0] or 0), int(row[1] or 0)


def callback_timeliness(filters: KpiFilters) -> dict[str, Any]:
    low, high = _bounds(filters)
    finished = Callback.status.in_([CallbackStatus.DONE, CallbackStatus.UNREACHABLE])
    counted = or_(finished, and_(Callback.status == CallbackStatus.PENDING, Callback.due_at < utcnow()))
    stmt = select(
        func.sum(case((and_(finished, Callback.on_time.is_(True)), 1), else_=0)),
        func.sum(case((counted, 1), else_=0)),
    ).where(
        Callback.purpose == Purpose.VERIFY_BAD_REVIEW,
        Callback.due_at >= low,
        Callback.due_at < high,
        *_where(Callback, Callback.department_id, filters),
    )
    return ratio(*_pair(stmt))


def rectification_on_time(filters: KpiFilters) -> dict[str, Any]:
    low, high = _bounds(filters)
    accepted = RectificationCase.accepted_at.is_not(None)
    live = RectificationCase.status.in_([CaseStatus.OPEN, CaseStatus.SUBMITTED])
    counted = or_(accepted, and_(live, RectificationCase.due_at < utcnow()))
    stmt = select(
        func.sum(case((and_(accepted, RectificationCase.accepted_on_time.is_(True)), 1), else_=0)),
        func.sum(case((counted, 1), else_=0)),
    ).where(
        RectificationCase.due_at >= low,
        RectificationCase.due_at < high,
        *_where(RectificationCase, RectificationCase.department_id, filters),
    )
    return ratio(*_pair(stmt))


def _ticket_filters(filters: KpiFilters) -> list[Any]:
    conditions = _where(Ticket, Ticket.lead_department_id, filters)
    if filters.ticket_type is not None:
        conditions.append(Ticket.type == filters.ticket_type)
    if filters.enterprise is not None:
        conditions.append(Ticket.is_enterprise.is_(filters.enterprise))
    return conditions


def ticket_figures(filters: KpiFilters) -> dict[str, Any]:
    low, high = _bounds(filters)
    closed = [Ticket.closed_at >= low, Ticket.closed_at < high, *_ticket_filters(filters)]
    on_time = func.sum(case((Ticket.closed_at <= Ticket.handle_due_at, 1), else_=0))
    called = func.sum(case((Ticket.called_back_at.is_not(None), 1), else_=0))
    row = db.session.execute(select(on_time, called, func.count()).where(*closed)).one()
    made = [Ticket.created_at >= low, Ticket.created_at < high, *_ticket_filters(filters)]
    enterprise = func.sum(case((Ticket.is_enterprise.is_(True), 1), else_=0))
    share = _pair(select(enterprise, func.count()).where(*made))
    closed_count = int(row[2] or 0)
    return {
        "on_time_completion": ratio(int(row[0] or 0), closed_count),
        "callback_rate": ratio(int(row[1] or 0), closed_count),
        "enterprise_share": ratio(*share),
    }


def overdue(filters: KpiFilters) -> dict[str, int]:
    now = utcnow()
    callbacks = select(func.count()).where(
        Callback.status == CallbackStatus.PENDING,
        Callback.due_at < now,
        *_where(Callback, Callback.department_id, filters),
    )
    cases = select(func.count()).where(
        RectificationCase.status.in_([CaseStatus.OPEN, CaseStatus.SUBMITTED]),
        RectificationCase.due_at < now,
        *_where(RectificationCase, RectificationCase.department_id, filters),
    )
    return {"callbacks": int(db.session.scalar(callbacks) or 0), "rectifications": int(db.session.scalar(cases) or 0)}


def kpis(filters: KpiFilters) -> dict[str, Any]:
    """The `GET /api/v1/stats/kpis` body."""
    return {
        "from": filters.start,
        "to": filters.end,
        "bad_review_callback_timeliness": callback_timeliness(filters),
        "rectification_on_time": rectification_on_time(filters),
        **ticket_figures(filters),
        "overdue": overdue(filters),
    }


def funnel(filters: KpiFilters) -> dict[str, int]:
    """The bad-review funnel for bad reviews (levels 1-2 and hidden bad) rated on the days asked
    for: bad → called back → verified → rectified (accepted) → published."""
    rated = [Rating.local_day >= filters.start, Rating.local_day <= filters.end, Rating.assess_number == 1]
    if filters.department_id is not None:
        rated.append(Rating.department_id == filters.department_id)
    if filters.region_code is not None:
        rated.append(Rating.region_code == filters.region_code)
    bad = or_(Rating.is_bad_review.is_(True), Rating.hidden_bad.is_(True))
    valid = Rating.status == RatingStatus.VALID
    done = Callback.status == CallbackStatus.DONE
    callbacks = (
        select(
            func.sum(case((done, 1), else_=0)),
            func.sum(case((and_(done, Callback.outcome == "verified"), 1), else_=0)),
        )
        .join(Rating, Rating.id == Callback.rating_id)
        .where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW, valid, *rated)
    )
    called, verified = _pair(callbacks)
    cases = (
        select(
            func.sum(case((RectificationCase.accepted_at.is_not(None), 1), else_=0)),
            func.sum(case((RectificationCase.published_at.is_not(None), 1), else_=0)),
        )
        .join(Rating, Rating.id == RectificationCase.rating_id)
        .where(valid, *rated)
    )
    rectified, published = _pair(cases)
    total = db.session.scalar(select(func.count()).select_from(Rating).where(bad, valid, *rated)) or 0
    return {
        "bad": int(total),
        "called_back": called,
        "verified": verified,
        "rectified": rectified,
        "published": published,
    }
