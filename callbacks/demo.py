"""Demo history for 回访 and 整改.

The demo loaders write tickets and ratings in bulk, without the signals that schedule callbacks,
so `flask demo load` finishes with this: every bad review of the demo gets its verification
callback (or, anonymous, its case to verify) and every closed ticket its satisfaction callback,
each with a plausible past. Most are done on time, some late, some unreachable, a few overdue;
confirmed bad reviews become rectification cases at every stage up to published on the board.

Rows are bulk-inserted with explicit ids and timestamps in the past, at bulk speed; the rules
are the service's own — the case moves of `service.CASE_MOVES` (their states and events), what
publication freezes (`service.public_copy`), and when a callback or an acceptance is on time
(`service.callback_on_time`, `service.accepted_on_time`). Idempotent: ratings and tickets that
already have their callback or case are skipped.
"""

import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, insert, or_, select

from callbacks import service
from callbacks.models import (
    AttemptResult,
    Callback,
    CallbackAttempt,
    CallbackStatus,
    CaseEvent,
    CaseStatus,
    Purpose,
    RectificationCase,
)
from core.calendar import Deadline, deadline_after, local_date
from core.db import db, utcnow
from core.demo import advance_id_sequences, next_free_id
from core.models import User
from core.privacy import scrub_text
from hotline.models import Ticket, TicketEvent
from ratings.models import Rating, RatingStatus

SEED = 20261127
BATCH = 2000
TABLES = ("rectification_cases", "callbacks", "callback_attempts", "case_events")  # parents first
MODELS: tuple[Any, ...] = (RectificationCase, Callback, CallbackAttempt, CaseEvent)
PROBLEMS = ("窗口人员态度生硬", "办理时限超期", "材料一次性告知不到位", "系统故障未及时处理", "多次往返仍未办结")
ACTIONS = (
    "已约谈相关人员并通报批评",
    "已优化流程并公示办事指南",
    "已补充告知清单并培训窗口人员",
    "已修复系统并回访群众",
)

# A case's past: how it was opened (the status, when, by whom), then its moves of
# service.CASE_MOVES (the name, when, by whom).
_Opening = tuple[CaseStatus, datetime, int | None]
_Move = tuple[str, datetime, int | None]


_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("contact_name", "contact_phone", "outcome", "note", "answer", "from_status"), ""),
    **dict.fromkeys(("problem", "action_taken", "manager_note"), ""),
    **dict.fromkeys(("public_review", "public_rater", "public_phone", "public_action"), ""),
    "due_estimated": False,
    "immediate": False,
    "version": 1,
}


ESCALATED_AFTER = timedelta(minutes=2)  # the overdue sweep runs every FOLLOW_UP_SWEEP_SECONDS


class _Writer:
    """Collects rows per table with explicit ids and inserts them in batches."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self.next_id = {name: next_free_id(model.id) for name, model in zip(TABLES, MODELS, strict=True)}
        self.first_id = dict(self.next_id)

    def add(self, table: str, row: dict[str, Any]) -> int:
        row["id"] = self.next_id[table]
        self.next_id[table] += 1
        self.rows[table].append(row)
        return int(row["id"])

    def made(self, table: str) -> int:
        return self.next_id[table] - self.first_id[table]

    def _escalated(self, row: dict[str, Any], running: Sequence[Any]) -> None:
        """督办 as the sweep did then: what is still running past its deadline was escalated a
        minute or two after it (so a new server does not escalate years of history at once)."""
        due = row.get("due_at")  # a case waiting for verification has no deadline yet
        if due is not None and row.get("status") in running and due + ESCALATED_AFTER <= self.now:
            row.setdefault("escalated_at", due + ESCALATED_AFTER)

    def flush(self) -> None:
        for row in self.rows["callbacks"]:
            self._escalated(row, (CallbackStatus.PENDING,))
        for row in self.rows["rectification_cases"]:
            self._escalated(row, (CaseStatus.OPEN, CaseStatus.SUBMITTED))
        for name, model in zip(TABLES, MODELS, strict=True):
            if self.rows[name]:
                table = cast(Table, model.__table__)
                # One executemany needs the same keys in every row: absent columns are NULL,
                # or the text and flag defaults the models give.
                base = {column.name: _DEFAULTS.get(column.name) for column in table.columns}
                db.session.execute(insert(table), [{**base, **row} for row in self.rows[name]])
                self.rows[name] = []


class History:
    """Plausible pasts for the callbacks and cases of one demo load."""

    def __init__(
        self, rng: random.Random, now: datetime, agent: int | None, handler: int | None, manager: int | None
    ) -> None:
        self.rng, self.now = rng, now
        self.agent, self.handler, self.manager = agent, handler, manager
        self.out = _Writer(now)
        self._deadlines: dict[tuple[date, int], Deadline] = {}
        config = current_app.config
        self.verify_days = int(config["CALLBACK_VERIFY_WORKING_DAYS"])
        self.satisfaction_days = int(config["CALLBACK_SATISFACTION_WORKING_DAYS"])
        self.report_days = int(config["CALLBACK_REPORT_WORKING_DAYS"])
        self.fix_days = int(config["RECTIFICATION_WORKING_DAYS"])
        self.bad_max = int(config["BAD_REVIEW_MAX_LEVEL"])

    def deadline(self, moment: datetime, days: int) -> Deadline:
        key = (local_date(moment), days)
        if key not in self._deadlines:
            self._deadlines[key] = deadline_after(moment, days)
        return self._deadlines[key]

    def _between(self, start: datetime, end: datetime) -> datetime:
        """A moment between start and end (never in the future)."""
        end = min(end, self.now)
        if end <= start:
            return start
        return start + (end - start) * self.rng.uniform(0.05, 0.95)

    def _finished_at(self, start: datetime, due: datetime) -> tuple[str, datetime | None]:
        """How a callback due at `due` ended: done on time, late, unreachable, or still pending."""
        if due > self.now:
            return ("done", self._between(start, self.now)) if self.rng.random() < 0.5 else ("pending", None)
        roll = self.rng.random()
        if roll < 0.82:
            return "done", self._between(start, due)
        if roll < 0.90:
            return "done", self._between(due, due + timedelta(hours=self.rng.uniform(2, 60)))
        if roll < 0.96 or due < self.now - timedelta(days=7):  # an agent gives up after a few days
            return "unreachable", self._between(start, due + timedelta(days=2))
        return "pending", None

    def callback(self, purpose: Purpose, subject: tuple[str, int], start: datetime, days: int, **kw: Any) -> dict:
        deadline = self.deadline(start, days)
        row = {
            "purpose": purpose,
            "subject_type": subject[0],
            "subject_id": subject[1],
            "due_at": deadline.due_at,
            "due_estimated": deadline.estimated,
            "created_at": start,
            "status": CallbackStatus.PENDING,
            "outcome": "",
            "note": "",
            "version": 1,
            **kw,
        }
        row.setdefault("contact_name", "")
        row.setdefault("contact_phone", "")
        return row

    def finish(self, row: dict[str, Any], status: str, at: datetime, outcome: str) -> int:
        """Store a callback ended at `at`, with the attempts that ended it."""
        reached = status == "done"
        tries = [AttemptResult.REACHED] if reached else [AttemptResult.NO_ANSWER] * 3
        # Spread over the callback's life (the last try ends it), never before it existed.
        moments = [row["created_at"] + (at - row["created_at"]) * (n + 1) / len(tries) for n in range(len(tries))]
        ended = CallbackStatus.DONE if reached else CallbackStatus.UNREACHABLE
        row.update(
            status=ended,
            outcome=outcome if reached else "unreachable",
            completed_at=at,
            on_time=service.callback_on_time(ended, at, row["due_at"], moments[0]),
            assignee_id=self.agent,
        )
        callback_id = self.out.add("callbacks", row)
        for result, moment in zip(tries, moments, strict=True):
            self.out.add(
                "callback_attempts",
                {
                    "callback_id": callback_id,
                    "result": result,
                    "note": "",
                    "answer": outcome if reached else "",
                    "actor_id": self.agent,
                    "local_day": local_date(moment),
                    "created_at": moment,
                },
            )
        return callback_id

    def _events(self, case_id: int, opening: "_Opening", steps: list["_Move"]) -> CaseStatus:
        """The trail `service.open_case` and then `service.take_step` write for these moves;
        returns the status the moves leave the case in."""
        status, at, actor = opening
        trail = [("opened", "", status, at, actor)]
        for name, at, actor in steps:
            move = service.CASE_MOVES[name]
            if not move.legal_from(status) or move.target is None or move.event is None:
                raise ValueError(f"The demo's case cannot {name} from {status.value}.")
            trail.append((move.event, status.value, move.target, at, actor))
            status = move.target
        for action, old, new, at, actor in trail:
            self.out.add(
                "case_events",
                {
                    "case_id": case_id,
                    "action": action,
                    "from_status": old,
                    "to_status": new.value,
                    "note": "",
                    "actor_id": actor,
                    "created_at": at,
                },
            )
        return status

    def case(self, rating: Any, opened: datetime, problem: str, verified_by_department: bool = False) -> None:
        """A confirmed bad review's rectification case, taken as far as time allows (an anonymous
        one was a case to verify until the department confirmed it at `opened`)."""
        deadline = self.deadline(opened, self.fix_days)
        row: dict[str, Any] = {
            "rating_id": rating.id,
            "department_id": rating.department_id,
            "region_code": rating.region_code,
            "problem": scrub_text(problem),
            "immediate": self.rng.random() < 0.2,
            "due_at": deadline.due_at,
            "due_estimated": deadline.estimated,
            "created_at": rating.created_at if verified_by_department else opened,
            "opened_at": opened,
        }
        opening: _Opening = (CaseStatus.OPEN, opened, self.agent)
        steps: list[_Move] = []
        if verified_by_department:
            opening = (CaseStatus.TO_VERIFY, rating.created_at, None)
            steps.append(("verify", opened, self.handler))
        due = deadline.due_at
        roll = self.rng.random()
        # How far it got: past due, almost all are accepted (a few late, a few still open);
        # within the deadline, some are still being fixed.
        late = due < self.now and roll >= 0.88
        stuck = (due < self.now and roll >= 0.96) or (due >= self.now and roll < 0.45)
        if not stuck:
            # A late case is reported after its deadline, so late acceptances are in every history.
            start = due if late else opened
            submitted = self._between(start, due + timedelta(days=3) if late else due - timedelta(hours=12))
            row.update(submitted_at=submitted, action_taken=self.rng.choice(ACTIONS))
            steps.append(("report", submitted, self.handler))
            accepted = submitted + timedelta(hours=self.rng.uniform(1, 30))
            if accepted <= self.now and (due < self.now or self.rng.random() < 0.6):
                row.update(accepted_at=accepted, accepted_on_time=service.accepted_on_time(accepted, due))
                steps.append(("accept", accepted, self.manager))
        case_id = self.out.add("rectification_cases", row)
        if row.get("accepted_at") is not None:
            self._report_back(row, case_id, rating, steps)
        row["status"] = self._events(case_id, opening, steps)

    def _report_back(self, row: dict[str, Any], case_id: int, rating: Any, steps: list["_Move"]) -> None:
        """整改反馈: the citizen hears what was done; the case is then published on the board.
        Without a phone there is nobody to call: published on acceptance (schedule_report_back)."""
        accepted = row["accepted_at"]
        if not rating.contact_phone:
            self._publish(row, rating, accepted, steps)
            return
        callback = self.callback(
            Purpose.RECTIFICATION_REPORT,
            ("case", case_id),
            accepted,
            self.report_days,
            rating_id=rating.id,
            case_id=case_id,
            department_id=rating.department_id,
            region_code=rating.region_code,
            contact_name=rating.contact_name or "",
            contact_phone=rating.contact_phone or "",
        )
        status, at = self._finished_at(accepted, callback["due_at"])
        if at is None:
            self.out.add("callbacks", callback)
            return
        self.finish(callback, status, at, "reported")
        self._publish(row, rating, at, steps)

    def _publish(self, row: dict[str, Any], rating: Any, at: datetime, steps: list["_Move"]) -> None:
        """What the publish move freezes for the public board (service.public_copy)."""
        copy = service.public_copy(
            rating.comment or "", rating.contact_name or "", rating.contact_phone or "", row["action_taken"]
        )
        row.update(published_at=at, **copy)
        steps.append(("publish", at, None))

    def _anonymous(self, rating: Any) -> None:
        """No phone to call: the department verifies the review first (schedule_verification's
        rule) within a few days; most are confirmed and rectified, the rest dismissed."""
        verified = rating.created_at + timedelta(hours=self.rng.uniform(4, 96))
        if verified <= self.now and self.rng.random() < 0.6:
            self.case(rating, verified, self.rng.choice(PROBLEMS), verified_by_department=True)
            return
        row = {
            "rating_id": rating.id,
            "department_id": rating.department_id,
            "region_code": rating.region_code,
            "problem": "",  # nothing verified yet
            "created_at": rating.created_at,
        }
        steps: list[_Move] = [("dismiss", verified, self.handler)] if verified <= self.now else []
        case_id = self.out.add("rectification_cases", row)
        row["status"] = self._events(case_id, (CaseStatus.TO_VERIFY, rating.created_at, None), steps)

    def each(self, items: Sequence[Any], record: Callable[[Any], None]) -> None:
        """Record every item, inserting the rows after each BATCH of them (never mid-item: an
        item's rows are still changed after they are added)."""
        for n, item in enumerate(items, 1):
            record(item)
            if n % BATCH == 0:
                self.out.flush()
        self.out.flush()

    def bad_review(self, rating: Any) -> None:
        if not rating.contact_phone and rating.department_id is not None:
            self._anonymous(rating)
            return
        row = self.callback(
            Purpose.VERIFY_BAD_REVIEW,
            ("rating", rating.id),
            rating.created_at,
            self.verify_days,
            rating_id=rating.id,
            department_id=rating.department_id,
            region_code=rating.region_code,
            contact_name=rating.contact_name or "",
            contact_phone=rating.contact_phone or "",
        )
        status, at = self._finished_at(rating.created_at, row["due_at"])
        if at is None:
            self.out.add("callbacks", row)
            return
        confirmed = status == "done" and rating.department_id is not None and self.rng.random() < 0.7
        self.finish(row, status, at, "verified" if confirmed else "not_verified")
        if confirmed:
            self.case(rating, at, self.rng.choice(PROBLEMS))

    def _satisfaction_callback(self, ticket: Any, replied: datetime) -> dict[str, Any]:
        """The caller's satisfaction callback after a reply (办结) of the ticket."""
        return self.callback(
            Purpose.TICKET_SATISFACTION,
            ("ticket", ticket.id),
            replied,
            self.satisfaction_days,
            department_id=ticket.lead_department_id,
            region_code=ticket.region_code,
            contact_name=ticket.caller_name or "",
            contact_phone=ticket.caller_phone or "",
        )

    def closed_ticket(self, ticket: Any) -> None:
        row = self._satisfaction_callback(ticket, ticket.closed_at)
        if ticket.called_back_at is not None:
            # The ticket says it was called back: a satisfied answer (a dissatisfied one reopens it).
            level = self.rng.choices(range(self.bad_max + 1, 6), weights=range(1, 5 - self.bad_max + 1))[0]
            self.finish(row, "done", ticket.called_back_at, f"level_{level}")
        elif row["due_at"] < self.now - timedelta(days=5) or (row["due_at"] < self.now and self.rng.random() < 0.6):
            self.finish(row, "unreachable", self._between(ticket.closed_at, row["due_at"]), "")
        else:
            self.out.add("callbacks", row)

    def reopened_ticket(self, ticket: Any, replied: datetime, reopened: datetime) -> None:
        """重办: the caller was not satisfied with the first reply, said so on its callback, and
        the ticket was reopened then."""
        row = self._satisfaction_callback(ticket, replied)
        self.finish(row, "done", reopened, f"level_{self.rng.randint(1, self.bad_max)}")


def _staff_id(username: str) -> int | None:
    return db.session.scalar(select(User.id).where(User.username == username))


def _reopenings(called: Any) -> list[tuple[Any, datetime, datetime]]:
    """(ticket, first reply, reopening) of the demo's reopened tickets without callbacks yet."""
    stmt = (
        select(TicketEvent.ticket_id, TicketEvent.move, TicketEvent.created_at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.move.in_(("reply", "reopen")), Ticket.reopen_count > 0, ~called)
        .order_by(TicketEvent.ticket_id, TicketEvent.id)
    )
    first: dict[int, tuple[datetime, datetime]] = {}
    replied: dict[int, datetime] = {}
    for ticket_id, move, at in db.session.execute(stmt):
        if move == "reply":
            replied.setdefault(ticket_id, at)
        elif ticket_id in replied and ticket_id not in first:
            first[ticket_id] = (replied[ticket_id], at)
    tickets = (
        {
            t.id: t
            for t in db.session.execute(
                select(
                    Ticket.id, Ticket.lead_department_id, Ticket.region_code, Ticket.caller_name, Ticket.caller_phone
                ).where(Ticket.id.in_(list(first)))
            )
        }
        if first
        else {}
    )
    return [(tickets[i], *first[i]) for i in sorted(first) if i in tickets]


def load_demo_history() -> int:
    """Callbacks and cases for the demo's bad reviews and closed tickets that have none yet;
    returns how many callbacks and cases were made."""
    history = History(
        random.Random(SEED), utcnow(), _staff_id("demo_agent"), _staff_id("demo_handler"), _staff_id("demo_manager")
    )
    has_callback = select(Callback.id).where(Callback.rating_id == Rating.id).exists()
    has_case = select(RectificationCase.id).where(RectificationCase.rating_id == Rating.id).exists()
    bad = (
        select(
            Rating.id,
            Rating.created_at,
            Rating.department_id,
            Rating.region_code,
            Rating.contact_name,
            Rating.contact_phone,
            Rating.comment,
        )
        .where(
            Rating.assess_number == 1,
            Rating.status == RatingStatus.VALID,
            or_(Rating.is_bad_review.is_(True), Rating.hidden_bad.is_(True)),
            ~has_callback,
            ~has_case,
        )
        .order_by(Rating.id)
    )
    # Materialised first: the writer inserts into the tables the queries look at.
    ratings = db.session.execute(bad).all()
    called = select(Callback.id).where(Callback.subject_type == "ticket", Callback.subject_id == Ticket.id).exists()
    closed = (
        select(
            Ticket.id,
            Ticket.closed_at,
            Ticket.called_back_at,
            Ticket.lead_department_id,
            Ticket.region_code,
            Ticket.caller_name,
            Ticket.caller_phone,
        )
        .where(Ticket.closed_at.is_not(None), ~called)
        .order_by(Ticket.id)
    )
    tickets = db.session.execute(closed).all()
    reopened = _reopenings(called)
    history.each(ratings, history.bad_review)
    history.each(tickets, history.closed_ticket)
    history.each(reopened, lambda item: history.reopened_ticket(*item))
    advance_id_sequences(*TABLES)
    return history.out.made("callbacks") + history.out.made("rectification_cases")
