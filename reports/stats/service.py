"""Satisfaction statistics: the rollups plus the not-yet-folded changes, read in one statement;
`rebuild_rollups` recomputes the rollups from the raw rows (docs/statistics.md).

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
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
)

from core.db import data_version, db, is_postgresql
from core.models import Department, Region, ServiceItem
from core.prepared import PreparedLookup
from ratings.counting import rates
from ratings.labels import CHANNEL_LABELS, RATER_TYPE_LABELS, label
from ratings.models import Rating, RatingStatus
from reports.stats.fold import new_token
from reports.stats.models import (
    COUNT_COLUMNS,
    DERIVED,
    FINE_KEYS,
    LEVELS,
    ChannelDayRollup,
    DepartmentDayRollup,
    FoldState,
    RatingChange,
    RatingDayRollup,
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


Sums = dict[Any, tuple[int, ...]]
_ZEROS = (0,) * len(COUNT_COLUMNS)
_HEAD, _ROLLUP, _TAIL = 0, 1, 2


@dataclass(frozen=True)
class Reading:
    """What one statement saw: the watermark token, the held ratings, the rollups' sums (when
    asked for) and the not-yet-folded tail's sums, per group key."""

    token: str | None
    pending: int
    rollup: Sums | None
    tail: Sums


def _key(model: Any, group_by: str | None) -> Any:
    return getattr(model, _GROUP_COLUMN[group_by]) if group_by else literal_column("0")


def _part(part: int, model: Any, filters: Filters, group_by: str | None) -> Any:
    key = _key(model, group_by)
    stmt = select(
        literal_column(str(part)),
        key,
        *[func.sum(getattr(model, c)) for c in COUNT_COLUMNS],
        cast(null(), String),
        cast(null(), Integer),
    ).where(and_(*_conditions(model, filters)))
    return stmt.group_by(key) if group_by else stmt


def _head(filters: Filters, group_by: str | None, pending: bool) -> Any:
    key_type = _key(RatingChange, group_by).type if group_by else Integer()
    token = select(FoldState.token).where(FoldState.id == 1).scalar_subquery()
    held = pending_statement(filters).scalar_subquery() if pending else cast(null(), Integer)
    zeros: list[Any] = [literal_column("0")] * len(COUNT_COLUMNS)
    return select(literal_column(str(_HEAD)), cast(null(), key_type), *zeros, token, held)


@lru_cache(maxsize=1024)
def _statement(filters: Filters, group_by: str | None, rollup: bool, pending: bool) -> PreparedLookup:
    """Built once per query shape (building the union costs as much as running it on a small
    tail), and run on the driver's cursor (core.prepared): the tail is read after every rating."""
    parts = [_head(filters, group_by, pending), _part(_TAIL, RatingChange, filters, group_by)]
    if rollup:
        parts.append(_part(_ROLLUP, _source(filters, group_by), filters, group_by))
    return PreparedLookup(union_all(*parts))


def read(filters: Filters, group_by: str | None = None, rollup: bool = True, pending: bool = False) -> Reading:
    """The watermark, the held ratings (if asked), the rollups' sums (if asked) and the tail's,
    by one statement: PostgreSQL and SQLite read it all from one snapshot, so a fold committing
    meanwhile (rows leaving the queue, entering the rollups) is seen entirely or not at all."""
    token, held = None, 0
    found: dict[int, dict[Any, tuple[int, ...]]] = {_ROLLUP: {}, _TAIL: {}}
    for part, key, *rest in _statement(filters, group_by, rollup, pending).all():
        if part == _HEAD:
            token, held = rest[-2], int(rest[-1] or 0)
            continue
        numbers = tuple(int(n or 0) for n in rest[:-2])
        if any(numbers):
            found[part][key] = numbers
    return Reading(token, held, found[_ROLLUP] if rollup else None, found[_TAIL])


def merge(*parts: Sums) -> Sums:
    """The sums of several readings, key by key (the first is usually the large one: the
    rollups; the others the few keys of the tail)."""
    if not parts:
        return {}
    merged: dict[Any, tuple[int, ...]] = dict(parts[0])
    for part in parts[1:]:
        for key, numbers in part.items():
            known = merged.get(key)
            merged[key] = tuple(numbers) if known is None else tuple(a + b for a, b in zip(known, numbers, strict=True))
    return {k: v for k, v in merged.items() if any(v)}


CACHE_SIZE = 256
_cache_lock = threading.Lock()
# (filters, group_by) -> (token, the rollups' sums under it): a reader whose statement saw the
# same token sees the same rollups, and adds the tail it read itself.
_rollups: OrderedDict[tuple[Any, ...], tuple[str, Sums]] = OrderedDict()


def clear_caches() -> None:
    """Forget every cached answer and rollup sum in this process (benchmarks time the queries)."""
    with _cache_lock:
        _rollups.clear()
        _answers.clear()
        _unchanged.clear()
        _group_names.clear()


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    with _cache_lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)


def _complete(reading: Reading, filters: Filters, group_by: str | None, pending: bool) -> tuple[Reading, Sums]:
    """Add the rollups' sums to a reading of the tail: those cached under the same token, or
    read again together with the tail (and the token) when the rollups have moved on."""
    query = (filters, group_by)
    with _cache_lock:
        known = _rollups.get(query)
    if known is not None and reading.token is not None and known[0] == reading.token:
        return reading, merge(known[1], reading.tail)
    reading = read(filters, group_by, rollup=True, pending=pending)
    rollup = reading.rollup or {}
    if reading.token is not None:
        _remember(_rollups, query, (reading.token, rollup))
    return reading, merge(rollup, reading.tail)


def current(filters: Filters, group_by: str | None = None, pending: bool = False) -> tuple[Reading, Sums]:
    """The reading and the exact sums now (rollups + tail): one statement over the small queue
    when the rollups' sums under the current token are cached, else one over both."""
    with _cache_lock:
        known = (filters, group_by) in _rollups
    reading = read(filters, group_by, rollup=not known, pending=pending)
    if reading.rollup is not None:
        if reading.token is not None:
            _remember(_rollups, (filters, group_by), (reading.token, reading.rollup))
        return reading, merge(reading.rollup, reading.tail)
    return _complete(reading, filters, group_by, pending)


def counts(filters: Filters, group_by: str | None = None) -> list[tuple[Any, tuple[int, ...]]]:
    """(group key, (n1..n5, voided)) rows: the rollups plus the not-yet-folded changes."""
    _reading, sums = current(filters, group_by)
    if group_by is None:
        return [(None, sums.get(0, _ZEROS))]
    return list(sums.items())


def _rules() -> tuple[Any, ...]:
    """The configuration the rates depend on (part of the memo key below)."""
    config = current_app.config
    return config["BAD_REVIEW_MAX_LEVEL"], config["SATISFIED_MIN_LEVEL"], config["GOOD_REVIEW_MIN_LEVEL"]


@lru_cache(maxsize=8192)
def _figures(numbers: tuple[int, ...], _rules: tuple[Any, ...]) -> dict[str, Any]:
    levels = dict(zip(LEVELS, numbers[:5], strict=True))
    valid = sum(levels.values())
    return {
        "total": valid + numbers[5],
        "valid": valid,
        "levels": {str(lv): n for lv, n in levels.items()},
        **rates(levels),
    }


def figures(numbers: Sequence[int], rules: tuple[Any, ...] | None = None) -> dict[str, Any]:
    """total, valid, levels and the three rates of (n1..n5, voided). Memoised: a province-wide
    answer recomputed after a rating elsewhere has hundreds of groups, nearly all unchanged."""
    found = _figures(tuple(numbers), rules or _rules())
    return {**found, "levels": dict(found["levels"])}


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


NAMED_GROUPS = frozenset({"department", "service", "region"})
# (grouping, watermark token) -> {key: name}: a rename gives the watermark a new token
# (reports.stats.listeners), so names remembered under a token are the names now.
_group_names: OrderedDict[tuple[str, str], dict[Any, str]] = OrderedDict()


def _labels(group_by: str, keys: Sequence[Any], token: str | None) -> Mapping[Any, str]:
    """`labels`, the names of departments, service items and regions remembered under the
    watermark `token`: an answer recomputed after a rating reads none of them again."""
    if token is None or group_by not in NAMED_GROUPS:
        return labels(group_by, keys)
    with _cache_lock:
        known = _group_names.get((group_by, token), {})
    missing = [key for key in keys if key not in known]
    if missing:
        known = {**known, **labels(group_by, missing)}
        _remember(_group_names, (group_by, token), known)
    return known


def _group_rows(sums: Sums, group_by: str, token: str | None) -> list[tuple[str, str, tuple[int, ...]]]:
    """(key, label, numbers) of each group with ratings, in key order; unknown keys last."""
    buckets: dict[Any, tuple[int, ...]] = {}
    periods = group_by in PERIODS
    for raw, numbers in sums.items():
        key = period_key(raw, group_by) if periods else (raw or None)  # 0 and "" are "unknown"
        known = buckets.get(key)
        buckets[key] = numbers if known is None else tuple(a + b for a, b in zip(known, numbers, strict=True))
    buckets = {k: v for k, v in buckets.items() if any(v)}
    known_keys = [k for k in buckets if k is not None]
    names = _labels(group_by, known_keys, token)
    try:
        ordered = sorted(known_keys)  # one type of key per grouping: ids in number order, codes as text
    except TypeError:
        ordered = sorted(known_keys, key=group_order)
    if None in buckets:
        ordered.append(None)
    return [
        ("" if key is None else str(key), "-" if key is None else names.get(key, ""), tuple(buckets[key]))
        for key in ordered
    ]


def _group(key: str, label: str, numbers: tuple[int, ...], rules: tuple[Any, ...]) -> dict[str, Any]:
    return {"key": key, "label": label, **figures(numbers, rules)}


def _groups(sums: Sums, group_by: str, token: str | None) -> list[dict[str, Any]]:
    rules = _rules()
    return [_group(*row, rules) for row in _group_rows(sums, group_by, token)]


@lru_cache(maxsize=65536)
def _group_json(key: str, label: str, numbers: tuple[int, ...], rules: tuple[Any, ...], style: tuple[Any, ...]) -> str:
    """One group as JSON text, remembered: after a rating only its own group's text is new."""
    return str(current_app.json.dumps(_group(key, label, numbers, rules)))


def groups(filters: Filters, group_by: str) -> list[dict[str, Any]]:
    """The figures of each group that has ratings, in key order; unknown keys ("" / "-") last."""
    reading, sums = current(filters, group_by)
    return _groups(sums, group_by, reading.token)


def pending_statement(filters: Filters) -> Any:
    """First ratings matching `filters` that are held for a manager's review: in no figure until
    confirmed (ratings.review). Few by nature, found through the (status, created_at) index."""
    conditions = [Rating.status == RatingStatus.PENDING, Rating.assess_number == 1, *_conditions(Rating, filters)]
    return select(func.count()).select_from(Rating).where(*conditions)


def pending_review(filters: Filters) -> int:
    return int(db.session.scalar(pending_statement(filters)) or 0)


def _body(filters: Filters, group_by: str | None, reading: Reading, sums: Sums) -> dict[str, Any]:
    # Every rating falls in exactly one group (no key column is NULL), so the groups add up to
    # the totals: one reading serves both.
    total = tuple(map(sum, zip(*sums.values(), strict=True))) if sums else _ZEROS
    return {
        "from": filters.start.isoformat(),
        "to": filters.end.isoformat(),
        "target": current_app.config["SATISFACTION_TARGET"],
        **figures(total),
        "pending_review": reading.pending,
        "groups": _groups(sums, group_by, reading.token) if group_by else [],
    }


_GROUPS_MARK = "@@groups@@"


def _body_json(filters: Filters, group_by: str | None, reading: Reading, sums: Sums) -> str:
    """`_body` as JSON text, the same characters as dumping it, with each group's text reused."""
    provider = current_app.json
    style = (getattr(provider, "sort_keys", None), getattr(provider, "ensure_ascii", None))
    rules = _rules()
    parts = [_group_json(*row, rules, style) for row in _group_rows(sums, group_by, reading.token)] if group_by else []
    head = provider.dumps({**_body(filters, None, reading, sums), "groups": _GROUPS_MARK})
    return str(head).replace(f'"{_GROUPS_MARK}"', "[" + ",".join(parts) + "]", 1)


def satisfaction(filters: Filters, group_by: str | None = None) -> dict[str, Any]:
    """The `GET /api/v1/stats/satisfaction` body (API.md); `pending_review` counts the ratings
    held for review, which the figures leave out."""
    reading, sums = current(filters, group_by, pending=True)
    return _body(filters, group_by, reading, sums)


_answers: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
# (data version, the question) -> answer: SQLite says for free when nothing at all has changed.
_unchanged: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()


# Groupings whose labels are translated (the rest are names from the database, or keys).
TRANSLATED_LABELS = frozenset({"channel", "rater_type"})


def _question(filters: Filters, group_by: str | None) -> tuple[Any, ...]:
    """What an answer depends on besides the data: the filters, the grouping, the target, and
    the reader's language only where it changes the answer (negotiating it costs a fifth of a
    cached answer)."""
    language = str(get_locale()) if group_by in TRANSLATED_LABELS else ""
    return filters, group_by, language, current_app.config["SATISFACTION_TARGET"]


def _answer_key(reading: Reading, question: tuple[Any, ...]) -> tuple[Any, ...]:
    return reading.token, reading.pending, tuple(sorted(reading.tail.items())), *question


def satisfaction_json(filters: Filters, group_by: str | None = None) -> bytes:
    """`satisfaction` as JSON, reused while nothing it counts has changed. The key is what the
    figures are made of: the watermark token (the rollups) and the tail's own sums for these
    filters, and the held ratings; so a rating elsewhere (another department, another day)
    leaves the answer cached, and a fold, a void or a move here is seen by the next request.
    While the database has not changed at all since an answer was made
    (core.db.data_version), that answer is served without reading anything.
    One small cache per process; nothing lives only here."""
    question = _question(filters, group_by)
    version = data_version()
    if version is not None:
        with _cache_lock:
            found = _unchanged.get((version, *question))
        if found is not None:
            return found
    result = _answer(filters, group_by, question)
    if version is not None:
        _remember(_unchanged, (version, *question), result)
    return result


def _answer(filters: Filters, group_by: str | None, question: tuple[Any, ...]) -> bytes:
    reading = read(filters, group_by, rollup=False, pending=True)
    if reading.token is not None:
        with _cache_lock:
            found = _answers.get(_answer_key(reading, question))
        if found is not None:
            return found
    reading, sums = _complete(reading, filters, group_by, pending=True)
    result = (_body_json(filters, group_by, reading, sums) + "\n").encode()
    if reading.token is not None:
        _remember(_answers, _answer_key(reading, question), result)
    return result


def _raw_counts() -> list[Any]:
    valid = Rating.status == RatingStatus.VALID
    per_level = [func.sum(case((and_(valid, Rating.level == lv), 1), else_=0)) for lv in LEVELS]
    return [*per_level, func.sum(case((Rating.status == RatingStatus.VOIDED, 1), else_=0))]


def rebuild_rollups() -> int:
    """Recompute the rollups from the raw ratings (one INSERT ... SELECT ... GROUP BY each);
    flushes, never commits. Returns the number of fine rollup rows.

    The queue is emptied in the same transaction: every change it held is in the raw rows now.
    On PostgreSQL the queue is locked first (writers append to it, folders take from it), so no
    rating commits between the rebuild's reading of the ratings and its emptying of the queue."""
    if is_postgresql():
        db.session.execute(text(f"LOCK TABLE {RatingChange.__tablename__} IN EXCLUSIVE MODE"))
    db.session.execute(delete(RatingChange))
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
    new_token(0)
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
