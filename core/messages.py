"""Messages to citizens (SMS): an outbox written inside the caller's transaction and a job that
sends it after commit, with retries, through one pluggable sender.

A citizen's link (追评, a closed ticket's satisfaction rating) goes only to the citizen: it is
kept in the outbox row only until the sender has it, then wiped. Staff see that a message went
to 138****5678 at a time, and whether it was delivered — never the link.

Two senders, chosen by configuration (`SMS_SENDER=log|http`; unset: http when SMS_GATEWAY_URL is
set, else log). The log sender logs: in development the whole message (so a developer can follow a
link); in production only the masked number, with a warning that no gateway is plugged in. The
HTTP sender POSTs each message to a city's SMS gateway, signed like the provincial reporting
(`X-Haocha-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, `X-Haocha-Timestamp`,
`Idempotency-Key: <message id>`); the body repeats the key and the timestamp so the signature
covers them. A message is marked sent only after a 2xx, in its own commit; a crash between the 2xx
and that commit sends it again with the same key, and the gateway, deduping by key, drops it.
"""

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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


class GatewayUnreachable(SendFailed):
    """The gateway cannot be reached at all: the rest of this round waits for the next one."""


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


SIGNATURE_HEADER = "X-Haocha-Signature"
TIMESTAMP_HEADER = "X-Haocha-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "haocha-sms/1"
RESPONSE_READ_LIMIT = 64 * 1024


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body (the same scheme as reports.provincial.delivery)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a gateway does: recompute the HMAC over the exact bytes received, compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def encode_body(message: OutgoingMessage, sent_at: int) -> bytes:
    """The JSON sent: the message id (the idempotency key), the number, the text and the time;
    nothing else about the citizen."""
    document = {"messageId": str(message.id), "to": message.phone, "text": message.body, "sentAt": sent_at}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: following it would turn the POST into a GET and lose the body."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def _http_sender(message: OutgoingMessage) -> None:
    config = current_app.config
    url = str(config.get("SMS_GATEWAY_URL") or "")
    secret = str(config.get("SMS_GATEWAY_SECRET") or "")
    if not url.startswith(("http://", "https://")):
        raise GatewayUnreachable("SMS_GATEWAY_URL must be an http(s) URL")
    if not secret:
        raise GatewayUnreachable("no SMS_GATEWAY_SECRET (messages are never sent unsigned)")
    sent_at = int(time.time())
    body = encode_body(message, sent_at)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, body),
            TIMESTAMP_HEADER: str(sent_at),
            IDEMPOTENCY_HEADER: str(message.id),
        },
    )
    try:
        with _opener.open(request, timeout=float(config["SMS_GATEWAY_TIMEOUT_SECONDS"])) as response:
            response.read(RESPONSE_READ_LIMIT)
            code = int(response.status)
    except urllib.error.HTTPError as error:
        detail = error.read(200).decode("utf-8", "replace") if error.fp else ""
        error.close()
        if error.code in (429, 503):
            raise GatewayUnreachable(f"HTTP {error.code}: {detail}".strip()) from None
        raise SendFailed(f"HTTP {error.code}: {detail}".strip()) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise GatewayUnreachable(f"unreachable: {getattr(error, 'reason', error)}") from None
    if not 200 <= code < 300:
        raise SendFailed(f"HTTP {code}")


SENDERS: dict[str, Sender] = {"log": _log_sender, "http": _http_sender}

# A sender plugged in by code (tests, a deployment's own module); None: the configured one.
_sender: Sender | None = None


def configured_sender_name() -> str:
    """`SMS_SENDER` when set, else http when a gateway URL is configured, else log."""
    name = str(current_app.config.get("SMS_SENDER") or "").strip().lower()
    if not name:
        name = "http" if current_app.config.get("SMS_GATEWAY_URL") else "log"
    if name not in SENDERS:
        raise ValueError(f"SMS_SENDER must be one of {sorted(SENDERS)}, not {name!r}")
    return name


def current_sender() -> Sender:
    return _sender or SENDERS[configured_sender_name()]


def set_sender(sender: Sender | None) -> None:
    """Plug in how messages leave the system; None restores the configured sender."""
    global _sender
    _sender = sender


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


def _send_one(message: CitizenMessage, now: datetime, sender: Sender) -> bool | None:
    """True when sent, False when it failed, None when the gateway is unreachable (stop the round)."""
    body = message.text.replace(LINK, message.link or "")
    message.attempts += 1
    unreachable = False
    try:
        sender(OutgoingMessage(message.id, message.phone, body))
    except Exception as exc:  # any gateway failure is a retry, never a lost message
        unreachable = isinstance(exc, GatewayUnreachable)
        message.last_error = str(exc)[:200]
        if message.attempts >= int(current_app.config["CITIZEN_MESSAGE_MAX_ATTEMPTS"]):
            message.status, message.link = FAILED, None
        else:
            message.next_attempt_at = now + _backoff(message.attempts)
        return None if unreachable else False
    message.status, message.sent_at, message.link, message.last_error = SENT, now, None, ""
    return True


def deliver_due(now: datetime | None = None, limit: int = 200) -> str:
    """Send what is due, one commit per message so a crash never sends one twice; on PostgreSQL
    rows are claimed with FOR UPDATE SKIP LOCKED. An unreachable gateway ends the round: the
    rest waits for the next tick instead of each failing in turn."""
    now = now or utcnow()
    sender = current_sender()
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
        outcome = _send_one(message, now, sender)
        if outcome:
            sent += 1
        else:
            failed += 1
        db.session.commit()
        if outcome is None:
            break
    return f"{sent} sent, {failed} failed"
