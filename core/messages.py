"""Messages to citizens (SMS): an outbox written inside the caller's transaction and a job that
sends it after commit, with retries, through one pluggable sender.

A citizen's link (追评, a closed ticket's satisfaction rating) goes only to the citizen: it is
kept in the outbox row only until the sender has it, then wiped. Staff see that a message went
to 138****5678 at a time, and whether it was delivered — never the link.

The default sender logs. In development it logs the whole message (so a developer can follow a
link); in production it logs only the masked number and warns that no gateway is plugged in.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from core.db import db, is_postgresql, utcnow
from core.models import CitizenMessage, User
from core.privacy import mask_phone

log = logging.getLogger("haocha.messages")

PENDING, SENT, FAILED = "pending", "sent", "failed"
LINK = "{link}"


class SendFailed(Exception):
    """The gateway did not take the message; it is retried later."""


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    phone: str
    body: str


Sender = Callable[[OutgoingMessage], None]


def _log_sender(message: OutgoingMessage) -> None:
    if current_app.config.get("HAOCHA_ENV") == "production":
        log.warning("no SMS gateway configured: message %s to %s not delivered", message.id, mask_phone(message.phone))
        raise SendFailed("no SMS gateway configured")
    log.info("SMS to %s (message %s): %s", mask_phone(message.phone), message.id, message.body)


_sender: Sender = _log_sender


def set_sender(sender: Sender | None) -> None:
    """Plug in how messages leave the system (an SMS gateway); None restores the log sender."""
    global _sender
    _sender = sender or _log_sender


def enqueue(
    kind: str,
    phone: str,
    text: str,
    link: str | None = None,
    subject: tuple[str, int] | None = None,
    actor: User | None = None,
) -> CitizenMessage:
    """Write a message to the outbox in the current transaction; it is sent after commit."""
    if link is not None and LINK not in text:
        raise ValueError("a message carrying a link needs a {link} placeholder")
    message = CitizenMessage(
        kind=kind,
        phone=phone,
        text=text,
        link=link,
        subject_type=subject[0] if subject else "",
        subject_id=subject[1] if subject else None,
        created_by_id=actor.id if actor else None,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    return message


def messages_about(subject_type: str, subject_id: int, kind: str | None = None) -> list[CitizenMessage]:
    """The messages sent about a subject, oldest first (for the staff page: masked, no link)."""
    stmt = select(CitizenMessage).where(
        CitizenMessage.subject_type == subject_type, CitizenMessage.subject_id == subject_id
    )
    if kind is not None:
        stmt = stmt.where(CitizenMessage.kind == kind)
    return list(db.session.scalars(stmt.order_by(CitizenMessage.id)))


def _claim(message_id: int) -> CitizenMessage | None:
    stmt = select(CitizenMessage).where(CitizenMessage.id == message_id, CitizenMessage.status == PENDING)
    if is_postgresql():
        stmt = stmt.with_for_update(skip_locked=True)
    return db.session.scalar(stmt)


def _backoff(attempts: int) -> timedelta:
    base = float(current_app.config["CITIZEN_MESSAGE_RETRY_SECONDS"])
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600.0))


def _send_one(message: CitizenMessage, now: datetime) -> bool:
    body = message.text.replace(LINK, message.link or "")
    message.attempts += 1
    try:
        _sender(OutgoingMessage(message.id, message.phone, body))
    except Exception as exc:  # any gateway failure is a retry, never a lost message
        message.last_error = str(exc)[:200]
        if message.attempts >= int(current_app.config["CITIZEN_MESSAGE_MAX_ATTEMPTS"]):
            message.status, message.link = FAILED, None
        else:
            message.next_attempt_at = now + _backoff(message.attempts)
        return False
    message.status, message.sent_at, message.link, message.last_error = SENT, now, None, ""
    return True


def deliver_due(now: datetime | None = None, limit: int = 200) -> str:
    """Send what is due, one commit per message so a crash never sends one twice; on PostgreSQL
    rows are claimed with FOR UPDATE SKIP LOCKED."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(CitizenMessage.id)
            .where(CitizenMessage.status == PENDING, CitizenMessage.next_attempt_at <= now)
            .order_by(CitizenMessage.id)
            .limit(limit)
        )
    )
    sent = failed = 0
    for message_id in ids:
        message = _claim(message_id)
        if message is None:
            db.session.rollback()
            continue
        if _send_one(message, now):
            sent += 1
        else:
            failed += 1
        db.session.commit()
    return f"{sent} sent, {failed} failed"
