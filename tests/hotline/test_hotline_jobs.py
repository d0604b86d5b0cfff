"""The overdue sweep (督办): once per ticket, managers notified, registered with the scheduler."""

import threading
from datetime import timedelta

import factories as f
import hotline_factories as hf
from sqlalchemy import select

from core.db import db, utcnow
from core.models import Notification, Role
from core.notify import set_sender
from core.scheduler import scheduled_jobs
from hotline.jobs import sweep_overdue
from hotline.models import TicketEvent


def test_sweep_supervises_each_overdue_ticket_once_and_notifies(database):
    manager = f.user(Role.MANAGER)
    dept = f.department()
    handler = hf.handler_of(dept)
    late = hf.ticket(dept=dept, now=utcnow() - timedelta(days=40))
    on_time = hf.ticket(dept=dept)
    sent = []
    set_sender(lambda user, note: sent.append((user.username, note.kind)))
    try:
        assert sweep_overdue() == "1 tickets supervised"
        assert sweep_overdue() == "0 tickets supervised"
    finally:
        from core.notify import _log_sender

        set_sender(_log_sender)
    db.session.refresh(late)
    assert late.supervised_at is not None and on_time.supervised_at is None
    moves = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == late.id, TicketEvent.move == "supervise")
    )
    (event,) = list(moves)
    assert event.actor_id is None  # the system
    notes = list(db.session.scalars(select(Notification).where(Notification.subject_id == late.id)))
    assert {n.user_id for n in notes} == {manager.id, handler.id}
    assert (manager.username, "ticket_supervised") in sent


def test_the_sweep_is_a_registered_job(app):
    job = next(j for j in scheduled_jobs(app) if j.name == "hotline.overdue-sweep")
    assert job.func is sweep_overdue and job.seconds(app.config) == app.config["TICKET_OVERDUE_SWEEP_SECONDS"]


def test_two_sweeps_at_once_supervise_each_ticket_once(fresh_app):
    """On a database that commits for real: each overdue ticket is supervised by exactly one of
    two sweeps running at once, and every one of them is."""
    with fresh_app.app_context():
        dept = f.department()
        f.user(Role.MANAGER)
        hf.handler_of(dept)
        ids = sorted(hf.ticket(dept=dept, now=utcnow() - timedelta(days=40)).id for _ in range(8))
        db.session.commit()
        db.session.remove()
    start = threading.Barrier(2, timeout=30)
    results: list[str] = []

    def sweep() -> None:
        with fresh_app.app_context():
            try:
                start.wait()
                results.append(sweep_overdue())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(int(result.split()[0]) for result in results) == 8
    with fresh_app.app_context():
        supervised = list(db.session.scalars(select(TicketEvent.ticket_id).where(TicketEvent.move == "supervise")))
        db.session.remove()
    assert sorted(supervised) == ids, "each ticket supervised once"
