"""Helpers for callback tests: a controllable clock and quick ways to a bad review or a closed ticket."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import factories as f
import pytest

from core.db import db
from core.models import Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOCKED_MODULES = ("ratings.service", "callbacks.service", "callbacks.jobs", "hotline.service", "core.calendar")


def shanghai(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class Clock:
    """Sets what `utcnow()` returns in the modules that decide deadlines and days."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.now: datetime | None = None

    def set(self, moment: datetime) -> None:
        import importlib

        self.now = moment
        for name in CLOCKED_MODULES:
            module = importlib.import_module(name)
            if hasattr(module, "utcnow"):
                self.monkeypatch.setattr(module, "utcnow", lambda: self.now)


@contextmanager
def at(clock: Clock, moment: datetime) -> Iterator[None]:
    clock.set(moment)
    yield


def bad_rating(dept: Any, name: str = "张三丰", phone: str = "13812345678", level: int = 2, comment: str = "") -> Any:
    """A committed bad review with contact, made through a real rating link."""
    from ratings import service as ratings_service

    issued = ratings_service.create_service_event({"department": dept.code})
    contact = {"name": name, "phone": phone} if (name or phone) else None
    rating = ratings_service.rate_with_token(
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
