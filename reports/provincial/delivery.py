"""The sender: signs each outbox row and POSTs it to REPORTING_URL, committing each outcome.

One request per row, JSON, with `X-Haocha-Signature: sha256=<hex HMAC-SHA256 of the raw body>`,
`X-Haocha-Timestamp` (unix seconds) and `Idempotency-Key: <row id>`. The body repeats the key
(`reportId`) and the timestamp (`sentAt`), so the signature covers them too. A row is marked sent
only after a 2xx, in its own commit; a crash between the 2xx and that commit means the row is
sent again, and the receiver, which dedupes by key, answers 2xx without counting it twice.
"""

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from core.db import db, set_write_intent
from reports.provincial import service
from reports.provincial.models import OutboxStatus

log = logging.getLogger("haocha.reporting")

SIGNATURE_HEADER = "X-Haocha-Signature"
TIMESTAMP_HEADER = "X-Haocha-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "haocha-reporting/1"
RESPONSE_READ_LIMIT = 64 * 1024
# Answers that say "the receiver as a whole is not taking anything now": stop this round.
BACK_OFF_STATUSES = frozenset({429, 503})
# A tick of the delivery job sends for at most this long, then leaves the rest to the next tick.
TICK_BUDGET_SECONDS = 60.0


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the HMAC over the exact bytes received, compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def encode_body(row: service.Claimed, sent_at: int) -> bytes:
    """The JSON sent for a row: its provincial record plus reportId (the key) and sentAt."""
    document = {**row.payload, "reportId": str(row.id), "sentAt": sent_at}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def lease_seconds(timeout: float) -> float:
    """How long a claim keeps a row from other senders: a few request timeouts."""
    return 3 * timeout + 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: following it would turn the POST into a GET and lose the body."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class Attempt:
    """The outcome of one request."""

    ok: bool
    status: int | None
    error: str = ""
    stop: bool = False  # the receiver is unreachable or asked everyone to back off


def post(url: str, secret: str, timeout: float, row: service.Claimed) -> Attempt:
    """Send one row; never raises for network or HTTP failures."""
    sent_at = int(time.time())
    body = encode_body(row, sent_at)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in deliver_due
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, body),
            TIMESTAMP_HEADER: str(sent_at),
            IDEMPOTENCY_HEADER: str(row.id),
        },
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(RESPONSE_READ_LIMIT)
            code = int(response.status)
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode("utf-8", "replace") if error.fp else ""
        error.close()
        return Attempt(False, error.code, f"HTTP {error.code}: {detail}".strip(), error.code in BACK_OFF_STATUSES)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        return Attempt(False, None, f"unreachable: {reason}", stop=True)
    if 200 <= code < 300:
        return Attempt(True, code)
    return Attempt(False, code, f"HTTP {code}", code in BACK_OFF_STATUSES)


@dataclass
class DeliveryReport:
    """What one run of the sender did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    idle: str = ""

    def summary(self) -> str:
        if self.idle:
            return f"idle: {self.idle}"
        return f"sent {self.sent}, failed {self.failed}, dead {self.dead}"


def receiver_label() -> str:
    """Where reports go, without any credentials the URL may carry; empty when not configured."""
    url = str(current_app.config.get("REPORTING_URL") or "")
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _idle_reason(config: Any) -> str:
    url = str(config.get("REPORTING_URL") or "")
    if not url:
        return "no REPORTING_URL"
    if not url.startswith(("http://", "https://")):
        return "REPORTING_URL must be an http(s) URL"
    if not config.get("REPORTING_SECRET"):
        return "no REPORTING_SECRET (reports are never sent unsigned)"
    return ""


def deliver_due(budget_seconds: float = TICK_BUDGET_SECONDS) -> DeliveryReport:
    """Send due rows, each subject's in id order, until none is due, the receiver is unreachable,
    or the budget is spent. Commits after every row."""
    config = current_app.config
    idle = _idle_reason(config)
    if idle:
        return DeliveryReport(idle=idle)
    # Every transaction here writes: on SQLite they must begin IMMEDIATE, whatever the caller's
    # context last said (a read-only request in the same thread, e.g. in tests).
    set_write_intent(True)
    timeout = float(config["REPORTING_TIMEOUT_SECONDS"])
    lease = lease_seconds(timeout)
    report = DeliveryReport()
    tried: set[int] = set()
    started = time.monotonic()
    while time.monotonic() - started < budget_seconds:
        batch = service.claim_due(int(config["REPORTING_BATCH_SIZE"]), lease)
        db.session.commit()
        # A row tries at most once per run: one that failed and is due again waits for the next.
        again = [row.id for row in batch if row.id in tried]
        if again:
            service.release(again)
            db.session.commit()
        batch = [row for row in batch if row.id not in tried]
        if not batch or _send_batch(batch, config, timeout, lease, report, tried):
            break
    return report


def _send_batch(
    batch: list[service.Claimed], config: Any, timeout: float, lease: float, report: DeliveryReport, tried: set[int]
) -> bool:
    """Try each claimed row once; True when the run should stop (receiver unreachable)."""
    started = time.monotonic()
    for index, row in enumerate(batch):
        # Never send a row whose lease could run out mid-request: another sender might take it.
        if time.monotonic() - started + timeout > lease - 5:
            service.release([r.id for r in batch[index:]])
            db.session.commit()
            return False
        attempt = post(config["REPORTING_URL"], config["REPORTING_SECRET"], timeout, row)
        tried.add(row.id)
        if attempt.ok:
            service.mark_sent(row.id)
            report.sent += 1
        else:
            status = service.mark_failed(
                row,
                attempt.error,
                int(config["REPORTING_MAX_ATTEMPTS"]),
                float(config["REPORTING_BACKOFF_BASE_SECONDS"]),
                float(config["REPORTING_BACKOFF_CAP_SECONDS"]),
            )
            report.failed += 1
            if status == OutboxStatus.DEAD:
                report.dead += 1
                log.warning("report %s (%s) is a dead letter: %s", row.id, row.kind, attempt.error)
            else:
                log.info("report %s (%s) failed: %s", row.id, row.kind, attempt.error)
        db.session.commit()
        if attempt.stop:
            service.release([r.id for r in batch[index + 1 :]])
            db.session.commit()
            return True
    return False
