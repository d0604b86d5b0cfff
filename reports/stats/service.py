"""Satisfaction statistics read from the rollups; `rebuild_rollups` recomputes them from raw rows.

满意率 = levels 3-5 / valid, 好评率 = 4-5 / valid, 差评率 = 1-2 / valid, where valid = first
ratings not voided by an upheld appeal; `total` also counts the voided ones. System default
ratings (默认好评) are left out unless `include_default` asks for them.
"""

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import Integer, and_, case, delete, func, insert, select

from core.db import db
from core.models import Department, Region, ServiceItem
from ratings.labels import CHANNEL_LABELS, RATER_TYPE_LABELS, label
from ratings.models import Rating, RatingStatus
from ratings.service import rates
from reports.stats.listeners import bump_version
from reports.stats.models import (
    COUNT_COLUMNS,
    DERIVED,
    FINE_KEYS,
    LEVELS,
    ChannelDayRollup,
    DepartmentDayRollup,
    RatingDayRollup,
    StatsVersion,
)

GROUP_BY = ("department", "region", "channel", "service", "rater_type", "day", "week", "month", "quarter")
PERIODS = ("day", "week", "month", "quarter")
_GROUP_COLUMN = {
    "department": "department_id",
    "region": "region_code",
    "channel": "channel",
    "service": "service_item_id",
    "rater_type": "rater_type",
    **dict.fromkeys(PERIODS, "local_day"),
}
_COARSE_GROUPS = {None, "department", "region", *PERIODS}
_CHANNEL_GROUPS = {None, "channel", "rater_type", *PERIODS}


@dataclass(frozen=True)
class Filters:
    """Which first ratings count: Asia/Shanghai days start..end (both included) and dimensions."""

    start: date
    end: date
    department_id: int | None = None
    region_code: str | None = None
    service_item_id: int | None = None
    channel: int | None = None
    rater_type: int | None = None
    include_default: bool = False

    @property
    def fine_only(self) -> bool:
        return any(v is not None for v in (self.service_item_id, self.channel, self.rater_type))

    @property
    def province_wide(self) -> bool:
        return all(v is None for v in (self.department_id, self.region_code, self.service_item_id))


def _source(filters: Filters, group_by: str | None) -> Any:
    """The smallest rollup that can answer: province-wide by channel, else by department, else
    the fine one."""
    if group_by in _CHANNEL_GROUPS and filters.province_wide:
        return ChannelDayRollup
    if group_by in _COARSE_GROUPS and not filters.fine_only:
        return DepartmentDayRollup
    return RatingDayRollup


def _conditions(model: Any, filters: Filters) -> list[Any]:
    conditions = [model.local_day >= filters.start, model.local_day <= filters.end]
    if not filters.include_default:
        conditions.append(model.is_default.is_(False))
    wanted = {
        "department_id": filters.department_id,
        "region_code": filters.region_code,
        "service_item_id": filters.service_item_id,
        "channel": filters.channel,
        "rater_type": filters.rater_type,
    }
    conditions += [getattr(model, name) == value for name, value in wanted.items() if value is not None]
    return conditions


def counts(filters: Filters, group_by: str | None = None) -> list[tuple[Any, tuple[int, ...]]]:
    """(group key, (n1..n5, voided)) rows summed from the rollups."""
    model = _source(filters, group_by)
    sums = [func.sum(getattr(model, c)) for c in COUNT_COLUMNS]
    if group_by is None:
        row = db.session.execute(select(*sums).where(and_(*_conditions(model, filters)))).one()
        return [(None, tuple(int(n or 0) for n in row))]
    key = getattr(model, _GROUP_COLUMN[group_by])
    stmt = select(key, *sums).where(and_(*_conditions(model, filters))).group_by(key)
    return [(row[0], tuple(int(n or 0) for n in row[1:])) for row in db.session.execute(stmt)]


def figures(numbers: Sequence[int]) -> dict[str, Any]:
    """total, valid, levels and the three rates of (n1..n5, voided)."""
    levels = dict(zip(LEVELS, numbers[:5], strict=True))
    valid = sum(levels.values())
    return {
        "total": valid + numbers[5],
        "valid": valid,
        "levels": {str(lv): n for lv, n in levels.items()},
        **rates(levels),
    }


def period_key(day: date, group_by: str) -> str:
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{day.year}-{day.month:02d}"
    if group_by == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return day.isoformat()


def _names(stmt: Any) -> dict[Any, str]:
    return {key: str(name) for key, name in db.session.execute(stmt)}


def labels(group_by: str, keys: Sequence[Any]) -> Mapping[Any, str]:
    if group_by == "department":
        return _names(select(Department.id, Department.name).where(Department.id.in_(keys)))
    if group_by == "service":
        return _names(select(ServiceItem.id, ServiceItem.name).where(ServiceItem.id.in_(keys)))
    if group_by == "region":
        return _names(select(Region.code, Region.name).where(Region.code.in_(keys)))
    if group_by == "channel":
        return {k: str(label(CHANNEL_LABELS, k)) for k in keys}
    if group_by == "rater_type":
        return {k: str(label(RATER_TYPE_LABELS, k)) for k in keys}
    return {k: str(k) for k in keys}


def group_order(key: Any) -> tuple[bool, str]:
    return key is None, f"{key:012d}" if isinstance(key, int) else str(key)


def groups(filters: Filters, group_by: str) -> list[dict[str, Any]]:
    """The figures of each group that has ratings, in key order; unknown keys ("" / "-") last."""
    buckets: dict[Any, list[int]] = {}
    for raw, numbers in counts(filters, group_by):
        key = period_key(raw, group_by) if group_by in PERIODS else (raw or None)
        bucket = buckets.setdefault(key, [0] * len(COUNT_COLUMNS))
        for i, n in enumerate(numbers):
            bucket[i] += n
    buckets = {k: v for k, v in buckets.items() if any(v)}
    names = labels(group_by, [k for k in buckets if k is not None])
    return [
        {
            "key": "" if key is None else str(key),
            "label": "-" if key is None else names.get(key, ""),
            **figures(buckets[key]),
        }
        for key in sorted(buckets, key=group_order)
    ]


def pending_review(filters: Filters) -> int:
    """First ratings matching `filters` that are held for a manager's review: in no figure until
    confirmed (ratings.review). Few by nature, found through the (status, created_at) index."""
    conditions = [Rating.status == RatingStatus.PENDING, Rating.assess_number == 1, *_conditions(Rating, filters)]
    return int(db.session.scalar(select(func.count()).select_from(Rating).where(*conditions)) or 0)


def satisfaction(filters: Filters, group_by: str | None = None, pending: int | None = None) -> dict[str, Any]:
    """The `GET /api/v1/stats/satisfaction` body (API.md); `pending_review` counts the ratings
    held for review, which the figures leave out."""
    (_, numbers), *_ = counts(filters) or [(None, (0,) * len(COUNT_COLUMNS))]
    return {
        "from": filters.start.isoformat(),
        "to": filters.end.isoformat(),
        "target": current_app.config["SATISFACTION_TARGET"],
        **figures(numbers),
        "pending_review": pending_review(filters) if pending is None else pending,
        "groups": groups(filters, group_by) if group_by else [],
    }


CACHE_SIZE = 256
_cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_cache_lock = threading.Lock()


def version() -> str | None:
    """The rollups' current version token (None before the first rating)."""
    return db.session.scalar(select(StatsVersion.token).where(StatsVersion.id == 1))


def satisfaction_json(filters: Filters, group_by: str | None = None) -> bytes:
    """`satisfaction` as JSON, reused while the rollups' version token stays the same: every write that
    changes a rollup changes the token in its own transaction, so a voided rating still leaves
    the figures at once. One small cache per process; nothing lives only here."""
    token = version()
    # Holding a rating changes no rollup (so not the token): its count is part of the key.
    pending = pending_review(filters)
    key = (token, pending, filters, group_by, str(get_locale()), current_app.config["SATISFACTION_TARGET"])
    with _cache_lock:
        found = _cache.get(key) if token is not None else None
        if found is not None:
            _cache.move_to_end(key)
            return found
    result = (current_app.json.dumps(satisfaction(filters, group_by, pending)) + "\n").encode()
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _raw_counts() -> list[Any]:
    valid = Rating.status == RatingStatus.VALID
    per_level = [func.sum(case((and_(valid, Rating.level == lv), 1), else_=0)) for lv in LEVELS]
    return [*per_level, func.sum(case((Rating.status == RatingStatus.VOIDED, 1), else_=0))]


def rebuild_rollups() -> int:
    """Recompute the rollups from the raw ratings (one INSERT ... SELECT ... GROUP BY each);
    flushes, never commits. Returns the number of fine rollup rows."""
    for model, _keys in DERIVED:
        db.session.execute(delete(model))
    db.session.execute(delete(RatingDayRollup))
    keys = [
        Rating.local_day,
        func.coalesce(Rating.department_id, 0),
        func.coalesce(Rating.region_code, ""),
        func.coalesce(Rating.service_item_id, 0),
        Rating.channel,
        Rating.rater_type,
        Rating.is_default,
        Rating.low_trust,
    ]
    fine = select(*keys, *_raw_counts()).where(Rating.assess_number == 1).group_by(*keys)
    db.session.execute(insert(RatingDayRollup).from_select([*FINE_KEYS, *COUNT_COLUMNS], fine))
    sums = [func.sum(getattr(RatingDayRollup, c)).cast(Integer) for c in COUNT_COLUMNS]
    for model, names in DERIVED:
        columns = [getattr(RatingDayRollup, name) for name in names]
        derived = select(*columns, *sums).group_by(*columns)
        db.session.execute(insert(model).from_select([*names, *COUNT_COLUMNS], derived))
    db.session.flush()
    bump_version(db.session.connection())
    return int(db.session.scalar(select(func.count()).select_from(RatingDayRollup)) or 0)


PUBLIC_DAYS = 30


def public_board(today: date) -> dict[str, Any]:
    """评价结果公开: satisfaction by department over the last PUBLIC_DAYS days — counts and rates
    only, no personal data; departments without ratings are left out."""
    filters = Filters(today - timedelta(days=PUBLIC_DAYS - 1), today)
    body = json.loads(satisfaction_json(filters, "department"))
    departments = [
        {"name": g["label"], "valid": g["valid"], "satisfaction_rate": g["satisfaction_rate"]}
        for g in body["groups"]
        if g["key"] and g["valid"]
    ]
    return {
        "from": filters.start,
        "to": filters.end,
        "days": PUBLIC_DAYS,
        "target": body["target"],
        "departments": departments,
    }
