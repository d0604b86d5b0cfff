"""Page-numbered listing for moderate lists (worklists, queues, the public board)."""

from typing import Any

from sqlalchemy import Select, func, select

from core.db import db


def paginate(stmt: Select[Any], page: int, per_page: int) -> dict[str, Any]:
    """`{"items", "total", "page", "per_page"}` for one page of a select."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return {"items": items, "total": total, "page": page, "per_page": per_page}
