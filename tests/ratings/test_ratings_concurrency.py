"""Exactly one first rating per event under real concurrency: 50 simultaneous submissions of one
token, each thread in its own app context, against a database that commits for real."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.db import db
from ratings import recording, tokens
from ratings.models import Rating, RatingToken, TokenStatus

THREADS = 50


def test_fifty_simultaneous_ratings_on_one_token_store_exactly_one(fresh_app):
    with fresh_app.app_context():
        issued = tokens.create_service_event({})
        db.session.commit()
        token, event_id = issued.token, issued.event.id
        db.session.remove()
    start = threading.Barrier(THREADS)

    def submit(level: int) -> int:
        with fresh_app.app_context():
            client = fresh_app.test_client()
            start.wait(timeout=30)
            body = {"token": token, "level": level, "comment": "不满意" if level < 3 else "很好"}
            return client.post("/api/v1/ratings", json=body).status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        codes = list(pool.map(submit, [1 + i % 5 for i in range(THREADS)]))

    assert codes.count(201) == 1, codes
    assert codes.count(409) == THREADS - 1, codes
    with fresh_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Rating).where(Rating.event_id == event_id)) == 1
        token_row = db.session.scalar(select(RatingToken).where(RatingToken.event_id == event_id))
        assert token_row.status == TokenStatus.USED and token_row.used_at is not None
        db.session.remove()


def test_a_citizen_racing_the_callback_answer_gets_409_not_a_deadlock(fresh_app):
    """An agent records the caller's answer on the satisfaction callback while the caller rates
    with the SMS link: the agent's transaction pauses after its first write; the citizen then
    submits. Both paths lock the token before inserting, so the citizen waits, gets a 409, and
    the agent's rating commits (locking in opposite orders was a deadlock, 503, on PostgreSQL)."""
    import factories as f
    import hotline_factories as hf
    from sqlalchemy import event

    from ratings.models import Channel

    with fresh_app.app_context():
        ticket, _handler = hf.closed(f.department())
        db.session.commit()
        ticket_id = ticket.id
        event_row = tokens.service_event_for_ticket(ticket_id)
        token, event_id = tokens.issue_token(event_row).token, event_row.id
        db.session.commit()
        db.session.remove()
        engine = db.engine

    agent_wrote, citizen_done = threading.Event(), threading.Event()
    agent_thread: list[threading.Thread] = []

    def pause_after_first_write(_conn, _cursor, statement, *_args):
        mine = threading.current_thread() in agent_thread and not agent_wrote.is_set()
        if mine and statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            agent_wrote.set()
            citizen_done.wait(1.5)  # the citizen blocks on our lock (or, on SQLite, on BEGIN)

    results: dict[str, object] = {}

    def agent() -> None:
        with fresh_app.app_context():
            from hotline.models import Ticket

            try:
                row = db.session.get(Ticket, ticket_id)
                recording.record_hotline_rating(row, 4, "满意")
                db.session.commit()
                results["agent"] = "committed"
            except Exception as exc:
                results["agent"] = repr(exc)
            finally:
                db.session.remove()

    def citizen() -> None:
        agent_wrote.wait(10)
        with fresh_app.app_context():
            response = fresh_app.test_client().post("/api/v1/ratings", json={"token": token, "level": 1})
            results["citizen"] = response.status_code
        citizen_done.set()

    event.listen(engine, "after_cursor_execute", pause_after_first_write)
    try:
        threads = [threading.Thread(target=agent), threading.Thread(target=citizen)]
        agent_thread.append(threads[0])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        event.remove(engine, "after_cursor_execute", pause_after_first_write)

    assert results == {"agent": "committed", "citizen": 409}, results
    with fresh_app.app_context():
        rated = db.session.scalars(select(Rating).where(Rating.event_id == event_id)).all()
        assert [(r.level, r.channel) for r in rated] == [(4, Channel.HOTLINE_CALLBACK)]
        db.session.remove()
