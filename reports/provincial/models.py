"""实时上报 outbox: one row per report owed to the provincial platform, written in the same
transaction as the change it reports, and delivered later by the scheduler."""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, enum_column, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # owed: waiting for its turn or for its next try
    SENT = "sent"  # acknowledged by the receiver (2xx); never sent again
    DEAD = "dead"  # gave up after REPORTING_MAX_ATTEMPTS tries; `flask reporting retry` revives it


class ReportKind(enum.StrEnum):
    """What happened: the report types of the provincial interface (mapping.REPORT_TYPES)."""

    RATING = "rating"  # 评价 (assess_number 1)
    FOLLOW_UP = "follow_up"  # 追评 (assess_number 2)
    CALLBACK = "callback"  # 回访 outcome
    RECTIFICATION = "rectification"  # 整改 accepted
    APPEAL = "appeal"  # 申诉复核 decision


class OutboxRow(Base):
    """One report for the provincial platform. Its id is the idempotency key the receiver dedupes
    by; rows of one subject (a service event) are delivered strictly in id order."""

    __tablename__ = "reporting_outbox"
    __table_args__ = (
        # The sweep: due pending rows, oldest first.
        Index("ix_reporting_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # "Is an earlier row of this subject still unsent?" for each candidate.
        Index("ix_reporting_outbox_subject", "subject_type", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AckDay(Base):
    """The acknowledgement log that outlives pruned rows: per Beijing-time day of acknowledgement
    and kind, how many reports the receiver acknowledged and their id range (the idempotency keys).
    A few rows a day, so "did we report it, and when" stays answerable after REPORTING_RETENTION_DAYS."""

    __tablename__ = "reporting_ack_days"
    __table_args__ = (UniqueConstraint("local_day", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    acknowledged: Mapped[int] = mapped_column(Integer, default=0)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    first_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
