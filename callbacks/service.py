"""回访 and 整改 rules: scheduling callbacks, recording call attempts, and the rectification case
from verification to publication. Functions flush, never commit; views and jobs commit once."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, select

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
from core.calendar import deadline_after, end_of_day, local_date
from core.db import db, utcnow
from core.disclosure import text_for
from core.errors import Conflict, ValidationFailed
from core.models import CitizenMessage, Notification, Role, User
from core.notify import notify, staff_with_role
from core.privacy import mask_name, mask_phone, scrub_known_names, scrub_text
from core.signals import callback_completed, case_accepted


def _cfg(key: str) -> Any:
    return current_app.config[key]


# --- scheduling ---------------------------------------------------------------------------


def _new_callback(
    purpose: Purpose, subject_type: str, subject_id: int, start: datetime, days: int, **kw: Any
) -> Callback:
    deadline = deadline_after(start, days)
    callback = Callback(
        purpose=purpose,
        subject_type=subject_type,
        subject_id=subject_id,
        due_at=deadline.due_at,
        due_estimated=deadline.estimated,
        **kw,
    )
    db.session.add(callback)
    db.session.flush()
    return callback


def schedule_verification(rating: Any) -> Callback | RectificationCase:
    """A bad (or hidden-bad) review: a verification callback due by the end of the next working
    day; without a phone to call, straight to the department as a case to verify."""
    existing = db.session.scalar(
        select(Callback).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW, Callback.rating_id == rating.id)
    )
    if existing is not None:
        return existing
    if not rating.contact_phone and rating.department_id is not None:
        return _open_case(rating, CaseStatus.TO_VERIFY, actor=None, note="")  # nothing verified yet
    # With a phone: call to verify. With neither a phone nor a department: still a callback, so an
    # agent routes it.
    return _new_callback(
        Purpose.VERIFY_BAD_REVIEW,
        "rating",
        rating.id,
        rating.created_at,
        _cfg("CALLBACK_VERIFY_WORKING_DAYS"),
        rating_id=rating.id,
        department_id=rating.department_id,
        region_code=rating.region_code,
        contact_name=rating.contact_name or "",
        contact_phone=rating.contact_phone or "",
    )


def schedule_ticket_satisfaction(ticket: Any) -> Callback:
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
        ticket.closed_at or utcnow(),
        _cfg("CALLBACK_SATISFACTION_WORKING_DAYS"),
        department_id=ticket.lead_department_id,
        region_code=ticket.region_code,
        contact_name=ticket.caller_name or "",
        contact_phone=ticket.caller_phone or "",
    )


def schedule_report_back(case: RectificationCase, rating: Any) -> Callback | None:
    """After acceptance: call the citizen back to report what was done (整改反馈)."""
    if not rating.contact_phone:
        return None
    return _new_callback(
        Purpose.RECTIFICATION_REPORT,
        "case",
        case.id,
        case.accepted_at or utcnow(),
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


def _finish(callback: Callback, status: CallbackStatus, outcome: str) -> None:
    now = utcnow()
    callback.status = status
    callback.outcome = outcome
    callback.completed_at = now
    if status == CallbackStatus.UNREACHABLE:
        # Unreachable still counts as on time when the first attempt was made in time.
        first = min(a.created_at for a in callback.attempts)
        callback.on_time = first <= callback.due_at
    else:
        callback.on_time = now <= callback.due_at


def get_callback(callback_id: int, user: User | None = None) -> Callback:
    return get_visible(Callback, callback_id, user, "Callback")


def record_attempt(
    callback: Callback,
    actor: User | None,
    result: AttemptResult,
    note: str = "",
    answer: Answer | None = None,
    expected_version: int | None = None,
) -> Callback:
    """Record one call. Reached → the purpose's follow-up; failed → unreachable after the limit."""
    if expected_version is not None and expected_version != callback.version:
        raise Conflict("The callback was changed by someone else; reload it.", {"version": [str(callback.version)]})
    if not callback.is_open:
        raise Conflict(f"The callback is already {callback.status.value}.", {"allowed": []})
    answer = answer or Answer()
    if result == AttemptResult.REACHED:
        _validate_answer(callback, answer)
    now = utcnow()
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
        _on_reached(callback, actor, answer, note)
    elif result == AttemptResult.WRONG_NUMBER or _counted_failures(callback) >= _cfg("CALLBACK_MAX_ATTEMPTS"):
        _finish(callback, CallbackStatus.UNREACHABLE, result.value)
        _on_unreachable(callback, actor)
    db.session.flush()
    if callback.status != CallbackStatus.PENDING:  # finished by this attempt
        callback_completed.send(current_app._get_current_object(), callback=callback)  # type: ignore[attr-defined]
    return callback


def _validate_answer(callback: Callback, answer: Answer) -> None:
    if callback.purpose == Purpose.VERIFY_BAD_REVIEW and answer.verified is None:
        raise ValidationFailed("Say whether the problem was confirmed.", {"verified": ["Required when reached."]})
    if callback.purpose == Purpose.TICKET_SATISFACTION and answer.level not in (1, 2, 3, 4, 5):
        raise ValidationFailed("Record the caller's satisfaction 1-5.", {"level": ["Required when reached."]})


def _on_reached(callback: Callback, actor: User | None, answer: Answer, note: str) -> None:
    from ratings import service as ratings_service

    if callback.purpose == Purpose.VERIFY_BAD_REVIEW:
        rating = ratings_service.get_rating(callback.rating_id)
        if answer.verified:
            if answer.department_id is not None:
                rating.department_id = answer.department_id
            if rating.department_id is None:
                raise ValidationFailed("Choose the responsible department.", {"department_id": ["Required."]})
            _finish(callback, CallbackStatus.DONE, "verified")
            _open_case(rating, CaseStatus.OPEN, actor, answer.problem or note)
        else:
            _finish(callback, CallbackStatus.DONE, "not_verified")
    elif callback.purpose == Purpose.TICKET_SATISFACTION:
        _finish(callback, CallbackStatus.DONE, f"level_{answer.level}")
        _record_ticket_satisfaction(callback, actor, answer)
    else:
        _finish(callback, CallbackStatus.DONE, "reported")
        case = db.session.get(RectificationCase, callback.case_id)
        if case is not None:
            publish(case, actor)


def _on_unreachable(callback: Callback, actor: User | None) -> None:
    if callback.purpose == Purpose.RECTIFICATION_REPORT and callback.case_id is not None:
        case = db.session.get(RectificationCase, callback.case_id)
        if case is not None:
            publish(case, actor)


def _record_ticket_satisfaction(callback: Callback, actor: User | None, answer: Answer) -> None:
    """The caller's answer becomes a rating (channel hotline callback); 回访 is recorded on the
    ticket, and a dissatisfied answer reopens it (重办) — the bad rating then follows the
    bad-review path through its own listener."""
    from hotline import service as hotline_service
    from ratings import service as ratings_service

    ticket = hotline_service.get_ticket_for_system(callback.subject_id)
    rating = ratings_service.record_hotline_rating(ticket, answer.level or 0, answer.comment, recorded_by=actor)
    legal = hotline_service.allowed_moves(ticket)
    if rating.is_bad_review and "reopen" in legal:
        hotline_service.make_move("reopen", ticket, actor, {"note": answer.comment or "回访不满意"})
    elif not rating.is_bad_review and "callback" in legal:
        hotline_service.make_move("callback", ticket, actor, {"note": f"回访满意度 {answer.level}"})


# --- rectification cases --------------------------------------------------------------------


def _event(case: RectificationCase, action: str, old: str, actor: User | None, note: str = "") -> None:
    db.session.add(
        CaseEvent(
            case_id=case.id,
            action=action,
            from_status=old,
            to_status=case.status.value,
            note=note,
            actor_id=actor.id if actor else None,
        )
    )


def _open_case(rating: Any, status: CaseStatus, actor: User | None, note: str) -> RectificationCase:
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    if case is not None:
        return case
    case = RectificationCase(
        rating_id=rating.id,
        department_id=rating.department_id,
        region_code=rating.region_code,
        status=status,
        problem=scrub_text(note),
    )
    db.session.add(case)
    db.session.flush()
    if status == CaseStatus.OPEN:
        _start_clock(case)
    _event(case, "opened", "", actor, note)
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


def _start_clock(case: RectificationCase) -> None:
    case.opened_at = utcnow()
    deadline = deadline_after(case.opened_at, _cfg("RECTIFICATION_WORKING_DAYS"))
    case.due_at, case.due_estimated = deadline.due_at, deadline.estimated


def get_case(case_id: int, user: User | None = None) -> RectificationCase:
    return get_visible(RectificationCase, case_id, user, "Case")


def _require(case: RectificationCase, *allowed: CaseStatus) -> str:
    if case.status not in allowed:
        raise Conflict(
            f"Not possible while the case is {case.status.value}.",
            {"allowed": [s.value for s in allowed], "status": [case.status.value]},
        )
    return case.status.value


def verify_case(case: RectificationCase, actor: User, confirmed: bool, note: str) -> RectificationCase:
    """The department verifies an anonymous bad review: a real problem opens the case."""
    old = _require(case, CaseStatus.TO_VERIFY)
    if confirmed:
        case.status = CaseStatus.OPEN
        case.problem = scrub_text(note) or case.problem
        _start_clock(case)
    else:
        if not note.strip():
            raise ValidationFailed("Say why it is not a problem.", {"note": ["Required."]})
        case.status = CaseStatus.DISMISSED
    _event(case, "verified" if confirmed else "dismissed", old, actor, note)
    db.session.flush()
    return case


def submit_report(
    case: RectificationCase, actor: User, action_taken: str, immediate: bool = False
) -> RectificationCase:
    """The department reports what it did (立行立改 when fixed at once)."""
    old = _require(case, CaseStatus.OPEN)
    if not action_taken.strip():
        raise ValidationFailed("Describe what was done.", {"action_taken": ["Required."]})
    case.action_taken = action_taken.strip()
    case.immediate = immediate
    case.status = CaseStatus.SUBMITTED
    case.submitted_at = utcnow()
    _event(case, "submitted", old, actor, action_taken)
    db.session.flush()
    return case


def accept_case(case: RectificationCase, actor: User, note: str = "") -> RectificationCase:
    """A manager accepts the report; the citizen is called back to hear it."""
    from ratings import service as ratings_service

    old = _require(case, CaseStatus.SUBMITTED)
    case.status = CaseStatus.ACCEPTED
    case.accepted_at = utcnow()
    case.accepted_on_time = case.due_at is None or case.accepted_at <= case.due_at
    case.manager_note = note
    _event(case, "accepted", old, actor, note)
    db.session.flush()
    _tell_department(case, "case_accepted", f"整改 #{case.id}：整改报告已验收通过。")
    case_accepted.send(current_app._get_current_object(), case=case)  # type: ignore[attr-defined]
    rating = ratings_service.get_rating(case.rating_id)
    if schedule_report_back(case, rating) is None:
        publish(case, actor)  # nobody to call: publish straight away
    db.session.flush()
    return case


def send_back(case: RectificationCase, actor: User, note: str) -> RectificationCase:
    """A manager sends the report back; the clock keeps running."""
    old = _require(case, CaseStatus.SUBMITTED)
    if not note.strip():
        raise ValidationFailed("Say what is missing.", {"note": ["Required."]})
    case.status = CaseStatus.OPEN
    case.manager_note = note
    _event(case, "sent_back", old, actor, note)
    db.session.flush()
    _tell_department(case, "case_sent_back", f"整改 #{case.id}：整改报告被退回，请补充后重新提交。")
    return case


def publish(case: RectificationCase, actor: User | None) -> RectificationCase:
    """Freeze a masked copy for the public board: review, rater, what was done, dates."""
    from ratings import service as ratings_service

    old = _require(case, CaseStatus.ACCEPTED)
    rating = ratings_service.get_rating(case.rating_id)
    case.public_review = scrub_known_names(rating.comment or "", rating.contact_name)
    case.public_rater = mask_name(rating.contact_name or "")
    case.public_phone = mask_phone(rating.contact_phone or "")
    case.public_action = scrub_known_names(case.action_taken, rating.contact_name)
    case.status = CaseStatus.PUBLISHED
    case.published_at = utcnow()
    _event(case, "published", old, actor)
    if rating.assess_number == 1:
        # The citizen's one 追评 becomes possible now: its link goes by message to the rater's
        # own number after this commits, and to nobody else.
        ratings_service.send_follow_up(rating, actor)
    db.session.flush()
    return case


def case_text(case: RectificationCase, text: str, reader: User | None) -> str:
    """Text on a case (the review, findings, notes) as `reader` may read it: a confidential
    caller's name and number never reach a department (core.disclosure)."""
    rating = case.rating
    return text_for(text, reader, confidential=rating.is_confidential, names=rating.person_names)


def follow_up_messages(case: RectificationCase) -> list[CitizenMessage]:
    """The 追评 messages sent for this case's rating (masked number, time, delivery; no link)."""
    from ratings import service as ratings_service

    return ratings_service.follow_up_messages(ratings_service.get_rating(case.rating_id))


def resend_follow_up(case: RectificationCase, actor: User) -> CitizenMessage:
    """A new 追评 link to the rater's same number (only after publication; 409 once given)."""
    from ratings import service as ratings_service

    if case.status != CaseStatus.PUBLISHED:
        raise Conflict("The follow-up is sent once the case is published.")
    return ratings_service.resend_follow_up(ratings_service.get_rating(case.rating_id), actor)


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
) -> Select[Callback]:
    """Callbacks `user` may see, by due time (soonest first unless `newest_due_first`), filtered by
    status, purpose, due window (overdue / due today / later; pending only), department, region."""
    if newest_due_first:
        stmt = select(Callback).order_by(Callback.due_at.desc(), Callback.id.desc())
    else:
        stmt = select(Callback).order_by(Callback.due_at, Callback.id)
    now = utcnow()
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


def worklist(user: User) -> dict[str, list[Callback]]:
    """The agent's callback worklist: overdue, due today, upcoming."""
    pending = list(db.session.scalars(callbacks_query(user, "pending")))
    now = utcnow()
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


# --- sweeps (called by jobs) ------------------------------------------------------------------


def _claim(stmt: Select[Any], limit: int) -> list[Any]:
    """Rows for a sweep, skipping rows another scheduler holds (FOR UPDATE SKIP LOCKED on
    PostgreSQL; SQLite has one writer at a time anyway)."""
    entity = stmt.column_descriptions[0]["entity"]
    return list(db.session.scalars(stmt.limit(limit).with_for_update(skip_locked=True, of=entity)))


def due_soon_unreminded(limit: int = 500) -> list[Callback]:
    horizon = utcnow() + timedelta(hours=_cfg("CALLBACK_REMIND_HOURS_BEFORE"))
    pending = Callback.status == CallbackStatus.PENDING
    stmt = select(Callback).where(pending, Callback.reminded_at.is_(None), Callback.due_at <= horizon)
    return _claim(stmt.order_by(Callback.due_at), limit)


def overdue_unescalated_callbacks(limit: int = 500) -> list[Callback]:
    pending = Callback.status == CallbackStatus.PENDING
    stmt = select(Callback).where(pending, Callback.escalated_at.is_(None), Callback.due_at < utcnow())
    return _claim(stmt.order_by(Callback.due_at), limit)


def cases_due_by_tomorrow_unreminded(limit: int = 500) -> list[RectificationCase]:
    """Open cases due before the end of tomorrow (local time), not yet overdue, whose department
    has not been reminded (a `case_due_soon` notification is the mark: reminded once)."""
    now = utcnow()
    horizon = end_of_day(local_date(now) + timedelta(days=1))
    reminded = select(Notification.subject_id).where(
        Notification.kind == "case_due_soon", Notification.subject_type == "case"
    )
    stmt = select(RectificationCase).where(
        RectificationCase.status == CaseStatus.OPEN,
        RectificationCase.due_at >= now,
        RectificationCase.due_at <= horizon,
        RectificationCase.id.not_in(reminded),
    )
    return _claim(stmt.order_by(RectificationCase.due_at), limit)


def overdue_unescalated_cases(limit: int = 500) -> list[RectificationCase]:
    running = RectificationCase.status.in_([CaseStatus.OPEN, CaseStatus.SUBMITTED])
    stmt = select(RectificationCase).where(
        running, RectificationCase.escalated_at.is_(None), RectificationCase.due_at < utcnow()
    )
    return _claim(stmt.order_by(RectificationCase.due_at), limit)
