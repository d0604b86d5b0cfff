"""Page-numbered listing for moderate lists (worklists, queues, the public board)."""

from typing import Any

from sqlalchemy import Select, func, select

from core.db import db


def paginate(stmt: Select[Any], page: int, per_page: int) -> dict[str, Any]:
    """`{"items", "total", "page", "per_page"}` for one page of a select."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    offset = (page - 1) * per_page
    # A page past the end is empty without asking the database (a huge page number would
    # overflow the driver's 64-bit OFFSET: a 500 instead of an empty page).
    items = list(db.session.scalars(stmt.limit(per_page).offset(offset))) if offset < total else []
    return {"items": items, "total": total, "page": page, "per_page": per_page}
