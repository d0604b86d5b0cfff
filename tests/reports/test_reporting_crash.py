"""Acceptance 2: `kill -9` of the scheduler mid-delivery loses nothing and duplicates nothing the
receiver accepted. A real `flask scheduler run` delivers, several requests at a time, to a real
receiver on 127.0.0.1, which kills the scheduler with SIGKILL after accepting the 100th report and
before answering it; a second scheduler then finishes. Every report is accepted exactly once after
dedupe, only reports that were in flight at the kill (accepted, never recorded as sent) are sent
twice, and each service event's reports arrive in order."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reporting_support import Receiver, record_ratings
from sqlalchemy import func, select

from core.db import db
from reports.provincial.models import OutboxRow, OutboxStatus

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-secret"
TOTAL = 300
KILL_AFTER = 100
CONCURRENCY = 4


def _start(url: str, instance: Path, receiver: Receiver, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HAOCHA_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test",
        "REPORTING_URL": receiver.url,
        "REPORTING_SECRET": SECRET,
        "REPORTING_INTERVAL_SECONDS": "1",
        "REPORTING_TIMEOUT_SECONDS": "2",  # a claim's lease: 4 x 2 + 5 = 13 seconds
        "REPORTING_BACKOFF_BASE_SECONDS": "0.1",
        "REPORTING_BACKOFF_CAP_SECONDS": "1",
        "REPORTING_MAX_ATTEMPTS": "1000",
        "REPORTING_BATCH_SIZE": "20",
        "REPORTING_CONCURRENCY": str(CONCURRENCY),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def _outbox(app) -> dict[int, tuple[str, int]]:
    with app.app_context():
        rows = {r.id: (r.status, r.attempts) for r in db.session.scalars(select(OutboxRow))}
        db.session.remove()
        return rows


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_kill_9_mid_delivery_loses_and_duplicates_nothing(fresh_app, tmp_path):
    with fresh_app.app_context():
        assert record_ratings(TOTAL) == TOTAL
        assert db.session.scalar(select(func.count()).select_from(OutboxRow)) == TOTAL
        db.session.remove()
    url = fresh_app.config["SQLALCHEMY_DATABASE_URI"]
    instance = tmp_path / "instance"
    instance.mkdir()
    log = tmp_path / "scheduler.log"
    receiver = Receiver(SECRET, delay=0.01).start()
    in_flight: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []

    def kill_mid_request(key: str) -> None:
        if len(receiver.accepted) == KILL_AFTER and not in_flight:
            in_flight.append(key)
            os.kill(procs[0].pid, signal.SIGKILL)  # accepted, but the sender never hears so

    receiver.on_accept = kill_mid_request
    try:
        procs.append(_start(url, instance, receiver, log))
        assert procs[0].wait(timeout=120) == -signal.SIGKILL, log.read_text()[-3000:]
        [key] = in_flight
        time.sleep(0.5)  # requests already read by the receiver finish being handled
        accepted_before_restart = {int(k) for k in receiver.accepted}
        after_kill = _outbox(fresh_app)
        sent = {i for i, (status, _) in after_kill.items() if status == OutboxStatus.SENT}
        assert after_kill[int(key)] == (OutboxStatus.PENDING, 0), "the row in flight stays owed"
        assert sent <= accepted_before_restart, "nothing marked sent that was not accepted"
        unrecorded = accepted_before_restart - sent  # in flight at the kill: accepted, not recorded
        assert int(key) in unrecorded
        assert len(unrecorded) <= CONCURRENCY, "at most one round's requests were unrecorded at the kill"

        procs.append(_start(url, instance, receiver, log))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = _outbox(fresh_app)
            if len(receiver.accepted) == TOTAL and all(s == OutboxStatus.SENT for s, _ in rows.values()):
                break
            assert procs[1].poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        for proc in procs:
            _stop(proc)
        receiver.stop()
    rows = _outbox(fresh_app)
    assert all(status == OutboxStatus.SENT for status, _ in rows.values()), log.read_text()[-3000:]
    assert sorted(receiver.accepted, key=int) == [str(i) for i in sorted(rows)], "nothing lost"
    assert key in receiver.duplicates
    assert len(receiver.duplicates) == len(set(receiver.duplicates)), "none sent three times"
    assert {int(k) for k in receiver.duplicates} <= unrecorded, "only reports in flight at the kill were resent"
    assert receiver.rejected == 0
    assert receiver.out_of_order() == []
