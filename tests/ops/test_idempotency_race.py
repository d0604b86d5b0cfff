"""The same Idempotency-Key sent 50 times at once makes one rating: every copy with the first body
gets the same 201, every copy with another body 422. Real threads, each in its own app context,
against a database that commits for real (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.db import db
from ratings import tokens
from ratings.models import IdempotencyRecord, Rating

THREADS = 50


def _issue(app) -> tuple[str, int]:
    with app.app_context():
        issued = tokens.create_service_event({})
        db.session.commit()
        token, event_id = issued.token, issued.event.id
        db.session.remove()
    return token, event_id


def _race(app, bodies: list[dict], key: str) -> list[tuple[int, dict]]:
    start = threading.Barrier(len(bodies))

    def submit(body: dict) -> tuple[int, dict]:
        with app.app_context():
            client = app.test_client()
            start.wait(timeout=30)
            response = client.post("/api/v1/ratings", json=body, headers={"Idempotency-Key": key})
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(submit, bodies))


def _ratings_of(app, event_id: int) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Rating).where(Rating.event_id == event_id))
        db.session.remove()
    return int(count or 0)


def test_fifty_simultaneous_copies_of_one_key_make_one_rating(fresh_app):
    token, event_id = _issue(fresh_app)
    body = {"token": token, "level": 4, "comment": "窗口办事很快"}
    answers = _race(fresh_app, [body] * THREADS, "race-key-same-body")

    assert [status for status, _ in answers] == [201] * THREADS, answers
    assert len({payload["id"] for _, payload in answers}) == 1
    assert _ratings_of(fresh_app, event_id) == 1
    with fresh_app.app_context():
        records = db.session.scalar(select(func.count()).select_from(IdempotencyRecord))
        db.session.remove()
    assert records == 1

    again = fresh_app.test_client().post(
        "/api/v1/ratings", json={**body, "level": 1}, headers={"Idempotency-Key": "race-key-same-body"}
    )
    assert again.status_code == 422 and "Idempotency-Key" in again.get_json()["errors"]


def test_one_key_with_two_bodies_at_once_makes_one_rating_and_refuses_the_other_body(fresh_app):
    token, event_id = _issue(fresh_app)
    first = {"token": token, "level": 5, "comment": "很好"}
    second = {"token": token, "level": 1, "comment": "很差"}
    answers = _race(fresh_app, [first, second] * (THREADS // 2), "race-key-two-bodies")

    assert _ratings_of(fresh_app, event_id) == 1
    created = [payload for status, payload in answers if status == 201]
    refused = [status for status, _ in answers if status != 201]
    assert created and len({payload["id"] for payload in created}) == 1
    winner_level = created[0]["level"]
    # Every copy of the winning body replays the 201; every copy of the other body is refused.
    assert len(created) == THREADS // 2 and refused == [422] * (THREADS // 2), answers
    assert all(payload["level"] == winner_level for payload in created)


def test_one_key_with_six_tokens_at_once_makes_one_rating_and_no_server_error(fresh_app):
    """Issue 14: six ratings of six different tokens share one key. The first to store its
    record wins; the others are refused (409 while the winner is in flight, 422 once it has
    committed), their ratings rolled back — on PostgreSQL too, where the losers hit the unique key."""
    issued = [_issue(fresh_app) for _ in range(6)]
    bodies = [{"token": token, "level": 3, "comment": "一般"} for token, _ in issued]
    answers = _race(fresh_app, bodies, "race-key-six-tokens")

    statuses = sorted(status for status, _ in answers)
    assert statuses[0] == 201 and statuses.count(201) == 1, answers
    assert set(statuses[1:]) <= {409, 422}, answers
    assert sum(_ratings_of(fresh_app, event_id) for _, event_id in issued) == 1
    assert all(payload.get("code") in (409, 422) for status, payload in answers if status != 201)
