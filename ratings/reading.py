"""Reading ratings: one rating or a staff member's list of them, and a rating's comment, contact
and ticket number as a given reader may see them (core.disclosure)."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select

from core.auth import get_visible, visible_department_id
from core.disclosure import CONFIDENTIAL_MARK, hidden_for, text_for
from core.models import Department, User
from core.privacy import mask_name, mask_phone
from core.refdata import department_ref
from ratings.models import Rating, RatingStatus


def department_by_code(code: str | None) -> Department | None:
    return department_ref(code, "department")


def get_rating(rating_id: int | None, user: User | None = None) -> Rating:
    return get_visible(Rating, rating_id, user, "Rating")


def ratings_query(user: User, filters: Mapping[str, Any]) -> Select[Rating]:
    """Ratings a staff member may see, newest first, filtered."""
    stmt = select(Rating).order_by(Rating.created_at.desc(), Rating.id.desc())
    scope = visible_department_id(user)
    if scope is not None:
        stmt = stmt.where(Rating.department_id == scope)
    if filters.get("department"):
        dept = department_by_code(filters["department"])
        stmt = stmt.where(Rating.department_id == (dept.id if dept else None))
    if filters.get("from"):
        stmt = stmt.where(Rating.local_day >= filters["from"])
    if filters.get("to"):
        stmt = stmt.where(Rating.local_day <= filters["to"])
    if filters.get("level"):
        stmt = stmt.where(Rating.level == filters["level"])
    if filters.get("bad"):
        stmt = stmt.where(Rating.is_bad_review | Rating.hidden_bad)
    if filters.get("status"):
        stmt = stmt.where(Rating.status == RatingStatus(filters["status"]))
    return stmt


def comment_for(rating: Rating, reader: User | None) -> str:
    """A rating's comment as `reader` may read it: a confidential caller's name and number never
    reach a department or the public (core.disclosure)."""
    return text_for(rating.comment, reader, confidential=rating.is_confidential, names=rating.person_names)


def contact_for(rating: Rating, reader: User | None) -> dict[str, str]:
    """The rater's contact for a list or export: masked, or nothing at all when confidential."""
    if hidden_for(reader, rating.is_confidential):
        return {"name": CONFIDENTIAL_MARK if rating.contact_name else "", "phone": ""}
    return {"name": mask_name(rating.contact_name), "phone": mask_phone(rating.contact_phone)}


def ticket_number_for(rating: Rating, reader: User | None) -> str | None:
    """The ticket a rating came from; hidden with a confidential caller (it leads back to them)."""
    if hidden_for(reader, rating.is_confidential):
        return None
    return rating.event.ticket_number or None
