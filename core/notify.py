"""Notifications to staff: an in-app list (the `notifications` table) plus a pluggable sender.

The default sender only logs; a deployment can plug an SMS gateway in with `set_sender`.
Notifications are written in the caller's transaction, so they exist exactly when the change
that caused them does.
"""

import logging
from collections.abc import Callable, Iterable

from sqlalchemy import select

from core.db import db
from core.models import Notification, Role, User

log = logging.getLogger("haocha.notify")

Sender = Callable[[User, Notification], None]


def _log_sender(user: User, note: Notification) -> None:
    log.info("notify user=%s kind=%s subject=%s:%s", user.username, note.kind, note.subject_type, note.subject_id)


_sender: Sender = _log_sender


def set_sender(sender: Sender) -> None:
    """Replace how notifications leave the system (e.g. SMS); the in-app row is always written."""
    global _sender
    _sender = sender


def notify(
    users: Iterable[User], kind: str, message: str, subject_type: str = "", subject_id: int | None = None
) -> list[Notification]:
    """Write one notification per user and hand each to the sender."""
    notes = []
    for user in users:
        note = Notification(
            user_id=user.id, kind=kind, message=message, subject_type=subject_type, subject_id=subject_id
        )
        db.session.add(note)
        notes.append(note)
        _sender(user, note)
    db.session.flush()
    return notes


def staff_with_role(role: Role, department_id: int | None = None) -> list[User]:
    """Active staff of a role (optionally of one department), e.g. the managers to escalate to."""
    stmt = select(User).where(User.role == role, User.active.is_(True))
    if department_id is not None:
        stmt = stmt.where(User.department_id == department_id)
    return list(db.session.scalars(stmt))


def unread_for(user: User, limit: int = 50) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .order_by(Notification.created_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
