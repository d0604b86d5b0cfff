"""Scheduled jobs: the token expiry sweep and (off by default) system-default ratings.

Each is idempotent and commits once per unit of work; on PostgreSQL rows are claimed with
FOR UPDATE SKIP LOCKED, so an overlapping run never does the same work twice.
"""

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, select, update

from core.db import db, is_postgresql, utcnow
from core.scheduler import register_job
from ratings import idempotency, service
from ratings.models import EventKind, RatingToken, ServiceEvent, TokenStatus


def _claim(stmt: Select[Any]) -> Select[Any]:
    return stmt.with_for_update(skip_locked=True) if is_postgresql() else stmt


def expire_tokens() -> str:
    """Mark unused tokens past their expiry as expired, in batches; purge lapsed idempotency keys."""
    batch = int(current_app.config["RATING_SWEEP_BATCH"])
    now, total = utcnow(), 0
    while True:
        stmt = select(RatingToken.id).where(RatingToken.status == TokenStatus.ACTIVE, RatingToken.expires_at <= now)
        ids = list(db.session.scalars(_claim(stmt.order_by(RatingToken.id).limit(batch))))
        if ids:
            db.session.execute(update(RatingToken).where(RatingToken.id.in_(ids)).values(status=TokenStatus.EXPIRED))
        db.session.commit()
        total += len(ids)
        if len(ids) < batch:
            break
    purged = idempotency.sweep()
    db.session.commit()
    return f"{total} tokens expired, {purged} idempotency keys purged"


def default_ratings() -> str:
    """Guangdong practice, off unless DEFAULT_RATING_ENABLED: an event left unrated for
    DEFAULT_RATING_AFTER_DAYS gets a system-default rating (channel 7), counted separately."""
    config = current_app.config
    if not config["DEFAULT_RATING_ENABLED"]:
        return "disabled"
    cutoff = utcnow() - timedelta(days=int(config["DEFAULT_RATING_AFTER_DAYS"]))
    stmt = (
        select(RatingToken.id)
        .join(ServiceEvent, ServiceEvent.id == RatingToken.event_id)
        .where(
            RatingToken.status == TokenStatus.EXPIRED,
            RatingToken.assess_number == 1,
            ServiceEvent.created_at <= cutoff,
            ServiceEvent.kind != EventKind.STANDING,
        )
        .order_by(RatingToken.id)
        .limit(int(config["RATING_SWEEP_BATCH"]))
    )
    if is_postgresql():
        stmt = stmt.with_for_update(skip_locked=True, of=RatingToken)
    tokens = [db.session.get_one(RatingToken, token_id) for token_id in db.session.scalars(stmt)]
    given = 0
    for token in tokens:
        given += service.give_default_rating(token)
        db.session.commit()
    return f"{given} default ratings"


def register_jobs(seconds: int) -> None:
    register_job("ratings.expire_tokens", seconds)(expire_tokens)
    register_job("ratings.default_ratings", seconds)(default_ratings)
