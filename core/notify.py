"""Notifications to staff: an in-app list (the `notifications` table) plus a pluggable sender.

The default sender only logs; a deployment can plug an SMS gateway in with `set_sender`.
Notifications are written in the caller's transaction, so they exist exactly when the change
that caused them does.
"""

import logging
from collections.abc import Callable, Iterable

from sqlalchemy import Select, func, select, update

from core.db import db, utcnow
from core.errors import NotFound
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


def unread_count(user: User) -> int:
    stmt = select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    return db.session.scalar(stmt) or 0


def notifications_query(user: User, unread_only: bool = False) -> Select[Notification]:
    """A staff member's notifications, newest first."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def mark_read(user: User, notification_id: int) -> Notification:
    """Mark one of `user`'s notifications read (404 for anyone else's: its existence stays hidden)."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound("Notification not found.")
    if note.read_at is None:
        note.read_at = utcnow()
    db.session.flush()
    return note


def mark_all_read(user: User) -> int:
    """Mark every unread notification of `user` read; how many were."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Where a notification's subject lives, by subject type: each package registers its own pages.
_LINKS: dict[str, Callable[[int], str]] = {}


def register_subject_link(subject_type: str, build: Callable[[int], str]) -> None:
    """Let notifications about `subject_type` link to its page (`build(subject_id)` → URL)."""
    _LINKS[subject_type] = build


def subject_link(note: Notification) -> str | None:
    """The page a notification is about, when its package registered one."""
    build = _LINKS.get(note.subject_type)
    return build(note.subject_id) if build is not None and note.subject_id is not None else None
