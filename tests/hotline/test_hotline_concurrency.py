"""Acceptance 3: two updates racing on the same version, on a database that commits for real
(SQLite and PostgreSQL): one succeeds, the other gets a 409, and nothing is lost."""

import threading
from collections.abc import Callable

import factories as f
import hotline_factories as hf
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from core.db import db, is_postgresql, read_only
from core.errors import Conflict
from core.models import Role, User
from hotline import service
from hotline.models import TicketEvent

TIMEOUT = 30


def _taken_ticket(app) -> tuple[str, int, int]:
    """A taken ticket in the fresh database: (number, handler id, version)."""
    with app.app_context():
        dept = f.department()
        handler = f.user(Role.HANDLER, dept)
        ticket = hf.ticket(dept=dept)
        service.make_move("take", ticket, handler)
        db.session.commit()
        result = ticket.number, handler.id, ticket.version
        db.session.remove()
        return result


def _race(workers: list[Callable[[], str]]) -> list[str]:
    results: list[str] = []
    threads = [threading.Thread(target=lambda w=w: results.append(w())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    return sorted(results)


def _handle_notes(app, number: str) -> list[str]:
    with app.app_context():
        ticket = service.get_by_number(number)
        stmt = select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id, TicketEvent.move == "handle")
        notes = list(db.session.scalars(stmt.order_by(TicketEvent.id)))
        db.session.remove()
        return notes


def test_two_sessions_racing_on_one_version(fresh_app):
    number, handler_id, _ = _taken_ticket(fresh_app)
    seen_by_both = threading.Barrier(2, timeout=TIMEOUT)
    loaded_by_both = threading.Barrier(2, timeout=TIMEOUT)

    def worker(note: str) -> str:
        with fresh_app.app_context():
            try:
                with read_only():  # what the user saw on their screen
                    seen = service.get_by_number(number).version
                    db.session.rollback()
                seen_by_both.wait()
                ticket = service.get_by_number(number)
                if is_postgresql():
                    loaded_by_both.wait()  # both hold version `seen`: the ORM's version check decides
                service.make_move("handle", ticket, db.session.get(User, handler_id), {"note": note, "version": seen})
                db.session.commit()
                return "ok"
            except (Conflict, StaleDataError):
                db.session.rollback()
                return "409"
            finally:
                db.session.remove()

    assert _race([lambda: worker("甲的进展"), lambda: worker("乙的进展")]) == ["409", "ok"]
    notes = _handle_notes(fresh_app, number)
    assert len(notes) == 1 and notes[0] in ("甲的进展", "乙的进展")

    # The loser reloads and tries again: both notes are kept.
    with fresh_app.app_context():
        ticket = service.get_by_number(number)
        loser = "乙的进展" if notes[0] == "甲的进展" else "甲的进展"
        service.make_move(
            "handle", ticket, db.session.get(User, handler_id), {"note": loser, "version": ticket.version}
        )
        db.session.commit()
        db.session.remove()
    assert sorted(_handle_notes(fresh_app, number)) == sorted(["甲的进展", "乙的进展"])


def test_two_api_calls_racing_on_one_version(fresh_app):
    number, handler_id, version = _taken_ticket(fresh_app)
    with fresh_app.app_context():
        headers = f.bearer(db.session.get(User, handler_id))
        db.session.remove()
    start = threading.Barrier(2, timeout=TIMEOUT)

    def call(note: str) -> str:
        client = fresh_app.test_client()
        start.wait()
        body = {"note": note, "version": version}
        return str(client.post(f"/api/v1/tickets/{number}/handle", json=body, headers=headers).status_code)

    assert _race([lambda: call("一"), lambda: call("二")]) == ["200", "409"]
    assert len(_handle_notes(fresh_app, number)) == 1
