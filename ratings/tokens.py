"""Rating tokens: service events (办件) and their single-use tokens, standing counter QR codes,
the links and QR codes a token gives, resolving a token to what it lets a citizen rate, and the
service events of closed 12345 tickets with the link sent to their caller.

Functions flush, never commit; the view, page or job that calls them commits once. They raise
core.errors domain errors and never look at the request. Where time matters they take `now`
(the entry point's moment, utcnow() unless given).
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol, cast

from flask import current_app
from sqlalchemy import Select, Table, and_, bindparam, select, update

from core import messages
from core.auth import get_visible, token_digest, visible_department_id
from core.cursor import PreparedWrite
from core.db import db, mapped_columns, utcnow, write
from core.errors import Conflict, Gone, NotFound
from core.models import CitizenMessage, Department, Region, ServiceItem, User
from core.prepared import PreparedLookup, as_loaded, in_session
from core.privacy import is_valid_phone, normalize_phone
from ratings import audit, links
from ratings.issuers import SYSTEM, IssuingParty, place
from ratings.models import (
    Channel,
    EventKind,
    RaterType,
    Rating,
    RatingToken,
    ServiceEvent,
    StandingCode,
    TokenStatus,
)

STANDING_PREFIX = "s."
MIN_TOKEN_BYTES = 16  # 128 bits, the floor whatever RATING_TOKEN_BYTES says
SATISFACTION_MESSAGE = "satisfaction"


def _cfg(key: str) -> Any:
    return current_app.config[key]


# --- issued tokens and their links --------------------------------------------------------


class TokenLinks:
    """The citizen's link and QR code of a plain token (ratings.links), for whatever holds one."""

    token: str

    @property
    def rate_url(self) -> str:
        return links.rate_url(self.token)

    @property
    def qr_url(self) -> str:
        return links.qr_url(self.token)


@dataclass(frozen=True)
class IssuedToken(TokenLinks):
    """A service event's token in plain text, as it exists only at the moment it is issued."""

    event: ServiceEvent
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class StandingIssued(TokenLinks):
    """A new standing QR code with its token in plain text, shown once."""

    code: StandingCode
    token: str


def new_token(prefix: str = "") -> str:
    """A fresh random token: at least 128 bits from `secrets`, URL-safe."""
    return prefix + secrets.token_urlsafe(max(MIN_TOKEN_BYTES, int(_cfg("RATING_TOKEN_BYTES"))))


def revoke_unused(event: ServiceEvent, assess_number: int = 1) -> None:
    """Revoke the round's unused token, if any: nobody can rate with it any more."""
    db.session.execute(
        update(RatingToken)
        .where(
            RatingToken.event_id == event.id,
            RatingToken.assess_number == assess_number,
            RatingToken.status == TokenStatus.ACTIVE,
        )
        .values(status=TokenStatus.REVOKED)
        .execution_options(synchronize_session=False)
    )


def issue_token(
    event: ServiceEvent, assess_number: int = 1, token: str | None = None, *, now: datetime | None = None
) -> IssuedToken:
    """A new token for the event; any earlier unused one for the same rating round is revoked."""
    revoke_unused(event, assess_number)
    now = now or utcnow()
    token = token or new_token()
    expires_at = now + timedelta(days=_cfg("RATING_TOKEN_TTL_DAYS"))
    db.session.add(
        RatingToken(
            event_id=event.id,
            token_hash=token_digest(token),
            assess_number=assess_number,
            created_at=now,
            expires_at=expires_at,
        )
    )
    db.session.flush()
    return IssuedToken(event, token, expires_at)


# --- service events -----------------------------------------------------------------------


def create_service_event(
    data: Mapping[str, Any], party: IssuingParty = SYSTEM, *, now: datetime | None = None
) -> IssuedToken:
    """办件: a rateable service event with its first token, placed within what `party` may issue
    for (see ratings.issuers), recording who issued it, how and from where."""
    now = now or utcnow()
    where = place(data, party)
    event = ServiceEvent(
        kind=EventKind(data.get("kind") or EventKind.COUNTER),
        department_id=where.department.id if where.department else None,
        service_item_id=where.service_item.id if where.service_item else None,
        region_code=where.region_code,
        external_ref=data.get("external_ref") or "",
        staff_ref=data.get("staff") or "",
        created_by_id=party.user.id if party.user else None,
        issued_via=party.via,
        issuer_id=party.issuer.id if party.issuer else None,
        issuer_address=party.address[:64],
        created_at=now,
    )
    db.session.add(event)
    db.session.flush()
    detail = {"kind": event.kind.value, "via": party.via.value, "address": party.address}
    if party.issuer is not None:
        party.issuer.last_used_at = now
        detail["issuer"] = party.issuer.name
    audit.record("event.created", party.user, detail, event_id=event.id)
    return issue_token(event, now=now)


def get_event(event_id: int, user: User | None = None) -> ServiceEvent:
    return get_visible(ServiceEvent, event_id, user, "Service event")


def event_rating(event: ServiceEvent, assess_number: int = 1) -> Rating | None:
    """The rating of one round of an event (1 the first rating, 2 the 追评), if given."""
    return db.session.scalar(select(Rating).where(Rating.event_id == event.id, Rating.assess_number == assess_number))


def current_token(event: ServiceEvent, assess_number: int = 1) -> RatingToken | None:
    """The newest token of a rating round (its hash and state; the token itself is not kept)."""
    stmt = (
        select(RatingToken)
        .where(RatingToken.event_id == event.id, RatingToken.assess_number == assess_number)
        .order_by(RatingToken.id.desc())
        .limit(1)
    )
    return db.session.scalar(stmt)


def describe_event(event: ServiceEvent, *, now: datetime | None = None) -> dict[str, Any]:
    """An event with the state of its first rating round, for staff."""
    now = now or utcnow()
    token = current_token(event)
    rating = event_rating(event)
    status = token.status.value if token else None
    if token is not None and token.status == TokenStatus.ACTIVE and token.expires_at <= now:
        status = TokenStatus.EXPIRED.value
    return {
        "id": event.id,
        "kind": event.kind.value,
        "department": event.department.code if event.department else None,
        "service_item": event.service_item.code if event.service_item else None,
        "region": event.region_code,
        "external_ref": event.external_ref,
        "staff": event.staff_ref,
        "ticket_number": event.ticket_number,
        "created_at": event.created_at,
        "token_status": status,
        "expires_at": token.expires_at if token else None,
        "rating_id": rating.id if rating else None,
    }


# --- standing QR codes --------------------------------------------------------------------


def create_standing_code(
    data: Mapping[str, Any], actor: User | None = None, *, now: datetime | None = None
) -> StandingIssued:
    """A reusable QR code for a counter, with its token (shown once)."""
    where = place(data, IssuingParty.staff(actor) if actor is not None else SYSTEM)
    token = new_token(STANDING_PREFIX)
    code = StandingCode(
        token_hash=token_digest(token),
        label=data["label"],
        department_id=where.department.id if where.department else None,
        service_item_id=where.service_item.id if where.service_item else None,
        region_code=where.region_code,
        created_by_id=actor.id if actor else None,
        created_at=now or utcnow(),
    )
    db.session.add(code)
    db.session.flush()
    audit.record("standing.created", actor, {"label": code.label}, standing_code_id=code.id)
    return StandingIssued(code, token)


def get_standing_code(code_id: int, user: User | None = None) -> StandingCode:
    return get_visible(StandingCode, code_id, user, "Standing QR code")


def revoke_standing_code(code: StandingCode, actor: User, *, now: datetime | None = None) -> StandingCode:
    if code.active:
        code.active = False
        code.revoked_at = now or utcnow()
        audit.record("standing.revoked", actor, standing_code_id=code.id)
        db.session.flush()
    return code


def standing_codes_query(user: User) -> Select[StandingCode]:
    stmt = select(StandingCode).order_by(StandingCode.id.desc())
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(StandingCode.department_id == scope)
    return stmt


def is_standing_token(token: str) -> bool:
    return token.startswith(STANDING_PREFIX)


def event_for_standing(code: StandingCode, now: datetime) -> ServiceEvent:
    """The service event a standing code's rating is of: a new one for each rating."""
    event = ServiceEvent(
        kind=EventKind.STANDING,
        department_id=code.department_id,
        service_item_id=code.service_item_id,
        region_code=code.region_code,
        standing_code_id=code.id,
        created_at=now,
    )
    db.session.add(event)
    db.session.flush()
    return event


# --- resolving a token --------------------------------------------------------------------


@dataclass
class RatingTarget:
    """What a token lets a citizen rate: an event's round, or (standing code) a new event."""

    assess_number: int
    event: ServiceEvent | None = None
    token: RatingToken | None = None
    standing: StandingCode | None = None

    @property
    def is_online(self) -> bool:
        return self.event is not None and self.event.is_online


def _standing_target(token: str) -> RatingTarget:
    code = db.session.scalar(select(StandingCode).where(StandingCode.token_hash == token_digest(token)))
    if code is None:
        raise NotFound("This rating link is not valid.")
    if not code.active:
        raise Gone("This QR code has been withdrawn.")
    return RatingTarget(1, standing=code)


_TOKEN_ROW = (RatingToken, ServiceEvent, Department, Region, ServiceItem)


@cache
def _token_lookup() -> tuple[PreparedLookup, tuple[tuple[str, ...], ...]]:
    """One prepared statement for the rating hot path: the token, its event with the event's
    department (and its region) and service item, and whether the round is rated already; and the
    column names of each of those models, in the row's order."""
    names, columns = zip(*(mapped_columns(model) for model in _TOKEN_ROW), strict=True)
    rated = and_(Rating.event_id == RatingToken.event_id, Rating.assess_number == RatingToken.assess_number)
    statement = (
        select(*(column for group in columns for column in group), Rating.id)
        .select_from(RatingToken)
        .join(ServiceEvent, ServiceEvent.id == RatingToken.event_id)
        .outerjoin(Department, Department.id == ServiceEvent.department_id)
        .outerjoin(Region, Region.code == Department.region_code)
        .outerjoin(ServiceItem, ServiceItem.id == ServiceEvent.service_item_id)
        .outerjoin(Rating, rated)
        .where(RatingToken.token_hash == bindparam("token_hash"))
        .limit(1)
    )
    return PreparedLookup(statement), names


def _found_token(row: tuple[Any, ...], names: tuple[tuple[str, ...], ...]) -> tuple[RatingToken, int | None]:
    """The token of a `_token_lookup` row, in the session with its event, the event's department
    and service item (what a query with their joined loads would have given), and the id of the
    round's rating if there is one. The service item's own department loads when used."""
    parts: list[tuple[Any, ...]] = []
    start = 0
    for group in names:
        parts.append(row[start : start + len(group)])
        start += len(group)
    token_values, event_values, department_values, region_values, item_values = parts
    department = None
    if department_values[0] is not None:
        region = as_loaded(Region, names[3], region_values) if region_values[0] is not None else None
        department = as_loaded(Department, names[2], department_values, region=region)
    item = as_loaded(ServiceItem, names[4], item_values) if item_values[0] is not None else None
    event = as_loaded(ServiceEvent, names[1], event_values, department=department, service_item=item)
    # In the session with its event, department, region and service item.
    return in_session(as_loaded(RatingToken, names[0], token_values, event=event)), row[start]


@cache
def _token_claim() -> PreparedWrite:
    """An UPDATE of the table run on the session connection's cursor (not through the ORM's bulk
    update): the claimed row is expired afterwards, so there is nothing to synchronise."""
    tokens = cast(Table, RatingToken.__table__)
    return PreparedWrite(
        update(tokens)
        .where(tokens.c.id == bindparam("token_id"), tokens.c.status == TokenStatus.ACTIVE)
        .values(status=TokenStatus.USED, used_at=bindparam("used_at"))
    )


def resolve_token(token: str, *, now: datetime | None = None) -> RatingTarget:
    """The target of a token: 404 unknown, 409 already used (or rated), 410 expired or replaced."""
    if is_standing_token(token):
        return _standing_target(token)
    lookup, names = _token_lookup()
    found = lookup.first(token_hash=token_digest(token))
    if found is None:
        raise NotFound("This rating link is not valid.")
    row, rating_id = _found_token(found, names)
    if row.status == TokenStatus.USED or rating_id is not None:
        raise Conflict("This service has already been rated with this link.")
    if row.status != TokenStatus.ACTIVE or row.expires_at <= (now or utcnow()):
        raise Gone("This rating link has expired.")
    return RatingTarget(row.assess_number, event=row.event, token=row)


def claim(row: RatingToken, now: datetime) -> None:
    """Use a token up, atomically: of concurrent claims exactly one wins, the others get 409."""
    claimed, _rows = write(_token_claim(), {"token_id": row.id, "used_at": now})
    if claimed != 1:
        raise Conflict("This service has already been rated with this link.")
    db.session.expire(row)


# --- 12345 tickets ------------------------------------------------------------------------


class TicketLike(Protocol):
    """What ratings needs of a closed ticket (hotline's Ticket; ratings does not import hotline)."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def lead_department_id(self) -> int | None: ...
    @property
    def region_code(self) -> str | None: ...
    @property
    def service_item_id(self) -> int | None: ...
    @property
    def caller_name(self) -> str | None: ...
    @property
    def caller_phone(self) -> str | None: ...
    @property
    def confidential(self) -> bool: ...
    @property
    def is_enterprise(self) -> bool: ...
    @property
    def closed_at(self) -> datetime | None: ...


def service_event_for_ticket(ticket_id: int) -> ServiceEvent | None:
    """The latest service event of a ticket (a ticket closed again after 重办 gets a new one)."""
    stmt = select(ServiceEvent).where(ServiceEvent.ticket_id == ticket_id).order_by(ServiceEvent.id.desc()).limit(1)
    return db.session.scalar(stmt)


def event_for_ticket(ticket: TicketLike, now: datetime) -> ServiceEvent:
    """The ticket's unrated event, or a new one for this closing."""
    event = service_event_for_ticket(ticket.id)
    if event is not None and event_rating(event) is None:
        return event
    phone = normalize_phone(ticket.caller_phone or "")
    event = ServiceEvent(
        kind=EventKind.HOTLINE,
        department_id=ticket.lead_department_id,
        service_item_id=ticket.service_item_id,
        region_code=ticket.region_code,
        ticket_id=ticket.id,
        ticket_number=str(ticket.number or "")[:32],
        contact_name=(ticket.caller_name or "")[:64],
        contact_phone=phone if is_valid_phone(phone) else "",
        confidential=bool(ticket.confidential),
        rater_type=RaterType.LEGAL_PERSON if ticket.is_enterprise else RaterType.INDIVIDUAL,
        created_at=now,
    )
    db.session.add(event)
    db.session.flush()
    audit.record("event.created", None, {"kind": "hotline", "ticket": event.ticket_number}, event_id=event.id)
    return event


def open_event_for_ticket(ticket: TicketLike, *, now: datetime | None = None) -> IssuedToken:
    """A closed ticket: a service event for its caller with a fresh rating token."""
    now = now or utcnow()
    return issue_token(event_for_ticket(ticket, now), now=now)


def send_satisfaction_link(issued: IssuedToken) -> CitizenMessage | None:
    """A closed ticket's rating link, to its caller's own number only."""
    event = issued.event
    if not event.contact_phone:
        return None
    return messages.enqueue(
        SATISFACTION_MESSAGE,
        event.contact_phone,
        str(_cfg("CITIZEN_MESSAGE_TEMPLATES")[SATISFACTION_MESSAGE]),
        link=f"{issued.rate_url}?ch={int(Channel.SMS)}",
        subject=("service_event", event.id),
    )
