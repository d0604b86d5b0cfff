"""The fold job: move the queued rating changes into the rollups, every STATS_FOLD_SECONDS.

One batch is one transaction: take the oldest queued rows (on PostgreSQL `FOR UPDATE SKIP
LOCKED`, so two folders running at once take different rows and a row is never added twice),
delete them, add their sums to the fine rollup and to the ones derived from it, and give the
watermark (`stats_fold_state`) a fresh token. The rows leave the queue and enter the rollups in
the same commit, so a reader that reads both in one statement sees every change exactly once.
The job is the only writer of the rollups and of the watermark, so no rating waits on them.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import Connection, bindparam, delete, select, text

from core.db import db, is_postgresql, utcnow
from reports.stats.models import COUNT_COLUMNS, DERIVED, FINE_KEYS, FoldState, RatingChange, RatingDayRollup

# Held for one fold transaction: a second folder finds it taken and leaves the work to the first.
FOLD_LOCK_KEY = 0x4841_5346  # "HASF"
Deltas = dict[tuple[Any, ...], Counter[str]]


def project(deltas: Deltas, keys: tuple[str, ...]) -> Deltas:
    """Fine deltas summed onto a derived rollup's keys."""
    picks = [FINE_KEYS.index(name) for name in keys]
    derived: Deltas = defaultdict(Counter)
    for key, counts in deltas.items():
        derived[tuple(key[i] for i in picks)].update(counts)
    return {k: v for k, v in derived.items() if any(v.values())}


def _insert(dialect: str, model: Any) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


@cache
def _upsert_statement(dialect: str, model: Any, keys: tuple[str, ...]) -> Any:
    """INSERT .. ON CONFLICT (keys) DO UPDATE adding the counts: built once per dialect and table,
    executed with one parameter set per key."""
    table = model.__table__
    stmt = _insert(dialect, model).values({c: bindparam(c) for c in (*keys, *COUNT_COLUMNS)})
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in COUNT_COLUMNS}
    )


def _upsert(connection: Connection, model: Any, keys: tuple[str, ...], deltas: Deltas) -> None:
    if not deltas:
        return
    # Sorted keys: two folders (or a folder and a rebuild) lock rollup rows in the same order.
    rows = [
        {**dict(zip(keys, key, strict=True)), **{c: deltas[key].get(c, 0) for c in COUNT_COLUMNS}}
        for key in sorted(deltas)
    ]
    connection.execute(_upsert_statement(connection.dialect.name, model, keys), rows)


def new_token(rows: int, connection: Connection | None = None) -> None:
    """Mark the rollups changed: a fresh random token on the watermark row (on `connection`,
    by default the session's)."""
    connection = connection or db.session.connection()
    stmt = _insert(connection.dialect.name, FoldState).values(id=1, token=uuid.uuid4().hex, folded_at=utcnow())
    stmt = stmt.values(folded_rows=rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "token": stmt.excluded.token,
            "folded_at": stmt.excluded.folded_at,
            "folded_rows": FoldState.__table__.c.folded_rows + stmt.excluded.folded_rows,
        },
    )
    connection.execute(stmt)


def _sum(rows: Sequence[Any]) -> Deltas:
    deltas: Deltas = defaultdict(Counter)
    width = len(FINE_KEYS)
    for row in rows:
        counts = deltas[tuple(row[:width])]
        for column, n in zip(COUNT_COLUMNS, row[width:], strict=True):
            counts[column] += n
    return {k: v for k, v in deltas.items() if any(v.values())}


def fold_batch(limit: int) -> int:
    """Fold up to `limit` of the oldest queued changes; flushes, never commits. Returns how many
    rows left the queue (0 when it is empty, or another folder holds the lock)."""
    postgresql = is_postgresql()
    if postgresql and not db.session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK_KEY}):
        return 0
    oldest = select(RatingChange.id).order_by(RatingChange.id).limit(limit)
    if postgresql:
        oldest = oldest.with_for_update(skip_locked=True)
    columns = [getattr(RatingChange, c) for c in (*FINE_KEYS, *COUNT_COLUMNS)]
    # The ids first, then one DELETE ... RETURNING of exactly those rows: PostgreSQL may run a
    # LIMITed "IN (subquery)" more than once inside a DELETE and take more than `limit` rows.
    ids = list(db.session.scalars(oldest))
    if not ids:
        return 0
    taken = db.session.execute(delete(RatingChange).where(RatingChange.id.in_(ids)).returning(*columns)).all()
    if not taken:
        return 0
    deltas = _sum(taken)
    connection = db.session.connection()
    _upsert(connection, RatingDayRollup, FINE_KEYS, deltas)
    for model, keys in DERIVED:
        _upsert(connection, model, keys, project(deltas, keys))
    new_token(len(taken))
    return len(taken)


def fold(limit: int | None = None) -> int:
    """Fold everything queued, one commit per batch of STATS_FOLD_BATCH rows; returns the rows."""
    limit = limit or int(current_app.config["STATS_FOLD_BATCH"])
    total = 0
    while True:
        folded = fold_batch(limit)
        db.session.commit()
        total += folded
        if folded < limit:
            return total
