"""Recording ratings: a citizen's rating with a link or QR code, the caller's answer on a 12345
satisfaction callback, the system default for a lapsed link, the hidden bad review check, and
the one 追评 (follow-up rating) with the message that carries its link.

Functions flush, never commit; the view, page or job that calls them commits once. They raise
core.errors domain errors and never look at the request. Where time matters they take `now`
(the entry point's moment, utcnow() unless given).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ParamSpec

from flask import current_app
from sqlalchemy.exc import IntegrityError

from core import messages
from core.calendar import local_date
from core.db import db, insert_now, utcnow
from core.errors import Conflict, ValidationFailed
from core.models import CitizenMessage, User
from core.privacy import is_valid_phone, normalize_phone
from core.signals import rating_prepared, rating_recorded
from ratings import audit, review, tokens
from ratings.labels import DIMENSIONS
from ratings.models import (
    PUBLIC_CHANNELS,
    Channel,
    RaterType,
    Rating,
    RatingStatus,
    RatingToken,
    ServiceEvent,
    TokenStatus,
)
from ratings.review import Client
from ratings.sentiment import is_negative, polarity
from ratings.tokens import IssuedToken, RatingTarget, TicketLike, event_rating

CONTACT_NAME_MAX_LENGTH = 64
P = ParamSpec("P")


class Unscored(Enum):
    """record_rating's `sentiment` when the caller has not scored the comment."""

    UNSCORED = 0


FOLLOW_UP_MESSAGE = "follow_up"


def _cfg(key: str) -> Any:
    return current_app.config[key]


# --- a citizen's rating -------------------------------------------------------------------


def default_channel(target: RatingTarget) -> int:
    return int(Channel.QR_CODE if target.standing is not None else _cfg("RATING_DEFAULT_CHANNEL"))


def prepare_with_token(
    token: str,
    level: int,
    channel: int | None = None,
    client: Client | None = None,
    *,
    now: datetime | None = None,
    **fields: Any,
) -> "RatingToStore":
    """A citizen's rating with a link or QR code, built and checked but not yet written (`store`
    writes it). Channels 7 and 8 are the system's, not the public's.

    `client` (the request's address) feeds the fraud signals: a staged-looking rating is stored
    but held for a manager's review (ratings.review).
    """
    now = now or utcnow()
    target = tokens.resolve_token(token, now=now)
    channel = channel or default_channel(target)
    if channel not in PUBLIC_CHANNELS:
        raise ValidationFailed("Channel not allowed.", {"channel": ["One of 1-6."]})
    _validate_citizen_input(level, channel, fields)
    # Scored before the first write: the transaction (and SQLite's write lock) holds only writes.
    fields["sentiment"] = score_comment(_clean_comment(fields.get("comment") or ""))
    if target.standing is not None:
        event = tokens.event_for_standing(target.standing, now)
        held = review.hold_reasons(event, level, client, now)
        return build_rating(
            event, level, channel, low_trust=True, fresh=True, client=client, held=held, now=now, **fields
        )
    assert target.token is not None and target.event is not None
    held = review.hold_reasons(target.event, level, client, now)
    # resolve_token has just found the round unrated; the unique key settles any race.
    return build_rating(
        target.event,
        level,
        channel,
        assess_number=target.assess_number,
        fresh=True,
        claim=target.token,
        client=client,
        held=held,
        now=now,
        **fields,
    )


# --- checking what is rated ---------------------------------------------------------------


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
    if len(name) > CONTACT_NAME_MAX_LENGTH:
        limit = CONTACT_NAME_MAX_LENGTH
        raise ValidationFailed("Name too long.", {"contact": {"name": [f"At most {limit} characters."]}})
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


# --- recording ----------------------------------------------------------------------------


def _insert(rating: Rating, savepoint: bool) -> None:
    """Insert under the (event, assess_number) unique constraint: the database has the last word.

    With `savepoint`, a conflict leaves the caller's transaction usable (a job rating many events
    goes on); without, the Conflict ends the request and its transaction, two statements sooner,
    and the row goes in at once, without a flush (core.db.insert_now).
    """
    try:
        if savepoint:
            with db.session.begin_nested():
                db.session.add(rating)
        else:
            insert_now(rating)
    except IntegrityError as exc:
        raise Conflict("This service event has already been rated.") from exc


@dataclass
class RatingToStore:
    """A rating built and checked, and its listeners' preparation done (`rating_prepared`), not
    yet written: `store` writes it. What a caller works out from it in between (the 201's body)
    is worked out outside the write transaction."""

    rating: Rating
    event: ServiceEvent
    detail: dict[str, Any]
    held: Sequence[str]
    fresh: bool
    claim: RatingToken | None
    recorded_by: User | None
    now: datetime


def build_rating(
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
    now: datetime | None = None,
    sentiment: float | Unscored | None = Unscored.UNSCORED,
    claim: RatingToken | None = None,
) -> RatingToStore:
    """A rating of `event` built and checked, with no write (`store` writes it and announces it,
    `rating_recorded`, in its transaction); the listeners of `rating_prepared` have done their
    part.

    `sentiment`: the comment's score when the caller has scored it already (before its first
    write, so no lock is held while it runs); scored here otherwise.

    `held`: the fraud signals it raised; such a rating is stored as pending review and announced
    only when a manager confirms it (ratings.review).

    `fresh`: the caller has just found this round unrated (a citizen's token) and the request
    ends on a Conflict, so the round is not looked up again and no savepoint is taken.

    `claim`: the citizen's token, used up (tokens.claim) once the rating is built, just before
    its insert: on SQLite that claim takes the write lock, and only writes follow it.

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
    if sentiment is Unscored.UNSCORED:
        sentiment = score_comment(comment)
    now = now or utcnow()
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
    detail: dict[str, Any] = {
        "level": level,
        "channel": int(channel),
        "assess_number": assess_number,
        "hidden_bad": rating.hidden_bad,
    }
    if held:
        detail["held"] = list(held)
    if not held:
        # The listeners' work that needs no database, before the first write (core.signals).
        rating_prepared.send(current_app._get_current_object(), rating=rating, event=event)  # type: ignore[attr-defined]
    return RatingToStore(rating, event, detail, tuple(held), fresh, claim, recorded_by, now)


def store(prepared: RatingToStore) -> Rating:
    """Write a built rating: the token's claim (on SQLite it takes the write lock), the rating,
    its audit row and the listeners' rows (`rating_recorded`), one after the other."""
    rating, event, held = prepared.rating, prepared.event, prepared.held
    if prepared.claim is not None:
        tokens.claim(prepared.claim, prepared.now)
    _insert(rating, savepoint=not prepared.fresh)
    action = "rating.held" if held else "rating.recorded"
    audit.record(action, prepared.recorded_by, prepared.detail, event_id=event.id, rating_id=rating.id)
    if not held:
        rating_recorded.send(current_app._get_current_object(), rating=rating, stored_now=True)  # type: ignore[attr-defined]
    return rating


def _stored(build: Callable[P, RatingToStore]) -> Callable[P, Rating]:
    """`build`, then `store`: a function that records at once, with `build`'s arguments."""

    def record(*args: P.args, **kwargs: P.kwargs) -> Rating:
        return store(build(*args, **kwargs))

    return record


record_rating = _stored(build_rating)
record_rating.__doc__ = """Store a rating of `event` and announce it: `build_rating` (its arguments), then `store`."""
rate_with_token = _stored(prepare_with_token)
rate_with_token.__doc__ = (
    """A citizen rates with a link or QR code: `prepare_with_token` (its arguments), then `store`."""
)


def give_default_rating(token: RatingToken, *, now: datetime | None = None) -> int:
    """A system-default 基本满意 (channel 7) for an event whose link lapsed unused; 0 when the
    event was rated meanwhile. The token is closed either way."""
    event = token.event
    token.status = TokenStatus.REVOKED
    if event_rating(event) is not None:
        db.session.flush()
        return 0
    level = int(_cfg("DEFAULT_RATING_LEVEL"))
    record_rating(event, level, Channel.SYSTEM_DEFAULT, anonymous=True, is_default=True, now=now)
    return 1


def record_hotline_rating(
    ticket: TicketLike,
    level: int,
    comment: str = "",
    recorded_by: User | None = None,
    *,
    now: datetime | None = None,
) -> Rating:
    """The caller's answer on a satisfaction callback, as a rating (channel 8, the caller's contact).

    409 when this closing of the ticket was already rated (by its link); any unused link is
    revoked so the caller cannot rate twice.
    """
    now = now or utcnow()
    event = tokens.service_event_for_ticket(ticket.id) or tokens.event_for_ticket(ticket, now)
    # The link first, then the rating: the citizen's path locks the token before inserting too,
    # so the two never wait on each other in opposite orders (a deadlock on PostgreSQL).
    tokens.revoke_unused(event, 1)
    return record_rating(event, level, Channel.HOTLINE_CALLBACK, comment, recorded_by=recorded_by, now=now)


# --- 追评: the one follow-up rating -------------------------------------------------------


def issue_follow_up_token(rating: Rating, actor: User | None = None, *, now: datetime | None = None) -> IssuedToken:
    """A fresh random token for the event's one 追评 (assess_number 2), replacing any earlier one.

    The plain token exists only in the returned value: the caller hands it to the citizen's
    message (core.messages) and nowhere else. 409 once the follow-up was given.
    """
    if rating.assess_number != 1:
        raise ValidationFailed("A follow-up is given on the first rating.", {"rating": ["Not a first rating."]})
    event = rating.event
    if event_rating(event, 2) is not None:
        raise Conflict("The follow-up rating was already given.")
    issued = tokens.issue_token(event, 2, now=now)
    audit.record("follow_up.issued", actor, event_id=event.id, rating_id=rating.id)
    return issued


def send_follow_up(rating: Rating, actor: User | None = None, *, now: datetime | None = None) -> CitizenMessage | None:
    """Issue the 追评 token and put its link in a message to the rater's own number (sent after
    commit). None when the rater left no number: nobody else may hold the link."""
    if not rating.contact_phone:
        return None
    issued = issue_follow_up_token(rating, actor, now=now)
    return messages.enqueue(
        FOLLOW_UP_MESSAGE,
        rating.contact_phone,
        str(_cfg("CITIZEN_MESSAGE_TEMPLATES")[FOLLOW_UP_MESSAGE]),
        link=issued.rate_url,
        subject=("rating", rating.id),
        actor=actor,
    )


def resend_follow_up(rating: Rating, actor: User, *, now: datetime | None = None) -> CitizenMessage:
    """A new 追评 link to the same number as before (the old link stops working)."""
    if not follow_up_messages(rating):
        raise Conflict("No follow-up link was sent for this rating yet.")
    message = send_follow_up(rating, actor, now=now)
    if message is None:
        raise Conflict("The rater left no number to send to.")
    return message


def follow_up_messages(rating: Rating) -> list[CitizenMessage]:
    return messages.messages_about("rating", rating.id, FOLLOW_UP_MESSAGE)
