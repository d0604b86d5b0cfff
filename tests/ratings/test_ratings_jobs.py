"""Scheduled jobs, the demo loader and the analyzer's cost per rating."""

from datetime import timedelta

import ratings_counts as rc
import ratings_factories as rf
from sqlalchemy import func, select, update

from core.calendar import local_date
from core.db import db, utcnow
from core.models import Department
from core.scheduler import scheduled_jobs
from ratings import jobs
from ratings.models import Channel, IdempotencyRecord, Rating, RatingToken, ServiceEvent, TokenStatus


def test_jobs_are_registered(app):
    names = {job.name for job in scheduled_jobs(app)}
    assert {"ratings.expire-tokens", "ratings.default-ratings"} <= names


def test_the_sweep_expires_lapsed_tokens_and_old_idempotency_keys(app, database):
    lapsed, live = rf.event(), rf.event()
    rf.expire(lapsed.token)
    db.session.add(
        IdempotencyRecord(
            scope="ratings", key="old", request_hash="x", status_code=201, body="{}",
            created_at=utcnow() - timedelta(days=2),
        )
    )  # fmt: skip
    db.session.commit()
    assert jobs.expire_tokens() == "1 tokens expired, 1 idempotency keys purged"
    statuses = dict(db.session.execute(select(RatingToken.event_id, RatingToken.status)).all())
    assert statuses[lapsed.event.id] == TokenStatus.EXPIRED and statuses[live.event.id] == TokenStatus.ACTIVE
    assert jobs.expire_tokens() == "0 tokens expired, 0 idempotency keys purged"  # idempotent


def test_default_ratings_are_off_unless_enabled(app, database):
    assert jobs.default_ratings() == "disabled"
    old, rated = rf.event(), rf.event()
    rf.rate(rated, 5)
    week_ago = utcnow() - timedelta(days=8)
    db.session.execute(update(ServiceEvent).values(created_at=week_ago))
    rf.expire(old.token)
    jobs.expire_tokens()
    app.config["DEFAULT_RATING_ENABLED"] = True
    try:
        assert jobs.default_ratings() == "1 default ratings"
        assert jobs.default_ratings() == "0 default ratings"
    finally:
        app.config["DEFAULT_RATING_ENABLED"] = False
    rating = db.session.scalar(select(Rating).where(Rating.event_id == old.event.id))
    assert (rating.level, rating.channel, rating.is_default) == (3, Channel.SYSTEM_DEFAULT, True)
    assert rc.satisfaction_summary(rating.local_day, rating.local_day)["valid"] == 1  # the citizen's only


def test_demo_load_makes_realistic_ratings(runner):
    result = runner.invoke(args=["demo", "load", "--ratings", "4000", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "4000 ratings" in result.output
    total = db.session.scalar(select(func.count()).select_from(Rating))
    assert total == 4000 == db.session.scalar(select(func.count()).select_from(ServiceEvent))
    today = local_date(utcnow())
    summary = rc.satisfaction_summary(today - timedelta(days=89), today)
    assert summary["valid"] == 4000 and 0.92 <= summary["satisfaction_rate"] <= 0.98
    hidden = db.session.scalar(select(func.count()).where(Rating.hidden_bad.is_(True)))
    assert 0 < hidden < 200
    assert db.session.scalar(select(func.count()).where(Rating.comment != "", Rating.level <= 2)) > 0
    days = db.session.execute(select(func.min(Rating.local_day), func.max(Rating.local_day))).one()
    assert days[0] >= today - timedelta(days=89) and days[1] <= today
    per_department = db.session.execute(
        select(Rating.department_id, func.avg(Rating.level)).group_by(Rating.department_id)
    ).all()
    assert len(per_department) > 20 and len({round(avg, 2) for _d, avg in per_department}) > 5
    assert db.session.scalar(select(func.count()).select_from(Department)) >= 19
    # The ids the loader chose leave the sequences right: a new rating still gets stored.
    rf.rate(rf.event(), 5)
