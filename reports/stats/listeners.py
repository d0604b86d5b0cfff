"""Record what each rating write changes in the statistics, as rows appended to a queue.

A Session `before_flush` hook finds the ratings being inserted, changed or deleted; for a changed
one it reads the stored row (`FOR UPDATE` on PostgreSQL, so two transactions changing the same
rating one after the other each see what the other left), because the ORM's idea of the old
values may be from an earlier transaction. `after_flush` works out what each rating took from and
now adds to the fine rollup key and appends one `stats_rating_changes` row per difference, on the
same connection, so the rows commit or roll back with the ratings. A rating inserted without a
flush (`core.db.insert_now`, a citizen's rating) is announced by `inserted_now` and gets its row
the same way.

Nothing here updates a shared row: every rating's transaction inserts its own rows only, and the
rollups themselves are written by the fold job (`reports.stats.fold`). Bulk loaders that bypass
the ORM call `service.rebuild_rollups()` afterwards.

A department, service item or region renamed gives the watermark a new token, as a fold does:
answers and group names are remembered under the token (reports.stats.service), so the next
answer shows the new name. Renames are rare; ratings never touch that row.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from core.db import insert_rows, inserted_now, utcnow
from core.models import Department, Region, ServiceItem
from core.signals import Prepared, rating_prepared
from ratings.models import RaterType, Rating, RatingStatus
from reports.stats.fold import new_token
from reports.stats.models import COUNT_COLUMNS, FINE_KEYS, RatingChange

TRACKED = ("assess_number", "level", "status", *FINE_KEYS)
PENDING = "stats_rating_changes"
RENAMED = "stats_group_renamed"
NAMED = (Department, ServiceItem, Region)  # the groups whose labels are names from the database
Key = tuple[Any, ...]
Contribution = tuple[Key, str]

_DEFAULTS: dict[str, Any] = {
    "assess_number": 1,
    "status": RatingStatus.VALID,
    "rater_type": int(RaterType.INDIVIDUAL),
    "is_default": False,
    "low_trust": False,
}


def contribution(values: dict[str, Any]) -> Contribution | None:
    """The fine rollup key and count column a rating with these values adds one to, if any."""
    if values["assess_number"] != 1 or values["local_day"] is None:
        return None
    status = str(getattr(values["status"], "value", values["status"]))
    if status == RatingStatus.PENDING:
        return None  # held for review: in no figure until a manager confirms or rejects it
    column = f"n{int(values['level'])}" if status == RatingStatus.VALID else "voided"
    key = (
        values["local_day"],
        values["department_id"] or 0,
        values["region_code"] or "",
        values["service_item_id"] or 0,
        int(values["channel"]),
        int(values["rater_type"]),
        bool(values["is_default"]),
        bool(values["low_trust"]),
    )
    return key, column


def _with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _DEFAULTS[k] if v is None and k in _DEFAULTS else v for k, v in values.items()}


def _current(rating: Rating) -> dict[str, Any]:
    return _with_defaults({name: getattr(rating, name) for name in TRACKED})


def _changed(rating: Rating) -> list[str]:
    """The tracked attributes set since the last flush (without loading expired ones)."""
    attrs = inspect(rating).attrs
    return [name for name in TRACKED if attrs[name].history.has_changes()]


def _stored(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The tracked columns as stored now, locked until commit on PostgreSQL."""
    columns = [getattr(Rating, name) for name in TRACKED]
    stmt = select(Rating.id, *columns).where(Rating.id.in_(ids)).order_by(Rating.id).with_for_update()
    rows = session.connection().execute(stmt)
    return {row[0]: _with_defaults(dict(zip(TRACKED, row[1:], strict=True))) for row in rows}


class Pending:
    """Ratings of one flush: new ones, and changed or deleted ones with their stored values."""

    def __init__(self) -> None:
        self.new: list[Rating] = []
        self.changed: list[tuple[Rating, dict[str, Any], list[str]]] = []
        self.deleted: list[tuple[Rating, dict[str, Any]]] = []


def collect(session: Session, new: Iterable[Any], dirty: Iterable[Any], deleted: Iterable[Any]) -> Pending:
    pending = Pending()
    pending.new = [obj for obj in new if isinstance(obj, Rating)]
    changed = [(obj, names) for obj in dirty if isinstance(obj, Rating) and (names := _changed(obj))]
    gone = [obj for obj in deleted if isinstance(obj, Rating)]
    ids = [obj.id for obj, _ in changed] + [obj.id for obj in gone]
    stored = _stored(session, ids) if ids else {}
    pending.changed = [(obj, stored[obj.id], names) for obj, names in changed if obj.id in stored]
    pending.deleted = [(obj, stored[obj.id]) for obj in gone if obj.id in stored]
    return pending


def _row(rating_id: int | None, found: Contribution, sign: int, now: Any) -> dict[str, Any]:
    key, column = found
    counts = {c: sign if c == column else 0 for c in COUNT_COLUMNS}
    return {"rating_id": rating_id, **dict(zip(FINE_KEYS, key, strict=True)), **counts, "created_at": now}


def difference(rating_id: int | None, before: Contribution | None, after: Contribution | None) -> list[dict[str, Any]]:
    """The queue rows that turn `before` into `after` (none when they are the same)."""
    if before == after:
        return []
    now = utcnow()
    rows = [_row(rating_id, before, -1, now)] if before is not None else []
    return rows + ([_row(rating_id, after, +1, now)] if after is not None else [])


def _added(rating: Rating) -> list[dict[str, Any]]:
    """The queue rows of a newly inserted rating."""
    return difference(rating.id, None, contribution(_current(rating)))


def changes(pending: Pending) -> list[dict[str, Any]]:
    """The queue rows of a flushed batch (ids are known now)."""
    rows = [row for obj in pending.new for row in _added(obj)]
    for obj, stored, names in pending.changed:
        # What the UPDATE leaves: the stored row with the attributes this flush set.
        after = _with_defaults({**stored, **{name: getattr(obj, name) for name in names}})
        rows += difference(obj.id, contribution(stored), contribution(after))
    for obj, stored in pending.deleted:
        rows += difference(obj.id, contribution(stored), None)
    return rows


def _append(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append queue rows on the session's connection: they commit or roll back with its work."""
    insert_rows(RatingChange, *rows, session=session)


def _renamed(obj: Any) -> bool:
    if not isinstance(obj, NAMED):
        return False
    attrs = instance_state(obj).attrs
    return attrs.name.history.has_changes() or attrs.name_en.history.has_changes()


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending = collect(session, session.new, session.dirty, session.deleted)
    if pending.new or pending.changed or pending.deleted:
        session.info.setdefault(PENDING, []).append(pending)
    if any(_renamed(obj) for obj in session.dirty):
        session.info[RENAMED] = True


def _after_flush(session: Session, _context: Any) -> None:
    rows: list[dict[str, Any]] = []
    for pending in session.info.pop(PENDING, []):
        rows += changes(pending)
    _append(session, rows)
    if session.info.pop(RENAMED, False):
        new_token(0, session.connection())


_prepared: Prepared[list[dict[str, Any]]] = Prepared()


def _on_rating_prepared(_sender: Any, rating: Rating, **_kw: Any) -> None:
    """A new rating's queue rows, worked out before its write transaction (its id comes later)."""
    _prepared.keep(rating, _added(rating))


def _inserted_now(session: Session, obj: Any) -> None:
    """A rating inserted outside a flush (core.db.insert_now): its queue row, as `_after_flush`
    would have appended it (worked out before the write when the rating was prepared)."""
    if isinstance(obj, Rating):
        rows = _prepared.take(obj)
        if rows is None:
            rows = _added(obj)
        else:
            for row in rows:
                row["rating_id"] = obj.id
        _append(session, rows)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(RENAMED, None)


_connected = False


def connect() -> None:
    """Register the hooks once per process (every app shares the Session class)."""
    global _connected
    if _connected:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_soft_rollback", lambda session, _previous: _after_rollback(session))
    inserted_now.connect(_inserted_now)
    rating_prepared.connect(_on_rating_prepared)
    _connected = True
