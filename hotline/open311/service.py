"""The Open311 rules: which services are offered, how a request becomes a 12345 ticket (channel
Open311, through hotline.service), which requests and updates a client may read, and the
citizen's updates. Functions flush, never commit; errors are `Open311Error`s, which the views
write in the spec's errors format.

Decisions (docs/open311.md): a request becomes a ticket of type OPEN311_TICKET_TYPE (求助 by
default; 水电气热 items are utilities outages, taken within 30 minutes), waiting for an agent to
dispatch it; its caller is `last_name` + `first_name`, stored like any caller's; only requests
filed through Open311 are readable through Open311 — tickets taken by phone were never offered
for publication.
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager, joinedload
from werkzeug.datastructures import MultiDict

from core.db import db, utcnow
from core.errors import DomainError
from core.models import Role, ServiceItem
from core.notify import notify, staff_with_role
from core.privacy import is_valid_phone, normalize_phone
from hotline import service as tickets
from hotline.models import Channel, Ticket, TicketEvent, TicketType, Urgency
from hotline.open311 import attributes as definitions
from hotline.open311 import keys
from hotline.open311.location import region_for
from hotline.open311.models import ApiKey, CitizenUpdate, Open311Request, ServiceAttribute
from hotline.open311.present import CLOSED_STATUSES, PUBLIC_MOVES
from hotline.open311.schemas import RangeIn, RequestIn, RequestsQuery, UpdateIn, comma_list, messages, present


class Open311Error(Exception):
    """A refusal in the spec's terms: 400 (bad request), 403 (api_key) or 404 (no such thing)."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions)


def _config(key: str) -> Any:
    return current_app.config[key]


def _load(schema: Any, source: dict[str, str]) -> dict[str, Any]:
    try:
        data: dict[str, Any] = schema.load(source)
    except ValidationError as error:
        raise Open311Error(400, *messages(error)) from error
    return data


# -- jurisdiction and keys ---------------------------------------------------------------------


def check_jurisdiction(value: str | None) -> None:
    """One jurisdiction is served: any jurisdiction_id but ours is 404; none at all is accepted
    (the spec makes it optional for single-jurisdiction endpoints). Empty config: any value."""
    expected = _config("OPEN311_JURISDICTION_ID")
    if expected and value and value.strip() and value.strip() != expected:
        raise Open311Error(404, f"jurisdiction_id {value.strip()} not found; this endpoint serves {expected}.")


def authenticate(raw: str | None, now: datetime | None = None) -> ApiKey:
    """The active key sent as `api_key` (403 when missing, unknown or revoked)."""
    if not raw or not raw.strip():
        raise Open311Error(403, "api_key is required to post; ask the hotline administrator for one.")
    key = keys.find_active(raw.strip())
    if key is None:
        raise Open311Error(403, "Invalid api_key.")
    key.last_used_at = now or utcnow()
    return key


# -- services ----------------------------------------------------------------------------------


def offered(stmt: Select[Any]) -> Select[Any]:
    return stmt.where(ServiceItem.is_public.is_(True), ServiceItem.active.is_(True))


def public_services() -> list[tuple[ServiceItem, bool]]:
    """Every public, active service item and whether it has a definition (`metadata`)."""
    items = list(db.session.scalars(offered(select(ServiceItem)).order_by(ServiceItem.code)))
    with_definition = definitions.items_with_attributes([i.id for i in items])
    return [(item, item.id in with_definition) for item in items]


def find_service(code: str) -> ServiceItem | None:
    return db.session.scalar(offered(select(ServiceItem).where(ServiceItem.code == code)))


def service_definition(code: str) -> tuple[ServiceItem, list[ServiceAttribute]]:
    item = find_service(code)
    if item is None:
        raise Open311Error(404, f"service_code {code} not found.")
    return item, definitions.definition(item)


# -- creating a request ------------------------------------------------------------------------


def caller_name(first: str, last: str) -> str:
    """Chinese order (family name first) for Chinese names, "first last" for others."""
    first, last = first.strip(), last.strip()
    if not first or not last:
        return first or last
    if all(ord(char) > 0x2E7F for char in first + last):
        return f"{last}{first}"
    return f"{first} {last}"


def caller_phone(raw: str) -> str:
    if not raw.strip():
        return ""
    if not is_valid_phone(raw):
        raise Open311Error(400, "phone: a mobile number or a landline with its area code.")
    return normalize_phone(raw)


def ticket_kind(item: ServiceItem) -> tuple[TicketType, Urgency]:
    urgent = item.category in _config("OPEN311_UTILITIES_CATEGORIES")
    return TicketType(_config("OPEN311_TICKET_TYPE")), Urgency.UTILITIES if urgent else Urgency.NORMAL


def _content(data: dict[str, Any], item: ServiceItem, details: list[str]) -> str:
    """The ticket text agents read: the description, then the definition's answers."""
    text = data["description"].strip() or item.name
    if details:
        text += "\n\n附加信息 / Details:\n" + "\n".join(details)
    return text


def _note(key: ApiKey, data: dict[str, Any]) -> str:
    parts = [f"Open311 · {key.name}"]
    if data["media_url"]:
        parts.append(f"media: {data['media_url']}")
    if data["address_id"]:
        parts.append(f"address_id: {data['address_id']}")
    return "; ".join(parts)


def create_request(form: MultiDict[str, str], key: ApiKey, now: datetime | None = None) -> Open311Request:
    """POST requests: check the request and file it as a 12345 ticket (受理, channel Open311)."""
    data = _load(RequestIn(), present(form))
    item = find_service(data["service_code"])
    if item is None:
        raise Open311Error(400, f"service_code {data['service_code']} is not a service of this endpoint.")
    attributes = definitions.definition(item)
    accepted, problems = definitions.check_values(attributes, definitions.submitted_values(form))
    if problems:
        raise Open311Error(400, *problems)
    ticket_type, urgency = ticket_kind(item)
    payload = {
        "type": ticket_type.value,
        "urgency": urgency.value,
        "channel": Channel.OPEN311,
        "caller_name": caller_name(data["first_name"], data["last_name"]),
        "caller_phone": caller_phone(data["phone"]),
        "content": _content(data, item, definitions.describe_values(attributes, accepted)),
        "region_code": region_for(data["address_string"], data["lat"], data["long"], item),
        "address": data["address_string"].strip(),
        "latitude": data["lat"],
        "longitude": data["long"],
        "service_item": item.code,
        "note": _note(key, data),
    }
    try:
        ticket = tickets.create_ticket(payload, None, now=now)
    except DomainError as error:  # the hotline's own checks, e.g. a region it does not know
        raise Open311Error(400, error.message) from error
    req = Open311Request(
        ticket=ticket,
        token=secrets.token_urlsafe(16),
        api_key_id=key.id,
        description=data["description"],
        attributes=accepted,
        email=data["email"],
        device_id=data["device_id"],
        account_id=data["account_id"],
        address_id=data["address_id"],
        media_url=data["media_url"],
        created_at=ticket.created_at,
    )
    db.session.add(req)
    db.session.flush()
    return req


# -- reading requests --------------------------------------------------------------------------


def _with_ticket(stmt: Select[Any]) -> Select[Any]:
    """Join the ticket (to filter on it) and load it, with what an answer shows, in one query."""
    ticket = contains_eager(Open311Request.ticket)
    return stmt.join(Open311Request.ticket).options(
        ticket.joinedload(Ticket.service_item),
        ticket.joinedload(Ticket.lead_department),
        ticket.joinedload(Ticket.merged_into),
    )


def get_request(number: str) -> Open311Request:
    req = db.session.scalar(_with_ticket(select(Open311Request)).where(Ticket.number == number))
    if req is None:
        raise Open311Error(404, f"service_request_id {number} not found.")
    return req


def resolve_token(token: str) -> Open311Request:
    req = db.session.scalar(_with_ticket(select(Open311Request)).where(Open311Request.token == token))
    if req is None:
        raise Open311Error(404, f"token {token} not found.")
    return req


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window(data: dict[str, Any], now: datetime | None = None) -> Window:
    """start_date..end_date, at most OPEN311_MAX_DAYS long; the most recent days when absent."""
    span = timedelta(days=_config("OPEN311_MAX_DAYS"))
    start: datetime | None = data.get("start_date")
    end: datetime | None = data.get("end_date")
    if start is None:
        end = end or now or utcnow()
        start = end - span
    elif end is None:
        end = start + span
    if start > end:
        raise Open311Error(400, "start_date is after end_date.")
    if end - start > span:
        raise Open311Error(400, f"start_date to end_date may not span more than {span.days} days.")
    return Window(start, end)


@dataclass
class RequestFilters:
    ids: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    window: Window | None = None


def request_filters(args: MultiDict[str, str], now: datetime | None = None) -> RequestFilters:
    """The filters of GET requests; service_request_id overrides all others (the spec's rule)."""
    data = _load(RequestsQuery(), present(args))
    ids = comma_list(data["service_request_id"])
    if ids:
        return RequestFilters(ids=ids)
    statuses = sorted({s.lower() for s in comma_list(data["status"])})
    return RequestFilters(service_codes=comma_list(data["service_code"]), statuses=statuses, window=window(data, now))


def find_requests(filters: RequestFilters) -> list[Open311Request]:
    """The requests matching the filters, newest first, at most OPEN311_MAX_ROWS."""
    limit = _config("OPEN311_MAX_ROWS")
    stmt = _with_ticket(select(Open311Request))
    if filters.ids:
        stmt = stmt.where(Ticket.number.in_(filters.ids[:limit]))
    else:
        if filters.window is not None:
            stmt = stmt.where(Open311Request.created_at.between(filters.window.start, filters.window.end))
        if filters.service_codes:
            codes = select(ServiceItem.id).where(ServiceItem.code.in_(filters.service_codes))
            stmt = stmt.where(Ticket.service_item_id.in_(codes))
        if len(filters.statuses) == 1:
            closed = Ticket.status.in_(CLOSED_STATUSES)
            stmt = stmt.where(closed if filters.statuses == ["closed"] else ~closed)
    stmt = stmt.order_by(Open311Request.created_at.desc(), Open311Request.id.desc()).limit(limit)
    return list(db.session.scalars(stmt).unique())


def latest_public_events(ticket_ids: list[int]) -> dict[int, TicketEvent]:
    """Each ticket's latest public event (the source of `status_notes`)."""
    if not ticket_ids:
        return {}
    latest = (
        select(func.max(TicketEvent.id))
        .where(TicketEvent.ticket_id.in_(ticket_ids), TicketEvent.move.in_(PUBLIC_MOVES))
        .group_by(TicketEvent.ticket_id)
    )
    stmt = select(TicketEvent).where(TicketEvent.id.in_(latest)).options(joinedload(TicketEvent.department))
    return {event.ticket_id: event for event in db.session.scalars(stmt)}


# -- servicerequestupdates (FixMyStreet's extension) -------------------------------------------


def update_window(args: MultiDict[str, str], now: datetime | None = None) -> Window:
    return window(_load(RangeIn(), present(args)), now)


def hotline_updates(span: Window) -> list[tuple[TicketEvent, Open311Request]]:
    """The public moves of Open311 tickets in the window, oldest first, at most OPEN311_MAX_ROWS:
    what the hotline did, for the client to show its users."""
    stmt = (
        select(TicketEvent, Open311Request)
        .join(Open311Request, Open311Request.ticket_id == TicketEvent.ticket_id)
        .where(TicketEvent.move.in_(PUBLIC_MOVES), TicketEvent.created_at.between(span.start, span.end))
        .options(joinedload(TicketEvent.department), joinedload(Open311Request.ticket))
        .order_by(TicketEvent.created_at, TicketEvent.id)
        .limit(_config("OPEN311_MAX_ROWS"))
    )
    return [(event, req) for event, req in db.session.execute(stmt).unique()]


def post_update(form: MultiDict[str, str], key: ApiKey, now: datetime | None = None) -> CitizenUpdate:
    """An update from the citizen's side on a request this client (the key's name) filed: stored,
    put on the ticket's timeline (staff page and API events), and the agents, managers and the
    lead department's handlers are told; the ticket's state stays theirs to change. A retry
    with the same client `update_id` returns the first update."""
    data = _load(UpdateIn(), present(form))
    number = data["service_request_id"]
    req = db.session.scalar(_with_ticket(select(Open311Request)).where(Ticket.number == number))
    if req is None or req.api_key.name != key.name:
        raise Open311Error(400, f"service_request_id {number} is not a request this client filed.")
    if data["update_id"] is not None:
        same = (CitizenUpdate.api_key_id == key.id, CitizenUpdate.external_id == data["update_id"])
        earlier = db.session.scalar(select(CitizenUpdate).where(*same))
        if earlier is not None:
            return earlier
    update = CitizenUpdate(
        ticket_id=req.ticket_id,
        api_key_id=key.id,
        external_id=data["update_id"],
        status=data["status"].upper(),
        description=data["description"],
        media_url=data["media_url"],
        name=caller_name(data["first_name"], data["last_name"]),
        phone=caller_phone(data["phone"]),
        email=data["email"],
        updated_datetime=data["updated_datetime"],
        created_at=now or utcnow(),
    )
    db.session.add(update)
    db.session.flush()
    ticket = req.ticket
    note = f"市民补充（Open311，{update.status}）/ Citizen update: {update.description}"
    tickets.record_citizen_update(ticket, note, update.created_at)
    staff = staff_with_role(Role.AGENT) + staff_with_role(Role.MANAGER)
    if ticket.lead_department_id is not None:
        staff += staff_with_role(Role.HANDLER, ticket.lead_department_id)
    message = f"工单 {req.ticket.number} 收到市民补充（Open311）/ citizen update via Open311"
    notify(staff, "open311_update", message, "ticket", req.ticket_id)
    return update
