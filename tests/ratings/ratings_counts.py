"""The satisfaction figures computed straight from the ratings table, with the rates worked out
here: the independent check the tests hold ratings and the statistics (reports.stats) to."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from core.db import db
from ratings.models import Rating, RatingStatus


def level_counts(
    start: date,
    end: date,
    *,
    department_id: int | None = None,
    include_default: bool = False,
    include_low_trust: bool = True,
) -> list[tuple[str, int, int]]:
    """(status, level, count) rows of first ratings on local days start..end."""
    stmt = select(Rating.status, Rating.level, func.count()).where(
        Rating.local_day >= start, Rating.local_day <= end, Rating.assess_number == 1
    )
    if not include_default:
        stmt = stmt.where(Rating.is_default.is_(False))
    if not include_low_trust:
        stmt = stmt.where(Rating.low_trust.is_(False))
    if department_id is not None:
        stmt = stmt.where(Rating.department_id == department_id)
    rows = db.session.execute(stmt.group_by(Rating.status, Rating.level)).all()
    return [(str(row[0].value), int(row[1]), int(row[2])) for row in rows]


def _rate(part: int, valid: int) -> float | None:
    return round(part / valid, 4) if valid else None


def summarize(rows: Sequence[tuple[str, int, int]]) -> dict[str, Any]:
    """Total, valid, per-level counts of valid ratings, and 满意率 (3-5), 好评率 (4-5) and
    差评率 (1-2) by the configured level bounds."""
    config = current_app.config
    levels = dict.fromkeys((1, 2, 3, 4, 5), 0)
    total = 0
    for status, level, count in rows:
        total += count
        if status == RatingStatus.VALID.value:
            levels[level] += count
    valid = sum(levels.values())
    return {
        "total": total,
        "valid": valid,
        "levels": {str(lv): n for lv, n in levels.items()},
        "satisfaction_rate": _rate(sum(n for lv, n in levels.items() if lv >= config["SATISFIED_MIN_LEVEL"]), valid),
        "good_rate": _rate(sum(n for lv, n in levels.items() if lv >= config["GOOD_REVIEW_MIN_LEVEL"]), valid),
        "bad_rate": _rate(sum(n for lv, n in levels.items() if lv <= config["BAD_REVIEW_MAX_LEVEL"]), valid),
    }


def satisfaction_summary(
    start: date,
    end: date,
    *,
    department_id: int | None = None,
    include_default: bool = False,
    include_low_trust: bool = True,
) -> dict[str, Any]:
    """满意率 over local days start..end (both included): first ratings; voided ones are counted
    in `total` but not in `valid`, the levels or the rates; system defaults are left out unless
    asked for."""
    rows = level_counts(
        start,
        end,
        department_id=department_id,
        include_default=include_default,
        include_low_trust=include_low_trust,
    )
    return summarize(rows)
