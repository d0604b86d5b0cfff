"""The citizen's reference number and private status link (查询进度).

After rating, the citizen gets a reference number (said on the phone, searched on the public
board) and a status link: a random token of at least 128 bits, stored only as its SHA-256 hash
like rating tokens, shown on the thanks page and sent by message to the rater's own number, and
never on a staff page. The status page reads, in plain words, what happened since: the callback,
the rectification case, the department's accepted report, publication, and the 追评 when it opens.
It shows no staff names and no internal notes; the department's report only as published.
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import messages
from core.auth import token_digest
from core.db import Base, UTCDateTime, db, utcnow
from core.errors import Conflict, NotFound
from core.models import CitizenMessage
from ratings import links
from ratings.models import Rating, ServiceEvent

STATUS_PATH = "/status/{token}"
STATUS_MESSAGE = "status"
TICKET_STATUS_MESSAGE = "ticket_status"
# Unambiguous when read aloud or typed from a message: no 0/O, 1/I/L.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 8
TOKEN_BYTES = 24  # 192 bits


class StatusLink(Base):
    """A rating's reference number and the hash of its private status token."""

    __tablename__ = "status_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A first rating's link, or a 12345 ticket's (its reference is the ticket's number).
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id"), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    rating: Mapped[Rating | None] = relationship(lazy="joined")


@dataclass(frozen=True)
class IssuedStatus:
    """A status link in plain text, as it exists only at the moment it is issued."""

    reference: str
    token: str

    @property
    def url(self) -> str:
        return links.public_base() + STATUS_PATH.format(token=self.token)


def _new_reference() -> str:
    while True:
        reference = "HC" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if db.session.scalar(select(StatusLink.id).where(StatusLink.reference == reference)) is None:
            return reference


def issue_for_rating(rating: Rating) -> IssuedStatus:
    """A reference and a status token for a first rating, in the rating's transaction; the
    rater's own number (if left) gets both by message after commit."""
    if rating.assess_number != 1:
        raise Conflict("A status link follows a first rating.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = StatusLink(reference=_new_reference(), token_hash=token_digest(token), rating_id=rating.id)
    db.session.add(link)
    db.session.flush()
    issued = IssuedStatus(link.reference, token)
    if rating.contact_phone:
        send_status_message(rating, issued)
    return issued


def send_status_message(rating: Rating, issued: IssuedStatus) -> CitizenMessage:
    """The confirmation: the reference and the status link, nothing else about the citizen."""
    template = str(current_app.config["CITIZEN_MESSAGE_TEMPLATES"][STATUS_MESSAGE])
    return messages.enqueue(
        STATUS_MESSAGE,
        rating.contact_phone,
        template.replace("{reference}", issued.reference),
        link=issued.url,
        subject=("rating", rating.id),
    )


def issue_for_ticket(ticket: Any) -> IssuedStatus | None:
    """A closed 12345 ticket: its caller gets the ticket's number and a status link by message
    (in the closing's transaction, sent after commit). A ticket closed again (重办) gets a fresh
    token, and the earlier link stops working. None when the caller left no number."""
    phone = str(ticket.caller_phone or "")
    if not phone:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = db.session.scalar(select(StatusLink).where(StatusLink.ticket_id == ticket.id))
    if link is None:
        link = StatusLink(reference=str(ticket.number)[:32], ticket_id=ticket.id, token_hash=token_digest(token))
        db.session.add(link)
    else:
        link.token_hash = token_digest(token)
    db.session.flush()
    issued = IssuedStatus(link.reference, token)
    template = str(current_app.config["CITIZEN_MESSAGE_TEMPLATES"][TICKET_STATUS_MESSAGE])
    messages.enqueue(
        TICKET_STATUS_MESSAGE,
        phone,
        template.replace("{reference}", issued.reference),
        link=issued.url,
        subject=("ticket", int(ticket.id)),
    )
    return issued


def resolve(token: str) -> StatusLink:
    """The status link a token opens; 404 for anything unknown (no hint whether it ever existed)."""
    found = db.session.scalar(select(StatusLink).where(StatusLink.token_hash == token_digest(token)))
    if found is None:
        raise NotFound("Status link not found.")
    return found


def reference_rating_ids(reference: str) -> list[int]:
    """The rating a reference number names (the public board searches published cases by it)."""
    cleaned = reference.strip().upper()
    return list(db.session.scalars(select(StatusLink.rating_id).where(StatusLink.reference == cleaned)))


# --- what the citizen reads ---------------------------------------------------------------


@dataclass
class Step:
    title: Any
    at: datetime | None = None
    detail: Any = ""
    done: bool = True


@dataclass
class StatusView:
    reference: str
    rating: Rating
    event: ServiceEvent
    steps: list[Step] = field(default_factory=list)
    report: str = ""  # the department's report, as published
    follow_up_open: bool = False
    follow_up_level: int | None = None


@dataclass
class TicketView:
    reference: str
    steps: list[Step] = field(default_factory=list)
    rating_level: int | None = None


# A ticket's moves as the caller may read them: where it went and when; never who or why.
TICKET_STEPS: dict[str, Any] = {
    "dispatched": _l("Sent to %(department)s to handle"),
    "taken": _l("%(department)s took it on"),
    "closed": _l("Replied and closed"),
    "called_back": _l("We called you back about it"),
}


def ticket_view(link: StatusLink) -> TicketView:
    """The public timeline of a 12345 ticket: accepted, dispatched to which department, taken,
    replied and closed, called back — department names and times only (read-only)."""
    from hotline.models import Ticket, TicketEvent  # ratings reads hotline only for this page
    from ratings.service import event_rating, service_event_for_ticket

    view = TicketView(link.reference)
    ticket = db.session.get(Ticket, link.ticket_id)
    if ticket is None:
        return view
    view.steps.append(Step(_l("Your request was accepted"), ticket.created_at))
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.created_at, TicketEvent.id)
    )
    for event in events:
        title = TICKET_STEPS.get(event.to_status.value)
        if title is not None:
            department = event.department.name if event.department else str(_l("the responsible department"))
            view.steps.append(Step(_format(title, department), event.created_at))
    service_event = service_event_for_ticket(ticket.id)
    rating = event_rating(service_event) if service_event is not None else None
    if rating is not None:
        view.rating_level = rating.level
        view.steps.append(Step(_l("You rated how it was handled"), rating.created_at))
    return view


def _format(title: Any, department: Any) -> str:
    text = str(title)
    return text % {"department": department} if "%(department)s" in text else text


def status_view(link: StatusLink) -> StatusView:
    """The timeline of a rating as its rater may read it (read-only)."""
    from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
    from ratings.service import event_rating

    rating = link.rating
    if rating is None:  # a ticket's link: ticket_view reads it
        raise NotFound("Status link not found.")
    view = StatusView(link.reference, rating, rating.event)
    view.steps.append(Step(_l("We received your rating"), rating.created_at))
    callback = db.session.scalar(
        select(Callback).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW, Callback.rating_id == rating.id)
    )
    if callback is not None:
        view.steps.append(
            Step(_l("Call back scheduled"), callback.created_at, _l("due by %(when)s", when=_local(callback.due_at)))
        )
        if callback.status == CallbackStatus.DONE:
            view.steps.append(Step(_l("We called you back"), callback.completed_at))
        elif callback.status == CallbackStatus.UNREACHABLE:
            view.steps.append(Step(_l("We could not reach you by phone"), callback.completed_at))
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    if case is not None:
        if case.status == CaseStatus.DISMISSED:
            view.steps.append(Step(_l("The check found no problem to put right"), case.opened_at or case.created_at))
        else:
            view.steps.append(
                Step(
                    _l("Rectification case opened"),
                    case.opened_at or case.created_at,
                    _l("Responsible department: %(name)s", name=case.department.name),
                )
            )
        if case.accepted_at is not None:
            view.steps.append(Step(_l("The department's report was accepted"), case.accepted_at))
        if case.status == CaseStatus.PUBLISHED:
            view.steps.append(Step(_l("Published on the public feedback board"), case.published_at))
            view.report = case.public_action
            follow_up = event_rating(rating.event, 2)
            if follow_up is None:
                view.follow_up_open = True
            else:
                view.follow_up_level = follow_up.level
                view.steps.append(Step(_l("You gave your follow-up rating"), follow_up.created_at))
        elif case.status != CaseStatus.DISMISSED:
            view.steps.append(Step(_l("The department is putting it right"), None, done=False))
    elif callback is not None and callback.status == CallbackStatus.PENDING:
        view.steps.append(Step(_l("Waiting for the call back"), None, done=False))
    return view


def _local(moment: datetime) -> str:
    from core.templating import localtime

    return localtime(moment)


def follow_up_token(link: StatusLink) -> str:
    """A fresh 追评 token for the rater holding the status link, once the case is published and
    no 追评 was given (the one sent by message stops working: only the newest is valid)."""
    from callbacks.models import CaseStatus, RectificationCase
    from ratings.service import issue_follow_up_token

    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == link.rating_id))
    if link.rating is None or case is None or case.status != CaseStatus.PUBLISHED:
        raise Conflict("The follow-up rating opens once the case is published.")
    return issue_follow_up_token(link.rating).token
