"""Helpers for the statistics tests: ratings written through the ORM with chosen days, and an
independent computation of the figures straight from the raw rows."""

import itertools
from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text

from core.calendar import local_date
from core.db import db
from ratings.models import Rating, RatingStatus, ServiceEvent
from reports.stats.models import COUNT_COLUMNS, DERIVED, FINE_KEYS, RatingChange, RatingDayRollup

_seq = itertools.count(1)


def rating(created: datetime, level: int, dept: Any = None, item: Any = None, **fields: Any) -> Rating:
    """A first rating (with its service event) as the ORM stores it; the caller flushes."""
    event = ServiceEvent(
        department_id=dept.id if dept else None,
        region_code=dept.region_code if dept else None,
        service_item_id=item.id if item else None,
        external_ref=f"stats-{next(_seq)}",
    )
    db.session.add(event)
    db.session.flush()
    row = Rating(
        event_id=event.id,
        level=level,
        channel=fields.pop("channel", 2),
        local_day=local_date(created),
        created_at=created,
        department_id=event.department_id,
        region_code=event.region_code,
        service_item_id=event.service_item_id,
        is_bad_review=level <= 2,
        **fields,
    )
    db.session.add(row)
    return row


def callback_row(dept: Any, due: datetime, purpose: Any = None, status: Any = None, **fields: Any) -> Any:
    """A callback row as the KPIs see it (a bad-review verification, pending, unless told);
    a finished one was completed at its deadline. The caller flushes."""
    from callbacks.models import Callback, CallbackStatus, Purpose

    purpose = purpose or Purpose.VERIFY_BAD_REVIEW
    status = status or CallbackStatus.PENDING
    row = Callback(
        purpose=purpose,
        subject_type="ticket" if purpose == Purpose.TICKET_SATISFACTION else "rating",
        subject_id=fields.pop("subject_id", 0),
        department_id=dept.id,
        region_code=dept.region_code,
        due_at=due,
        status=status,
        completed_at=due if status != CallbackStatus.PENDING else None,
        **fields,
    )
    db.session.add(row)
    return row


def _nonzero(found: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter({k: v for k, v in found.items() if v})


def rollup_rows(model: Any = RatingDayRollup, keys: tuple[str, ...] = FINE_KEYS) -> Counter[tuple[Any, ...]]:
    """A rollup table as {key + column: count}, zero rows left out (what is folded so far)."""
    found: Counter[tuple[Any, ...]] = Counter()
    for row in db.session.scalars(select(model)):
        key = tuple(getattr(row, k) for k in keys)
        for column in COUNT_COLUMNS:
            found[(*key, column)] += getattr(row, column)
    return _nonzero(found)


def tail_rows(keys: tuple[str, ...] = FINE_KEYS) -> Counter[tuple[Any, ...]]:
    """The queued, not yet folded changes summed onto a rollup's keys (counts may be negative)."""
    found: Counter[tuple[Any, ...]] = Counter()
    for row in db.session.scalars(select(RatingChange)):
        key = tuple(getattr(row, k) for k in keys)
        for column in COUNT_COLUMNS:
            found[(*key, column)] += getattr(row, column)
    return _nonzero(found)


def rollup_and_tail(model: Any = RatingDayRollup, keys: tuple[str, ...] = FINE_KEYS) -> Counter[tuple[Any, ...]]:
    """What readers see: the rollup plus the tail."""
    found = rollup_rows(model, keys)
    found.update(tail_rows(keys))  # update(), not +: keeps the negative counts until summed
    return _nonzero(found)


def raw_rows(keys: tuple[str, ...] = FINE_KEYS) -> Counter[tuple[Any, ...]]:
    """The same, computed in Python from every raw first rating."""
    picks = [FINE_KEYS.index(k) for k in keys]
    found: Counter[tuple[Any, ...]] = Counter()
    for r in db.session.scalars(select(Rating).where(Rating.assess_number == 1)):
        fine = (
            r.local_day,
            r.department_id or 0,
            r.region_code or "",
            r.service_item_id or 0,
            r.channel,
            r.rater_type,
            r.is_default,
            r.low_trust,
        )
        key = tuple(fine[i] for i in picks)
        if r.status == RatingStatus.PENDING:
            continue  # held for review: in no figure
        found[(*key, f"n{r.level}" if r.status == RatingStatus.VALID else "voided")] += 1
    return found


def by_group(column: str) -> dict[Any, tuple[int, ...]]:
    """Raw first ratings counted per value of one rollup key column, as `service.counts` gives."""
    found: dict[Any, list[int]] = {}
    for (value, name), n in raw_rows((column,)).items():
        found.setdefault(value, [0] * len(COUNT_COLUMNS))[COUNT_COLUMNS.index(name)] += n
    return {k: tuple(v) for k, v in found.items()}


ALL_ROLLUPS = ((RatingDayRollup, FINE_KEYS), *DERIVED)


def every_rollup() -> dict[str, Counter[tuple[Any, ...]]]:
    """Every rollup table (fine, by department, by channel) plus the tail, by name."""
    return {model.__tablename__: rollup_and_tail(model, keys) for model, keys in ALL_ROLLUPS}


def every_folded() -> dict[str, Counter[tuple[Any, ...]]]:
    """Every rollup table as folded so far, without the tail."""
    return {model.__tablename__: rollup_rows(model, keys) for model, keys in ALL_ROLLUPS}


def queued() -> int:
    return int(db.session.scalar(select(func.count()).select_from(RatingChange)) or 0)


def every_raw() -> dict[str, Counter[tuple[Any, ...]]]:
    """What each rollup should hold, computed from the raw ratings."""
    return {model.__tablename__: raw_rows(keys) for model, keys in ALL_ROLLUPS}


GROUP_SQL = {
    "department": "COALESCE(CAST(department_id AS VARCHAR(20)), '')",
    "region": "COALESCE(region_code, '')",
    "channel": "CAST(channel AS VARCHAR(20))",
    "service": "COALESCE(CAST(service_item_id AS VARCHAR(20)), '')",
    "rater_type": "CAST(rater_type AS VARCHAR(20))",
    "day": "local_day",
    "week": "local_day",
    "month": "local_day",
    "quarter": "local_day",
}


def sql_figures(start: date, end: date, group_by: str | None = None) -> dict[str, tuple[int, int, int, int]]:
    """{group key: (total, valid, satisfied, bad)} by plain SQL over the ratings table."""
    key = GROUP_SQL[group_by] if group_by else "CAST(assess_number AS VARCHAR(20))"  # one group: assess_number is 1
    sql = f"""
        SELECT {key} AS k, COUNT(*),
               SUM(CASE WHEN status = 'valid' THEN 1 ELSE 0 END),
               SUM(CASE WHEN status = 'valid' AND level >= 3 THEN 1 ELSE 0 END),
               SUM(CASE WHEN status = 'valid' AND level <= 2 THEN 1 ELSE 0 END)
        FROM ratings
        WHERE assess_number = 1 AND is_default = :no AND local_day BETWEEN :start AND :end
        GROUP BY {key}
    """
    result: dict[str, list[int]] = {}
    for k, *numbers in db.session.execute(text(sql), {"no": False, "start": start, "end": end}):
        label = _period(k, group_by) if group_by in ("day", "week", "month", "quarter") else str(k)
        label = label if group_by else "all"
        bucket = result.setdefault(label, [0, 0, 0, 0])
        for i, n in enumerate(numbers):
            bucket[i] += int(n or 0)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in result.items()}


def _period(value: Any, group_by: str | None) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return day.strftime("%Y-%m")
    if group_by == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return day.isoformat()


def api_figures(body: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    """The API's groups in the shape of `sql_figures`."""

    def row(g: dict[str, Any]) -> tuple[int, int, int, int]:
        levels = g["levels"]
        return g["total"], g["valid"], levels["3"] + levels["4"] + levels["5"], levels["1"] + levels["2"]

    return {g["key"]: row(g) for g in body["groups"]}
