"""回访 and 整改: callbacks to citizens with their call attempts, and rectification cases."""

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import AppendOnly, Base, UTCDateTime, enum_column, utcnow
from core.models import Department, User
from ratings.models import Rating


class Purpose(enum.StrEnum):
    VERIFY_BAD_REVIEW = "verify_bad_review"  # 差评回访核实
    TICKET_SATISFACTION = "ticket_satisfaction"  # 办结后满意度回访
    RECTIFICATION_REPORT = "rectification_report"  # 整改反馈


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class AttemptResult(enum.StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    REFUSED = "refused"
    WRONG_NUMBER = "wrong_number"


class CaseStatus(enum.StrEnum):
    TO_VERIFY = "to_verify"  # anonymous bad review: the department verifies it first
    OPEN = "open"  # verified, being fixed
    SUBMITTED = "submitted"  # the department reported what it did
    ACCEPTED = "accepted"  # a manager accepted; the report-back callback is scheduled
    PUBLISHED = "published"  # on the public feedback board
    DISMISSED = "dismissed"  # not a real problem (verification found none)


class Callback(Base):
    """回访: a call to a citizen, due by a working-day deadline, made in one or more attempts."""

    __tablename__ = "callbacks"
    __table_args__ = (
        Index("ix_callbacks_status_due_at", "status", "due_at"),
        Index("ix_callbacks_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[Purpose] = mapped_column(enum_column(Purpose, length=24))
    subject_type: Mapped[str] = mapped_column(String(16))  # rating | ticket | case
    subject_id: Mapped[int] = mapped_column(Integer)
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_cases.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(12))
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[CallbackStatus] = mapped_column(
        enum_column(CallbackStatus, length=24), default=CallbackStatus.PENDING
    )
    outcome: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    attempts: Mapped[list["CallbackAttempt"]] = relationship(
        back_populates="callback", order_by="CallbackAttempt.id", cascade="all, delete-orphan"
    )
    assignee: Mapped[User | None] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship(lazy="joined")
    rating: Mapped[Rating | None] = relationship()  # the bad review verified, or the case's
    case: Mapped["RectificationCase | None"] = relationship()  # the case reported back on

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.status == CallbackStatus.PENDING


class CallbackAttempt(AppendOnly, Base):
    """One call: who called, when, what happened. Append-only."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    result: Mapped[AttemptResult] = mapped_column(enum_column(AttemptResult, length=24))
    note: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(String(32), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    local_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    callback: Mapped[Callback] = relationship(back_populates="attempts")
    actor: Mapped[User | None] = relationship(lazy="joined")


class RectificationCase(Base):
    """整改: a verified bad review, fixed by one responsible department within a deadline."""

    __tablename__ = "rectification_cases"
    __table_args__ = (Index("ix_rectification_cases_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus, length=24))
    problem: Mapped[str] = mapped_column(Text, default="")  # what verification found
    immediate: Mapped[bool] = mapped_column(Boolean, default=False)  # 立行立改
    action_taken: Mapped[str] = mapped_column(Text, default="")  # the department's report
    manager_note: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_on_time: Mapped[bool | None] = mapped_column(Boolean)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The day-before reminder went out (to however many handlers the department has, none included).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the public board shows, frozen and masked when the case is published.
    public_review: Mapped[str] = mapped_column(Text, default="")
    public_rater: Mapped[str] = mapped_column(String(64), default="")
    public_phone: Mapped[str] = mapped_column(String(20), default="")
    public_action: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    department: Mapped[Department] = relationship(lazy="joined")
    rating: Mapped[Rating] = relationship()
    events: Mapped[list["CaseEvent"]] = relationship(
        order_by="CaseEvent.id", cascade="all, delete-orphan", back_populates="case"
    )

    __mapper_args__ = {"version_id_col": version}


class CaseEvent(AppendOnly, Base):
    """The audit trail of a case: every step, who, when. Append-only."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("rectification_cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")
    case: Mapped[RectificationCase] = relationship(back_populates="events")
