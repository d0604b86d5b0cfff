"""The ticket rules: the state machine (受理 → 派单 → 签收 → 办理 → 答复/办结 → 回访 → 归档, with 退单,
延期, 督办, 重办 and 并单 beside it), deadlines, and who may see what of a ticket.

Every move checks who acts, the version the caller saw and whether the move is legal from the
ticket's state; it then changes the ticket and writes one append-only event, and flushes. The
caller commits. An illegal move is a `Conflict` (409) whose `errors["allowed"]` lists the moves
that are legal now.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.auth import ensure_visible, visible_department_id
from core.calendar import deadline_after, local_date
from core.db import db, is_postgresql, utcnow
from core.disclosure import Sight, hidden_for, person_sight, redact_person, text_for
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Department, Role, ServiceItem, User
from core.notify import notify, staff_with_role
from core.privacy import is_valid_phone, mask_address, mask_name, mask_phone, normalize_phone
from core.refdata import get_region, service_item_ref
from core.signals import ticket_closed
from hotline.models import (
    HANDLING_STATUSES,
    OPEN_STATUSES,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketStatus,
    TicketType,
    Urgency,
)

S = TicketStatus
AGENTS = (Role.AGENT, Role.MANAGER)
HANDLERS = (Role.HANDLER,)
MANAGERS = (Role.MANAGER,)
READERS = (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.HANDLER)


def _config(key: str) -> Any:
    return current_app.config[key]


# -- the state machine -------------------------------------------------------------------------


def _always(_ticket: Ticket, _now: datetime) -> bool:
    return True


def _extension_available(ticket: Ticket, _now: datetime) -> bool:
    return not ticket.extension_pending and ticket.extension_count < _config("TICKET_EXTENSION_MAX")


def _extension_pending(ticket: Ticket, _now: datetime) -> bool:
    return ticket.extension_pending


def _supervisable(ticket: Ticket, now: datetime) -> bool:
    return ticket.supervised_at is None and ticket.is_overdue(now)


def _archivable(ticket: Ticket, _now: datetime) -> bool:
    # Archive after the callback (回访), or straight away when there is nobody to call back.
    return ticket.status == S.CALLED_BACK or not ticket.caller_phone


@dataclass(frozen=True)
class Move:
    """A move of the state machine: who may make it, from which states, and to which state."""

    name: str
    roles: tuple[Role, ...]
    sources: tuple[TicketStatus, ...]
    target: TicketStatus | None  # None keeps the status (延期, 督办, a handling note)
    condition: Callable[[Ticket, datetime], bool] = field(default=_always)

    def legal(self, ticket: Ticket, now: datetime) -> bool:
        return ticket.status in self.sources and self.condition(ticket, now)


MOVES: dict[str, Move] = {
    m.name: m
    for m in (
        Move("dispatch", AGENTS, (S.ACCEPTED, S.RETURNED), S.DISPATCHED),
        Move("merge", AGENTS, OPEN_STATUSES, S.MERGED),
        Move("take", HANDLERS, (S.DISPATCHED,), S.TAKEN),
        Move("handle", HANDLERS, (S.TAKEN, S.IN_PROGRESS), S.IN_PROGRESS),
        Move("reply", HANDLERS, (S.TAKEN, S.IN_PROGRESS), S.CLOSED),
        Move("return", HANDLERS, HANDLING_STATUSES, S.RETURNED),
        Move("request_extension", HANDLERS, (S.TAKEN, S.IN_PROGRESS), None, _extension_available),
        Move("approve_extension", MANAGERS, (S.TAKEN, S.IN_PROGRESS), None, _extension_pending),
        Move("reject_extension", MANAGERS, (S.TAKEN, S.IN_PROGRESS), None, _extension_pending),
        Move("supervise", MANAGERS, HANDLING_STATUSES, None, _supervisable),
        Move("reopen", AGENTS, (S.CLOSED, S.CALLED_BACK), S.DISPATCHED),
        Move("callback", AGENTS, (S.CLOSED,), S.CALLED_BACK),
        Move("archive", AGENTS, (S.CLOSED, S.CALLED_BACK), S.ARCHIVED, _archivable),
    )
}
CREATE = "create"


def allowed_moves(ticket: Ticket, now: datetime | None = None) -> list[str]:
    """The moves that are legal from the ticket's state now, whoever makes them."""
    now = now or utcnow()
    return [name for name, move in MOVES.items() if move.legal(ticket, now)]


def may_make(user: User | None, move: Move, ticket: Ticket) -> bool:
    """Whether this user's role (and, for handlers, department) lets them make the move."""
    if user is None:
        return True  # the system: jobs and downstream packages
    if not user.has_role(*move.roles):
        return False
    return user.role != Role.HANDLER or ticket.lead_department_id == user.department_id


def moves_for(user: User, ticket: Ticket, now: datetime | None = None) -> list[str]:
    """The legal moves this user may make on the ticket (what a page offers them)."""
    return [name for name in allowed_moves(ticket, now) if may_make(user, MOVES[name], ticket)]


def _check(name: str, ticket: Ticket, actor: User | None, now: datetime, expected_version: int | None) -> Move:
    move = MOVES[name]
    if actor is not None:
        ensure_ticket_visible(actor, ticket)
        if not may_make(actor, move, ticket):
            raise Forbidden(f"Your role may not {name.replace('_', ' ')} this ticket.")
    if expected_version is not None and expected_version != ticket.version:
        raise Conflict(
            "The ticket was changed by someone else; reload it and try again.",
            {"version": [f"You sent version {expected_version}; the ticket is at version {ticket.version}."]},
        )
    if not move.legal(ticket, now):
        allowed = allowed_moves(ticket, now)
        raise Conflict(
            f"Cannot {name.replace('_', ' ')} a ticket that is {ticket.status.value}; "
            f"allowed moves: {', '.join(allowed) or 'none'}.",
            {"allowed": allowed},
        )
    return move


def _record(
    ticket: Ticket,
    name: str,
    from_status: TicketStatus | None,
    actor: User | None,
    note: str,
    now: datetime,
    department_id: int | None = None,
) -> TicketEvent:
    """Write the move's event; `department_id` is the department concerned (the lead after the
    move, or the one that returned the ticket)."""
    ticket.updated_at = now  # every move bumps the version, so a stale write always fails
    row = TicketEvent(
        ticket=ticket,
        move=name,
        from_status=from_status,
        to_status=ticket.status,
        actor_id=actor.id if actor else None,
        department_id=ticket.lead_department_id or department_id,
        note=note.strip(),
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _move(
    name: str,
    ticket: Ticket,
    actor: User | None,
    note: str,
    now: datetime | None,
    expected_version: int | None,
    change: Callable[[datetime], None] | None = None,
) -> Ticket:
    """Check the move, apply `change`, set the new status and write the event."""
    now = now or utcnow()
    move = _check(name, ticket, actor, now, expected_version)
    before, department_before = ticket.status, ticket.lead_department_id
    if change is not None:
        change(now)
    if move.target is not None:
        ticket.status = move.target
    _record(ticket, name, before, actor, note, now, department_before)
    return ticket


CITIZEN_UPDATE = "citizen_update"


def record_citizen_update(ticket: Ticket, note: str, now: datetime | None = None) -> TicketEvent:
    """市民补充: what the citizen added after filing (Open311's servicerequestupdates), on the
    ticket's timeline. Not a move anyone makes: the state stays where it is."""
    return _record(ticket, CITIZEN_UPDATE, ticket.status, None, note, now or utcnow())


def replay(events: Iterable[TicketEvent]) -> TicketStatus | None:
    """The state a ticket's events lead to; raises ValueError if the chain is broken."""
    state: TicketStatus | None = None
    for row in events:
        if row.from_status != state:
            raise ValueError(f"event {row.id}: from {row.from_status} but the ticket was {state}")
        state = row.to_status
    return state


# -- deadlines and numbers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    take_due_at: datetime
    handle_due_at: datetime
    estimated: bool


def compute_deadlines(ticket_type: TicketType, urgency: Urgency, moment: datetime) -> Deadlines:
    """Time limits from config: minutes to take for emergencies and outages, else working days."""
    handle_days = _config("TICKET_HANDLE_WORKING_DAYS")[ticket_type.value]
    if urgency == Urgency.EMERGENCY:
        take_at = moment + timedelta(minutes=_config("TICKET_TAKE_MINUTES_EMERGENCY"))
        return Deadlines(take_at, moment + timedelta(hours=_config("TICKET_HANDLE_HOURS_EMERGENCY")), False)
    handle = deadline_after(moment, handle_days)
    if urgency == Urgency.UTILITIES:
        take_at = moment + timedelta(minutes=_config("TICKET_TAKE_MINUTES_UTILITIES"))
        return Deadlines(take_at, handle.due_at, handle.estimated)
    take = deadline_after(moment, _config("TICKET_TAKE_WORKING_DAYS"))
    return Deadlines(take.due_at, handle.due_at, handle.estimated or take.estimated)


def take_due_from(ticket: Ticket, moment: datetime) -> datetime:
    """A fresh deadline to take, counted from `moment` (re-dispatch, reopen)."""
    return compute_deadlines(ticket.type, ticket.urgency, moment).take_due_at


def format_number(day: Any, sequence: int) -> str:
    return f"{_config('TICKET_NUMBER_PREFIX')}{day:%Y%m%d}{sequence:06d}"


def next_number(moment: datetime) -> str:
    """The next readable number of the local day, e.g. HN20261127000123 (an atomic upsert)."""
    day = local_date(moment)
    insert = pg_insert if is_postgresql() else sqlite_insert
    stmt = (
        insert(TicketCounter)
        .values(day=day, last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + 1})
        .returning(TicketCounter.last)
    )
    sequence = db.session.execute(stmt).scalar_one()
    return format_number(day, sequence)


# -- reference lookups -------------------------------------------------------------------------


def _department(code: str, field_name: str) -> Department:
    """The active department a picker names by code or by name (Chinese or English)."""
    named = (Department.code == code) | (Department.name == code) | (Department.name_en == code)
    dept = db.session.scalar(select(Department).where(named).order_by(Department.active.desc(), Department.code))
    if dept is None or not dept.active:
        raise ValidationFailed("Unknown department.", {field_name: [f"No active department with code {code}."]})
    return dept


def _assisting(codes: Sequence[str], lead: Department) -> list[Department]:
    found: dict[int, Department] = {}
    for code in codes:
        dept = _department(code, "assisting_departments")
        if dept.id != lead.id:
            found[dept.id] = dept
    return list(found.values())


def _service_item(code: str | None) -> ServiceItem | None:
    return service_item_ref(code, "service_item")


def _caller_phone(raw: str) -> str:
    if not raw.strip():
        return ""
    if not is_valid_phone(raw):
        raise ValidationFailed("Invalid phone number.", {"caller_phone": ["A mobile or a landline with area code."]})
    return normalize_phone(raw)


def get_by_number(number: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        raise NotFound("Ticket not found.")
    return ticket


def get_ticket_for_system(ticket_id: int) -> Ticket:
    """A ticket by id, for jobs and downstream packages acting as the system (no visibility rule)."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("Ticket not found.")
    return ticket


def get_ticket(number: str, viewer: User) -> Ticket:
    """The ticket with this number, or 404 (also when the viewer's department may not see it)."""
    ticket = get_by_number(number)
    ensure_ticket_visible(viewer, ticket)
    return ticket


# -- who sees what -----------------------------------------------------------------------------


def ensure_ticket_visible(viewer: User, ticket: Ticket) -> None:
    """404 for a handler outside the lead and assisting departments (existence stays hidden)."""
    scope = visible_department_id(viewer)
    if scope is not None and scope in ticket.assisting_department_ids:
        return
    ensure_visible(viewer, ticket.lead_department_id, "Ticket")


@dataclass(frozen=True)
class CallerView:
    """The caller as one viewer may see them: in full, masked, or hidden (保密)."""

    name: str | None
    phone: str | None
    hidden: bool


def caller_view(ticket: Ticket, viewer: User | None, detail: bool = False) -> CallerView:
    """The caller as `viewer` may see them (core.disclosure decides): agents and managers in full
    on the ticket's page and masked in lists; the lead department's handlers in full on its page
    too — they must reach the caller — unless the caller asked for confidentiality, when nobody
    but agents and managers sees anything of them."""
    sight = person_sight(
        viewer, confidential=ticket.confidential, department_id=ticket.lead_department_id, detail=detail
    )
    if sight == Sight.HIDDEN:
        return CallerView(None, None, True)
    if sight == Sight.FULL:
        return CallerView(ticket.caller_name, ticket.caller_phone, False)
    return CallerView(mask_name(ticket.caller_name), mask_phone(ticket.caller_phone), False)


def redact_confidential(text: str, ticket: Ticket) -> str:
    """Text a confidential caller wrote, for a department: no number (not even masked), no name."""
    return redact_person(text, [ticket.caller_name])


def content_for(ticket: Ticket, viewer: User | None, detail: bool = False) -> str:
    """The request's text: phone and ID numbers scrubbed except for agents and managers on the
    ticket page; for a confidential caller, departments see no trace of the number or name."""
    if detail and viewer is not None and viewer.role in AGENTS:
        return ticket.content
    return text_for(ticket.content, viewer, confidential=ticket.confidential, names=[ticket.caller_name])


def address_for(ticket: Ticket, viewer: User | None) -> str:
    """Where: in full, except that a confidential caller's address stops at the district for
    anyone who may not know who they are (it may be their home)."""
    if hidden_for(viewer, ticket.confidential):
        return redact_person(mask_address(ticket.address), [ticket.caller_name])
    return ticket.address


# -- creating and dispatching ------------------------------------------------------------------


def create_ticket(data: dict[str, Any], actor: User | None, *, now: datetime | None = None) -> Ticket:
    """受理: log a ticket; with `lead_department` it is dispatched at once (a second event)."""
    if actor is not None and not actor.has_role(*AGENTS):
        raise Forbidden("Your role may not create tickets.")
    now = now or utcnow()
    ticket_type, urgency = TicketType(data["type"]), Urgency(data.get("urgency", Urgency.NORMAL))
    region = get_region(data["region_code"])
    item = _service_item(data.get("service_item"))
    deadlines = compute_deadlines(ticket_type, urgency, now)
    ticket = Ticket(
        number=next_number(now),
        type=ticket_type,
        urgency=urgency,
        channel=data.get("channel", "phone"),
        is_enterprise=data.get("is_enterprise", False),
        confidential=data.get("confidential", False),
        caller_name=data.get("caller_name", "").strip(),
        caller_phone=_caller_phone(data.get("caller_phone", "")),
        leader_name=data.get("leader_name", "").strip(),
        content=data["content"].strip(),
        region_code=region.code,
        address=data.get("address", "").strip(),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        service_item_id=item.id if item else None,
        category=data.get("category") or (item.category if item else ""),
        status=S.ACCEPTED,
        take_due_at=deadlines.take_due_at,
        handle_due_at=deadlines.handle_due_at,
        deadline_estimated=deadlines.estimated,
        created_at=now,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(ticket)
    _record(ticket, CREATE, None, actor, data.get("note", ""), now)
    if data.get("lead_department"):
        dispatch(ticket, actor, data["lead_department"], data.get("assisting_departments", ()), now=now)
    return ticket


def dispatch(
    ticket: Ticket,
    actor: User | None,
    department_code: str,
    assisting_codes: Sequence[str] = (),
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """派单: send the ticket to one lead department (主办), with optional assisting ones (协办)."""
    lead = _department(department_code, "department")
    assisting = _assisting(assisting_codes, lead)

    def change(moment: datetime) -> None:
        if ticket.dispatched_at is not None:  # dispatched again after 退单: a fresh time to take
            ticket.take_due_at = take_due_from(ticket, moment)
        ticket.lead_department_id = lead.id
        ticket.lead_department = lead
        ticket.assisting_departments = assisting
        ticket.dispatched_at = moment

    moved = _move("dispatch", ticket, actor, note, now, expected_version, change)
    message = f"工单 {ticket.number} 已派至本单位，请及时签收。"
    notify(staff_with_role(Role.HANDLER, lead.id), "ticket_dispatched", message, "ticket", ticket.id)
    return moved


def merge(
    ticket: Ticket,
    actor: User | None,
    into_number: str,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """并单: close a duplicate by merging it into its original ticket."""
    original = db.session.scalar(select(Ticket).where(Ticket.number == into_number))
    if original is None or original.id == ticket.id or original.status in (S.MERGED, S.ARCHIVED):
        raise ValidationFailed(
            "Merge into another ticket that is neither merged nor archived.",
            {"into": [f"{into_number} cannot take this ticket."]},
        )

    def change(_moment: datetime) -> None:
        ticket.merged_into_id = original.id
        ticket.extension_requested_days = None

    return _move("merge", ticket, actor, note or f"→ {original.number}", now, expected_version, change)


# -- the department's moves --------------------------------------------------------------------


def take(
    ticket: Ticket,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """签收: the lead department takes the ticket."""

    def change(moment: datetime) -> None:
        ticket.taken_at = moment
        ticket.taken_by_id = actor.id if actor else None

    return _move("take", ticket, actor, note, now, expected_version, change)


def handle(
    ticket: Ticket,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """办理: start handling, or record progress while handling."""
    return _move("handle", ticket, actor, note, now, expected_version)


def reply(
    ticket: Ticket,
    actor: User | None,
    answer: str,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """答复/办结: answer the citizen and close the ticket; announces `ticket_closed`."""
    if not answer.strip():
        raise ValidationFailed("Write the reply to the citizen.", {"reply": ["Required."]})

    def change(moment: datetime) -> None:
        ticket.reply = answer.strip()
        ticket.closed_at = moment

    _move("reply", ticket, actor, note, now, expected_version, change)
    ticket_closed.send(current_app._get_current_object(), ticket=ticket)  # type: ignore[attr-defined]
    return ticket


def return_ticket(
    ticket: Ticket,
    actor: User | None,
    reason: str,
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """退单: the department sends the ticket back to dispatch, saying why."""
    if not reason.strip():
        raise ValidationFailed("Say why the ticket is returned.", {"reason": ["Required."]})

    def change(_moment: datetime) -> None:
        ticket.lead_department_id = None
        ticket.lead_department = None
        ticket.assisting_departments = []
        ticket.taken_at = None
        ticket.taken_by_id = None
        ticket.extension_requested_days = None

    return _move("return", ticket, actor, reason, now, expected_version, change)


# -- 延期 and 督办 -------------------------------------------------------------------------------


def _extension_days(days: int) -> int:
    most = _config("TICKET_EXTENSION_MAX_WORKING_DAYS")
    if not 1 <= days <= most:
        raise ValidationFailed("Too long an extension.", {"working_days": [f"Between 1 and {most} working days."]})
    return days


def request_extension(
    ticket: Ticket,
    actor: User | None,
    working_days: int,
    reason: str,
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """延期 requested: the department asks a manager for more working days (once per ticket)."""
    days = _extension_days(working_days)
    if not reason.strip():
        raise ValidationFailed("Say why more time is needed.", {"reason": ["Required."]})

    def change(_moment: datetime) -> None:
        ticket.extension_requested_days = days

    _move("request_extension", ticket, actor, f"+{days}: {reason.strip()}", now, expected_version, change)
    message = f"工单 {ticket.number} 申请延期 {days} 个工作日 / extension requested"
    notify(staff_with_role(Role.MANAGER), "ticket_extension", message, "ticket", ticket.id)
    return ticket


def approve_extension(
    ticket: Ticket,
    actor: User | None,
    working_days: int | None = None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """延期 approved: the handling deadline moves by the working days asked for (or fewer)."""

    def change(_moment: datetime) -> None:
        days = _extension_days(working_days or ticket.extension_requested_days or 0)
        deadline = deadline_after(ticket.handle_due_at, days)
        ticket.handle_due_at = deadline.due_at
        ticket.deadline_estimated = ticket.deadline_estimated or deadline.estimated
        ticket.extension_count += 1
        ticket.extension_requested_days = None

    return _move("approve_extension", ticket, actor, note, now, expected_version, change)


def reject_extension(
    ticket: Ticket,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """延期 refused: the deadline stays; the department may ask again (only approvals count)."""

    def change(_moment: datetime) -> None:
        ticket.extension_requested_days = None

    return _move("reject_extension", ticket, actor, note, now, expected_version, change)


def supervise(
    ticket: Ticket,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """督办: a manager (or the overdue sweep, actor None) supervises an overdue ticket, once per
    handling round; the managers and the lead department's handlers are notified."""

    def change(moment: datetime) -> None:
        ticket.supervised_at = moment

    _move("supervise", ticket, actor, note or "超期督办 overdue", now, expected_version, change)
    people = [u for u in staff_with_role(Role.MANAGER) if actor is None or u.id != actor.id]
    if ticket.lead_department_id is not None:
        people += staff_with_role(Role.HANDLER, ticket.lead_department_id)
    message = f"工单 {ticket.number} 已超期，督办 / overdue, under supervision"
    notify(people, "ticket_supervised", message, "ticket", ticket.id)
    return ticket


# -- after the reply: 回访, 重办, 归档 -------------------------------------------------------------


def record_callback_done(
    ticket: Ticket,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """回访: the citizen was called back after the reply."""

    def change(moment: datetime) -> None:
        ticket.called_back_at = moment

    return _move("callback", ticket, actor, note, now, expected_version, change)


def reopen(
    ticket: Ticket, actor: User | None, note: str, *, now: datetime | None = None, expected_version: int | None = None
) -> Ticket:
    """重办: the citizen is not satisfied; the ticket goes back to its lead department with fresh
    deadlines (actor None: the system, e.g. the callbacks package)."""

    def change(moment: datetime) -> None:
        deadlines = compute_deadlines(ticket.type, ticket.urgency, moment)
        ticket.take_due_at, ticket.handle_due_at = deadlines.take_due_at, deadlines.handle_due_at
        ticket.deadline_estimated = deadlines.estimated
        ticket.dispatched_at = moment
        ticket.closed_at = ticket.called_back_at = ticket.taken_at = ticket.supervised_at = None
        ticket.taken_by_id = None
        ticket.reopen_count += 1

    return _move("reopen", ticket, actor, note, now, expected_version, change)


def archive(
    ticket: Ticket,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """归档: file the ticket after its callback (or at once when there is no phone to call)."""

    def change(moment: datetime) -> None:
        ticket.archived_at = moment

    return _move("archive", ticket, actor, note, now, expected_version, change)


def overdue_clause(now: datetime) -> Any:
    """SQL for Ticket.is_overdue."""
    return and_(
        Ticket.status.in_(HANDLING_STATUSES),
        or_(Ticket.handle_due_at < now, and_(Ticket.status == S.DISPATCHED, Ticket.take_due_at < now)),
    )
