"""Scheduled sweeps: remind before a callback falls due, escalate (督办) overdue callbacks and
rectification cases to managers exactly once. Each sweep commits once per unit of work."""

from callbacks import service
from core.db import db, utcnow
from core.models import Role
from core.notify import notify, staff_with_role
from core.scheduler import register_job


def remind_due_callbacks() -> str:
    """Tell the assignee (or every agent, for the shared queue) that a callback falls due soon."""
    count = 0
    for callback in service.due_soon_unreminded():
        recipients = [callback.assignee] if callback.assignee else staff_with_role(Role.AGENT)
        notify(recipients, "callback_due", f"回访 #{callback.id} 即将到期 due soon", "callback", callback.id)
        callback.reminded_at = utcnow()
        db.session.commit()
        count += 1
    return f"reminded {count}"


def remind_cases_due_tomorrow() -> str:
    """Tell the department's handlers, once, that a case is due by the end of tomorrow."""
    count = 0
    for case in service.cases_due_by_tomorrow_unreminded():
        message = f"整改 #{case.id} 明天到期，请按时提交整改报告。"
        notify(staff_with_role(Role.HANDLER, case.department_id), "case_due_soon", message, "case", case.id)
        db.session.commit()
        count += 1
    return f"reminded {count} cases"


def escalate_overdue() -> str:
    """督办: an overdue callback or case goes to the managers, once."""
    callbacks = cases = 0
    for callback in service.overdue_unescalated_callbacks():
        callback.escalated_at = utcnow()
        notify(
            staff_with_role(Role.MANAGER),
            "callback_overdue",
            f"回访 #{callback.id} 已超期 overdue",
            "callback",
            callback.id,
        )
        db.session.commit()
        callbacks += 1
    for case in service.overdue_unescalated_cases():
        case.escalated_at = utcnow()
        recipients = staff_with_role(Role.MANAGER) + staff_with_role(Role.HANDLER, case.department_id)
        notify(recipients, "case_overdue", f"整改 #{case.id} 已超期 overdue", "case", case.id)
        db.session.commit()
        cases += 1
    return f"escalated {callbacks} callbacks, {cases} cases"


def register_jobs(seconds: int) -> None:
    register_job("callbacks.remind_due", seconds)(remind_due_callbacks)
    register_job("callbacks.escalate_overdue", seconds)(escalate_overdue)
    register_job("callbacks.remind_cases_due", seconds)(remind_cases_due_tomorrow)
