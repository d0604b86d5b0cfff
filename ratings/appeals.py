"""Appeals (申诉复核): a department's handler appeals a bad review of their department; a manager
upholds it (the rating is voided for statistics, never deleted) or rejects it.

Functions flush, never commit; the view or page that calls them commits once. They raise
core.errors domain errors and never look at the request. Where time matters they take `now`
(the entry point's moment, utcnow() unless given).
"""

from datetime import datetime

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from core.auth import ensure_visible, get_visible, visible_department_id
from core.db import db, utcnow
from core.errors import Conflict, Forbidden, ValidationFailed
from core.models import Role, User
from core.notify import notify, staff_with_role
from core.signals import appeal_decided
from ratings import audit
from ratings.models import AppealKind, AppealStatus, Rating, RatingAppeal


def file_appeal(rating: Rating, user: User, kind: str, reason: str, *, now: datetime | None = None) -> RatingAppeal:
    """A department handler appeals a bad review of their department, with a reason."""
    if user.role != Role.HANDLER:
        raise Forbidden("Only the department's handlers appeal a review.")
    ensure_visible(user, rating.department_id, "Rating")
    if not (rating.is_bad_review or rating.hidden_bad):
        raise Conflict("Only bad reviews can be appealed.")
    if not rating.is_valid:
        raise Conflict("This rating is already voided.")
    if rating.appeal is not None:
        raise Conflict("This rating has already been appealed.", {"appeal": [str(rating.appeal.id)]})
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": ["Required."]})
    appeal = RatingAppeal(
        rating_id=rating.id,
        department_id=rating.department_id,
        kind=AppealKind(kind),
        reason=reason.strip(),
        filed_by_id=user.id,
        filed_at=now or utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(appeal)
    except IntegrityError as exc:
        raise Conflict("This rating has already been appealed.") from exc
    db.session.expire(rating, ["appeal"])
    audit.record("appeal.filed", user, {"kind": appeal.kind.value}, rating_id=rating.id, appeal_id=appeal.id)
    _notify_managers(appeal)
    db.session.flush()
    return appeal


def _notify_managers(appeal: RatingAppeal) -> None:
    notify(
        staff_with_role(Role.MANAGER), "rating_appeal", f"申诉待复核 appeal #{appeal.id}", "rating_appeal", appeal.id
    )


def decide_appeal(
    appeal: RatingAppeal, manager: User, uphold: bool, note: str = "", *, now: datetime | None = None
) -> RatingAppeal:
    """A manager upholds (the rating is voided for statistics) or rejects an appeal."""
    if manager.role != Role.MANAGER:
        raise Forbidden("Only managers decide appeals.")
    if not appeal.is_pending:
        raise Conflict("This appeal has already been decided.", {"status": [appeal.status.value]})
    appeal.decide(manager, uphold, note.strip(), now or utcnow())
    db.session.flush()
    audit.record(
        "appeal.upheld" if uphold else "appeal.rejected",
        manager,
        {"note": note.strip()},
        rating_id=appeal.rating_id,
        appeal_id=appeal.id,
    )
    outcome = "支持 upheld" if uphold else "驳回 rejected"
    notify([appeal.filed_by], "rating_appeal_decided", f"申诉{outcome} #{appeal.id}", "rating_appeal", appeal.id)
    db.session.flush()
    appeal_decided.send(current_app._get_current_object(), appeal=appeal, rating=appeal.rating)  # type: ignore[attr-defined]
    return appeal


def get_appeal(appeal_id: int, user: User | None = None) -> RatingAppeal:
    return get_visible(RatingAppeal, appeal_id, user, "Appeal")


def appeals_query(user: User, status: str | None = None) -> Select[RatingAppeal]:
    stmt = select(RatingAppeal).order_by(RatingAppeal.filed_at, RatingAppeal.id)
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(RatingAppeal.department_id == scope)
    if status:
        stmt = stmt.where(RatingAppeal.status == AppealStatus(status))
    return stmt
