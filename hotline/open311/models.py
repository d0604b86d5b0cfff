"""Open311 tables: API keys, the attributes of service definitions, the Open311 side of a ticket
(token, raw description, the submitter's e-mail and device) and updates exchanged with clients."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.models import ServiceItem
from hotline.models import Ticket


class ApiKey(Base):
    """An Open311 client's key (`flask apikeys create NAME`), stored only as a SHA-256 hash.

    Names are unique among active keys; a revoked key keeps its row so old requests still name it."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ServiceAttribute(Base):
    """One attribute of a service item's Open311 service definition (GET services/{code})."""

    __tablename__ = "open311_service_attributes"
    __table_args__ = (UniqueConstraint("service_item_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    variable: Mapped[bool] = mapped_column(Boolean, default=True)
    datatype: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    datatype_description: Mapped[str] = mapped_column(String(400), default="")
    order: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    # For single- and multivaluelist: [{"key": "...", "name": "..."}], in display order.
    values: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service_item: Mapped[ServiceItem] = relationship()


class Open311Request(Base):
    """The Open311 side of a ticket filed through GeoReport: its token, the description exactly as
    the client sent it, and what the ticket has no column for. The submitter's e-mail and device
    are personal data: stored for staff, never in a GET response."""

    __tablename__ = "open311_requests"
    __table_args__ = (Index("ix_open311_requests_created_at", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    email: Mapped[str] = mapped_column(String(254), default="")
    device_id: Mapped[str] = mapped_column(String(200), default="")
    account_id: Mapped[str] = mapped_column(String(200), default="")
    address_id: Mapped[str] = mapped_column(String(200), default="")
    media_url: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship()
    api_key: Mapped[ApiKey] = relationship()


class CitizenUpdate(Base):
    """An update a client posted on a request from the citizen's side (FixMyStreet's
    `servicerequestupdates` extension): staff are notified; the ticket's state does not change."""

    __tablename__ = "open311_citizen_updates"
    __table_args__ = (UniqueConstraint("api_key_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"))
    # The client's own id of the update (FixMyStreet's `update_id`), for idempotent retries.
    external_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    media_url: Mapped[str] = mapped_column(String(2000), default="")
    name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    updated_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship()
