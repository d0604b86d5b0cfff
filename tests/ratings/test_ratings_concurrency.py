"""Exactly one first rating per event under real concurrency: 50 simultaneous submissions of one
token, each thread in its own app context, against a database that commits for real."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.db import db
from ratings import service
from ratings.models import Rating, RatingToken, TokenStatus

THREADS = 50


def test_fifty_simultaneous_ratings_on_one_token_store_exactly_one(fresh_app):
    with fresh_app.app_context():
        issued = service.create_service_event({})
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
