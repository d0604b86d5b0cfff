"""Reading tickets: filtered lists with keyset (cursor) pagination, the worklists of agents,
departments and managers, and the duplicate hint shown at intake."""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Integer, Select, and_, case, literal, or_, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from core.auth import visible_department_id
from core.calendar import start_of_day
from core.db import UTCDateTime, db, utcnow
from core.disclosure import sees_confidential
from core.errors import ValidationFailed
from core.models import Department, Role, User
from core.privacy import normalize_phone
from hotline.models import (
    HANDLING_STATUSES,
    OPEN_STATUSES,
    Ticket,
    TicketStatus,
    TicketType,
    ticket_assists,
)
from hotline.service import AGENTS, overdue_clause

SORTS = ("created", "due")
NUMBER_RE = re.compile(r"^[A-Z]{2}\d{14}$")
PHONE_QUERY_RE = re.compile(r"^[\d +-]{7,20}$")
# The duplicate hint looks at tickets not yet filed away.
HINT_STATUSES = (*OPEN_STATUSES, TicketStatus.CLOSED, TicketStatus.CALLED_BACK)


@dataclass
class TicketFilters:
    status: list[TicketStatus] = field(default_factory=list)
    type: list[TicketType] = field(default_factory=list)
    overdue: bool | None = None
    department: str | None = None
    region: str | None = None
    enterprise: bool | None = None
    q: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    mine: bool = False
    sort: str = "created"


@dataclass
class Page:
    items: list[Ticket]
    next_cursor: str | None
    limit: int


def _options(stmt: Select[Any]) -> Select[Any]:
    return stmt.options(
        joinedload(Ticket.lead_department), joinedload(Ticket.region), selectinload(Ticket.assisting_departments)
    )


def scoped(stmt: Select[Any], viewer: User) -> Select[Any]:
    """Only the tickets the viewer may see: a handler's department leads or assists."""
    scope = visible_department_id(viewer)
    if scope is None:
        return stmt
    assisted = select(ticket_assists.c.ticket_id).where(ticket_assists.c.department_id == scope)
    return stmt.where(or_(Ticket.lead_department_id == scope, Ticket.id.in_(assisted)))


def _department_id(code: str) -> int:
    dept_id = db.session.scalar(select(Department.id).where(Department.code == code))
    if dept_id is None:
        raise ValidationFailed("Unknown department.", {"department": [f"No department with code {code}."]})
    return dept_id


def _text_clause(q: str, viewer: User) -> Any:
    """Search matches only what the viewer may see: a confidential ticket's text and address are
    searched only for agents and managers; anyone else finds it by its number alone, so a search
    is never an oracle for the caller's name or number (core.disclosure)."""
    q = q.strip()
    if NUMBER_RE.match(q.upper()):
        return Ticket.number == q.upper()
    if PHONE_QUERY_RE.match(q) and viewer.role in AGENTS:
        return Ticket.caller_phone == normalize_phone(q)
    text = or_(Ticket.content.icontains(q, autoescape=True), Ticket.address.icontains(q, autoescape=True))
    if sees_confidential(viewer):
        return text
    return and_(Ticket.confidential.is_(False), text)


def _mine_clause(viewer: User) -> Any:
    if viewer.role == Role.HANDLER:
        return Ticket.taken_by_id == viewer.id
    return Ticket.created_by_id == viewer.id


def filtered(stmt: Select[Any], filters: TicketFilters, viewer: User, now: datetime) -> Select[Any]:
    """Apply the list filters (each one narrows the list)."""
    if filters.status:
        stmt = stmt.where(Ticket.status.in_(filters.status))
    if filters.type:
        stmt = stmt.where(Ticket.type.in_(filters.type))
    if filters.overdue is not None:
        clause = overdue_clause(now)
        stmt = stmt.where(clause if filters.overdue else ~clause)
    if filters.department:
        stmt = stmt.where(Ticket.lead_department_id == _department_id(filters.department))
    if filters.region:
        stmt = stmt.where(Ticket.region_code == filters.region)
    if filters.enterprise is not None:
        stmt = stmt.where(Ticket.is_enterprise.is_(filters.enterprise))
    if filters.q:
        stmt = stmt.where(_text_clause(filters.q, viewer))
    if filters.created_from:
        stmt = stmt.where(Ticket.created_at >= start_of_day(filters.created_from))
    if filters.created_to:
        stmt = stmt.where(Ticket.created_at < start_of_day(filters.created_to + timedelta(days=1)))
    if filters.mine:
        stmt = stmt.where(_mine_clause(viewer))
    return stmt


def encode_cursor(sort: str, ticket: Ticket) -> str:
    key = ticket.created_at if sort == "created" else ticket.handle_due_at
    raw = json.dumps([sort, key.isoformat(), ticket.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[datetime, int]:
    """The (sort key, id) a page ends at; 422 for a cursor this list did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, moment, last_id = json.loads(raw)
        if kind != sort:
            raise ValueError(kind)
        return datetime.fromisoformat(moment), int(last_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise ValidationFailed("Invalid cursor.", {"cursor": ["Not a cursor of this list; start again."]}) from exc


def _keyset(stmt: Select[Any], sort: str, cursor: str | None) -> Select[Any]:
    """Order by (key, id) and continue after the cursor: each page reads ~limit index entries."""
    key = Ticket.created_at if sort == "created" else Ticket.handle_due_at
    if cursor:
        moment, last_id = decode_cursor(cursor, sort)
        here = tuple_(literal(moment, UTCDateTime()), literal(last_id, Integer()))
        row = tuple_(key, Ticket.id)
        stmt = stmt.where(row < here if sort == "created" else row > here)
    if sort == "created":
        return stmt.order_by(key.desc(), Ticket.id.desc())
    return stmt.order_by(key, Ticket.id)


def list_tickets(
    viewer: User, filters: TicketFilters, limit: int, cursor: str | None = None, now: datetime | None = None
) -> Page:
    """One page of the tickets the viewer may see, newest first (or soonest due first)."""
    if filters.sort not in SORTS:
        raise ValidationFailed("Unknown sort.", {"sort": [f"One of {', '.join(SORTS)}."]})
    limit = max(1, min(limit, current_app.config["TICKET_PAGE_SIZE_MAX"]))
    stmt = filtered(scoped(select(Ticket), viewer), filters, viewer, now or utcnow())
    stmt = _keyset(stmt, filters.sort, cursor).limit(limit + 1)
    rows = list(db.session.scalars(_options(stmt)).unique())
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor(filters.sort, items[-1]) if more and items else None, limit)


# -- worklists ---------------------------------------------------------------------------------


def _overdue_first(stmt: Select[Any], now: datetime) -> Select[Any]:
    return stmt.order_by(case((overdue_clause(now), 0), else_=1), Ticket.handle_due_at, Ticket.id)


def my_open_tickets(agent: User, now: datetime, limit: int = 100) -> list[Ticket]:
    """An agent's worklist: the tickets they logged that are not yet filed, overdue first."""
    stmt = select(Ticket).where(
        Ticket.created_by_id == agent.id, Ticket.status.not_in((TicketStatus.ARCHIVED, TicketStatus.MERGED))
    )
    return list(db.session.scalars(_options(_overdue_first(stmt, now)).limit(limit)).unique())


def awaiting_dispatch(limit: int = 100) -> list[Ticket]:
    """Tickets with the agents: logged but not dispatched, or returned (退单) by a department."""
    stmt = select(Ticket).where(Ticket.status.in_((TicketStatus.ACCEPTED, TicketStatus.RETURNED)))
    return list(db.session.scalars(_options(stmt.order_by(Ticket.created_at, Ticket.id)).limit(limit)).unique())


def department_queue(department_id: int, now: datetime, limit: int = 200) -> list[Ticket]:
    """A department's queue: what it leads and has not answered yet, overdue first."""
    stmt = select(Ticket).where(Ticket.lead_department_id == department_id, Ticket.status.in_(HANDLING_STATUSES))
    return list(db.session.scalars(_options(_overdue_first(stmt, now)).limit(limit)).unique())


def assisting_queue(department_id: int, limit: int = 100) -> list[Ticket]:
    """Open tickets where the department assists (协办)."""
    assisted = select(ticket_assists.c.ticket_id).where(ticket_assists.c.department_id == department_id)
    stmt = select(Ticket).where(Ticket.id.in_(assisted), Ticket.status.in_(HANDLING_STATUSES))
    return list(db.session.scalars(_options(stmt.order_by(Ticket.handle_due_at, Ticket.id)).limit(limit)).unique())


def extension_requests(limit: int = 100) -> list[Ticket]:
    """Pending 延期 requests, for managers."""
    stmt = select(Ticket).where(Ticket.extension_requested_days.is_not(None), Ticket.status.in_(HANDLING_STATUSES))
    return list(db.session.scalars(_options(stmt.order_by(Ticket.handle_due_at, Ticket.id)).limit(limit)).unique())


def overdue_tickets(now: datetime, limit: int = 100) -> list[Ticket]:
    """Overdue tickets, not yet supervised first, for managers."""
    stmt = select(Ticket).where(overdue_clause(now))
    stmt = stmt.order_by(Ticket.supervised_at.is_not(None), Ticket.handle_due_at, Ticket.id)
    return list(db.session.scalars(_options(stmt).limit(limit)).unique())


def merged_duplicates(ticket: Ticket) -> list[Ticket]:
    return list(db.session.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.id)))


# -- the duplicate hint ------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateHint:
    ticket: Ticket
    reason: str  # "phone" or "text"
    similarity: float


_WORD_CHARS = re.compile(r"[\W_]+", re.UNICODE)


def _bigrams(text: str) -> set[str]:
    compact = _WORD_CHARS.sub("", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def similarity(a: str, b: str) -> float:
    """Dice coefficient of character bigrams: works for Chinese without word segmentation."""
    left, right = _bigrams(a), _bigrams(b)
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


def duplicate_hints(
    phone: str = "",
    text: str = "",
    region_code: str | None = None,
    exclude_id: int | None = None,
    now: datetime | None = None,
    limit: int = 5,
) -> list[DuplicateHint]:
    """Recent unfiled tickets from the same phone, then those whose text reads alike."""
    config = current_app.config
    since = (now or utcnow()) - timedelta(days=config["TICKET_DUPLICATE_LOOKBACK_DAYS"])
    base = select(Ticket).where(Ticket.created_at >= since, Ticket.status.in_(HINT_STATUSES))
    if exclude_id is not None:
        base = base.where(Ticket.id != exclude_id)
    hints: list[DuplicateHint] = []
    digits = normalize_phone(phone)
    if len(digits) >= 7:
        same_phone = base.where(Ticket.caller_phone == digits).order_by(Ticket.created_at.desc()).limit(limit)
        hints += [DuplicateHint(t, "phone", 1.0) for t in db.session.scalars(_options(same_phone)).unique()]
    if len(_bigrams(text)) >= 3 and len(hints) < limit:
        hints += _text_hints(base, text, region_code, {h.ticket.id for h in hints}, limit - len(hints))
    return hints


def _text_hints(
    base: Select[Any], text: str, region_code: str | None, seen: set[int], limit: int
) -> list[DuplicateHint]:
    config = current_app.config
    stmt = base.where(Ticket.region_code == region_code) if region_code else base
    stmt = stmt.order_by(Ticket.created_at.desc()).limit(config["TICKET_DUPLICATE_SCAN_LIMIT"])
    scored = []
    for ticket in db.session.scalars(stmt):
        score = similarity(text, ticket.content)
        if ticket.id not in seen and score >= config["TICKET_DUPLICATE_MIN_SIMILARITY"]:
            scored.append(DuplicateHint(ticket, "text", round(score, 2)))
    scored.sort(key=lambda h: -h.similarity)
    return scored[:limit]
