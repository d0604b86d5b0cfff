"""The citizen's reference number and private status link (查询进度).

After rating, the citizen gets a reference number (said on the phone, searched on the public
board) and a status link: a random token of at least 128 bits, stored only as its SHA-256 hash
like rating tokens, shown on the thanks page and sent by message to the rater's own number, and
never on a staff page. The status page reads, in plain words, what happened since: the callback,
the rectification case, the department's accepted report, publication, and the 追评 when it opens.
It shows no staff names and no internal notes; the department's report only as published.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import messages
from core.auth import token_digest
from core.db import Base, UTCDateTime, db, utcnow
from core.errors import Conflict, NotFound
from core.models import CitizenMessage
from ratings import links
from ratings.models import Rating

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
