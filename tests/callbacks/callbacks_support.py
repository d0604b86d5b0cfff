"""Helpers for callback tests: local moments for the clock (time-machine's `time_machine` fixture
moves it) and quick ways to a bad review or a closed ticket."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import factories as f

from core.db import db
from core.models import Role

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in local (Asia/Shanghai) time, for `time_machine.move_to(..., tick=False)`."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def bad_rating(dept: Any, name: str = "张三丰", phone: str = "13812345678", level: int = 2, comment: str = "") -> Any:
    """A committed bad review with contact, made through a real rating link."""
    from ratings import recording, tokens

    issued = tokens.create_service_event({"department": dept.code})
    contact = {"name": name, "phone": phone} if (name or phone) else None
    rating = recording.rate_with_token(
        issued.token, level, None, comment=comment or "窗口人员态度很差，让我跑了三趟", contact=contact
    )
    db.session.commit()
    return rating


def staff(dept: Any) -> dict[str, Any]:
    return {
        "agent": f.user(Role.AGENT),
        "manager": f.user(Role.MANAGER),
        "handler": f.user(Role.HANDLER, dept),
    }
