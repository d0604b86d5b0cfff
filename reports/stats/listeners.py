"""Keep the rollups current inside the writer's transaction.

A Session `before_flush` hook works out what each inserted, changed or deleted rating adds to or
takes from the rollups (old values come from attribute history, so a voided rating or a corrected
department moves at once); `after_flush` applies the deltas with dialect upserts on the same
connection, so they commit or roll back with the ratings. Bulk loaders that bypass the ORM call
`service.rebuild_rollups()` afterwards.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, event, inspect
from sqlalchemy.orm import Session

from ratings.models import RaterType, Rating, RatingStatus
from reports.stats.models import COUNT_COLUMNS, DERIVED, FINE_KEYS, RatingDayRollup, StatsVersion

TRACKED = ("assess_number", "level", "status", *FINE_KEYS)
PENDING = "stats_rollup_deltas"
Deltas = dict[tuple[Any, ...], Counter[str]]

_DEFAULTS: dict[str, Any] = {
    "assess_number": 1,
    "status": RatingStatus.VALID,
    "rater_type": int(RaterType.INDIVIDUAL),
    "is_default": False,
    "low_trust": False,
}


def _contribution(values: dict[str, Any]) -> tuple[tuple[Any, ...], str] | None:
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


def _current(rating: Rating) -> dict[str, Any]:
    values = {name: getattr(rating, name) for name in TRACKED}
    return {k: _DEFAULTS[k] if v is None and k in _DEFAULTS else v for k, v in values.items()}


def _previous(rating: Rating) -> dict[str, Any] | None:
    """The values as last flushed, or None when nothing the rollups see has changed."""
    state = inspect(rating)
    values, changed = {}, False
    for name in TRACKED:
        history = state.attrs[name].history
        if history.deleted:
            values[name], changed = history.deleted[0], True
        else:
            values[name] = getattr(rating, name)
            changed = changed or bool(history.added)
    return values if changed else None


def _add(deltas: Deltas, values: dict[str, Any] | None, sign: int) -> None:
    found = _contribution(values) if values is not None else None
    if found is not None:
        deltas[found[0]][found[1]] += sign


def collect(new: Iterable[Any], dirty: Iterable[Any], deleted: Iterable[Any]) -> Deltas:
    """Rollup deltas of the ratings among the session's pending objects."""
    deltas: Deltas = defaultdict(Counter)
    for obj in new:
        if isinstance(obj, Rating):
            _add(deltas, _current(obj), +1)
    for obj in dirty:
        if isinstance(obj, Rating):
            before = _previous(obj)
            if before is not None:
                _add(deltas, before, -1)
                _add(deltas, _current(obj), +1)
    for obj in deleted:
        if isinstance(obj, Rating):
            _add(deltas, _previous(obj) or _current(obj), -1)
    return {k: v for k, v in deltas.items() if any(v.values())}


def project(deltas: Deltas, keys: tuple[str, ...]) -> Deltas:
    """Fine deltas summed onto a derived rollup's keys."""
    picks = [FINE_KEYS.index(name) for name in keys]
    derived: Deltas = defaultdict(Counter)
    for key, counts in deltas.items():
        derived[tuple(key[i] for i in picks)].update(counts)
    return derived


def _insert(dialect: str, model: Any) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


@cache
def _upsert_statement(dialect: str, model: Any, keys: tuple[str, ...]) -> Any:
    """INSERT .. ON CONFLICT (keys) DO UPDATE adding the counts: built once per dialect and table,
    executed with one parameter set per key (its compiled form is cached by SQLAlchemy)."""
    table = model.__table__
    stmt = _insert(dialect, model).values({c: bindparam(c) for c in (*keys, *COUNT_COLUMNS)})
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in COUNT_COLUMNS}
    )


@cache
def _version_statement(dialect: str) -> Any:
    stmt = _insert(dialect, StatsVersion).values(id=1, token=bindparam("token"))
    return stmt.on_conflict_do_update(index_elements=["id"], set_={"token": stmt.excluded.token})


def _upsert(connection: Connection, model: Any, keys: tuple[str, ...], deltas: Deltas) -> None:
    if not deltas:
        return
    # Sorted keys: concurrent writers lock rollup rows in the same order (no deadlocks).
    rows = [
        {**dict(zip(keys, key, strict=True)), **{c: deltas[key].get(c, 0) for c in COUNT_COLUMNS}}
        for key in sorted(deltas)
    ]
    connection.execute(_upsert_statement(connection.dialect.name, model, keys), rows)


def bump_version(connection: Connection) -> None:
    """A new random token: results computed under the old one are out of date."""
    connection.execute(_version_statement(connection.dialect.name), {"token": uuid.uuid4().hex})


def apply(session: Session, deltas: Deltas) -> None:
    """Add the deltas to every rollup on the session's connection, then bump the version."""
    connection = session.connection()
    _upsert(connection, RatingDayRollup, FINE_KEYS, deltas)
    for model, keys in DERIVED:
        _upsert(connection, model, keys, project(deltas, keys))
    bump_version(connection)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    deltas = collect(session.new, session.dirty, session.deleted)
    if deltas:
        session.info.setdefault(PENDING, []).append(deltas)


def _after_flush(session: Session, _context: Any) -> None:
    for deltas in session.info.pop(PENDING, []):
        apply(session, deltas)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def _load_old_value(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return value


_connected = False


def connect() -> None:
    """Register the hooks once per process (every app shares the Session class)."""
    global _connected
    if _connected:
        return
    for name in TRACKED:
        # Active history: setting an attribute of an expired rating loads the old value first.
        event.listen(getattr(Rating, name), "set", _load_old_value, active_history=True, retval=True)
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_soft_rollback", lambda session, _previous: _after_rollback(session))
    _connected = True
