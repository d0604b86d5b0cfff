"""The sender against a real HTTP receiver on 127.0.0.1 that verifies every signature and dedupes
by idempotency key: headers, failures, backoff, dead letters, outages, and the acceptance run
(scaled for CI; bench/reporting_soak.py is the full 10,000-ratings-at-50-a-second version)."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from reporting_support import Receiver, record_ratings
from sqlalchemy import func, select, update

from core.db import db, utcnow
from reports.provincial import delivery, service
from reports.provincial.models import OutboxRow, OutboxStatus

SECRET = "test-reporting-secret"


@pytest.fixture
def receiver():
    server = Receiver(SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def reporting(app, monkeypatch, receiver):
    """The session app pointed at the receiver, with fast retries."""
    for key, value in {
        "REPORTING_URL": receiver.url,
        "REPORTING_SECRET": SECRET,
        "REPORTING_TIMEOUT_SECONDS": 5.0,
        "REPORTING_BACKOFF_BASE_SECONDS": 0.0,
        "REPORTING_BACKOFF_CAP_SECONDS": 0.0,
        "REPORTING_MAX_ATTEMPTS": 3,
        "REPORTING_BATCH_SIZE": 10,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    return app


def _row(subject_id, **payload):
    return service.enqueue("rating", "event", subject_id, {"projectNo": f"P{subject_id}", **payload})


def _statuses():
    return {r.id: r.status for r in db.session.scalars(select(OutboxRow))}


def test_signature_verification_detects_tampering():
    body = b'{"projectNo":"P1","reportId":"1","satisfaction":5}'
    signature = delivery.sign(SECRET, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert delivery.verify(SECRET, body, signature)
    assert not delivery.verify(SECRET, body.replace(b"5", b"1"), signature)
    assert not delivery.verify("another-secret", body, signature)
    assert not delivery.verify(SECRET, body, "")


def test_rows_are_signed_keyed_and_sent_once(database, reporting, receiver):
    rows = [_row(1, satisfaction=5, writingEvaluation="好"), _row(2), _row(1)]
    report = delivery.deliver_due()
    assert (report.sent, report.failed) == (3, 0)
    # Subjects go out side by side; within subject P1 the first row is acknowledged before the third.
    assert sorted(receiver.order, key=int) == [str(r.id) for r in rows] and receiver.rejected == 0
    assert receiver.order.index(str(rows[0].id)) < receiver.order.index(str(rows[2].id))
    [first] = [h for h in receiver.headers if h["Idempotency-Key"] == str(rows[0].id)]
    assert first["Idempotency-Key"] == str(rows[0].id)
    assert first["X-Haocha-Signature"].startswith("sha256=")
    assert abs(int(first["X-Haocha-Timestamp"]) - time.time()) < 60
    assert first["Content-Type"] == "application/json; charset=utf-8"
    body = receiver.accepted[str(rows[0].id)]
    assert body == {
        "projectNo": "P1",
        "satisfaction": 5,
        "writingEvaluation": "好",
        "reportId": str(rows[0].id),
        "sentAt": int(first["X-Haocha-Timestamp"]),
    }
    assert set(_statuses().values()) == {OutboxStatus.SENT}
    assert delivery.deliver_due().sent == 0  # acknowledged rows are never sent again
    assert receiver.requests == 3 and receiver.duplicates == []


def test_a_wrong_secret_is_rejected_by_the_receiver_and_nothing_is_marked_sent(database, reporting, receiver):
    reporting.config["REPORTING_SECRET"] = "not-the-shared-secret"
    row = _row(1)
    report = delivery.deliver_due()
    assert (report.sent, report.failed) == (0, 1)
    assert receiver.rejected == 1 and receiver.accepted == {}
    db.session.refresh(row)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and "HTTP 401" in row.last_error


def test_a_failing_row_waits_and_blocks_only_its_own_subject(database, reporting, receiver):
    reporting.config["REPORTING_BACKOFF_BASE_SECONDS"] = 3600.0
    reporting.config["REPORTING_BACKOFF_CAP_SECONDS"] = 3600.0
    a1, b1, a2 = _row(1), _row(2), _row(1)
    receiver.fail_every = 1  # everything fails: a1 and b1 back off; a2 waits behind a1
    assert delivery.deliver_due().failed == 2
    assert receiver.requests == 2
    receiver.fail_every = 0  # the receiver recovers; a1's wait is over, b1's is not
    db.session.execute(update(OutboxRow).where(OutboxRow.id == a1.id).values(next_attempt_at=a1.created_at))
    assert delivery.deliver_due().sent == 2
    assert receiver.order == [str(a1.id), str(a2.id)]
    assert _statuses()[b1.id] == OutboxStatus.PENDING


def test_dead_after_the_configured_number_of_tries(database, reporting, receiver):
    receiver.fail_every = 1
    row = _row(1)
    for _ in range(3):
        delivery.deliver_due()
    db.session.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.DEAD, 3)
    assert delivery.deliver_due().failed == 0  # dead letters wait for a human
    assert service.retry() == 1
    receiver.fail_every = 0
    assert delivery.deliver_due().sent == 1


def test_an_unreachable_receiver_stops_the_round_and_counts_one_try(database, reporting, receiver):
    rows = [_row(n) for n in range(1, 6)]
    receiver.stop()
    report = delivery.deliver_due()
    assert (report.sent, report.failed) == (0, 1)
    attempts = [db.session.get(OutboxRow, r.id) for r in rows]
    for row in attempts:
        db.session.refresh(row)
    # All five went out at once and were refused; one try is counted, the others are given back.
    assert sorted(r.attempts for r in attempts) == [0, 0, 0, 0, 1]
    assert "unreachable" in max(attempts, key=lambda r: r.attempts).last_error
    receiver.start()
    reporting.config["REPORTING_MAX_ATTEMPTS"] = 5
    deadline = time.monotonic() + 10
    while service.backlog() and time.monotonic() < deadline:
        delivery.deliver_due()
    assert sorted(receiver.accepted, key=int) == [str(r.id) for r in rows]


class _Redirect(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args) -> None:
        return None


def test_a_redirect_is_a_failure_not_followed(database, reporting):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reporting.config["REPORTING_URL"] = f"http://127.0.0.1:{server.server_address[1]}/report"
        row = _row(1)
        assert delivery.deliver_due().failed == 1
        db.session.refresh(row)
        assert row.status == OutboxStatus.PENDING and "HTTP 307" in row.last_error
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_past_its_budget_claims_nothing_more_and_finishes_what_is_in_flight(database, reporting, receiver):
    reporting.config["REPORTING_CONCURRENCY"] = 1
    rows = [_row(n) for n in range(1, 4)]
    receiver.delay = 0.6
    report = delivery.deliver_due(budget_seconds=0.1)
    assert report.sent == 1 and len(receiver.accepted) == 1
    assert [db.session.get(OutboxRow, r.id).attempts for r in rows] == [0, 0, 0]
    assert len(service.claim_due(10, 30)) == 2  # the other two were never claimed: due now


def test_requests_overlap_across_subjects_up_to_the_concurrency_and_never_within_one(database, reporting, receiver):
    reporting.config["REPORTING_CONCURRENCY"] = 3
    rows = [_row(subject) for _ in range(3) for subject in range(1, 5)]  # four subjects, three rows each
    receiver.delay = 0.2
    assert delivery.deliver_due().sent == 12
    assert receiver.most_in_flight == 3
    assert receiver.same_subject_overlaps == 0
    assert receiver.out_of_order() == []
    assert sorted(receiver.accepted, key=int) == [str(r.id) for r in rows]


def test_connections_are_kept_and_reused(database, reporting, receiver):
    reporting.config["REPORTING_CONCURRENCY"] = 2
    for n in range(20):
        _row(n % 4)
    assert delivery.deliver_due().sent == 20
    assert delivery.deliver_due().sent == 0
    _row(9)
    assert delivery.deliver_due().sent == 1  # a later run uses the same pool
    assert receiver.requests == 21
    assert 1 <= receiver.connections <= 2


def test_a_timeout_fails_that_report_only_and_the_run_goes_on(database, reporting, receiver):
    reporting.config["REPORTING_TIMEOUT_SECONDS"] = 0.3
    reporting.config["REPORTING_CONCURRENCY"] = 2
    slow, *others = [_row(n) for n in range(1, 7)]
    later = _row(1)  # behind the slow one in its subject
    receiver.slow_keys[str(slow.id)] = 1.5
    report = delivery.deliver_due()
    assert (report.sent, report.failed) == (5, 1)
    db.session.refresh(slow)
    assert (slow.status, slow.attempts) == (OutboxStatus.PENDING, 1)
    assert slow.last_error.startswith("timeout")
    assert {str(r.id) for r in others} <= set(receiver.accepted)
    assert str(later.id) not in receiver.accepted  # never ahead of the report it follows
    del receiver.slow_keys[str(slow.id)]
    db.session.execute(update(OutboxRow).where(OutboxRow.id == slow.id).values(next_attempt_at=slow.created_at))
    assert delivery.deliver_due().sent == 2
    assert receiver.out_of_order() == []


@pytest.mark.slow
def test_acceptance_every_rating_reported_once_in_order_through_failures_and_an_outage(fresh_app):
    """Acceptance 1, scaled: 2,000 ratings (some with a 追评 on the same event), a receiver that
    fails every third request and is down for 3 seconds in the middle, ratings still arriving
    while delivery runs: exactly 2,000 reports accepted, none twice, each event's in order."""
    total, first_part = 2000, 1200
    receiver = Receiver(SECRET, fail_every=3).start()
    fresh_app.config.update(
        REPORTING_URL=receiver.url,
        REPORTING_SECRET=SECRET,
        REPORTING_TIMEOUT_SECONDS=5.0,
        REPORTING_BACKOFF_BASE_SECONDS=0.05,
        REPORTING_BACKOFF_CAP_SECONDS=1.0,
        REPORTING_MAX_ATTEMPTS=1000,
        REPORTING_BATCH_SIZE=50,
    )
    errors: list[BaseException] = []
    outage: list[threading.Thread] = []

    def produce() -> None:
        try:
            with fresh_app.app_context():
                record_ratings(total - first_part)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def take_down_in_the_middle(key: str) -> None:
        if len(receiver.accepted) == total // 2 and not outage:
            outage.append(receiver.down_for(3.0))

    try:
        with fresh_app.app_context():
            assert record_ratings(first_part) == first_part
        receiver.on_accept = take_down_in_the_middle
        producer = threading.Thread(target=produce)
        producer.start()
        deadline = time.monotonic() + 120
        with fresh_app.app_context():
            while time.monotonic() < deadline:
                delivery.deliver_due(budget_seconds=5)
                db.session.remove()
                if not producer.is_alive() and service.backlog() == 0:
                    break
                time.sleep(0.02)
            producer.join(30)
            assert not errors, errors
            counts = dict(db.session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
            ids = sorted(db.session.scalars(select(OutboxRow.id)))
            db.session.remove()
    finally:
        receiver.stop()
    assert outage, "the receiver went down in the middle"
    assert receiver.failed_on_purpose > 0
    assert counts == {OutboxStatus.SENT: total}
    assert len(ids) == total
    assert sorted(receiver.accepted, key=int) == [str(i) for i in ids]
    assert receiver.duplicates == []
    assert receiver.rejected == 0
    assert receiver.out_of_order() == []
    follow_ups = [b for b in receiver.accepted.values() if b["assessNumber"] == 2]
    assert follow_ups, "some events carry two reports"
    print(
        json.dumps(
            {
                "accepted": len(receiver.accepted),
                "requests": receiver.requests,
                "failed_on_purpose": receiver.failed_on_purpose,
                "duplicates": len(receiver.duplicates),
            }
        )
    )


@pytest.mark.slow
def test_a_lingering_run_probes_through_an_outage_and_wakes_what_waited_for_it(database, reporting, receiver):
    reporting.config["REPORTING_BACKOFF_BASE_SECONDS"] = 3600.0  # a counted try would wait an hour
    reporting.config["REPORTING_BACKOFF_CAP_SECONDS"] = 3600.0
    flaky = _row(9)
    receiver.fail_every = 1
    assert delivery.deliver_due().failed == 1  # an ordinary failure: its backoff stands
    receiver.fail_every = 0
    rows = [_row(n) for n in range(1, 4)]
    # Down before the run starts: a request that met the server halfway through going down
    # would fail as a transport error, an ordinary failure with its hour of backoff.
    outage = receiver.down_for(1.0, at_once=True)
    report = delivery.deliver_due(budget_seconds=8.0, linger=True)
    outage.join()
    assert report.sent == 3, "sent in the same run once the receiver was back"
    assert sorted(receiver.accepted, key=int) == [str(r.id) for r in rows]
    tries = {r.id: db.session.get(OutboxRow, r.id).attempts for r in rows}
    assert sum(tries.values()) >= 1, "the outage counted tries"
    db.session.refresh(flaky)
    assert (flaky.status, flaky.attempts) == (OutboxStatus.PENDING, 1), "a 500 is not the outage's"


def test_waking_after_an_outage_touches_only_rows_that_waited_for_it(database):
    later = utcnow() + timedelta(hours=1)
    errors = ["unreachable: [Errno 111] Connection refused", "HTTP 503: busy", "HTTP 500: boom", "HTTP 5031: odd"]
    rows = [_row(n) for n in range(1, 5)]
    for row, error in zip(rows, errors, strict=True):
        db.session.execute(
            update(OutboxRow).where(OutboxRow.id == row.id).values(last_error=error, next_attempt_at=later)
        )
    assert service.wake_waiting(delivery.STOP_ERRORS) == 2
    due = {r.id for r in service.claim_due(10, 30)}
    assert due == {rows[0].id, rows[1].id}
