"""Factory helpers for hotline tests: tickets in a given state, made through the service."""

from datetime import UTC, datetime
from typing import Any

import factories as f

from core.models import Department, Role, User
from hotline import service
from hotline.models import Ticket

# A Thursday morning in Asia/Shanghai (2026-09-24 10:00 +08:00).
THURSDAY = datetime(2026, 9, 24, 2, 0, tzinfo=UTC)


def ticket(
    agent: User | None = None, dept: Department | None = None, now: datetime | None = None, **data: Any
) -> Ticket:
    """A ticket created by `agent` (a new agent if None); dispatched to `dept` when given."""
    agent = agent or f.user(Role.AGENT)
    payload: dict[str, Any] = {
        "type": "complaint",
        "content": "市民来电反映：小区夜间施工噪音扰民，要求处理。",
        "region_code": "460100",
        "caller_name": "张三丰",
        "caller_phone": "13812345678",
        **data,
    }
    if dept is not None:
        payload["lead_department"] = dept.code
    return f.saved(service.create_ticket(payload, agent, now=now))


def handler_of(dept: Department) -> User:
    return f.user(Role.HANDLER, dept)


def taken(dept: Department | None = None, **data: Any) -> tuple[Ticket, User]:
    """A ticket its lead department has taken, and the handler who took it."""
    dept = dept or f.department()
    row = ticket(dept=dept, **data)
    handler = handler_of(dept)
    f.saved(service.make_move("take", row, handler))
    return row, handler


def closed(dept: Department | None = None, **data: Any) -> tuple[Ticket, User]:
    row, handler = taken(dept, **data)
    f.saved(service.make_move("reply", row, handler, {"reply": "已处理完毕。"}))
    return row, handler
