"""Scheduled jobs: the token expiry sweep and (off by default) system-default ratings.

Each is idempotent and commits once per unit of work: the expiry sweep per batch of tokens (one
UPDATE), default ratings per token (core.jobs.claim_each). On PostgreSQL rows are claimed with
FOR UPDATE SKIP LOCKED, so an overlapping run never does the same work twice.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from core.db import db, utcnow
from core.jobs import claim_each, skip_locked
from core.scheduler import Job
from ratings import idempotency, recording
from ratings.models import EventKind, RatingToken, ServiceEvent, TokenStatus


def expire_tokens() -> str:
    """Mark unused tokens past their expiry as expired, in batches; purge lapsed idempotency keys."""
    batch = int(current_app.config["RATING_SWEEP_BATCH"])
    now, total = utcnow(), 0
    while True:
        stmt = select(RatingToken.id).where(RatingToken.status == TokenStatus.ACTIVE, RatingToken.expires_at <= now)
        ids = list(db.session.scalars(skip_locked(stmt.order_by(RatingToken.id).limit(batch))))
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
    lapsed = (
        select(RatingToken)
        .join(ServiceEvent, ServiceEvent.id == RatingToken.event_id)
        .where(
            RatingToken.status == TokenStatus.EXPIRED,
            RatingToken.assess_number == 1,
            ServiceEvent.created_at <= cutoff,
            ServiceEvent.kind != EventKind.STANDING,
        )
        .order_by(RatingToken.id)
    )
    given = 0

    def give(token: RatingToken) -> None:  # the token is closed either way: always committed
        nonlocal given
        given += recording.give_default_rating(token)

    claim_each(lapsed, give, int(config["RATING_SWEEP_BATCH"]))
    return f"{given} default ratings"


JOBS = [
    Job("ratings.expire-tokens", expire_tokens, "RATING_SWEEP_SECONDS"),
    Job("ratings.default-ratings", default_ratings, "RATING_SWEEP_SECONDS"),
]
