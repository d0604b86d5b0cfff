"""Support for the reporting tests and bench/reporting_soak.py: a stand-in for the provincial
platform on 127.0.0.1 that verifies the signature of every request, dedupes by idempotency key,
keeps connections alive (HTTP/1.1), and can fail every n-th request, answer a share of requests
late, go down (connection refused; kept connections are dropped) and come back on the same port;
and a maker of real ratings (through ratings.recording, so the outbox fills by the signal)."""

import json
import random
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from stand_in_server import StandInServer

from core.db import db
from reports.provincial.delivery import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


class Receiver(StandInServer):
    PATH = "/report"
    KEEP_ALIVE = True

    def __init__(
        self,
        secret: str,
        fail_every: int = 0,
        delay: float = 0.0,
        slow_share: float = 0.0,
        slow_seconds: tuple[float, float] = (0.2, 2.0),
        seed: int = 20,
    ) -> None:
        super().__init__()
        self.secret = secret
        self.fail_every = fail_every  # answer 500 to every n-th request (0: never)
        self.delay = delay  # seconds to wait before answering
        self.slow_share = slow_share  # this share of requests waits a random time in slow_seconds first
        self.slow_seconds = slow_seconds
        self.random = random.Random(seed)
        self.slowed = 0
        self.accepted_at: dict[str, float] = {}  # key -> time.time() of first acceptance
        self.slow_keys: dict[str, float] = {}  # key -> seconds to wait before answering that key
        self.in_flight: dict[str, int] = {}  # projectNo -> requests being handled now
        self.most_in_flight = 0  # the most requests handled at once
        self.same_subject_overlaps = 0  # times a subject had two requests in flight at once
        self.requests = 0  # every request received while up
        self.failed_on_purpose = 0
        self.rejected = 0  # bad signature, or headers that do not match the signed body
        self.duplicates: list[str] = []  # keys received again after they were accepted
        self.accepted: dict[str, dict[str, Any]] = {}  # key -> body, first acceptance
        self.order: list[str] = []  # keys in the order first accepted
        self.headers: list[dict[str, str]] = []
        # Called with the key after a request is accepted and before the answer is sent.
        self.on_accept: Callable[[str], None] | None = None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if getattr(handler, "server", None) is not self._server:
            # Down (or restarted since this connection was opened): drop it without an answer.
            handler.close_connection = True
            return
        raw = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        key = handler.headers.get(IDEMPOTENCY_HEADER, "")
        signature = handler.headers.get(SIGNATURE_HEADER, "")
        stamp = handler.headers.get(TIMESTAMP_HEADER, "")
        with self.lock:
            self.requests += 1
            number = self.requests
            self.headers.append(dict(handler.headers.items()))
            slow = self.slow_share > 0 and self.random.random() < self.slow_share
            pause = self.random.uniform(*self.slow_seconds) if slow else 0.0
            self.slowed += int(slow)
        body: dict[str, Any] = {}
        valid = verify(self.secret, raw, signature)
        if valid:
            body = json.loads(raw)
            valid = body.get("reportId") == key and str(body.get("sentAt")) == stamp
        project = str(body.get("projectNo", ""))
        with self.lock:
            self.same_subject_overlaps += int(self.in_flight.get(project, 0) > 0)
            self.in_flight[project] = self.in_flight.get(project, 0) + 1
            self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        try:
            wait = self.delay + pause + self.slow_keys.get(key, 0.0)
            if wait:
                time.sleep(wait)
            self._decide(handler, number, key, body, valid)
        finally:
            with self.lock:
                self.in_flight[project] -= 1

    def _decide(
        self, handler: BaseHTTPRequestHandler, number: int, key: str, body: dict[str, Any], valid: bool
    ) -> None:
        if not valid:
            with self.lock:
                self.rejected += 1
            self._answer(handler, 401, {"error": "bad signature"})
            return
        if self.fail_every and number % self.fail_every == 0:
            with self.lock:
                self.failed_on_purpose += 1
            self._answer(handler, 500, {"error": "try again"})
            return
        with self.lock:
            if key in self.accepted:
                self.duplicates.append(key)
                duplicate = True
            else:
                self.accepted[key] = body
                self.accepted_at[key] = time.time()
                self.order.append(key)
                duplicate = False
        if not duplicate and self.on_accept is not None:
            self.on_accept(key)
        self._answer(handler, 200, {"accepted": key, "duplicate": duplicate})

    def out_of_order(self) -> list[str]:
        """Subjects (projectNo) whose reports were first accepted in other than id order."""
        seen: dict[str, int] = {}
        wrong = []
        for key in list(self.order):
            project = self.accepted[key]["projectNo"]
            if seen.get(project, 0) > int(key):
                wrong.append(project)
            seen[project] = int(key)
        return wrong


def record_ratings(count: int, follow_up_every: int = 4, commit_every: int = 100, rate: float = 0.0) -> int:
    """Record `count` real ratings, committing in batches: first ratings on new service events,
    and for every `follow_up_every`-th event a 追评 too (the same subject, later id). With `rate`,
    at that many ratings a second (committing ten times a second), as a province writes them.
    Returns the number of ratings recorded (= outbox rows written)."""
    import factories as f

    from ratings.models import EventKind, ServiceEvent
    from ratings.recording import record_rating

    dept = f.department()
    item = f.service_item(dept)
    made = events = since_commit = 0
    started = time.monotonic()
    if rate:
        commit_every = max(int(rate / 10), 1)
    while made < count:
        event = ServiceEvent(
            kind=EventKind.COUNTER, department_id=dept.id, service_item_id=item.id, region_code=dept.region_code
        )
        db.session.add(event)
        db.session.flush()
        events += 1
        # Satisfied levels, so no callback is scheduled (keeps the run about reporting).
        record_rating(event, 3 + made % 3, 1 + made % 8, "窗口服务好" if made % 5 == 0 else "")
        made += 1
        if made < count and follow_up_every and events % follow_up_every == 0:
            record_rating(event, 5, 2, "整改后满意", assess_number=2)
            made += 1
        since_commit += 1
        if since_commit >= commit_every:
            db.session.commit()
            since_commit = 0
            ahead = made / rate - (time.monotonic() - started) if rate else 0.0
            if ahead > 0:
                time.sleep(ahead)
    db.session.commit()
    return made
