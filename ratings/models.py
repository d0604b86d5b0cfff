"""好差评 models: service events (办件) and their rating tokens, standing counter QR codes,
ratings, appeals (申诉) and the append-only audit trail.

A rating keeps what the citizen chose for ever: its level, comment, contact and choices cannot
be changed once stored (see `_guard_rating`), ratings and audit rows are never deleted, and an
upheld appeal only marks the rating voided for statistics.
"""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from core.db import AppendOnly, Base, ImmutableRecord, UTCDateTime, enum_column, utcnow
from core.models import Department, Region, ServiceItem, User


class EventKind(enum.StrEnum):
    """What was served: 现场 at a counter, 网上 online, a closed 12345 ticket, or a standing QR scan."""

    COUNTER = "counter"
    ONLINE = "online"
    HOTLINE = "hotline"
    STANDING = "standing"


class Channel(enum.IntEnum):
    """评价渠道 (the provincial interface's `pf`), plus the 12345 hotline callback."""

    PC_WEB = 1
    MOBILE = 2
    QR_CODE = 3
    COUNTER_PAD = 4
    HALL_TERMINAL = 5
    SMS = 6
    SYSTEM_DEFAULT = 7
    HOTLINE_CALLBACK = 8


# Channels a citizen may name through the public API or form; 7 and 8 are set by the system.
PUBLIC_CHANNELS = (
    Channel.PC_WEB,
    Channel.MOBILE,
    Channel.QR_CODE,
    Channel.COUNTER_PAD,
    Channel.HALL_TERMINAL,
    Channel.SMS,
)


class RaterType(enum.IntEnum):
    """`userProp`: 个人 an individual or 法人 a legal person (an enterprise)."""

    INDIVIDUAL = 1
    LEGAL_PERSON = 2


class TokenStatus(enum.StrEnum):
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"  # replaced by a newer token, or the event was rated another way


class RatingStatus(enum.StrEnum):
    VALID = "valid"
    VOIDED = "voided"  # by an upheld appeal or a rejected review; still stored, no longer counted
    PENDING = "pending"  # held for a manager's review (fraud signals); not counted until confirmed


class IssuedVia(enum.StrEnum):
    """How a rating token came to exist: a person's account, an issuer key, or the system."""

    STAFF = "staff"
    ISSUER = "issuer"
    SYSTEM = "system"


class AppealKind(enum.StrEnum):
    MALICIOUS = "malicious"  # 恶意差评
    MISDIRECTED = "misdirected"  # 非本部门 / not about this department's service
    OTHER = "other"


class AppealStatus(enum.StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


class StandingCode(Base):
    """A standing QR code on a counter: reusable, not tied to one event; its ratings are low-trust."""

    __tablename__ = "standing_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    service_item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department | None] = relationship(lazy="joined")
    service_item: Mapped[ServiceItem | None] = relationship()


class Issuer(Base):
    """An issuer key: how a business system or a counter device issues rating tokens, scoped to
    departments, instead of through a person's account. Only the key's hash is stored."""

    __tablename__ = "rating_issuers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServiceEvent(Base):
    """办件: one rateable service — a counter visit, an online transaction or a closed ticket."""

    __tablename__ = "service_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind), default=EventKind.COUNTER)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    service_item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    external_ref: Mapped[str] = mapped_column(String(64), default="")
    staff_ref: Mapped[str] = mapped_column(String(64), default="")
    # The 12345 ticket this event rates; no foreign key, so ratings does not depend on hotline.
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ticket_number: Mapped[str] = mapped_column(String(32), default="")
    standing_code_id: Mapped[int | None] = mapped_column(ForeignKey("standing_codes.id"))
    # Who was served, when known (a ticket's caller): personal data, shown masked.
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    rater_type: Mapped[int] = mapped_column(Integer, default=RaterType.INDIVIDUAL)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who issued the token, through what, from which address (评价精准: staged ratings show here).
    issued_via: Mapped[IssuedVia] = mapped_column(enum_column(IssuedVia), default=IssuedVia.SYSTEM)
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("rating_issuers.id"))
    issuer_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")
    service_item: Mapped[ServiceItem | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship()

    @property
    def is_online(self) -> bool:
        return self.kind == EventKind.ONLINE


class RatingToken(Base):
    """A single-use rating token, stored only as its SHA-256 hash."""

    __tablename__ = "rating_tokens"
    __table_args__ = (Index("ix_rating_tokens_status_expires_at", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("service_events.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    assess_number: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[TokenStatus] = mapped_column(enum_column(TokenStatus), default=TokenStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[ServiceEvent] = relationship(lazy="joined")


class Rating(Base):
    """好差评: one citizen's rating of a service event (assess_number 1), or the one 追评 (2).

    The department, region, service item, channel, day and flags are denormalised onto the row so
    statistics group and filter without joins.
    """

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("event_id", "assess_number"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        CheckConstraint("assess_number IN (1, 2)", name="assess_number_range"),
        # The fraud signals count recent ratings per address, per network and per department.
        Index("ix_ratings_client_hash_created_at", "client_hash", "created_at"),
        Index("ix_ratings_client_net_hash_created_at", "client_net_hash", "created_at"),
        # It serves every look-up by department alone too (the foreign key's checks included), so
        # the column has no index of its own: each rating's insert writes one B-tree fewer.
        Index("ix_ratings_department_id_created_at", "department_id", "created_at"),
        # Held ratings are few: the review queue and the statistics' `pending_review` count find
        # them by status and day, never by scanning the days' ratings.
        Index("ix_ratings_status_local_day", "status", "local_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("service_events.id"))
    assess_number: Mapped[int] = mapped_column(Integer, default=1)
    level: Mapped[int] = mapped_column(Integer)
    channel: Mapped[int] = mapped_column(Integer)
    rater_type: Mapped[int] = mapped_column(Integer, default=RaterType.INDIVIDUAL)
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    dimensions: Mapped[dict[str, int] | None] = mapped_column(JSON)
    reasons: Mapped[list[str] | None] = mapped_column(JSON)
    sentiment: Mapped[float | None] = mapped_column(Float)
    is_bad_review: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_bad: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    low_trust: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[RatingStatus] = mapped_column(enum_column(RatingStatus), default=RatingStatus.VALID)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    service_item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    local_day: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The agent who typed in an answer given by phone (hotline callback); None for the citizen.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Keyed hashes of the submitting address and its network (never the address itself), for the
    # fraud signals; why a rating is held for review, and the review's outcome.
    client_hash: Mapped[str | None] = mapped_column(String(32))
    client_net_hash: Mapped[str | None] = mapped_column(String(32))
    review_reasons: Mapped[list[str] | None] = mapped_column(JSON)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[ServiceEvent] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship()
    service_item: Mapped[ServiceItem | None] = relationship()
    appeal: Mapped["RatingAppeal | None"] = relationship(back_populates="rating", uselist=False)

    @property
    def is_valid(self) -> bool:
        return self.status == RatingStatus.VALID

    @property
    def is_pending_review(self) -> bool:
        return self.status == RatingStatus.PENDING

    @property
    def is_confidential(self) -> bool:
        """Made from a confidential (保密) ticket: everything about its rater inherits that."""
        return bool(self.event.confidential)

    @property
    def person_names(self) -> list[str]:
        """The names the system knows for the person behind this rating (rater, ticket caller)."""
        return [n for n in (self.contact_name, self.event.contact_name) if n]

    def void(self, now: datetime | None = None) -> None:
        """Take the rating out of statistics (an upheld appeal); the row and its level stay."""
        self.status = RatingStatus.VOIDED
        self.voided_at = now or utcnow()


# What the citizen chose: fixed once stored. Staff may correct the responsible department
# (callbacks' verification), and an appeal may void the rating; nothing else changes.
CITIZEN_FIELDS = (
    "event_id",
    "assess_number",
    "level",
    "channel",
    "rater_type",
    "is_anonymous",
    "contact_name",
    "contact_phone",
    "comment",
    "dimensions",
    "reasons",
    "sentiment",
    "is_bad_review",
    "hidden_bad",
    "is_default",
    "low_trust",
    "created_at",
    "client_hash",
    "client_net_hash",
    "review_reasons",
)


class RatingAppeal(Base):
    """申诉复核: a department's appeal of a bad review, decided by a manager."""

    __tablename__ = "rating_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    kind: Mapped[AppealKind] = mapped_column(enum_column(AppealKind))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AppealStatus] = mapped_column(enum_column(AppealStatus), default=AppealStatus.PENDING, index=True)
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    rating: Mapped[Rating] = relationship(back_populates="appeal", lazy="joined")
    department: Mapped[Department | None] = relationship()
    filed_by: Mapped[User] = relationship(foreign_keys=[filed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_pending(self) -> bool:
        return self.status == AppealStatus.PENDING

    def decide(self, manager: User, uphold: bool, note: str, now: datetime | None = None) -> None:
        """Record the decision; an upheld appeal voids the rating."""
        now = now or utcnow()
        self.status = AppealStatus.UPHELD if uphold else AppealStatus.REJECTED
        self.decided_by_id = manager.id
        self.decided_at = now
        self.decision_note = note
        if uphold:
            self.rating.void(now)


class RatingAuditEvent(AppendOnly, Base):
    """An append-only record of every step: events issued, ratings stored, appeals and decisions."""

    __tablename__ = "rating_audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("service_events.id"))
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id"), index=True)
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("rating_appeals.id"))
    standing_code_id: Mapped[int | None] = mapped_column(ForeignKey("standing_codes.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The stored answer to a request sent with an `Idempotency-Key`, replayed on a retry."""

    __tablename__ = "rating_idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@event.listens_for(Rating, "before_update")
def _guard_rating(_mapper: Mapper[Any], _connection: Any, target: Rating) -> None:
    state = inspect(target)
    changed = [name for name in CITIZEN_FIELDS if state.attrs[name].history.has_changes()]
    if changed:
        raise ImmutableRecord(f"a citizen's rating cannot be changed ({', '.join(changed)})")


@event.listens_for(Rating, "before_delete")
def _never_delete_rating(_mapper: Mapper[Any], _connection: Any, _target: Rating) -> None:
    raise ImmutableRecord("ratings are never deleted; an upheld appeal voids them")
