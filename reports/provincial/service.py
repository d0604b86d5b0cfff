"""实时上报 rules: what goes into the outbox (in the caller's transaction), which rows are due,
what a try's outcome does to a row, and the operator's view (status, retry).

Functions flush, never commit: the signal's sender, the delivery job or the CLI/page commits.
A report's subject is its service event (办件) whenever one can be found, so a rating, its
callback, its rectification, its appeal and its 追评 reach the province in the order they happened.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import aliased

from callbacks.models import Callback, RectificationCase
from core.calendar import local_date
from core.db import db, insert_now, insert_rows, is_postgresql, utcnow
from core.privacy import scrub_text
from ratings.models import Rating, RatingAppeal, ServiceEvent
from reports.provincial import mapping
from reports.provincial.models import AckDay, OutboxRow, OutboxStatus, ReportKind

ERROR_MAX_LENGTH = 500
MAX_BACKOFF_EXPONENT = 60  # 2**60 seconds is far past any cap; keeps the float finite


# --- writing the outbox (inside the sender's transaction) ---------------------------------------


def enqueue(kind: str, subject_type: str, subject_id: int, payload: dict[str, Any]) -> OutboxRow:
    """Add one report to the outbox; it commits (or rolls back) with the change it reports."""
    row = insert_now(OutboxRow(**_pending(kind, subject_type, subject_id, payload)))
    db.session.flush()
    return row


def _pending(kind: str, subject_type: str, subject_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    """A new outbox row's values: pending, due now."""
    now = utcnow()
    return {
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": int(subject_id),
        "payload": payload,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _ticket_event(ticket_id: int) -> ServiceEvent | None:
    """The latest service event of a 12345 ticket (a ticket reopened and closed again gets a new one)."""
    stmt = select(ServiceEvent).where(ServiceEvent.ticket_id == ticket_id).order_by(ServiceEvent.id.desc()).limit(1)
    return db.session.scalar(stmt)


@dataclass(frozen=True)
class Subject:
    """What a report is about, for ordering, and the projectNo and assessNumber it refers to."""

    type: str
    id: int
    project: str
    assess_number: int


def _subject_of_event(event: ServiceEvent, assess_number: int | None) -> Subject:
    return Subject("event", event.id, mapping.project_no(event, event.id), int(assess_number or 1))


def _subject_of_rating(rating: Rating) -> Subject:
    return _subject_of_event(rating.event, rating.assess_number)


@dataclass(frozen=True)
class RatingReport:
    """A rating's outbox row, worked out before it is written (`rating_report`)."""

    kind: str
    subject_type: str
    subject_id: int
    payload: dict[str, Any]


def rating_report(rating: Rating, event: ServiceEvent, department: Any, service_item: Any) -> RatingReport:
    """评价 or 追评 (assess_number 2): the report of the rating as the citizen gave it. It needs
    neither the rating's id nor a write, so it can be worked out before the rating's write
    transaction begins (with the event's department and service item, which a new rating takes)."""
    subject = _subject_of_event(event, rating.assess_number)
    payload = mapping.rating_record(rating, event, department, service_item)
    kind = ReportKind.FOLLOW_UP if subject.assess_number == 2 else ReportKind.RATING
    return RatingReport(kind.value, subject.type, subject.id, payload)


def enqueue_rating(rating: Rating, report: RatingReport | None = None) -> None:
    """Put a rating's report (`rating_report`, worked out now unless given) in the outbox: a row
    inserted at once, no object built (core.db.insert_rows)."""
    report = report or rating_report(rating, rating.event, rating.department, rating.service_item)
    insert_rows(OutboxRow, _pending(report.kind, report.subject_type, report.subject_id, report.payload))


def _subject_of_callback(callback: Callback) -> Subject:
    rating = callback.rating or (callback.case.rating if callback.case is not None else None)
    if rating is not None:
        return _subject_of_rating(rating)
    subject_type = callback.subject_type or "callback"
    subject_id = int(callback.subject_id or callback.id)
    if subject_type == "ticket":
        event = _ticket_event(subject_id)
        if event is not None:
            return Subject("event", event.id, mapping.project_no(event), 1)
    return Subject(subject_type[:16], subject_id, "", 1)


def enqueue_callback(callback: Callback) -> OutboxRow:
    """回访: report how a callback ended (done or unreachable, and what was learnt)."""
    subject = _subject_of_callback(callback)
    payload = mapping.callback_record(callback, subject.project, subject.assess_number, callback.department)
    return enqueue(ReportKind.CALLBACK.value, subject.type, subject.id, payload)


def enqueue_rectification(case: RectificationCase) -> OutboxRow:
    """整改: report a rectification the manager accepted."""
    subject = _subject_of_rating(case.rating)
    payload = mapping.rectification_record(case, subject.project, case.department)
    return enqueue(ReportKind.RECTIFICATION.value, subject.type, subject.id, payload)


def enqueue_appeal(appeal: RatingAppeal, rating: Rating | None = None) -> OutboxRow | None:
    """申诉复核: report a decided appeal (an upheld one voids the rating in the province's count too)."""
    if str(mapping.enum_value(appeal.status)) not in mapping.APPEAL_RESULTS:
        return None  # not decided: nothing to report
    subject = _subject_of_rating(rating if rating is not None else appeal.rating)
    payload = mapping.appeal_record(appeal, subject.project, subject.assess_number, appeal.department)
    return enqueue(ReportKind.APPEAL.value, subject.type, subject.id, payload)


# --- delivery bookkeeping -------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A row taken for one try, detached from the session (the sender commits per row)."""

    id: int
    kind: str
    subject_type: str
    subject_id: int
    payload: dict[str, Any]
    attempts: int


def backoff_seconds(attempts: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Full jitter: the wait after the `attempts`-th failed try is random in [0, min(cap, base·2^(n-1))]."""
    exponent = min(max(attempts - 1, 0), MAX_BACKOFF_EXPONENT)
    return rand() * min(cap, base * 2.0**exponent)


def _earlier_unsent() -> Any:
    """An earlier row of the same subject that is not yet acknowledged: it blocks this one."""
    earlier = aliased(OutboxRow)
    return exists().where(
        earlier.subject_type == OutboxRow.subject_type,
        earlier.subject_id == OutboxRow.subject_id,
        earlier.id < OutboxRow.id,
        earlier.status != OutboxStatus.SENT,
    )


def _due(now: datetime, exclude: Sequence[int]) -> list[Any]:
    """The conditions of a row that may be sent now: owed, not waiting, first unsent of its subject."""
    conditions = [OutboxRow.status == OutboxStatus.PENDING, OutboxRow.next_attempt_at <= now, ~_earlier_unsent()]
    if exclude:
        conditions.append(OutboxRow.id.not_in(list(exclude)))
    return conditions


def any_due(now: datetime | None = None, exclude: Sequence[int] = ()) -> bool:
    """Whether claim_due would find a row now; a read, for a sender waiting for work."""
    return bool(db.session.scalar(select(exists().where(*_due(now or utcnow(), exclude)))))


def claim_due(
    limit: int, lease_seconds: float, now: datetime | None = None, exclude: Sequence[int] = ()
) -> list[Claimed]:
    """Take up to `limit` due rows, each the oldest unsent row of its subject, for one try; rows in
    `exclude` (just tried by this sender) are left alone.

    The claim is a lease: next_attempt_at moves `lease_seconds` ahead, so no other sender takes
    the row meanwhile; if this process dies, the row falls due again when the lease ends and is
    resent (the receiver dedupes by id). On PostgreSQL rows are locked with SKIP LOCKED so two
    senders claiming at once take different rows. The caller commits.
    """
    now = now or utcnow()
    stmt = select(OutboxRow).where(*_due(now, exclude)).order_by(OutboxRow.id).limit(limit)
    if is_postgresql():
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxRow)
    rows = list(db.session.scalars(stmt))
    lease_end = now + timedelta(seconds=lease_seconds)
    claimed = []
    for row in rows:
        row.next_attempt_at = lease_end
        claimed.append(Claimed(row.id, row.kind, row.subject_type, row.subject_id, dict(row.payload), row.attempts))
    db.session.flush()
    return claimed


def mark_sent(row_id: int, now: datetime | None = None) -> None:
    """The receiver acknowledged (2xx): the row is done and never sent again."""
    db.session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id, OutboxRow.status != OutboxStatus.SENT)
        .values(status=OutboxStatus.SENT, sent_at=now or utcnow(), last_error="")
    )


def mark_failed(
    row: Claimed, error: str, max_attempts: int, base: float, cap: float, now: datetime | None = None
) -> OutboxStatus:
    """A failed try: wait (exponential backoff, full jitter) or, after `max_attempts`, go dead."""
    now = now or utcnow()
    attempts = row.attempts + 1
    status = OutboxStatus.DEAD if attempts >= max_attempts else OutboxStatus.PENDING
    wait = backoff_seconds(attempts, base, cap)
    db.session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.status == OutboxStatus.PENDING)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=wait),
            last_error=scrub_text(error)[:ERROR_MAX_LENGTH],
        )
    )
    return status


def release(row_ids: Sequence[int], now: datetime | None = None) -> None:
    """Give back claimed rows that were not tried (no attempt counted): due again at once."""
    if row_ids:
        db.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(list(row_ids)), OutboxRow.status == OutboxStatus.PENDING)
            .values(next_attempt_at=now or utcnow())
        )


def wake_waiting(error_prefixes: Sequence[str], now: datetime | None = None) -> int:
    """Make pending rows that are backing off because of errors starting with one of the prefixes
    due at once: the receiver is back, so a wait earned only by its outage would be lag for nothing."""
    now = now or utcnow()
    matches = [OutboxRow.last_error.startswith(prefix, autoescape=True) for prefix in error_prefixes]
    if not matches:
        return 0
    return _rowcount(
        update(OutboxRow)
        .where(OutboxRow.status == OutboxStatus.PENDING, OutboxRow.next_attempt_at > now, or_(*matches))
        .values(next_attempt_at=now)
    )


# --- the operator's view ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportingStatus:
    """The outbox at a glance: what is owed, since when, and what needs a human."""

    backlog: int  # pending rows: owed to the province
    oldest_pending_at: datetime | None
    dead: int  # dead letters
    blocked: int  # pending rows held back by an earlier dead letter of the same subject
    sent: int
    last_sent_at: datetime | None

    def oldest_pending_age_seconds(self, now: datetime | None = None) -> float | None:
        if self.oldest_pending_at is None:
            return None
        return max(((now or utcnow()) - self.oldest_pending_at).total_seconds(), 0.0)


def backlog() -> int:
    """Rows owed to the province (pending); a health figure and the `outbox_backlog` gauge."""
    return int(db.session.scalar(select(func.count()).where(OutboxRow.status == OutboxStatus.PENDING)) or 0)


def oldest_pending_at() -> datetime | None:
    return db.session.scalar(select(func.min(OutboxRow.created_at)).where(OutboxRow.status == OutboxStatus.PENDING))


def lag_seconds(now: datetime | None = None) -> float:
    """The delivery lag: how long the oldest report still owed has waited (0 when nothing is owed).
    Dead letters are not in it: they wait for a human and have their own count."""
    oldest = oldest_pending_at()
    if oldest is None:
        return 0.0
    return round(max(((now or utcnow()) - oldest).total_seconds(), 0.0), 1)


def dead_count() -> int:
    return int(db.session.scalar(select(func.count()).where(OutboxRow.status == OutboxStatus.DEAD)) or 0)


def status() -> ReportingStatus:
    rows = db.session.execute(
        select(OutboxRow.status, func.count(), func.min(OutboxRow.created_at), func.max(OutboxRow.sent_at)).group_by(
            OutboxRow.status
        )
    ).all()
    by_status = {OutboxStatus(s): (int(n), oldest, last) for s, n, oldest, last in rows}
    earlier = aliased(OutboxRow)
    blocked = db.session.scalar(
        select(func.count())
        .select_from(OutboxRow)
        .where(
            OutboxRow.status == OutboxStatus.PENDING,
            exists().where(
                earlier.subject_type == OutboxRow.subject_type,
                earlier.subject_id == OutboxRow.subject_id,
                earlier.id < OutboxRow.id,
                earlier.status == OutboxStatus.DEAD,
            ),
        )
    )
    pending = by_status.get(OutboxStatus.PENDING, (0, None, None))
    sent = by_status.get(OutboxStatus.SENT, (0, None, None))
    return ReportingStatus(
        backlog=pending[0],
        oldest_pending_at=pending[1],
        dead=by_status.get(OutboxStatus.DEAD, (0, None, None))[0],
        blocked=int(blocked or 0),
        sent=sent[0],
        last_sent_at=sent[2],
    )


def dead_letters(limit: int = 50) -> list[OutboxRow]:
    """The most recent dead letters, newest first."""
    stmt = select(OutboxRow).where(OutboxRow.status == OutboxStatus.DEAD).order_by(OutboxRow.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def oldest_pending(limit: int = 20) -> list[OutboxRow]:
    stmt = select(OutboxRow).where(OutboxRow.status == OutboxStatus.PENDING).order_by(OutboxRow.id).limit(limit)
    return list(db.session.scalars(stmt))


def retry(ids: Sequence[int] | None = None, waiting: bool = False, now: datetime | None = None) -> int:
    """Send dead letters again (all, or those in `ids`) with a fresh count of tries; with `waiting`,
    also make pending rows that are backing off due at once. Returns how many rows changed."""
    now = now or utcnow()
    dead = update(OutboxRow).where(OutboxRow.status == OutboxStatus.DEAD)
    if ids:
        dead = dead.where(OutboxRow.id.in_(list(ids)))
    changed = _rowcount(dead.values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now))
    if waiting:
        backing_off = update(OutboxRow).where(OutboxRow.status == OutboxStatus.PENDING, OutboxRow.next_attempt_at > now)
        if ids:
            backing_off = backing_off.where(OutboxRow.id.in_(list(ids)))
        changed += _rowcount(backing_off.values(next_attempt_at=now))
    db.session.flush()
    return changed


def _rowcount(statement: Any) -> int:
    result = cast(CursorResult[Any], db.session.execute(statement))
    return int(result.rowcount or 0)


# --- retention --------------------------------------------------------------------------------


def prune_sent(before: datetime, batch_size: int) -> int:
    """Delete up to `batch_size` rows acknowledged before `before`, oldest first, folding them into
    the acknowledgement log (AckDay) in the same transaction. Returns how many were deleted.

    The newest row is never deleted, whatever its age: SQLite gives a new row max(id) + 1, so
    deleting the newest row would hand its id, the receiver's idempotency key, to the next report,
    which the receiver would then drop as a repeat."""
    newest = db.session.scalar(select(func.max(OutboxRow.id)))
    if newest is None:
        return 0
    rows = db.session.execute(
        select(OutboxRow.id, OutboxRow.kind, OutboxRow.sent_at)
        .where(OutboxRow.status == OutboxStatus.SENT, OutboxRow.sent_at < before, OutboxRow.id < newest)
        .order_by(OutboxRow.id)
        .limit(batch_size)
    ).all()
    if not rows:
        return 0
    _log_acknowledgements([(int(i), str(k), cast(datetime, at)) for i, k, at in rows])
    db.session.execute(delete(OutboxRow).where(OutboxRow.id.in_([r[0] for r in rows])))
    db.session.flush()
    return len(rows)


def _log_acknowledgements(rows: list[tuple[int, str, datetime]]) -> None:
    groups: dict[tuple[date, str], list[tuple[int, datetime]]] = {}
    for row_id, kind, sent_at in rows:
        groups.setdefault((local_date(sent_at), kind), []).append((row_id, sent_at))
    for (day, kind), members in groups.items():
        ids = [m[0] for m in members]
        times = [m[1] for m in members]
        entry = db.session.scalar(select(AckDay).where(AckDay.local_day == day, AckDay.kind == kind))
        if entry is None:
            entry = AckDay(
                local_day=day,
                kind=kind,
                acknowledged=0,
                first_id=min(ids),
                last_id=max(ids),
                first_sent_at=min(times),
                last_sent_at=max(times),
            )
            db.session.add(entry)
        entry.acknowledged += len(members)
        entry.first_id, entry.last_id = min(entry.first_id, *ids), max(entry.last_id, *ids)
        entry.first_sent_at, entry.last_sent_at = min(entry.first_sent_at, *times), max(entry.last_sent_at, *times)


def acknowledgement_log(limit: int = 60) -> list[AckDay]:
    """The acknowledgement log of pruned reports, newest day first."""
    stmt = select(AckDay).order_by(AckDay.local_day.desc(), AckDay.kind).limit(limit)
    return list(db.session.scalars(stmt))
