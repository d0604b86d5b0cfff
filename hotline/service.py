"""The ticket rules: the state machine (受理 → 派单 → 签收 → 办理 → 答复/办结 → 回访 → 归档, with 退单,
延期, 督办, 重办 and 并单 beside it), deadlines, and who may see what of a ticket.

The moves are one table, MOVES (roles, states, input schema, effect), made through one entry,
`make_move`, which the API endpoints, the staff pages, jobs and other packages all call. Every
move checks who acts, the version the caller saw and whether the move is legal from the ticket's
state; it then changes the ticket and writes one append-only event, and flushes. The caller
commits. An illegal move is a `Conflict` (409) whose `errors["allowed"]` lists the moves that are
legal now.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import current_app
from marshmallow import missing
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value

from core.auth import ensure_visible, visible_department_id
from core.calendar import deadline_after, local_date
from core.db import db, insert_now, is_postgresql, utcnow
from core.disclosure import Sight, hidden_for, person_sight, redact_person, text_for
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Department, Role, ServiceItem, User
from core.notify import notify, staff_with_role
from core.privacy import is_valid_phone, mask_address, mask_name, mask_phone, normalize_phone
from core.refdata import get_region, service_item_ref
from core.schemas import InSchema
from core.signals import ticket_closed
from hotline.inputs import DispatchIn, ExtensionApproveIn, ExtensionRequestIn, MergeIn, MoveIn, ReplyIn, ReturnIn
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


def _unchanged(_moment: datetime) -> None:
    return None


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Step:
    """What one move does besides what every move does. Its effect prepares it and checks the
    input first (a bad input is refused before the move itself is checked); then `change(now)`
    alters the ticket, the event gets `note` (None: the caller's note) and `after()` follows the
    event (notices, signals)."""

    change: Callable[[datetime], None] = _unchanged
    note: str | None = None
    after: Callable[[], None] = _nothing


# A move's effect: (the ticket, who acts, the move's input as its schema loads it) -> its Step.
Effect = Callable[[Ticket, User | None, dict[str, Any]], Step]


@dataclass(frozen=True)
class Move:
    """A move of the state machine, one row of MOVES: who may make it, from which states and to
    which state, the input it takes (`schema`), what it does besides (`effect`), and its API
    endpoint: POST /api/v1/tickets/<number>/<path> (the name when no path), with `doc` as the
    operation's summary. The staff pages post the same input to /hotline/tickets/<number>/<name>."""

    name: str
    roles: tuple[Role, ...]
    sources: tuple[TicketStatus, ...]
    target: TicketStatus | None  # None keeps the status (延期, 督办, a handling note)
    schema: type[InSchema]
    effect: Effect
    condition: Callable[[Ticket, datetime], bool] = field(default=_always)
    path: str = ""
    doc: str = ""

    @property
    def api_path(self) -> str:
        return self.path or self.name

    def legal(self, ticket: Ticket, now: datetime) -> bool:
        return ticket.status in self.sources and self.condition(ticket, now)

    def inputs(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with the schema's default for each field it leaves out (callers in code pass
        only what they mean, e.g. `{"note": ...}`)."""
        return {**{name: value() if callable(value) else value for name, value in _defaults(self.schema)}, **data}


@cache
def _defaults(schema: type[InSchema]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, f.load_default) for name, f in schema().fields.items() if f.load_default is not missing)


# MOVES, the table of the moves, stands below the effects it names (`-- the moves --`).
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


def _check(move: Move, ticket: Ticket, actor: User | None, now: datetime, expected_version: int | None) -> None:
    name = move.name
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


def _record(ticket: Ticket, row: TicketEvent) -> TicketEvent:
    """Write a move's event (`_event_row`) with the ticket's change."""
    ticket.updated_at = row.created_at  # every move bumps the version, so a stale write always fails
    row.ticket = ticket
    db.session.add(row)
    db.session.flush()
    if "events" in ticket.__dict__:  # loaded: view-only, so nothing adds the new event but this
        set_committed_value(ticket, "events", [*ticket.events, row])
    return row


def _event_row(
    ticket: Ticket,
    name: str,
    from_status: TicketStatus | None,
    actor: User | None,
    note: str,
    now: datetime,
    department_id: int | None = None,
) -> TicketEvent:
    """A move's event; `department_id` is the department concerned (the lead after the move, or
    the one that returned the ticket)."""
    return TicketEvent(
        ticket_id=ticket.id,
        move=name,
        from_status=from_status,
        to_status=ticket.status,
        actor_id=actor.id if actor else None,
        department_id=ticket.lead_department_id or department_id,
        note=note.strip(),
        created_at=now,
    )


def make_move(
    name: str,
    ticket: Ticket,
    actor: User | None,
    data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Make the move `name` (a key of MOVES) on the ticket, as `actor` (None: the system — jobs
    and downstream packages), with `data` as the move's schema loads it (`version`, when given:
    the version the caller saw). Checks the input, who acts, the version and whether the move is
    legal now; then changes the ticket, writes the move's event and flushes. The caller commits."""
    move = MOVES[name]
    inputs = move.inputs(data or {})
    step = move.effect(ticket, actor, inputs)
    now = now or utcnow()
    _check(move, ticket, actor, now, inputs.get("version"))
    before, department_before = ticket.status, ticket.lead_department_id
    step.change(now)
    if move.target is not None:
        ticket.status = move.target
    note = inputs.get("note", "") if step.note is None else step.note
    _record(ticket, _event_row(ticket, name, before, actor, note, now, department_before))
    step.after()
    return ticket


CITIZEN_UPDATE = "citizen_update"


def record_citizen_update(ticket: Ticket, note: str, now: datetime | None = None) -> TicketEvent:
    """市民补充: what the citizen added after filing (Open311's servicerequestupdates), on the
    ticket's timeline. Not a move anyone makes: the state stays where it is."""
    return _record(ticket, _event_row(ticket, CITIZEN_UPDATE, ticket.status, None, note, now or utcnow()))


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


@cache
def _counter_upsert(postgresql: bool) -> Any:
    """The day's counter upsert, built once per dialect (building it costs more than running it)."""
    insert = pg_insert if postgresql else sqlite_insert
    return (
        insert(TicketCounter)
        .values(day=bindparam("day"), last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + 1})
        .returning(TicketCounter.last)
    )


def next_number(moment: datetime) -> str:
    """The next readable number of the local day, e.g. HN20261127000123 (an atomic upsert)."""
    day = local_date(moment)
    sequence = db.session.connection().execute(_counter_upsert(is_postgresql()), {"day": day}).scalar_one()
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


# -- the moves: what each does besides, and the table ------------------------------------------


def _no_effect(_ticket: Ticket, _actor: User | None, _data: dict[str, Any]) -> Step:
    return Step()


def _stamp(column: str) -> Effect:
    """The effect of a move that only records when it was made, in `column`."""

    def effect(ticket: Ticket, _actor: User | None, _data: dict[str, Any]) -> Step:
        return Step(lambda moment: setattr(ticket, column, moment))

    return effect


def _dispatch(ticket: Ticket, _actor: User | None, data: dict[str, Any]) -> Step:
    """派单: to one lead department (主办), with optional assisting ones (协办); its handlers are told."""
    lead = _department(data["department"], "department")
    assisting = _assisting(data["assisting_departments"], lead)

    def change(moment: datetime) -> None:
        if ticket.dispatched_at is not None:  # dispatched again after 退单: a fresh time to take
            ticket.take_due_at = take_due_from(ticket, moment)
        ticket.lead_department_id = lead.id
        ticket.lead_department = lead
        ticket.assisting_departments = assisting
        ticket.dispatched_at = moment

    def after() -> None:
        message = f"工单 {ticket.number} 已派至本单位，请及时签收。"
        notify(staff_with_role(Role.HANDLER, lead.id), "ticket_dispatched", message, "ticket", ticket.id)

    return Step(change, after=after)


def _merge(ticket: Ticket, _actor: User | None, data: dict[str, Any]) -> Step:
    """并单: a duplicate closes, merged into its original ticket (`into`: its number)."""
    original = db.session.scalar(select(Ticket).where(Ticket.number == data["into"]))
    if original is None or original.id == ticket.id or original.status in (S.MERGED, S.ARCHIVED):
        raise ValidationFailed(
            "Merge into another ticket that is neither merged nor archived.",
            {"into": [f"{data['into']} cannot take this ticket."]},
        )

    def change(_moment: datetime) -> None:
        ticket.merged_into_id = original.id
        ticket.extension_requested_days = None

    return Step(change, data["note"] or f"→ {original.number}")


def _take(ticket: Ticket, actor: User | None, _data: dict[str, Any]) -> Step:
    """签收: the lead department takes the ticket."""

    def change(moment: datetime) -> None:
        ticket.taken_at = moment
        ticket.taken_by_id = actor.id if actor else None

    return Step(change)


def _reply(ticket: Ticket, _actor: User | None, data: dict[str, Any]) -> Step:
    """答复/办结: the citizen's answer closes the ticket; announces `ticket_closed`."""
    answer = data["reply"].strip()
    if not answer:
        raise ValidationFailed("Write the reply to the citizen.", {"reply": ["Required."]})

    def change(moment: datetime) -> None:
        ticket.reply = answer
        ticket.closed_at = moment

    def after() -> None:
        ticket_closed.send(current_app._get_current_object(), ticket=ticket)  # type: ignore[attr-defined]

    return Step(change, after=after)


def _return(ticket: Ticket, _actor: User | None, data: dict[str, Any]) -> Step:
    """退单: the department sends the ticket back to dispatch; the reason is the event's note."""
    if not data["reason"].strip():
        raise ValidationFailed("Say why the ticket is returned.", {"reason": ["Required."]})

    def change(_moment: datetime) -> None:
        ticket.lead_department_id = None
        ticket.lead_department = None
        ticket.assisting_departments = []
        ticket.taken_at = None
        ticket.taken_by_id = None
        ticket.extension_requested_days = None

    return Step(change, data["reason"])


def _extension_days(days: int) -> int:
    most = _config("TICKET_EXTENSION_MAX_WORKING_DAYS")
    if not 1 <= days <= most:
        raise ValidationFailed("Too long an extension.", {"working_days": [f"Between 1 and {most} working days."]})
    return days


def _request_extension(ticket: Ticket, _actor: User | None, data: dict[str, Any]) -> Step:
    """延期 requested: the department asks a manager for more working days; the managers are told."""
    days = _extension_days(data["working_days"])
    reason = data["reason"].strip()
    if not reason:
        raise ValidationFailed("Say why more time is needed.", {"reason": ["Required."]})

    def change(_moment: datetime) -> None:
        ticket.extension_requested_days = days

    def after() -> None:
        message = f"工单 {ticket.number} 申请延期 {days} 个工作日 / extension requested"
        notify(staff_with_role(Role.MANAGER), "ticket_extension", message, "ticket", ticket.id)

    return Step(change, f"+{days}: {reason}", after)


def _approve_extension(ticket: Ticket, _actor: User | None, data: dict[str, Any]) -> Step:
    """延期 approved: the handling deadline moves by the working days asked for (or fewer)."""

    def change(_moment: datetime) -> None:
        days = _extension_days(data["working_days"] or ticket.extension_requested_days or 0)
        deadline = deadline_after(ticket.handle_due_at, days)
        ticket.handle_due_at = deadline.due_at
        ticket.deadline_estimated = ticket.deadline_estimated or deadline.estimated
        ticket.extension_count += 1
        ticket.extension_requested_days = None

    return Step(change)


def _reject_extension(ticket: Ticket, _actor: User | None, _data: dict[str, Any]) -> Step:
    """延期 refused: the deadline stays; the department may ask again (only approvals count)."""
    return Step(lambda _moment: setattr(ticket, "extension_requested_days", None))


def _supervise(ticket: Ticket, actor: User | None, data: dict[str, Any]) -> Step:
    """督办, once per handling round: the managers (but the one acting) and the lead department's
    handlers are told."""

    def after() -> None:
        people = [u for u in staff_with_role(Role.MANAGER) if actor is None or u.id != actor.id]
        if ticket.lead_department_id is not None:
            people += staff_with_role(Role.HANDLER, ticket.lead_department_id)
        message = f"工单 {ticket.number} 已超期，督办 / overdue, under supervision"
        notify(people, "ticket_supervised", message, "ticket", ticket.id)

    return Step(lambda moment: setattr(ticket, "supervised_at", moment), data["note"] or "超期督办 overdue", after)


def _reopen(ticket: Ticket, _actor: User | None, _data: dict[str, Any]) -> Step:
    """重办: back to the lead department with fresh deadlines, as if dispatched now."""

    def change(moment: datetime) -> None:
        deadlines = compute_deadlines(ticket.type, ticket.urgency, moment)
        ticket.take_due_at, ticket.handle_due_at = deadlines.take_due_at, deadlines.handle_due_at
        ticket.deadline_estimated = deadlines.estimated
        ticket.dispatched_at = moment
        ticket.closed_at = ticket.called_back_at = ticket.taken_at = ticket.supervised_at = None
        ticket.taken_by_id = None
        ticket.reopen_count += 1

    return Step(change)


WHILE_HANDLED = (S.TAKEN, S.IN_PROGRESS)

# The ticket state machine, one row a move, in the order `allowed_moves` lists them; the system
# (actor None) may make any move. `doc` is the summary of the move's API operation.
# fmt: off
MOVES: dict[str, Move] = {m.name: m for m in (
    Move("dispatch", AGENTS, (S.ACCEPTED, S.RETURNED), S.DISPATCHED, DispatchIn, _dispatch,
         doc="派单: send to a lead department, with optional assisting departments."),
    Move("merge", AGENTS, OPEN_STATUSES, S.MERGED, MergeIn, _merge,
         doc="并单: merge this duplicate into its original ticket (`into`: the original's number)."),
    Move("take", HANDLERS, (S.DISPATCHED,), S.TAKEN, MoveIn, _take,
         doc="签收: the lead department takes the ticket."),
    Move("handle", HANDLERS, WHILE_HANDLED, S.IN_PROGRESS, MoveIn, _no_effect,
         doc="办理: start handling or record progress."),
    Move("reply", HANDLERS, WHILE_HANDLED, S.CLOSED, ReplyIn, _reply,
         doc="答复/办结: answer the citizen and close the ticket."),
    Move("return", HANDLERS, HANDLING_STATUSES, S.RETURNED, ReturnIn, _return,
         doc="退单: send the ticket back to dispatch, with the reason."),
    Move("request_extension", HANDLERS, WHILE_HANDLED, None, ExtensionRequestIn, _request_extension,
         _extension_available, path="extension",
         doc="延期: ask a manager for more working days (approved at most once per ticket)."),
    Move("approve_extension", MANAGERS, WHILE_HANDLED, None, ExtensionApproveIn, _approve_extension,
         _extension_pending, path="extension/approve",
         doc="Approve the pending extension: the handling deadline moves by working days."),
    Move("reject_extension", MANAGERS, WHILE_HANDLED, None, MoveIn, _reject_extension,
         _extension_pending, path="extension/reject",
         doc="Refuse the pending extension; the deadline stays."),
    Move("supervise", MANAGERS, HANDLING_STATUSES, None, MoveIn, _supervise, _supervisable,
         doc="督办: supervise an overdue ticket (once per handling round)."),
    Move("reopen", AGENTS, (S.CLOSED, S.CALLED_BACK), S.DISPATCHED, MoveIn, _reopen,
         doc="重办: the citizen is not satisfied; back to the lead department with fresh deadlines."),
    Move("callback", AGENTS, (S.CLOSED,), S.CALLED_BACK, MoveIn, _stamp("called_back_at"),
         doc="回访: record that the citizen was called back."),
    Move("archive", AGENTS, (S.CLOSED, S.CALLED_BACK), S.ARCHIVED, MoveIn, _stamp("archived_at"), _archivable,
         doc="归档: file the ticket after its callback."),
)}
# fmt: on


# -- creating ----------------------------------------------------------------------------------


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
        updated_at=now,
        created_by_id=actor.id if actor else None,
        assisting_departments=[],  # known empty: the answer reads it without a query
    )
    # The day's counter row last, just before the insert: its lock is held until the commit.
    ticket.number = next_number(now)
    # A new ticket and its first event go in at once (core.db.insert_now), not by a flush.
    insert_now(ticket)
    first = insert_now(_event_row(ticket, CREATE, None, actor, data.get("note", ""), now))
    # What the insert knows already, held as loaded: the answer reads none of it again (inside
    # the write transaction, while the day's counter row is locked).
    for name, value in (("region", region), ("service_item", item), ("created_by", actor), ("events", [first])):
        set_committed_value(ticket, name, value)
    set_committed_value(first, "ticket", ticket)
    if data.get("lead_department"):
        dispatch = {
            "department": data["lead_department"],
            "assisting_departments": data.get("assisting_departments", []),
        }
        make_move("dispatch", ticket, actor, dispatch, now)
    return ticket


def overdue_clause(now: datetime) -> Any:
    """SQL for Ticket.is_overdue."""
    return and_(
        Ticket.status.in_(HANDLING_STATUSES),
        or_(Ticket.handle_due_at < now, and_(Ticket.status == S.DISPATCHED, Ticket.take_due_at < now)),
    )
