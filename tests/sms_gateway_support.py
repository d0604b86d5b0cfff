"""A stand-in for a city's SMS gateway on 127.0.0.1, for tests/core/test_sms_gateway.py and
bench/sms_soak.py: it verifies the signature of every request (and that the signed body carries
the same key and timestamp as the headers), dedupes by idempotency key, can answer 500 to every
n-th request, and can go down (connection refused) and come back on the same port."""

import json
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from sqlalchemy import func, select
from stand_in_server import StandInServer

from core.db import db
from core.messages import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from core.models import CitizenMessage


class SmsGateway(StandInServer):
    PATH = "/sms"

    def __init__(self, secret: str, fail_every: int = 0) -> None:
        super().__init__()
        self.secret = secret
        self.fail_every = fail_every
        self.requests = 0
        self.rejected = 0  # bad signature, or headers that differ from the signed body
        self.duplicates: list[str] = []  # keys received again after they were accepted
        self.accepted: dict[str, dict[str, Any]] = {}  # key -> body, first acceptance
        self.headers: list[dict[str, str]] = []

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        key = handler.headers.get(IDEMPOTENCY_HEADER, "")
        with self.lock:
            self.requests += 1
            number = self.requests
            self.headers.append(dict(handler.headers.items()))
        valid = verify(self.secret, raw, handler.headers.get(SIGNATURE_HEADER, ""))
        body: dict[str, Any] = json.loads(raw) if valid else {}
        if (
            not valid
            or body.get("messageId") != key
            or str(body.get("sentAt")) != handler.headers.get(TIMESTAMP_HEADER)
        ):
            with self.lock:
                self.rejected += 1
            self._answer(handler, 401, {"ok": False})
            return
        if self.fail_every and number % self.fail_every == 0:
            self._answer(handler, 500, {"ok": False})
            return
        with self.lock:
            if key in self.accepted:
                self.duplicates.append(key)
            else:
                self.accepted[key] = body
        self._answer(handler, 200, {"ok": True})


@dataclass(frozen=True)
class ClosedTicket:
    """What ratings needs of a closed 12345 ticket (ratings.tokens.TicketLike)."""

    id: int
    number: str
    caller_phone: str
    lead_department_id: int | None = None
    region_code: str | None = None
    service_item_id: int | None = None
    caller_name: str | None = ""
    confidential: bool = False
    is_enterprise: bool = False
    closed_at: datetime | None = None


def close_tickets(first_id: int, count: int) -> dict[str, str]:
    """`count` tickets closing, each sending its caller the satisfaction link through the outbox
    (one commit per closing, as the closing request does); message id -> the caller's number."""
    from ratings import tokens

    sent: dict[str, str] = {}
    for n in range(first_id, first_id + count):
        phone = f"139{n:08d}"
        ticket = ClosedTicket(id=n, number=f"T{n:08d}", caller_phone=phone)
        message = tokens.send_satisfaction_link(tokens.open_event_for_ticket(ticket))
        assert message is not None
        db.session.commit()
        sent[str(message.id)] = phone
    return sent


def soak(gateway: SmsGateway, events: int, outage: float, timeout: float = 300.0) -> dict[str, Any]:
    """Close `events` tickets, half before and half during an outage of `outage` seconds, while
    the delivery job runs in this process; returns what happened (call inside an app context whose
    config points the http sender at `gateway`, with short retries)."""
    from core import messages

    started = time.monotonic()
    expected = close_tickets(1, events // 2)
    messages.deliver_due()
    outage_thread = gateway.down_for(outage)
    expected |= close_tickets(events // 2 + 1, events - events // 2)
    rounds = 0
    while time.monotonic() - started < timeout:
        messages.deliver_due()
        rounds += 1
        if len(gateway.accepted) >= len(expected) and not outage_thread.is_alive():
            break
        time.sleep(0.05)
    messages.deliver_due()  # a last round: anything sent again now would be a duplicate
    statuses = dict(
        db.session.execute(select(CitizenMessage.status, func.count()).group_by(CitizenMessage.status)).all()
    )
    return {
        "events": events,
        "accepted": len(gateway.accepted),
        "duplicates": len(gateway.duplicates),
        "rejected_signatures": gateway.rejected,
        "requests": gateway.requests,
        "rounds": rounds,
        "outbox": {str(k): v for k, v in statuses.items()},
        "right_number": sum(1 for key, phone in expected.items() if gateway.accepted.get(key, {}).get("to") == phone),
        "most_attempts": db.session.scalar(select(func.max(CitizenMessage.attempts))),
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }
