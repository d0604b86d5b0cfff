"""好差评 rules: service events and their single-use tokens, recording ratings (with the hidden
bad review check), the one 追评, appeals, and the counting helpers statistics build on.

Functions flush, never commit; the view, page or job that calls them commits once. They raise
core.errors domain errors and never look at the request.
"""

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import Select, and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from core import messages
from core.auth import ensure_visible, get_visible, token_digest, visible_department_id
from core.calendar import local_date
from core.db import db, utcnow
from core.disclosure import CONFIDENTIAL_MARK, hidden_for, text_for
from core.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from core.models import CitizenMessage, Department, Role, User
from core.notify import notify, staff_with_role
from core.privacy import is_valid_phone, mask_name, mask_phone, normalize_phone
from core.refdata import department_ref
from core.signals import appeal_decided, rating_recorded
from ratings import links, review
from ratings.issuers import SYSTEM, IssuingParty, place
from ratings.labels import DIMENSIONS
from ratings.models import (
    PUBLIC_CHANNELS,
    AppealKind,
    AppealStatus,
    Channel,
    EventKind,
    RaterType,
    Rating,
    RatingAppeal,
    RatingAuditEvent,
    RatingStatus,
    RatingToken,
    ServiceEvent,
    StandingCode,
    TokenStatus,
)
from ratings.review import Client
from ratings.sentiment import is_negative, polarity

STANDING_PREFIX = "s."
MIN_TOKEN_BYTES = 16  # 128 bits, the floor whatever RATING_TOKEN_BYTES says
STAFF_EVENT_KINDS = (EventKind.COUNTER, EventKind.ONLINE, EventKind.HOTLINE)


def _cfg(key: str) -> Any:
    return current_app.config[key]


# --- tokens and service events ------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A token in plain text, as it exists only at the moment it is issued."""

    event: ServiceEvent
    token: str
    expires_at: datetime

    @property
    def rate_url(self) -> str:
        return links.rate_url(self.token)

    @property
    def qr_url(self) -> str:
        return links.qr_url(self.token)


def new_token(prefix: str = "") -> str:
    """A fresh random token: at least 128 bits from `secrets`, URL-safe."""
    return prefix + secrets.token_urlsafe(max(MIN_TOKEN_BYTES, int(_cfg("RATING_TOKEN_BYTES"))))


def _audit(action: str, actor: User | None = None, detail: Mapping[str, Any] | None = None, **ids: int | None) -> None:
    db.session.add(
        RatingAuditEvent(
            action=action,
            actor_id=actor.id if actor else None,
            detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
            **ids,
        )
    )


def issue_token(event: ServiceEvent, assess_number: int = 1, token: str | None = None) -> IssuedToken:
    """A new token for the event; any earlier unused one for the same rating round is revoked."""
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
    token = token or new_token()
    expires_at = utcnow() + timedelta(days=_cfg("RATING_TOKEN_TTL_DAYS"))
    db.session.add(
        RatingToken(
            event_id=event.id, token_hash=token_digest(token), assess_number=assess_number, expires_at=expires_at
        )
    )
    db.session.flush()
    return IssuedToken(event, token, expires_at)


def department_by_code(code: str | None) -> Department | None:
    return department_ref(code, "department")


def create_service_event(data: Mapping[str, Any], party: IssuingParty = SYSTEM) -> IssuedToken:
    """办件: a rateable service event with its first token, placed within what `party` may issue
    for (see ratings.issuers), recording who issued it, how and from where."""
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
    )
    db.session.add(event)
    db.session.flush()
    detail = {"kind": event.kind.value, "via": party.via.value, "address": party.address}
    if party.issuer is not None:
        party.issuer.last_used_at = utcnow()
        detail["issuer"] = party.issuer.name
    _audit("event.created", party.user, detail, event_id=event.id)
    return issue_token(event)


def get_event(event_id: int, user: User | None = None) -> ServiceEvent:
    return get_visible(ServiceEvent, event_id, user, "Service event")


def event_rating(event: ServiceEvent, assess_number: int = 1) -> Rating | None:
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


def describe_event(event: ServiceEvent) -> dict[str, Any]:
    """An event with the state of its first rating round, for staff."""
    token = current_token(event)
    rating = event_rating(event)
    status = token.status.value if token else None
    if token is not None and token.status == TokenStatus.ACTIVE and token.expires_at <= utcnow():
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


def create_standing_code(data: Mapping[str, Any], actor: User | None = None) -> tuple[StandingCode, str]:
    """A reusable QR code for a counter; returns the code and its token (shown once)."""
    where = place(data, IssuingParty.staff(actor) if actor is not None else SYSTEM)
    token = new_token(STANDING_PREFIX)
    code = StandingCode(
        token_hash=token_digest(token),
        label=data["label"],
        department_id=where.department.id if where.department else None,
        service_item_id=where.service_item.id if where.service_item else None,
        region_code=where.region_code,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(code)
    db.session.flush()
    _audit("standing.created", actor, {"label": code.label}, standing_code_id=code.id)
    return code, token


def get_standing_code(code_id: int, user: User | None = None) -> StandingCode:
    return get_visible(StandingCode, code_id, user, "Standing QR code")


def revoke_standing_code(code: StandingCode, actor: User) -> StandingCode:
    if code.active:
        code.active = False
        code.revoked_at = utcnow()
        _audit("standing.revoked", actor, standing_code_id=code.id)
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


@cache
def _token_lookup() -> Any:
    """One query for the rating hot path: the token, its event, and whether its round is rated
    already. Built once: constructing an ORM statement costs more than running this one."""
    rated = and_(Rating.event_id == RatingToken.event_id, Rating.assess_number == RatingToken.assess_number)
    return (
        select(RatingToken, Rating.id)
        .outerjoin(Rating, rated)
        .where(RatingToken.token_hash == bindparam("token_hash"))
        .limit(1)
    )


@cache
def _token_claim() -> Any:
    return (
        update(RatingToken)
        .where(RatingToken.id == bindparam("token_id"), RatingToken.status == TokenStatus.ACTIVE)
        .values(status=TokenStatus.USED, used_at=bindparam("used_at"))
        .execution_options(synchronize_session=False)
    )


def resolve_token(token: str) -> RatingTarget:
    """The target of a token: 404 unknown, 409 already used (or rated), 410 expired or replaced."""
    if is_standing_token(token):
        return _standing_target(token)
    found = db.session.execute(_token_lookup(), {"token_hash": token_digest(token)}).first()
    if found is None:
        raise NotFound("This rating link is not valid.")
    row, rating_id = found
    if row.status == TokenStatus.USED or rating_id is not None:
        raise Conflict("This service has already been rated with this link.")
    if row.status != TokenStatus.ACTIVE or row.expires_at <= utcnow():
        raise Gone("This rating link has expired.")
    return RatingTarget(row.assess_number, event=row.event, token=row)


def _claim(row: RatingToken) -> None:
    """Use a token up, atomically: of concurrent claims exactly one wins, the others get 409."""
    result = db.session.execute(_token_claim(), {"token_id": row.id, "used_at": utcnow()})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This service has already been rated with this link.")
    db.session.expire(row)


def _event_for_standing(code: StandingCode) -> ServiceEvent:
    event = ServiceEvent(
        kind=EventKind.STANDING,
        department_id=code.department_id,
        service_item_id=code.service_item_id,
        region_code=code.region_code,
        standing_code_id=code.id,
    )
    db.session.add(event)
    db.session.flush()
    return event


def default_channel(target: RatingTarget) -> int:
    return int(Channel.QR_CODE if target.standing is not None else _cfg("RATING_DEFAULT_CHANNEL"))


def rate_with_token(
    token: str, level: int, channel: int | None = None, client: Client | None = None, **fields: Any
) -> Rating:
    """A citizen rates with a link or QR code. Channels 7 and 8 are the system's, not the public's.

    `client` (the request's address) feeds the fraud signals: a staged-looking rating is stored
    but held for a manager's review (ratings.review).
    """
    target = resolve_token(token)
    channel = channel or default_channel(target)
    if channel not in PUBLIC_CHANNELS:
        raise ValidationFailed("Channel not allowed.", {"channel": ["One of 1-6."]})
    _validate_citizen_input(level, channel, fields)
    if target.standing is not None:
        event = _event_for_standing(target.standing)
        held = review.hold_reasons(event, level, client)
        return record_rating(event, level, channel, low_trust=True, fresh=True, client=client, held=held, **fields)
    assert target.token is not None and target.event is not None
    _claim(target.token)
    held = review.hold_reasons(target.event, level, client)
    # resolve_token has just found the round unrated; the unique key settles any race.
    return record_rating(
        target.event,
        level,
        channel,
        assess_number=target.assess_number,
        fresh=True,
        client=client,
        held=held,
        **fields,
    )


# --- recording a rating -------------------------------------------------------------------


def _validate_citizen_input(level: int, channel: int, fields: Mapping[str, Any]) -> None:
    """Check everything before a token is used up, so a typo does not burn the link."""
    _check_level(level)
    _clean_comment(fields.get("comment") or "")
    _clean_reasons(level, fields.get("reasons"))
    _clean_dimensions(fields.get("dimensions"))
    _clean_contact(fields.get("contact"), bool(fields.get("anonymous")))
    if fields.get("rater_type") not in (None, *RaterType):
        raise ValidationFailed("Unknown rater type.", {"rater_type": ["1 individual or 2 legal person."]})
    if channel not in set(Channel):
        raise ValidationFailed("Unknown channel.", {"channel": ["One of 1-8."]})


def _check_level(level: int) -> None:
    if level not in (1, 2, 3, 4, 5):
        raise ValidationFailed("Level must be 1-5.", {"level": ["One of 1 (very dissatisfied) to 5 (very satisfied)."]})


def _clean_comment(comment: str) -> str:
    comment = comment.strip()
    limit = int(_cfg("RATING_COMMENT_MAX_LENGTH"))
    if len(comment) > limit:
        raise ValidationFailed("Comment too long.", {"comment": [f"At most {limit} characters."]})
    return comment


def _clean_reasons(level: int, reasons: Sequence[str] | None) -> list[str] | None:
    if not reasons:
        return None
    if level > _cfg("BAD_REVIEW_MAX_LEVEL"):
        raise ValidationFailed("Reason tags are for bad reviews.", {"reasons": ["Only with level 1 or 2."]})
    allowed = list(_cfg("RATING_REASON_TAGS"))
    unknown = [r for r in reasons if r not in allowed]
    if unknown:
        raise ValidationFailed("Unknown reason tag.", {"reasons": [f"Unknown: {', '.join(unknown)}."]})
    return list(dict.fromkeys(reasons))


def _clean_dimensions(dimensions: Mapping[str, int] | None) -> dict[str, int] | None:
    if not dimensions:
        return None
    errors = [f"{k}: unknown" for k in dimensions if k not in DIMENSIONS]
    errors += [f"{k}: 1-5" for k, v in dimensions.items() if not isinstance(v, int) or not 1 <= v <= 5]
    if errors:
        raise ValidationFailed("Invalid dimension scores.", {"dimensions": errors})
    return {k: int(v) for k, v in dimensions.items()}


def _clean_contact(contact: Mapping[str, str] | None, anonymous: bool) -> tuple[str, str]:
    name = str((contact or {}).get("name") or "").strip()
    raw_phone = str((contact or {}).get("phone") or "").strip()
    if anonymous and (name or raw_phone):
        raise ValidationFailed("An anonymous rating has no contact.", {"contact": ["Leave empty when anonymous."]})
    if raw_phone and not is_valid_phone(raw_phone):
        raise ValidationFailed("Invalid phone number.", {"contact": {"phone": ["A mobile or landline number."]}})
    if len(name) > 64:
        raise ValidationFailed("Name too long.", {"contact": {"name": ["At most 64 characters."]}})
    return name, normalize_phone(raw_phone) if raw_phone else ""


def score_comment(comment: str) -> float | None:
    """Sentiment polarity in [-1, 1] of a comment (None without one)."""
    return polarity(comment) if comment.strip() else None


def is_hidden_bad(level: int, sentiment: float | None) -> bool:
    """A satisfied level (3-5) whose comment reads clearly negative: called back like a 差评."""
    if sentiment is None or level <= _cfg("BAD_REVIEW_MAX_LEVEL"):
        return False
    return is_negative(sentiment, float(_cfg("SENTIMENT_NEGATIVE_THRESHOLD")))


def _check_round(event: ServiceEvent, assess_number: int) -> None:
    if assess_number not in (1, 2):
        raise ValidationFailed("assess_number is 1 or 2.", {"assess_number": ["1 first rating, 2 follow-up."]})
    if assess_number == 2 and event_rating(event, 1) is None:
        raise Conflict("A follow-up needs a first rating.")
    if event_rating(event, assess_number) is not None:
        raise Conflict("This service event has already been rated.")


def _insert(rating: Rating, savepoint: bool) -> None:
    """Insert under the (event, assess_number) unique constraint: the database has the last word.

    With `savepoint`, a conflict leaves the caller's transaction usable (a job rating many events
    goes on); without, the Conflict ends the request and its transaction, two statements sooner.
    """
    try:
        if savepoint:
            with db.session.begin_nested():
                db.session.add(rating)
        else:
            db.session.add(rating)
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict("This service event has already been rated.") from exc


def record_rating(
    event: ServiceEvent,
    level: int,
    channel: int,
    comment: str = "",
    contact: Mapping[str, str] | None = None,
    *,
    dimensions: Mapping[str, int] | None = None,
    reasons: Sequence[str] | None = None,
    rater_type: int | None = None,
    anonymous: bool = False,
    assess_number: int = 1,
    is_default: bool = False,
    low_trust: bool = False,
    recorded_by: User | None = None,
    fresh: bool = False,
    client: Client | None = None,
    held: Sequence[str] = (),
) -> Rating:
    """Store a rating of `event` and announce it (`rating_recorded`, in this transaction).

    `held`: the fraud signals it raised; such a rating is stored as pending review and announced
    only when a manager confirms it (ratings.review).

    `fresh`: the caller has just found this round unrated (a citizen's token) and the request
    ends on a Conflict, so the round is not looked up again and no savepoint is taken.

    The level is stored as given, always; a satisfied level whose comment reads clearly negative
    is flagged `hidden_bad`. Without a contact of its own (and unless anonymous), the rating
    takes the event's (a ticket's caller), so a bad review can be called back.
    """
    _check_level(level)
    if channel not in set(Channel):
        raise ValidationFailed("Unknown channel.", {"channel": ["One of 1-8."]})
    comment = _clean_comment(comment)
    name, phone = _clean_contact(contact, anonymous)
    if not anonymous and not (name or phone):
        name, phone = event.contact_name, event.contact_phone
    if not fresh:
        _check_round(event, assess_number)
    sentiment = score_comment(comment)
    now = utcnow()
    rating = Rating(
        event_id=event.id,
        assess_number=assess_number,
        level=level,
        channel=int(channel),
        rater_type=int(rater_type or event.rater_type or RaterType.INDIVIDUAL),
        is_anonymous=not (name or phone),
        contact_name=name,
        contact_phone=phone,
        comment=comment,
        dimensions=_clean_dimensions(dimensions),
        reasons=_clean_reasons(level, reasons),
        sentiment=sentiment,
        is_bad_review=level <= _cfg("BAD_REVIEW_MAX_LEVEL"),
        hidden_bad=is_hidden_bad(level, sentiment),
        is_default=is_default,
        low_trust=low_trust,
        status=RatingStatus.PENDING if held else RatingStatus.VALID,
        review_reasons=list(held) or None,
        client_hash=client.address_hash if client else None,
        client_net_hash=client.network_hash if client else None,
        department_id=event.department_id,
        region_code=event.region_code,
        service_item_id=event.service_item_id,
        local_day=local_date(now),
        created_at=now,
        recorded_by_id=recorded_by.id if recorded_by else None,
    )
    _insert(rating, savepoint=not fresh)
    detail: dict[str, Any] = {
        "level": level,
        "channel": int(channel),
        "assess_number": assess_number,
        "hidden_bad": rating.hidden_bad,
    }
    if held:
        detail["held"] = list(held)
    _audit("rating.held" if held else "rating.recorded", recorded_by, detail, event_id=event.id, rating_id=rating.id)
    db.session.flush()
    if not held:
        rating_recorded.send(current_app._get_current_object(), rating=rating)  # type: ignore[attr-defined]
    return rating


def give_default_rating(token: RatingToken) -> int:
    """A system-default 基本满意 (channel 7) for an event whose link lapsed unused; 0 when the
    event was rated meanwhile. The token is closed either way."""
    event = token.event
    token.status = TokenStatus.REVOKED
    if event_rating(event) is not None:
        db.session.flush()
        return 0
    level = int(_cfg("DEFAULT_RATING_LEVEL"))
    record_rating(event, level, Channel.SYSTEM_DEFAULT, anonymous=True, is_default=True)
    return 1


def comment_for(rating: Rating, reader: User | None) -> str:
    """A rating's comment as `reader` may read it: a confidential caller's name and number never
    reach a department or the public (core.disclosure)."""
    return text_for(rating.comment, reader, confidential=rating.is_confidential, names=rating.person_names)


def contact_for(rating: Rating, reader: User | None) -> dict[str, str]:
    """The rater's contact for a list or export: masked, or nothing at all when confidential."""
    if hidden_for(reader, rating.is_confidential):
        return {"name": CONFIDENTIAL_MARK if rating.contact_name else "", "phone": ""}
    return {"name": mask_name(rating.contact_name), "phone": mask_phone(rating.contact_phone)}


def ticket_number_for(rating: Rating, reader: User | None) -> str | None:
    """The ticket a rating came from; hidden with a confidential caller (it leads back to them)."""
    if hidden_for(reader, rating.is_confidential):
        return None
    return rating.event.ticket_number or None


def get_rating(rating_id: int | None, user: User | None = None) -> Rating:
    return get_visible(Rating, rating_id, user, "Rating")


def ratings_query(user: User, filters: Mapping[str, Any]) -> Select[Rating]:
    """Ratings a staff member may see, newest first, filtered."""
    stmt = select(Rating).order_by(Rating.created_at.desc(), Rating.id.desc())
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(Rating.department_id == scope)
    if filters.get("department"):
        dept = department_by_code(filters["department"])
        stmt = stmt.where(Rating.department_id == (dept.id if dept else None))
    if filters.get("from"):
        stmt = stmt.where(Rating.local_day >= filters["from"])
    if filters.get("to"):
        stmt = stmt.where(Rating.local_day <= filters["to"])
    if filters.get("level"):
        stmt = stmt.where(Rating.level == filters["level"])
    if filters.get("bad"):
        stmt = stmt.where(Rating.is_bad_review | Rating.hidden_bad)
    if filters.get("status"):
        stmt = stmt.where(Rating.status == RatingStatus(filters["status"]))
    return stmt


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


def _event_for_ticket(ticket: TicketLike) -> ServiceEvent:
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
    )
    db.session.add(event)
    db.session.flush()
    _audit("event.created", None, {"kind": "hotline", "ticket": event.ticket_number}, event_id=event.id)
    return event


def open_event_for_ticket(ticket: TicketLike) -> IssuedToken:
    """A closed ticket: a service event for its caller with a fresh rating token."""
    return issue_token(_event_for_ticket(ticket))


def record_hotline_rating(ticket: TicketLike, level: int, comment: str = "", recorded_by: User | None = None) -> Rating:
    """The caller's answer on a satisfaction callback, as a rating (channel 8, the caller's contact).

    409 when this closing of the ticket was already rated (by its link); any unused link is
    revoked so the caller cannot rate twice.
    """
    event = service_event_for_ticket(ticket.id) or _event_for_ticket(ticket)
    # The link first, then the rating: the citizen's path locks the token before inserting too,
    # so the two never wait on each other in opposite orders (a deadlock on PostgreSQL).
    db.session.execute(
        update(RatingToken)
        .where(
            RatingToken.event_id == event.id, RatingToken.assess_number == 1, RatingToken.status == TokenStatus.ACTIVE
        )
        .values(status=TokenStatus.REVOKED)
        .execution_options(synchronize_session=False)
    )
    return record_rating(event, level, Channel.HOTLINE_CALLBACK, comment, recorded_by=recorded_by)


# --- 追评: the one follow-up rating -------------------------------------------------------


def issue_follow_up_token(rating: Rating, actor: User | None = None) -> IssuedToken:
    """A fresh random token for the event's one 追评 (assess_number 2), replacing any earlier one.

    The plain token exists only in the returned value: the caller hands it to the citizen's
    message (core.messages) and nowhere else. 409 once the follow-up was given.
    """
    if rating.assess_number != 1:
        raise ValidationFailed("A follow-up is given on the first rating.", {"rating": ["Not a first rating."]})
    event = rating.event
    if event_rating(event, 2) is not None:
        raise Conflict("The follow-up rating was already given.")
    issued = issue_token(event, 2)
    _audit("follow_up.issued", actor, event_id=event.id, rating_id=rating.id)
    return issued


FOLLOW_UP_MESSAGE = "follow_up"
SATISFACTION_MESSAGE = "satisfaction"


def _message_text(kind: str) -> str:
    return str(_cfg("CITIZEN_MESSAGE_TEMPLATES")[kind])


def send_follow_up(rating: Rating, actor: User | None = None) -> CitizenMessage | None:
    """Issue the 追评 token and put its link in a message to the rater's own number (sent after
    commit). None when the rater left no number: nobody else may hold the link."""
    if not rating.contact_phone:
        return None
    issued = issue_follow_up_token(rating, actor)
    return messages.enqueue(
        FOLLOW_UP_MESSAGE,
        rating.contact_phone,
        _message_text(FOLLOW_UP_MESSAGE),
        link=issued.rate_url,
        subject=("rating", rating.id),
        actor=actor,
    )


def resend_follow_up(rating: Rating, actor: User) -> CitizenMessage:
    """A new 追评 link to the same number as before (the old link stops working)."""
    if not messages.messages_about("rating", rating.id, FOLLOW_UP_MESSAGE):
        raise Conflict("No follow-up link was sent for this rating yet.")
    message = send_follow_up(rating, actor)
    if message is None:
        raise Conflict("The rater left no number to send to.")
    return message


def follow_up_messages(rating: Rating) -> list[CitizenMessage]:
    return messages.messages_about("rating", rating.id, FOLLOW_UP_MESSAGE)


def send_satisfaction_link(issued: IssuedToken) -> CitizenMessage | None:
    """A closed ticket's rating link, to its caller's own number only."""
    event = issued.event
    if not event.contact_phone:
        return None
    return messages.enqueue(
        SATISFACTION_MESSAGE,
        event.contact_phone,
        _message_text(SATISFACTION_MESSAGE),
        link=f"{issued.rate_url}?ch={int(Channel.SMS)}",
        subject=("service_event", event.id),
    )


# --- appeals (申诉复核) ----------------------------------------------------------------------


def file_appeal(rating: Rating, user: User, kind: str, reason: str) -> RatingAppeal:
    """A department handler appeals a bad review of their department, with a reason."""
    if user.role != Role.HANDLER:
        raise Forbidden("Only the department's handlers appeal a review.")
    ensure_visible(user, rating.department_id, "Rating")
    if not (rating.is_bad_review or rating.hidden_bad):
        raise Conflict("Only bad reviews can be appealed.")
    if not rating.is_valid:
        raise Conflict("This rating is already voided.")
    if rating.appeal is not None:
        raise Conflict("This rating has already been appealed.", {"appeal": [str(rating.appeal.id)]})
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": ["Required."]})
    appeal = RatingAppeal(
        rating_id=rating.id,
        department_id=rating.department_id,
        kind=AppealKind(kind),
        reason=reason.strip(),
        filed_by_id=user.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(appeal)
    except IntegrityError as exc:
        raise Conflict("This rating has already been appealed.") from exc
    db.session.expire(rating, ["appeal"])
    _audit("appeal.filed", user, {"kind": appeal.kind.value}, rating_id=rating.id, appeal_id=appeal.id)
    _notify_managers(appeal)
    db.session.flush()
    return appeal


def _notify_managers(appeal: RatingAppeal) -> None:
    notify(
        staff_with_role(Role.MANAGER), "rating_appeal", f"申诉待复核 appeal #{appeal.id}", "rating_appeal", appeal.id
    )


def decide_appeal(appeal: RatingAppeal, manager: User, uphold: bool, note: str = "") -> RatingAppeal:
    """A manager upholds (the rating is voided for statistics) or rejects an appeal."""
    if manager.role != Role.MANAGER:
        raise Forbidden("Only managers decide appeals.")
    if not appeal.is_pending:
        raise Conflict("This appeal has already been decided.", {"status": [appeal.status.value]})
    appeal.decide(manager, uphold, note.strip())
    db.session.flush()
    _audit(
        "appeal.upheld" if uphold else "appeal.rejected",
        manager,
        {"note": note.strip()},
        rating_id=appeal.rating_id,
        appeal_id=appeal.id,
    )
    outcome = "支持 upheld" if uphold else "驳回 rejected"
    notify([appeal.filed_by], "rating_appeal_decided", f"申诉{outcome} #{appeal.id}", "rating_appeal", appeal.id)
    db.session.flush()
    appeal_decided.send(current_app._get_current_object(), appeal=appeal, rating=appeal.rating)  # type: ignore[attr-defined]
    return appeal


def get_appeal(appeal_id: int, user: User | None = None) -> RatingAppeal:
    return get_visible(RatingAppeal, appeal_id, user, "Appeal")


def appeals_query(user: User, status: str | None = None) -> Select[RatingAppeal]:
    stmt = select(RatingAppeal).order_by(RatingAppeal.filed_at, RatingAppeal.id)
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(RatingAppeal.department_id == scope)
    if status:
        stmt = stmt.where(RatingAppeal.status == AppealStatus(status))
    return stmt


def audit_trail(rating: Rating) -> list[RatingAuditEvent]:
    stmt = select(RatingAuditEvent).where(RatingAuditEvent.rating_id == rating.id).order_by(RatingAuditEvent.id)
    return list(db.session.scalars(stmt))


# --- counting (满意率 and friends) ----------------------------------------------------------


def rates(levels: Mapping[int, int]) -> dict[str, float | None]:
    """满意率 (3-5), 好评率 (4-5) and 差评率 (1-2) over the valid ratings counted in `levels`."""
    valid = sum(levels.values())
    if not valid:
        return {"satisfaction_rate": None, "good_rate": None, "bad_rate": None}
    bad_max, satisfied_min, good_min = (
        _cfg("BAD_REVIEW_MAX_LEVEL"),
        _cfg("SATISFIED_MIN_LEVEL"),
        _cfg("GOOD_REVIEW_MIN_LEVEL"),
    )
    return {
        "satisfaction_rate": round(sum(n for lv, n in levels.items() if lv >= satisfied_min) / valid, 4),
        "good_rate": round(sum(n for lv, n in levels.items() if lv >= good_min) / valid, 4),
        "bad_rate": round(sum(n for lv, n in levels.items() if lv <= bad_max) / valid, 4),
    }


def _counted(start: date, end: date, include_default: bool, include_low_trust: bool) -> list[Any]:
    conditions: list[Any] = [Rating.local_day >= start, Rating.local_day <= end, Rating.assess_number == 1]
    if not include_default:
        conditions.append(Rating.is_default.is_(False))
    if not include_low_trust:
        conditions.append(Rating.low_trust.is_(False))
    return conditions


def level_counts(
    start: date,
    end: date,
    *,
    department_id: int | None = None,
    include_default: bool = False,
    include_low_trust: bool = True,
) -> list[tuple[Any, str, int, int]]:
    """(None, status, level, count) rows of first ratings on local days start..end, straight from
    the ratings table (the statistics API reads the rollups in reports.stats instead)."""
    stmt = select(Rating.status, Rating.level, func.count()).where(
        and_(*_counted(start, end, include_default, include_low_trust))
    )
    if department_id is not None:
        stmt = stmt.where(Rating.department_id == department_id)
    rows = db.session.execute(stmt.group_by(Rating.status, Rating.level)).all()
    return [(None, str(row[0].value), int(row[1]), int(row[2])) for row in rows]


def summarize(rows: Sequence[tuple[Any, str, int, int]]) -> dict[str, Any]:
    """Total, valid, per-level counts of valid ratings, and the rates."""
    levels = dict.fromkeys((1, 2, 3, 4, 5), 0)
    total = 0
    for _key, status, level, count in rows:
        total += count
        if status == RatingStatus.VALID.value:
            levels[level] += count
    return {
        "total": total,
        "valid": sum(levels.values()),
        "levels": {str(lv): n for lv, n in levels.items()},
        **rates(levels),
    }


def satisfaction_summary(
    start: date,
    end: date,
    *,
    department_id: int | None = None,
    include_default: bool = False,
    include_low_trust: bool = True,
) -> dict[str, Any]:
    """满意率 over local days start..end (both included): first ratings; voided ones are counted
    in `total` but not in `valid`, the levels or the rates; system defaults are left out unless
    asked for."""
    rows = level_counts(
        start,
        end,
        department_id=department_id,
        include_default=include_default,
        include_low_trust=include_low_trust,
    )
    return summarize(rows)
