"""Test helpers for ratings: service events with tokens, ratings, expired links, fake tickets."""

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from core.auth import token_digest
from core.db import db
from ratings import recording, tokens
from ratings.models import Rating, RatingToken
from ratings.tokens import IssuedToken

_seq = itertools.count(1)

BAD_COMMENT = "办事效率太低,态度很差,跑了三趟都没办好"
GOOD_COMMENT = "工作人员很热情,一次就办好了"


def event(dept: Any = None, **data: Any) -> IssuedToken:
    """A committed service event with its first token (as the API would return it)."""
    if dept is not None:
        data.setdefault("department", dept.code)
    issued = tokens.create_service_event(data)
    db.session.commit()
    return issued


def rate(issued: IssuedToken, level: int = 5, **fields: Any) -> Rating:
    rating = recording.rate_with_token(issued.token, level, fields.pop("channel", None), **fields)
    db.session.commit()
    return rating


def expire(token: str) -> None:
    """Move a token's expiry into the past."""
    db.session.execute(
        update(RatingToken)
        .where(RatingToken.token_hash == token_digest(token))
        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    db.session.commit()


@dataclass
class FakeTicket:
    """What hotline's Ticket offers the ticket_closed listener."""

    id: int = field(default_factory=lambda: 900_000 + next(_seq))
    number: str = field(default_factory=lambda: f"HN{next(_seq):08d}")
    lead_department_id: int | None = None
    region_code: str | None = "460100"
    service_item_id: int | None = None
    caller_name: str | None = "张三丰"
    caller_phone: str | None = "13812345678"
    confidential: bool = False
    is_enterprise: bool = False
    closed_at: datetime | None = field(default_factory=lambda: datetime.now(UTC))
