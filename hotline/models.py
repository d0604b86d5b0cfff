"""12345 tickets (工单): the ticket, its append-only event log, assisting departments and the
per-day counter behind readable ticket numbers."""

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import AppendOnly, Base, UTCDateTime, enum_column, utcnow
from core.models import Department, Region, ServiceItem, User


class TicketType(enum.StrEnum):
    """工单类型; the values are the keys of TICKET_HANDLE_WORKING_DAYS."""

    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


class Urgency(enum.StrEnum):
    EMERGENCY = "emergency"  # danger to life or property: taken in minutes, handled at once
    UTILITIES = "utilities"  # 水电气热 outage
    NORMAL = "normal"


class Channel(enum.StrEnum):
    PHONE = "phone"
    WEB = "web"
    APP = "app"
    SMS = "sms"
    OPEN311 = "open311"
    LEADER_DAY = "leader_day"  # 领导12345接话日


class TicketStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # 受理
    DISPATCHED = "dispatched"  # 派单
    TAKEN = "taken"  # 签收
    IN_PROGRESS = "in_progress"  # 办理
    CLOSED = "closed"  # 答复/办结
    CALLED_BACK = "called_back"  # 回访
    ARCHIVED = "archived"  # 归档
    RETURNED = "returned"  # 退单, waiting to be dispatched again
    MERGED = "merged"  # 并单 into another ticket


# Still with the department (the handling clock runs).
HANDLING_STATUSES = (TicketStatus.DISPATCHED, TicketStatus.TAKEN, TicketStatus.IN_PROGRESS)
# Not yet answered: with the agents or with the department.
OPEN_STATUSES = (TicketStatus.ACCEPTED, TicketStatus.RETURNED, *HANDLING_STATUSES)


ticket_assists = Table(
    "ticket_assists",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id"), primary_key=True),
    Column("department_id", ForeignKey("departments.id"), primary_key=True, index=True),
)


class Ticket(Base):
    """工单: one citizen request, handled by one lead department (主办), optionally with assisting
    departments (协办). State changes go through hotline.service, never straight to columns."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[TicketType] = mapped_column(enum_column(TicketType))
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency), default=Urgency.NORMAL)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), default=Channel.PHONE)
    is_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)  # 涉企
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    caller_name: Mapped[str] = mapped_column(String(64), default="")
    caller_phone: Mapped[str] = mapped_column(String(20), default="")  # digits only
    leader_name: Mapped[str] = mapped_column(String(64), default="")  # the official on answering day
    content: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    address: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    service_item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    category: Mapped[str] = mapped_column(String(64), default="")
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus), default=TicketStatus.ACCEPTED)
    take_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handle_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reply: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    supervised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    # A pending 延期 request: the working days asked for (None when nothing is pending).
    extension_requested_days: Mapped[int | None] = mapped_column(Integer)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    region: Mapped[Region] = relationship()
    service_item: Mapped[ServiceItem | None] = relationship()
    lead_department: Mapped[Department | None] = relationship()
    assisting_departments: Mapped[list[Department]] = relationship(secondary=ticket_assists, order_by=Department.code)
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    taken_by: Mapped[User | None] = relationship(foreign_keys=[taken_by_id])
    merged_into: Mapped["Ticket | None"] = relationship(remote_side=[id])
    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", viewonly=True
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # Keyset pagination: every list orders by (created_at, id) or (handle_due_at, id), and the
        # common filters lead a composite index so a page reads ~limit rows, not the table.
        Index("ix_tickets_created_at_id", "created_at", "id"),
        Index("ix_tickets_status_created_at", "status", "created_at", "id"),
        Index("ix_tickets_status_handle_due_at", "status", "handle_due_at", "id"),
        Index("ix_tickets_lead_department_id_created_at", "lead_department_id", "created_at", "id"),
        Index("ix_tickets_region_code_created_at", "region_code", "created_at", "id"),
        Index("ix_tickets_type_created_at", "type", "created_at", "id"),
        Index("ix_tickets_caller_phone_created_at", "caller_phone", "created_at"),
    )

    @property
    def assisting_department_ids(self) -> set[int]:
        return {d.id for d in self.assisting_departments}

    @property
    def extension_pending(self) -> bool:
        return self.extension_requested_days is not None

    def is_overdue(self, now: datetime) -> bool:
        """Past its deadline to take (still only dispatched) or to handle (not yet answered)."""
        if self.status not in HANDLING_STATUSES:
            return False
        if self.status == TicketStatus.DISPATCHED and self.take_due_at < now:
            return True
        return self.handle_due_at < now


class TicketEvent(AppendOnly, Base):
    """One move of a ticket (who, from, to, note, when). Append-only: rows are never changed."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    move: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[TicketStatus | None] = mapped_column(enum_column(TicketStatus))
    to_status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # lead after the move
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()


class TicketCounter(Base):
    """The last sequence number used on a local calendar day, for numbers like HN20261127000123."""

    __tablename__ = "ticket_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
