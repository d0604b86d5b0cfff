"""Scheduled sweeps: remind before a callback falls due, escalate (督办) overdue callbacks and
rectification cases to managers exactly once. Each sweep claims one row at a time and commits it
(core.jobs.claim_each), so two schedulers never take the same row."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import Select, select

from callbacks.models import Callback, CallbackStatus, CaseStatus, RectificationCase
from core.calendar import end_of_day, local_date
from core.db import utcnow
from core.jobs import claim_each
from core.models import Role
from core.notify import notify, staff_with_role
from core.scheduler import Job

# The most rows one sweep takes; the rest wait for the next tick.
SWEEP_LIMIT = 500


def due_soon_unreminded() -> Select[Callback]:
    """Pending callbacks due within CALLBACK_REMIND_HOURS_BEFORE whose assignee was not reminded."""
    horizon = utcnow() + timedelta(hours=current_app.config["CALLBACK_REMIND_HOURS_BEFORE"])
    pending = Callback.status == CallbackStatus.PENDING
    stmt = select(Callback).where(pending, Callback.reminded_at.is_(None), Callback.due_at <= horizon)
    return stmt.order_by(Callback.due_at)


def overdue_unescalated_callbacks() -> Select[Callback]:
    pending = Callback.status == CallbackStatus.PENDING
    stmt = select(Callback).where(pending, Callback.escalated_at.is_(None), Callback.due_at < utcnow())
    return stmt.order_by(Callback.due_at)


def cases_due_by_tomorrow_unreminded() -> Select[RectificationCase]:
    """Open cases due before the end of tomorrow (local time), not yet overdue, whose department
    has not been reminded (once, marked on the case: a department without handlers gets no
    notification, and its case must not be taken again at every sweep)."""
    now = utcnow()
    horizon = end_of_day(local_date(now) + timedelta(days=1))
    stmt = select(RectificationCase).where(
        RectificationCase.status == CaseStatus.OPEN,
        RectificationCase.reminded_at.is_(None),
        RectificationCase.due_at >= now,
        RectificationCase.due_at <= horizon,
    )
    return stmt.order_by(RectificationCase.due_at)


def overdue_unescalated_cases() -> Select[RectificationCase]:
    running = RectificationCase.status.in_([CaseStatus.OPEN, CaseStatus.SUBMITTED])
    stmt = select(RectificationCase).where(
        running, RectificationCase.escalated_at.is_(None), RectificationCase.due_at < utcnow()
    )
    return stmt.order_by(RectificationCase.due_at)


def _remind_callback(callback: Callback) -> None:
    recipients = [callback.assignee] if callback.assignee else staff_with_role(Role.AGENT)
    notify(recipients, "callback_due", f"回访 #{callback.id} 即将到期 due soon", "callback", callback.id)
    callback.reminded_at = utcnow()


def _remind_case(case: RectificationCase) -> None:
    message = f"整改 #{case.id} 明天到期，请按时提交整改报告。"
    notify(staff_with_role(Role.HANDLER, case.department_id), "case_due_soon", message, "case", case.id)
    case.reminded_at = utcnow()


def _escalate_callback(callback: Callback) -> None:
    callback.escalated_at = utcnow()
    notify(
        staff_with_role(Role.MANAGER),
        "callback_overdue",
        f"回访 #{callback.id} 已超期 overdue",
        "callback",
        callback.id,
    )


def _escalate_case(case: RectificationCase) -> None:
    case.escalated_at = utcnow()
    recipients = staff_with_role(Role.MANAGER) + staff_with_role(Role.HANDLER, case.department_id)
    notify(recipients, "case_overdue", f"整改 #{case.id} 已超期 overdue", "case", case.id)


def remind_due_callbacks() -> str:
    """Tell the assignee (or every agent, for the shared queue) that a callback falls due soon."""
    return f"reminded {claim_each(due_soon_unreminded(), _remind_callback, SWEEP_LIMIT).done}"


def remind_cases_due_tomorrow() -> str:
    """Tell the department's handlers, once, that a case is due by the end of tomorrow."""
    return f"reminded {claim_each(cases_due_by_tomorrow_unreminded(), _remind_case, SWEEP_LIMIT).done} cases"


def escalate_overdue() -> str:
    """督办: an overdue callback or case goes to the managers, once."""
    callbacks = claim_each(overdue_unescalated_callbacks(), _escalate_callback, SWEEP_LIMIT).done
    cases = claim_each(overdue_unescalated_cases(), _escalate_case, SWEEP_LIMIT).done
    return f"escalated {callbacks} callbacks, {cases} cases"


JOBS = [
    Job("callbacks.remind-due", remind_due_callbacks, "FOLLOW_UP_SWEEP_SECONDS"),
    Job("callbacks.escalate-overdue", escalate_overdue, "FOLLOW_UP_SWEEP_SECONDS"),
    Job("callbacks.remind-cases-due", remind_cases_due_tomorrow, "FOLLOW_UP_SWEEP_SECONDS"),
]
