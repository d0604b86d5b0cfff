"""The append-only ratings audit trail (`rating_audit_events`): who did what to a service event,
a rating, an appeal or a standing QR code, and when."""

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from core.db import db, insert_rows
from core.models import User
from ratings.models import Rating, RatingAuditEvent


def record(action: str, actor: User | None = None, detail: Mapping[str, Any] | None = None, **ids: int | None) -> None:
    """Add an audit row, inserted at once (it commits or rolls back with the caller's work);
    `ids` name what it is about."""
    insert_rows(
        RatingAuditEvent,
        {
            "action": action,
            "actor_id": actor.id if actor else None,
            "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
            **ids,
        },
    )


def trail(rating: Rating) -> list[RatingAuditEvent]:
    """A rating's audit rows, oldest first."""
    stmt = select(RatingAuditEvent).where(RatingAuditEvent.rating_id == rating.id).order_by(RatingAuditEvent.id)
    return list(db.session.scalars(stmt))
