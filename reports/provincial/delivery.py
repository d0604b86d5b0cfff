"""The sender: signs each outbox row and POSTs it to REPORTING_URL, many subjects at once.

One request per row, JSON, with `X-Haocha-Signature: sha256=<hex HMAC-SHA256 of the raw body>`,
`X-Haocha-Timestamp` (unix seconds) and `Idempotency-Key: <row id>`. The body repeats the key
(`reportId`) and the timestamp (`sentAt`), so the signature covers them too. A row is marked sent
only after a 2xx; a crash between the 2xx and that commit means the row is sent again, and the
receiver, which dedupes by key, answers 2xx without counting it twice.

Up to REPORTING_CONCURRENCY requests are in flight at once, over one kept connection pool. Only
the job's own thread touches the database: it claims rows (each the oldest unsent row of its
subject, so a subject never has two rows in flight), hands them to worker threads that only do
HTTP, and records the outcomes, committing once per round.
"""

import hashlib
import hmac
import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import current_app

from core.db import db, set_write_intent
from reports.provincial import service
from reports.provincial.models import OutboxStatus

log = logging.getLogger("haocha.reporting")
# httpx logs every request at INFO; the outcomes that matter are logged here, once each.
logging.getLogger("httpx").setLevel(logging.WARNING)

SIGNATURE_HEADER = "X-Haocha-Signature"
TIMESTAMP_HEADER = "X-Haocha-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "haocha-reporting/1"
RESPONSE_READ_LIMIT = 64 * 1024
ERROR_DETAIL_LIMIT = 300
# Answers that say "the receiver as a whole is not taking anything now": stop this round.
BACK_OFF_STATUSES = frozenset({429, 503})
UNREACHABLE = "unreachable:"
# How the errors of a receiver-wide stop begin (see post): rows that waited only for these are
# due again as soon as the receiver answers.
STOP_ERRORS = (UNREACHABLE, *(f"HTTP {code}:" for code in sorted(BACK_OFF_STATUSES)))
# A tick of the delivery job claims for at most this long, then leaves the rest to the next tick.
TICK_BUDGET_SECONDS = 60.0
# While requests are in flight and slots are free, look for newly due rows this often.
CLAIM_POLL_SECONDS = 0.2
# A lingering run with nothing to send looks (reading, not locking) for newly due rows this often.
IDLE_POLL_SECONDS = 0.25
# Within one run a failed row is tried again (once its backoff is over) no sooner than this:
# with a zero backoff a failing row would otherwise spin through its tries in one run.
RETRY_GAP_SECONDS = 0.5
# A lingering run that finds the receiver unreachable (or told to back off) pauses this long, then
# sends one request at a time until one succeeds, so an outage costs one try per pause, not a
# wait for the next tick once the receiver is back.
HALT_SECONDS = 2.0


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
    """How long a claim keeps a row from other senders: longer than one request can take (connect,
    write and read each get the timeout), plus one quick resend on a fresh connection (see post)."""
    return 4 * timeout + 5


_client_lock = threading.Lock()
_client: httpx.Client | None = None
_client_key: tuple[int, float] | None = None


def http_client(concurrency: int, timeout: float) -> httpx.Client:
    """The process's kept connection pool: one connection per slot, reused across requests and
    runs, so a busy hour does not pay a TCP (and TLS) handshake per report."""
    global _client, _client_key
    with _client_lock:
        if _client is None or _client_key != (concurrency, timeout):
            if _client is not None:
                _client.close()
            _client = httpx.Client(
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
                # A redirect is a failure: following it could turn the POST into a GET and lose the body.
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
            _client_key = (concurrency, timeout)
        return _client


@dataclass(frozen=True)
class Attempt:
    """The outcome of one request."""

    ok: bool
    status: int | None
    error: str = ""
    stop: bool = False  # the receiver is unreachable or asked everyone to back off


def _read_some(response: httpx.Response, limit: int) -> bytes:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]


def _exchange(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    with client.stream("POST", url, content=body, headers=headers) as response:
        code = response.status_code
        return code, _read_some(response, RESPONSE_READ_LIMIT if 200 <= code < 300 else ERROR_DETAIL_LIMIT)


def post(client: httpx.Client, url: str, secret: str, row: service.Claimed, timeout: float) -> Attempt:
    """Send one row; never raises for network or HTTP failures. Runs on a worker thread: no database."""
    sent_at = int(time.time())
    body = encode_body(row, sent_at)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(secret, body),
        TIMESTAMP_HEADER: str(sent_at),
        IDEMPOTENCY_HEADER: str(row.id),
    }
    started = time.monotonic()
    try:
        try:
            code, detail = _exchange(client, url, body, headers)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            # A kept connection the receiver had closed (idle timeout, restart) fails at once; send
            # again on a fresh one. Harmless if the first did arrive: the receiver dedupes by key.
            if time.monotonic() - started >= timeout:
                raise
            code, detail = _exchange(client, url, body, headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        return Attempt(False, None, f"{UNREACHABLE} {error or type(error).__name__}", stop=True)
    except httpx.TimeoutException as error:
        # A slow answer fails this report only; the others keep going.
        return Attempt(False, None, f"timeout: {type(error).__name__}")
    except (httpx.HTTPError, OSError) as error:
        return Attempt(False, None, f"transport error: {type(error).__name__}: {error}")
    if 200 <= code < 300:
        return Attempt(True, code)
    text = detail.decode("utf-8", "replace")
    return Attempt(False, code, f"HTTP {code}: {text}".strip(), code in BACK_OFF_STATUSES)


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


@dataclass
class _Run:
    """One delivery run's state; every method but the workers' `post` runs on the job's thread."""

    config: Any
    budget_seconds: float
    linger: bool  # stay for the whole budget, sending rows as they fall due (the scheduler's run)
    report: DeliveryReport = field(default_factory=DeliveryReport)
    in_flight: dict[Future[Attempt], service.Claimed] = field(default_factory=dict)
    last_try: dict[int, float] = field(default_factory=dict)  # failed row id -> monotonic time of its try
    stopped: bool = False  # the receiver is unreachable or asked us to back off: claim nothing more
    halted_until: float = 0.0  # lingering: no claims before this (monotonic) time
    probing: bool = False  # lingering, after a halt: one request at a time until one succeeds

    def __post_init__(self) -> None:
        self.concurrency = max(int(self.config["REPORTING_CONCURRENCY"]), 1)
        self.timeout = float(self.config["REPORTING_TIMEOUT_SECONDS"])
        self.lease = lease_seconds(self.timeout)
        self.started = time.monotonic()

    def execute(self) -> DeliveryReport:
        client = http_client(self.concurrency, self.timeout)
        url, secret = str(self.config["REPORTING_URL"]), str(self.config["REPORTING_SECRET"])
        finished: list[tuple[service.Claimed, Attempt]] = []
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="reporting") as pool:
            while True:
                # One transaction per round: the outcomes that came back, then the next claims
                # (an acknowledged row lets the next row of its subject be claimed in the same round).
                self._record(finished)
                finished = []
                claimed = self._claim() if self._may_claim() else []
                db.session.commit()
                for row in claimed:
                    self.in_flight[pool.submit(post, client, url, secret, row, self.timeout)] = row
                if not self.in_flight:
                    if self.linger and self._wait_for_work():
                        continue
                    break
                poll = CLAIM_POLL_SECONDS if self._may_claim() else None
                done, _ = wait(list(self.in_flight), timeout=poll, return_when=FIRST_COMPLETED)
                finished = [(self.in_flight.pop(future), future.result()) for future in done]
        return self.report

    def _wait_for_work(self) -> bool:
        """Idle until a row is due (and any halt is over); False when the budget ends first.
        The peek is a read, so an idle sender never takes SQLite's write lock."""
        while not self.stopped and self._within_budget():
            time.sleep(IDLE_POLL_SECONDS)
            if time.monotonic() < self.halted_until:
                continue
            set_write_intent(False)
            try:
                due = service.any_due(exclude=self._recent_failures())
            finally:
                db.session.rollback()
                set_write_intent(True)
            if due:
                return True
        return False

    def _recent_failures(self) -> list[int]:
        now = time.monotonic()
        self.last_try = {i: t for i, t in self.last_try.items() if now - t < RETRY_GAP_SECONDS}
        return list(self.last_try)

    def _within_budget(self) -> bool:
        return time.monotonic() - self.started < self.budget_seconds

    def _may_claim(self) -> bool:
        slots = 1 if self.probing else self.concurrency
        return (
            not self.stopped
            and len(self.in_flight) < slots
            and time.monotonic() >= self.halted_until
            and self._within_budget()
        )

    def _claim(self) -> list[service.Claimed]:
        slots = 1 if self.probing else self.concurrency
        limit = min(slots - len(self.in_flight), int(self.config["REPORTING_BATCH_SIZE"]))
        return service.claim_due(max(limit, 1), self.lease, exclude=self._recent_failures())

    def _record(self, finished: list[tuple[service.Claimed, Attempt]]) -> None:
        for row, attempt in sorted(finished, key=lambda pair: pair[0].id):
            if attempt.ok:
                service.mark_sent(row.id)
                self.report.sent += 1
                if self.probing:
                    # Back after an outage: the rows that only waited for it go now, in id order,
                    # not after a backoff that grew with every probe.
                    self.probing = False
                    service.wake_waiting(STOP_ERRORS)
            elif attempt.stop and (self.stopped or time.monotonic() < self.halted_until):
                # The receiver is already known to be down: one try counted per halt is enough.
                service.release([row.id])
            else:
                self._failed(row, attempt)

    def _failed(self, row: service.Claimed, attempt: Attempt) -> None:
        status = service.mark_failed(
            row,
            attempt.error,
            int(self.config["REPORTING_MAX_ATTEMPTS"]),
            float(self.config["REPORTING_BACKOFF_BASE_SECONDS"]),
            float(self.config["REPORTING_BACKOFF_CAP_SECONDS"]),
        )
        self.report.failed += 1
        self.last_try[row.id] = time.monotonic()
        if attempt.stop and self.linger:
            self.halted_until, self.probing = time.monotonic() + HALT_SECONDS, True
        elif attempt.stop:
            self.stopped = True
        if status == OutboxStatus.DEAD:
            self.report.dead += 1
            log.warning("report %s (%s) is a dead letter: %s", row.id, row.kind, attempt.error)
        else:
            log.info("report %s (%s) failed: %s", row.id, row.kind, attempt.error)


def deliver_due(budget_seconds: float | None = None, linger: bool = False) -> DeliveryReport:
    """Send due rows, up to REPORTING_CONCURRENCY at once and each subject's in id order, until none
    is due (with `linger`: until the budget is spent, sending rows as they fall due), the receiver
    is unreachable, or the budget is spent; what is in flight then finishes."""
    config = current_app.config
    idle = _idle_reason(config)
    if idle:
        return DeliveryReport(idle=idle)
    # Every transaction here writes: on SQLite they must begin IMMEDIATE, whatever the caller's
    # context last said (a read-only request in the same thread, e.g. in tests).
    set_write_intent(True)
    return _Run(config, TICK_BUDGET_SECONDS if budget_seconds is None else budget_seconds, linger).execute()
