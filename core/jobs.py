"""Core's scheduled jobs, and the one way a sweeping job claims its rows.

A sweep claims ONE row at a time with FOR UPDATE SKIP LOCKED, does that row's work and commits,
then claims the next: two schedulers sweeping at once never take the same row (PostgreSQL skips
the row the other holds), and a row whose work fails is rolled back alone, the rows before and
after it keep their commits. On SQLite SKIP LOCKED is a no-op: a writing transaction begins with
BEGIN IMMEDIATE, so sweeps take turns anyway.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, inspect

from core import messages
from core.db import db
from core.scheduler import JOB_RUNS_PRUNE_SECONDS, Job, heartbeat, prune_runs

log = logging.getLogger("haocha.jobs")

Row = TypeVar("Row")

JOBS = [
    Job("core.heartbeat", heartbeat, "SCHEDULER_HEARTBEAT_SECONDS"),
    Job("core.citizen-messages", messages.deliver_due, "CITIZEN_MESSAGE_SWEEP_SECONDS"),
    Job("core.job-runs-retention", prune_runs, JOB_RUNS_PRUNE_SECONDS),
]


def skip_locked(stmt: Select[Any]) -> Select[Any]:
    """`stmt` locking the rows of its first entity FOR UPDATE SKIP LOCKED (ignored by SQLite)."""
    entity = stmt.column_descriptions[0]["entity"]
    return stmt.with_for_update(skip_locked=True, of=entity)


@dataclass(frozen=True)
class Sweep:
    """What a sweep did: rows whose work was committed, skipped (work said so) and failed."""

    done: int = 0
    skipped: int = 0
    failed: int = 0


def claim_each(stmt: Select[Row], work: Callable[[Row], bool | None], limit: int) -> Sweep:
    """Claim the rows `stmt` selects one at a time (in its order) and do `work` on each, with one
    commit per row, until none is left or `limit` rows were claimed.

    `stmt` selects one mapped entity and is re-run for each row, so it must stop matching a row
    once its work is done (a row claimed once in this sweep is not claimed again in it). `work`
    returns False to discard its writes (nothing to do after all); an exception rolls back that
    row alone, is logged, and the sweep goes on.
    """
    entity = stmt.column_descriptions[0]["entity"]
    mapper = inspect(entity)
    key = mapper.primary_key[0]
    claimed: list[Any] = []
    done = skipped = failed = 0
    while len(claimed) < limit:
        query = stmt.where(key.not_in(claimed)) if claimed else stmt
        row = db.session.scalar(skip_locked(query.limit(1)))
        if row is None:
            break
        row_id = mapper.primary_key_from_instance(row)[0]
        claimed.append(row_id)
        try:
            if work(row) is False:
                db.session.rollback()
                skipped += 1
            else:
                db.session.commit()
                done += 1
        except Exception:  # one row's failure must not stop the sweep or undo the other rows
            db.session.rollback()
            log.exception("%s %s: work failed; rolled back", mapper.class_.__name__, row_id)
            failed += 1
    return Sweep(done, skipped, failed)
