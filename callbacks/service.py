"""回访 and 整改 rules: scheduling callbacks, recording call attempts, and the rectification case
from verification to publication. Functions flush, never commit; views and jobs commit once.

The case is a state machine with one move table (`CASE_MOVES`): each move says who may take it,
from which states, to which state, and what it changes. Every step of a case — from the API, a
page form or a callback's outcome — goes through `take_step`, which checks the actor (403), the
version the caller saw (409) and the case's state (409), then applies the move and writes one
event to the case's audit trail. The demo loader replays the same table at bulk speed.

Time is a parameter: the entry points take `now` (default: the present), and everything below
them uses that one moment."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import Select, bindparam, select

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
from core.auth import get_visible, visible_department_id
from core.calendar import Deadline, deadline_after, end_of_day, local_date
from core.db import db, insert_now, utcnow
from core.disclosure import text_for
from core.errors import Conflict, Forbidden, ValidationFailed
from core.models import CitizenMessage, Role, User
from core.notify import notify, staff_with_role
from core.privacy import mask_name, mask_phone, scrub_known_names, scrub_text
from core.signals import callback_completed, case_accepted

if TYPE_CHECKING:
    from ratings.models import Rating

CALLERS = (Role.AGENT, Role.MANAGER)
HANDLERS = (Role.HANDLER,)
MANAGERS = (Role.MANAGER,)
CASE_READERS = (Role.MANAGER, Role.HANDLER, Role.AGENT, Role.ADMIN)
NOT_YOURS = "This step is not yours to take."


def _cfg(key: str) -> Any:
    return current_app.config[key]


# --- scheduling ---------------------------------------------------------------------------


def _new_callback(
    purpose: Purpose,
    subject_type: str,
    subject_id: int,
    start: datetime,
    days: int,
    *,
    deadline: Deadline | None = None,
    at_once: bool = False,
    **kw: Any,
) -> Callback:
    """A new callback due `days` working days after `start` (or by `deadline`, worked out already),
    flushed with whatever else is pending; with `at_once`, inserted by itself at once
    (core.db.insert_now: the hot path of a new bad review, where a flush costs several times the
    statement)."""
    deadline = deadline or deadline_after(start, days)
    callback = Callback(
        purpose=purpose,
        subject_type=subject_type,
        subject_id=subject_id,
        due_at=deadline.due_at,
        due_estimated=deadline.estimated,
        **kw,
    )
    if at_once:
        return insert_now(callback)
    db.session.add(callback)
    db.session.flush()
    return callback


_VERIFICATION_OF = select(Callback).where(
    Callback.purpose == Purpose.VERIFY_BAD_REVIEW, Callback.rating_id == bindparam("rating_id")
)


def needs_verification(rating: "Rating") -> bool:
    """A first rating that is a bad review, or a hidden one: it is called back (or verified)."""
    return rating.assess_number == 1 and bool(rating.is_bad_review or rating.hidden_bad)


def verification_deadline(rating: "Rating") -> Deadline:
    """When a bad review's verification callback is due: the end of the configured working day
    after the rating (the calendar's work, which needs no write)."""
    return deadline_after(rating.created_at, _cfg("CALLBACK_VERIFY_WORKING_DAYS"))


def schedule_verification(
    rating: "Rating", *, now: datetime | None = None, first: bool = False, deadline: Deadline | None = None
) -> Callback | RectificationCase:
    """A bad (or hidden-bad) review: a verification callback due by the end of the next working
    day; without a phone to call, straight to the department as a case to verify.

    `first`: the rating was stored in this transaction, so nothing is scheduled for it yet: the
    lookup (a read, and a flush, inside the rating's write transaction) is skipped and the
    callback goes in at once. `deadline`: its due time, worked out before the transaction."""
    if not first:
        existing = db.session.scalar(_VERIFICATION_OF, {"rating_id": rating.id})
        if existing is not None:
            return existing
    if not rating.contact_phone and rating.department_id is not None:
        # Nothing verified yet.
        return open_case(rating, CaseStatus.TO_VERIFY, actor=None, note="", now=now or utcnow())
    # With a phone: call to verify. With neither a phone nor a department: still a callback, so an
    # agent routes it.
    return _new_callback(
        Purpose.VERIFY_BAD_REVIEW,
        "rating",
        rating.id,
        rating.created_at,
        _cfg("CALLBACK_VERIFY_WORKING_DAYS"),
        deadline=deadline,
        at_once=first,
        rating_id=rating.id,
        department_id=rating.department_id,
        region_code=rating.region_code,
        contact_name=rating.contact_name or "",
        contact_phone=rating.contact_phone or "",
    )


def schedule_ticket_satisfaction(ticket: Any, *, now: datetime | None = None) -> Callback:
    """办结 → a satisfaction callback on the next working day (confidential callers too: the
    agents see their number; the department never does)."""
    existing = db.session.scalar(
        select(Callback).where(
            Callback.purpose == Purpose.TICKET_SATISFACTION,
            Callback.subject_type == "ticket",
            Callback.subject_id == ticket.id,
            Callback.status == CallbackStatus.PENDING,
        )
    )
    if existing is not None:
        return existing
    return _new_callback(
        Purpose.TICKET_SATISFACTION,
        "ticket",
        ticket.id,
        ticket.closed_at or now or utcnow(),
        _cfg("CALLBACK_SATISFACTION_WORKING_DAYS"),
        department_id=ticket.lead_department_id,
        region_code=ticket.region_code,
        contact_name=ticket.caller_name or "",
        contact_phone=ticket.caller_phone or "",
    )


def schedule_report_back(case: RectificationCase, rating: "Rating", *, now: datetime | None = None) -> Callback | None:
    """After acceptance: call the citizen back to report what was done (整改反馈)."""
    if not rating.contact_phone:
        return None
    return _new_callback(
        Purpose.RECTIFICATION_REPORT,
        "case",
        case.id,
        case.accepted_at or now or utcnow(),
        _cfg("CALLBACK_REPORT_WORKING_DAYS"),
        rating_id=rating.id,
        case_id=case.id,
        department_id=case.department_id,
        region_code=case.region_code,
        contact_name=rating.contact_name or "",
        contact_phone=rating.contact_phone or "",
    )


# --- attempts -----------------------------------------------------------------------------


@dataclass
class Answer:
    """What the citizen said when reached; which fields matter depends on the purpose."""

    verified: bool | None = None  # verification: the problem is real
    problem: str = ""  # verification: what the problem is
    department_id: int | None = None  # verification: route to this department
    level: int | None = None  # satisfaction: 1..5
    comment: str = ""


def _counted_failures(callback: Callback) -> int:
    """Failed attempts on distinct working days: the rule is N tries on different days."""
    days = {a.local_day for a in callback.attempts if a.result != AttemptResult.REACHED}
    return len(days)


def callback_on_time(
    status: CallbackStatus, completed_at: datetime, due_at: datetime, first_attempt_at: datetime
) -> bool:
    """Whether a finished callback counts as on time: done by its deadline, or — unreachable —
    first tried by its deadline."""
    if status == CallbackStatus.UNREACHABLE:
        return first_attempt_at <= due_at
    return completed_at <= due_at


def _finish(callback: Callback, status: CallbackStatus, outcome: str, now: datetime) -> None:
    callback.status = status
    callback.outcome = outcome
    callback.completed_at = now
    first = min(a.created_at for a in callback.attempts)
    callback.on_time = callback_on_time(status, now, callback.due_at, first)


def get_callback(callback_id: int, user: User | None = None) -> Callback:
    return get_visible(Callback, callback_id, user, "Callback")


def assign_callback(callback: Callback, actor: User, username: str | None) -> Callback:
    """Take a callback (agents take it themselves; managers assign any agent or manager, or
    release it with no name)."""
    if username is None:
        callback.assignee_id = None
        return callback
    assignee = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if assignee is None or assignee.role not in CALLERS:
        raise ValidationFailed("No such agent.", {"assignee": ["Unknown or not an agent/manager."]})
    if actor.role == Role.AGENT and assignee.id != actor.id:
        raise ValidationFailed("Agents take callbacks for themselves.", {"assignee": ["Use your own name."]})
    callback.assignee_id = assignee.id
    return callback


def record_attempt(
    callback: Callback,
    actor: User | None,
    result: AttemptResult,
    note: str = "",
    answer: Answer | None = None,
    expected_version: int | None = None,
    *,
    now: datetime | None = None,
) -> Callback:
    """Record one call. Reached → the purpose's follow-up; failed → unreachable after the limit."""
    if expected_version is not None and expected_version != callback.version:
        raise Conflict("The callback was changed by someone else; reload it.", {"version": [str(callback.version)]})
    if not callback.is_open:
        raise Conflict(f"The callback is already {callback.status.value}.", {"allowed": []})
    answer = answer or Answer()
    if result == AttemptResult.REACHED:
        _validate_answer(callback, answer)
    now = now or utcnow()
    attempt = CallbackAttempt(
        callback=callback,
        result=result,
        note=scrub_text(note),
        actor_id=actor.id if actor else None,
        local_day=local_date(now),
        created_at=now,
    )
    db.session.add(attempt)
    if result == AttemptResult.REACHED:
        _on_reached(callback, actor, answer, note, now)
    elif result == AttemptResult.WRONG_NUMBER or _counted_failures(callback) >= _cfg("CALLBACK_MAX_ATTEMPTS"):
        _finish(callback, CallbackStatus.UNREACHABLE, result.value, now)
        _on_unreachable(callback, actor, now)
    db.session.flush()
    if callback.status != CallbackStatus.PENDING:  # finished by this attempt
        callback_completed.send(current_app._get_current_object(), callback=callback)  # type: ignore[attr-defined]
    return callback


def _validate_answer(callback: Callback, answer: Answer) -> None:
    if callback.purpose == Purpose.VERIFY_BAD_REVIEW and answer.verified is None:
        raise ValidationFailed("Say whether the problem was confirmed.", {"verified": ["Required when reached."]})
    if callback.purpose == Purpose.TICKET_SATISFACTION and answer.level not in (1, 2, 3, 4, 5):
        raise ValidationFailed("Record the caller's satisfaction 1-5.", {"level": ["Required when reached."]})


def _on_reached(callback: Callback, actor: User | None, answer: Answer, note: str, now: datetime) -> None:
    if callback.purpose == Purpose.VERIFY_BAD_REVIEW:
        rating = callback.rating
        if rating is None:  # a verification call is scheduled for a rating, always
            raise Conflict("This callback has no rating to verify.")
        if answer.verified:
            if answer.department_id is not None:
                rating.department_id = answer.department_id
            if rating.department_id is None:
                raise ValidationFailed("Choose the responsible department.", {"department_id": ["Required."]})
            _finish(callback, CallbackStatus.DONE, "verified", now)
            open_case(rating, CaseStatus.OPEN, actor, answer.problem or note, now=now)
        else:
            _finish(callback, CallbackStatus.DONE, "not_verified", now)
    elif callback.purpose == Purpose.TICKET_SATISFACTION:
        _finish(callback, CallbackStatus.DONE, f"level_{answer.level}", now)
        _record_ticket_satisfaction(callback, actor, answer, now)
    else:
        _finish(callback, CallbackStatus.DONE, "reported", now)
        _publish_reported(callback, actor, now)


def _on_unreachable(callback: Callback, actor: User | None, now: datetime) -> None:
    if callback.purpose == Purpose.RECTIFICATION_REPORT:
        _publish_reported(callback, actor, now)


def _publish_reported(callback: Callback, actor: User | None, now: datetime) -> None:
    """The report-back call ended (reached or not): its case goes on the public board."""
    case = callback.case
    if case is not None:
        take_step("publish", case, Step(actor, now))


def _record_ticket_satisfaction(callback: Callback, actor: User | None, answer: Answer, now: datetime) -> None:
    """The caller's answer becomes a rating (channel hotline callback); 回访 is recorded on the
    ticket, and a dissatisfied answer reopens it (重办) — the bad rating then follows the
    bad-review path through its own listener."""
    from hotline import service as hotline_service
    from ratings import recording

    ticket = hotline_service.get_ticket_for_system(callback.subject_id)
    rating = recording.record_hotline_rating(ticket, answer.level or 0, answer.comment, recorded_by=actor, now=now)
    legal = hotline_service.allowed_moves(ticket, now)
    if rating.is_bad_review and "reopen" in legal:
        hotline_service.make_move("reopen", ticket, actor, {"note": answer.comment or "回访不满意"}, now=now)
    elif not rating.is_bad_review and "callback" in legal:
        hotline_service.make_move("callback", ticket, actor, {"note": f"回访满意度 {answer.level}"}, now=now)


# --- rectification cases: the move table ------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step on a case: who takes it (None: the system), when, and what their form says."""

    actor: User | None
    now: datetime
    note: str = ""
    action_taken: str = ""
    immediate: bool = False


def _nothing(_case: RectificationCase, _step: Step) -> Any:
    return None


@dataclass(frozen=True)
class CaseMove:
    """A move of the case state machine: who may take it, from which states, to which state,
    what it changes (`effect`, before the status moves) and what follows once it is recorded
    (`then`: notifications, the report-back call, publication)."""

    name: str
    roles: tuple[Role, ...]
    sources: tuple[CaseStatus, ...]
    target: CaseStatus | None  # None keeps the status (a new 追评 link)
    event: str | None  # the action in the audit trail; None writes no event
    effect: Callable[[RectificationCase, Step], Any] = field(default=_nothing)
    then: Callable[[RectificationCase, Step], Any] = field(default=_nothing)

    def legal(self, case: RectificationCase) -> bool:
        return self.legal_from(case.status)

    def legal_from(self, status: CaseStatus) -> bool:
        return status in self.sources


def _required(text: str, name: str, message: str) -> None:
    if not text.strip():
        raise ValidationFailed(message, {name: ["Required."]})


def _verify(case: RectificationCase, step: Step) -> None:
    case.problem = scrub_text(step.note) or case.problem
    _start_clock(case, step.now)


def _dismiss(_case: RectificationCase, step: Step) -> None:
    _required(step.note, "note", "Say why it is not a problem.")


def _report(case: RectificationCase, step: Step) -> None:
    _required(step.action_taken, "action_taken", "Describe what was done.")
    case.action_taken = step.action_taken.strip()
    case.immediate = step.immediate
    case.submitted_at = step.now


def accepted_on_time(accepted_at: datetime, due_at: datetime | None) -> bool:
    """An accepted case counts as on time when it was accepted by its deadline (or had none)."""
    return due_at is None or accepted_at <= due_at


def _accept(case: RectificationCase, step: Step) -> None:
    case.accepted_at = step.now
    case.accepted_on_time = accepted_on_time(step.now, case.due_at)
    case.manager_note = step.note


def _after_accept(case: RectificationCase, step: Step) -> None:
    """Tell the department; call the citizen back to hear what was done, or, with nobody to
    call, publish straight away."""

    _tell_department(case, "case_accepted", f"整改 #{case.id}：整改报告已验收通过。")
    case_accepted.send(current_app._get_current_object(), case=case)  # type: ignore[attr-defined]
    if schedule_report_back(case, case.rating, now=step.now) is None:
        take_step("publish", case, Step(step.actor, step.now))


def _send_back(case: RectificationCase, step: Step) -> None:
    _required(step.note, "note", "Say what is missing.")
    case.manager_note = step.note


def _after_send_back(case: RectificationCase, _step: Step) -> None:
    _tell_department(case, "case_sent_back", f"整改 #{case.id}：整改报告被退回，请补充后重新提交。")


def public_copy(comment: str, contact_name: str, contact_phone: str, action_taken: str) -> dict[str, str]:
    """What the public board shows of a case, frozen when it is published: the review and what
    was done with the rater's names scrubbed, the rater and number masked."""
    return {
        "public_review": scrub_known_names(comment, contact_name),
        "public_rater": mask_name(contact_name),
        "public_phone": mask_phone(contact_phone),
        "public_action": scrub_known_names(action_taken, contact_name),
    }


def _publish(case: RectificationCase, step: Step) -> None:
    rating = case.rating
    copy = public_copy(rating.comment or "", rating.contact_name or "", rating.contact_phone or "", case.action_taken)
    for name, value in copy.items():
        setattr(case, name, value)
    case.published_at = step.now


def _after_publish(case: RectificationCase, step: Step) -> None:
    from ratings import recording

    rating = case.rating
    if rating.assess_number == 1:
        # The citizen's one 追评 becomes possible now: its link goes by message to the rater's
        # own number after this commits, and to nobody else.
        recording.send_follow_up(rating, step.actor, now=step.now)


def _resend(case: RectificationCase, step: Step) -> CitizenMessage:
    from ratings import recording

    if step.actor is None:  # a new link is a person's decision, never the system's
        raise Forbidden(NOT_YOURS)
    return recording.resend_follow_up(case.rating, step.actor, now=step.now)


C = CaseStatus
CASE_MOVES: dict[str, CaseMove] = {
    m.name: m
    for m in (
        CaseMove("verify", HANDLERS, (C.TO_VERIFY,), C.OPEN, "verified", _verify),
        CaseMove("dismiss", HANDLERS, (C.TO_VERIFY,), C.DISMISSED, "dismissed", _dismiss),
        CaseMove("report", HANDLERS, (C.OPEN,), C.SUBMITTED, "submitted", _report),
        CaseMove("accept", MANAGERS, (C.SUBMITTED,), C.ACCEPTED, "accepted", _accept, _after_accept),
        CaseMove("send_back", MANAGERS, (C.SUBMITTED,), C.OPEN, "sent_back", _send_back, _after_send_back),
        # Publication follows the report-back call (an agent's) or an acceptance with nobody to call.
        CaseMove("publish", CALLERS, (C.ACCEPTED,), C.PUBLISHED, "published", _publish, _after_publish),
        CaseMove("resend_follow_up", CALLERS, (C.PUBLISHED,), None, None, then=_resend),
    )
}


def allowed_case_moves(case: RectificationCase) -> list[str]:
    """The moves that are legal from the case's state, whoever takes them."""
    return [name for name, move in CASE_MOVES.items() if move.legal(case)]


def may_take(user: User | None, move: CaseMove, case: RectificationCase) -> bool:
    """Whether this user's role (and, for a department's handler, department) lets them take the
    move on this case."""
    if user is None:
        return True  # the system
    if not user.has_role(*move.roles):
        return False
    return user.role != Role.HANDLER or case.department_id == user.department_id


def case_moves_for(user: User, case: RectificationCase) -> list[str]:
    """The legal moves this user may take on the case (the forms a page offers them)."""
    return [name for name in allowed_case_moves(case) if may_take(user, CASE_MOVES[name], case)]


def take_step(name: str, case: RectificationCase, step: Step, expected_version: int | None = None) -> Any:
    """Take one move on a case: 403 when it is not the actor's to take, 409 when the version is
    stale or the case is in the wrong state; then the effect, the new status, the event, and what
    follows. Returns what the move's follow-up returns (None but for a new 追评 link)."""
    move = CASE_MOVES.get(name)
    if move is None or not may_take(step.actor, move, case):
        raise Forbidden(NOT_YOURS)
    if expected_version is not None and expected_version != case.version:
        raise Conflict("Changed by someone else; reload and try again.", {"version": [str(case.version)]})
    if not move.legal(case):
        raise Conflict(
            f"Not possible while the case is {case.status.value}.",
            {"allowed": [s.value for s in move.sources], "status": [case.status.value]},
        )
    before = case.status.value
    move.effect(case, step)
    if move.target is not None:
        case.status = move.target
    if move.event is not None:
        _event(case, move.event, before, step.actor, step.note, step.now)
    db.session.flush()
    result = move.then(case, step)
    db.session.flush()
    return result


# --- rectification cases: opening, the steps by name, reading -----------------------------------


def _event(case: RectificationCase, action: str, old: str, actor: User | None, note: str, now: datetime) -> None:
    db.session.add(
        CaseEvent(
            case_id=case.id,
            action=action,
            from_status=old,
            to_status=case.status.value,
            note=note,
            actor_id=actor.id if actor else None,
            created_at=now,
        )
    )


def open_case(
    rating: "Rating", status: CaseStatus, actor: User | None, note: str, *, now: datetime
) -> RectificationCase:
    """A rating's case (the one it has, if any): to verify (anonymous) or open (verified by a
    callback), its clock started, the department told."""
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    if case is not None:
        return case
    case = RectificationCase(
        rating_id=rating.id,
        department_id=rating.department_id,
        region_code=rating.region_code,
        status=status,
        problem=scrub_text(note),
        created_at=now,
    )
    db.session.add(case)
    db.session.flush()
    if status == CaseStatus.OPEN:
        _start_clock(case, now)
    _event(case, "opened", "", actor, note, now)
    db.session.flush()
    if status == CaseStatus.TO_VERIFY:
        _tell_department(case, "case_opened", f"整改 #{case.id}：收到一条匿名差评，请核实。")
    else:
        _tell_department(case, "case_opened", f"整改 #{case.id}：差评经回访核实属实，请限期整改。")
    return case


def _tell_department(case: RectificationCase, kind: str, message: str) -> None:
    """Notify the responsible department's handlers of a step on one of its cases (no personal
    data in the message: the case page shows what the reader may see)."""
    notify(staff_with_role(Role.HANDLER, case.department_id), kind, message, "case", case.id)


def _start_clock(case: RectificationCase, now: datetime) -> None:
    case.opened_at = now
    deadline = deadline_after(now, _cfg("RECTIFICATION_WORKING_DAYS"))
    case.due_at, case.due_estimated = deadline.due_at, deadline.estimated


def get_case(case_id: int, user: User | None = None) -> RectificationCase:
    return get_visible(RectificationCase, case_id, user, "Case")


def verify_case(
    case: RectificationCase,
    actor: User | None,
    confirmed: bool,
    note: str,
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> RectificationCase:
    """The department verifies an anonymous bad review: a real problem opens the case, else it is
    dismissed (saying why)."""
    step = Step(actor, now or utcnow(), note=note)
    take_step("verify" if confirmed else "dismiss", case, step, expected_version)
    return case


def submit_report(
    case: RectificationCase,
    actor: User | None,
    action_taken: str,
    immediate: bool = False,
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> RectificationCase:
    """The department reports what it did (立行立改 when fixed at once)."""
    step = Step(actor, now or utcnow(), note=action_taken, action_taken=action_taken, immediate=immediate)
    take_step("report", case, step, expected_version)
    return case


def accept_case(
    case: RectificationCase,
    actor: User | None,
    note: str = "",
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> RectificationCase:
    """A manager accepts the report; the citizen is called back to hear it."""
    take_step("accept", case, Step(actor, now or utcnow(), note=note), expected_version)
    return case


def send_back(
    case: RectificationCase,
    actor: User | None,
    note: str,
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> RectificationCase:
    """A manager sends the report back; the clock keeps running."""
    take_step("send_back", case, Step(actor, now or utcnow(), note=note), expected_version)
    return case


def publish(case: RectificationCase, actor: User | None, *, now: datetime | None = None) -> RectificationCase:
    """Freeze a masked copy for the public board: review, rater, what was done, dates."""
    take_step("publish", case, Step(actor, now or utcnow()))
    return case


def resend_follow_up(case: RectificationCase, actor: User, *, now: datetime | None = None) -> CitizenMessage:
    """A new 追评 link to the rater's same number (only after publication; 409 once given)."""
    message: CitizenMessage = take_step("resend_follow_up", case, Step(actor, now or utcnow()))
    return message


def case_text(case: RectificationCase, text: str, reader: User | None) -> str:
    """Text on a case (the review, findings, notes) as `reader` may read it: a confidential
    caller's name and number never reach a department (core.disclosure)."""
    rating = case.rating
    return text_for(text, reader, confidential=rating.is_confidential, names=rating.person_names)


def follow_up_messages(case: RectificationCase) -> list[CitizenMessage]:
    """The 追评 messages sent for this case's rating (masked number, time, delivery; no link)."""
    from ratings import recording

    return recording.follow_up_messages(case.rating)


# --- worklists ----------------------------------------------------------------------------


DUE_WINDOWS = ("overdue", "today", "later")


def callbacks_query(
    user: User,
    status: str | None = None,
    purpose: str | None = None,
    *,
    due: str | None = None,
    department_id: int | None = None,
    region_code: str | None = None,
    newest_due_first: bool = False,
    now: datetime | None = None,
) -> Select[Callback]:
    """Callbacks `user` may see, by due time (soonest first unless `newest_due_first`), filtered by
    status, purpose, due window (overdue / due today / later; pending only), department, region."""
    if newest_due_first:
        stmt = select(Callback).order_by(Callback.due_at.desc(), Callback.id.desc())
    else:
        stmt = select(Callback).order_by(Callback.due_at, Callback.id)
    now = now or utcnow()
    if due in DUE_WINDOWS:
        stmt = stmt.where(Callback.status == CallbackStatus.PENDING)
        tonight = end_of_day(local_date(now))
        if due == "overdue":
            stmt = stmt.where(Callback.due_at < now)
        elif due == "today":
            stmt = stmt.where(Callback.due_at >= now, Callback.due_at <= tonight)
        else:
            stmt = stmt.where(Callback.due_at > tonight)
    if department_id is not None:
        stmt = stmt.where(Callback.department_id == department_id)
    if region_code:
        stmt = stmt.where(Callback.region_code == region_code)
    if status == "overdue":
        stmt = stmt.where(Callback.status == CallbackStatus.PENDING, Callback.due_at < now)
    elif status == "pending":
        stmt = stmt.where(Callback.status == CallbackStatus.PENDING)
    elif status == "done":
        stmt = stmt.where(Callback.status.in_([CallbackStatus.DONE, CallbackStatus.UNREACHABLE]))
    if purpose:
        stmt = stmt.where(Callback.purpose == Purpose(purpose))
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(Callback.department_id == scope)
    return stmt


def next_due(user: User, after: Callback | None = None) -> Callback | None:
    """The pending callback to work next: soonest due, after `after` in the worklist's order (so
    a callback still pending after a failed attempt is not offered again at once), else from the top."""
    stmt = callbacks_query(user, "pending")
    if after is not None:
        later = db.session.scalar(
            stmt.where(
                Callback.id != after.id,
                (Callback.due_at > after.due_at) | ((Callback.due_at == after.due_at) & (Callback.id > after.id)),
            ).limit(1)
        )
        if later is not None:
            return later
        stmt = stmt.where(Callback.id != after.id)
    return db.session.scalar(stmt.limit(1))


def worklist(user: User, *, now: datetime | None = None) -> dict[str, list[Callback]]:
    """The agent's callback worklist: overdue, due today, upcoming."""
    now = now or utcnow()
    pending = list(db.session.scalars(callbacks_query(user, "pending", now=now)))
    today = local_date(now)
    groups: dict[str, list[Callback]] = {"overdue": [], "today": [], "upcoming": []}
    for callback in pending:
        if callback.due_at < now:
            groups["overdue"].append(callback)
        elif local_date(callback.due_at) == today:
            groups["today"].append(callback)
        else:
            groups["upcoming"].append(callback)
    return groups


def cases_query(user: User, status: str | None = None) -> Select[RectificationCase]:
    stmt = select(RectificationCase).order_by(RectificationCase.due_at.is_(None), RectificationCase.due_at)
    if status:
        stmt = stmt.where(RectificationCase.status == CaseStatus(status))
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(RectificationCase.department_id == scope)
    return stmt


def published_cases(region_code: str | None = None, department_id: int | None = None) -> Select[RectificationCase]:
    stmt = (
        select(RectificationCase)
        .where(RectificationCase.status == CaseStatus.PUBLISHED)
        .order_by(RectificationCase.published_at.desc(), RectificationCase.id.desc())
    )
    if region_code:
        stmt = stmt.where(RectificationCase.region_code == region_code)
    if department_id:
        stmt = stmt.where(RectificationCase.department_id == department_id)
    return stmt
