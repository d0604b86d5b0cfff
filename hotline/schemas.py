"""Marshmallow schemas for tickets: separate load (unknown=RAISE) and dump schemas (the moves'
input schemas are in hotline.inputs).

Dump schemas show the caller as the signed-in viewer may see them (hotline.service.caller_view):
in full only to agents and managers on a ticket's own page, masked in lists, and not at all
(保密) to handlers when the caller asked for confidentiality. Datetimes are Asia/Shanghai.
"""

from datetime import UTC, datetime
from typing import Any

from flask import g
from flask_login import current_user
from marshmallow import Schema, fields, validate, validates_schema

from core.auth import current_staff
from core.calendar import Deadline, local_date, local_tz
from core.db import utcnow
from core.disclosure import hidden_for
from core.errors import DomainError, ValidationFailed
from core.models import User
from core.privacy import scrub_text
from core.schemas import InSchema
from hotline.inputs import CODE_LIST, NOTE
from hotline.models import Channel, Ticket, TicketEvent, TicketStatus, TicketType, Urgency
from hotline.service import address_for, caller_view, content_for, moves_for, redact_confidential

EXCERPT = 120


def _viewer() -> User | None:
    """The reader the answer is written for, worked out once per signed-in user and request (a
    ticket's answer asks a dozen times, a page of fifty tickets hundreds); a sign-in or sign-out
    within the request is a new reader."""
    user = current_user._get_current_object()
    known = g.get("hotline_viewer")
    if known is None or known[0] is not user:
        known = g.hotline_viewer = (user, current_staff())
    viewer: User | None = known[1]
    return viewer


class LocalDateTime(fields.DateTime):
    """An aware datetime written in Asia/Shanghai with its offset (2026-10-20T23:59:59+08:00)."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return super()._serialize(value.astimezone(local_tz()), attr, obj, **kwargs)


def _enum(cls: Any, **kwargs: Any) -> fields.Enum:
    return fields.Enum(cls, by_value=True, **kwargs)


class TicketIn(InSchema):
    type = _enum(TicketType, required=True)
    urgency = _enum(Urgency, load_default=Urgency.NORMAL)
    channel = _enum(Channel, load_default=Channel.PHONE)
    is_enterprise = fields.Bool(load_default=False, metadata={"description": "涉企: enterprise-related"})
    confidential = fields.Bool(load_default=False, metadata={"description": "Hide the caller from departments"})
    caller_name = fields.Str(load_default="", validate=validate.Length(max=64))
    caller_phone = fields.Str(load_default="", validate=validate.Length(max=32))
    leader_name = fields.Str(load_default="", validate=validate.Length(max=64))
    content = fields.Str(required=True, validate=validate.Length(min=2, max=4000))
    region_code = fields.Str(required=True, validate=validate.Length(min=6, max=12))
    address = fields.Str(load_default="", validate=validate.Length(max=200))
    latitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    service_item = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=64))
    category = fields.Str(load_default="", validate=validate.Length(max=64))
    lead_department = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"description": "Dispatch at once to this department (code)"},
    )
    assisting_departments = CODE_LIST
    note = NOTE


class TicketQuery(InSchema):
    status = fields.List(_enum(TicketStatus))
    type = fields.List(_enum(TicketType))
    overdue = fields.Bool()
    department = fields.Str(validate=validate.Length(max=32))
    region = fields.Str(validate=validate.Length(max=12))
    enterprise = fields.Bool(metadata={"description": "涉企"})
    q = fields.Str(validate=validate.Length(max=64), metadata={"description": "Number, phone or text"})
    created_from = fields.Date(metadata={"description": "YYYY-MM-DD, Asia/Shanghai"})
    created_to = fields.Date(metadata={"description": "YYYY-MM-DD, included"})
    mine = fields.Bool()
    sort = fields.Str(load_default="created", validate=validate.OneOf(["created", "due"]))
    limit = fields.Int(validate=validate.Range(min=1), metadata={"description": "At most TICKET_PAGE_SIZE_MAX"})
    cursor = fields.Str(validate=validate.Length(max=200))

    @validates_schema
    def _cursor_of_this_list(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("cursor"):
            check_cursor(data["cursor"], data.get("sort", "created"))


class BadCursor(DomainError):
    """A cursor this list did not make: 400, whatever is inside it."""

    status = 400


CURSOR_ERROR = {"cursor": ["Not a cursor of this list; start again."]}
LARGEST_ID = 2**63 - 1


def check_cursor(cursor: str, sort: str) -> None:
    """Only a cursor the list itself wrote goes on to the query: it decodes, its moment carries
    an offset (a naive one cannot be compared with stored times) and its id fits a column."""
    from hotline.queries import decode_cursor

    try:
        moment, last_id = decode_cursor(cursor, sort)
        if moment.tzinfo is None or moment.utcoffset() is None or not 0 < last_id <= LARGEST_ID:
            raise ValueError(cursor)
        moment.astimezone(UTC)  # 0001-01-01T00:00+14:00 has no UTC time
    except (ValidationFailed, OverflowError, ValueError) as exc:
        raise BadCursor("Invalid cursor.", CURSOR_ERROR) from exc


class DuplicateQuery(InSchema):
    phone = fields.Str(load_default="", validate=validate.Length(max=32))
    text = fields.Str(load_default="", validate=validate.Length(max=4000))
    region = fields.Str(load_default=None, validate=validate.Length(max=12))
    exclude_number = fields.Str(
        load_default=None,
        data_key="exclude",
        validate=validate.Length(max=32),
        metadata={"description": "A ticket number to leave out (the ticket being edited)"},
    )


def _dept_code(t: Ticket) -> str | None:
    return t.lead_department.code if t.lead_department else None


def _dept_name(t: Ticket) -> str | None:
    return t.lead_department.name if t.lead_department else None


def _overdue(t: Ticket) -> bool:
    return t.is_overdue(utcnow())


class TicketSummaryOut(Schema):
    """A ticket in a list: the caller masked (or hidden), the text scrubbed and shortened."""

    id = fields.Int()
    number = fields.Str()
    type = _enum(TicketType)
    urgency = _enum(Urgency)
    channel = _enum(Channel)
    status = _enum(TicketStatus)
    is_enterprise = fields.Bool()
    confidential = fields.Bool()
    caller_name = fields.Function(lambda t: caller_view(t, _viewer()).name)
    caller_phone = fields.Function(lambda t: caller_view(t, _viewer()).phone)
    caller_hidden = fields.Function(lambda t: caller_view(t, _viewer()).hidden)
    content = fields.Function(lambda t: content_for(t, _viewer())[:EXCERPT])
    region_code = fields.Str()
    region_name = fields.Function(lambda t: t.region.name)
    address = fields.Function(lambda t: address_for(t, _viewer()))
    lead_department = fields.Function(_dept_code)
    lead_department_name = fields.Function(_dept_name)
    created_at = LocalDateTime()
    take_due_at = LocalDateTime()
    handle_due_at = LocalDateTime()
    handle_due_date = fields.Function(lambda t: local_date(t.handle_due_at).isoformat())
    overdue = fields.Function(_overdue)
    supervised = fields.Function(lambda t: t.supervised_at is not None)
    extension_pending = fields.Bool()
    version = fields.Int()


class EventOut(Schema):
    id = fields.Int()
    move = fields.Str()
    from_status = _enum(TicketStatus, allow_none=True)
    to_status = _enum(TicketStatus)
    actor = fields.Function(lambda e: e.actor.display_name if e.actor else None)
    actor_role = fields.Function(lambda e: e.actor.role.value if e.actor else "system")
    department = fields.Function(lambda e: e.department.code if e.department else None)
    note = fields.Function(lambda e: event_note(e, _viewer()))
    created_at = LocalDateTime()


def event_note(row: TicketEvent, viewer: User | None) -> str:
    """A timeline note: as written for agents and managers; for anyone who may not know a
    confidential caller, redacted (core.disclosure)."""
    if hidden_for(viewer, row.ticket.confidential):
        return redact_confidential(row.note, row.ticket)
    return row.note


def _deadline_warning(t: Ticket) -> str | None:
    return Deadline(t.handle_due_at, t.deadline_estimated).warning


class TicketOut(TicketSummaryOut):
    """One ticket with its timeline and the moves the viewer may make now."""

    caller_name = fields.Function(lambda t: caller_view(t, _viewer(), detail=True).name)
    caller_phone = fields.Function(lambda t: caller_view(t, _viewer(), detail=True).phone)
    content = fields.Function(lambda t: content_for(t, _viewer(), detail=True))
    leader_name = fields.Str()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    service_item = fields.Function(lambda t: t.service_item.code if t.service_item else None)
    service_item_name = fields.Function(lambda t: t.service_item.name if t.service_item else None)
    category = fields.Str()
    assisting_departments = fields.Function(lambda t: [d.code for d in t.assisting_departments])
    deadline_estimated = fields.Bool()
    deadline_warning = fields.Function(_deadline_warning)
    dispatched_at = LocalDateTime(allow_none=True)
    taken_at = LocalDateTime(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)
    called_back_at = LocalDateTime(allow_none=True)
    archived_at = LocalDateTime(allow_none=True)
    supervised_at = LocalDateTime(allow_none=True)
    reply = fields.Str()
    extension_count = fields.Int()
    extension_requested_days = fields.Int(allow_none=True)
    reopen_count = fields.Int()
    merged_into = fields.Function(lambda t: t.merged_into.number if t.merged_into else None)
    allowed_moves = fields.Function(lambda t: _moves(t))
    events = fields.List(fields.Nested(EventOut))


def _moves(t: Ticket) -> list[str]:
    viewer = _viewer()
    return moves_for(viewer, t) if viewer is not None else []


class TicketPageOut(Schema):
    items = fields.List(fields.Nested(TicketSummaryOut))
    next_cursor = fields.Str(allow_none=True, metadata={"description": "Pass as `cursor` for the next page"})
    limit = fields.Int()


class DuplicateOut(Schema):
    number = fields.Function(lambda h: h.ticket.number)
    status = fields.Function(lambda h: h.ticket.status.value)
    type = fields.Function(lambda h: h.ticket.type.value)
    created_at = fields.Function(lambda h: h.ticket.created_at.astimezone(local_tz()).isoformat())
    caller_name = fields.Function(lambda h: caller_view(h.ticket, _viewer()).name)
    caller_phone = fields.Function(lambda h: caller_view(h.ticket, _viewer()).phone)
    content = fields.Function(lambda h: scrub_text(h.ticket.content)[:EXCERPT])
    reason = fields.Str(metadata={"description": "phone: same caller; text: similar request"})
    similarity = fields.Float()
