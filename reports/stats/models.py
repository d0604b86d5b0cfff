"""Rollups of first ratings (assess_number 1) by Asia/Shanghai day, folded by a job from the
queue of rating changes (`stats_rating_changes`) that the writers append to.

Key columns never hold NULL (NULLs would break the unique keys the upserts rely on): an unknown
department or service item is 0 and an unknown region is ''. Each row counts valid ratings per
level (`n1`..`n5`) and the ratings voided by an upheld appeal (`voided`).
"""

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow

LEVELS = (1, 2, 3, 4, 5)
COUNT_COLUMNS = ("n1", "n2", "n3", "n4", "n5", "voided")


class _Counts:
    n1: Mapped[int] = mapped_column(Integer, default=0)
    n2: Mapped[int] = mapped_column(Integer, default=0)
    n3: Mapped[int] = mapped_column(Integer, default=0)
    n4: Mapped[int] = mapped_column(Integer, default=0)
    n5: Mapped[int] = mapped_column(Integer, default=0)
    voided: Mapped[int] = mapped_column(Integer, default=0)


class _FineKeys:
    """Every dimension statistics filter or group on (FINE_KEYS): the fine rollup's key, and what
    each queued change is keyed by."""

    local_day: Mapped[date] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(12))
    service_item_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[int] = mapped_column(Integer)
    rater_type: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean)
    low_trust: Mapped[bool] = mapped_column(Boolean)


class RatingDayRollup(_Counts, _FineKeys, Base):
    """Fine rollup: every dimension statistics filter or group on."""

    __tablename__ = "stats_rating_days"
    __table_args__ = (
        UniqueConstraint(
            "local_day",
            "department_id",
            "region_code",
            "service_item_id",
            "channel",
            "rater_type",
            "is_default",
            "low_trust",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)


class DepartmentDayRollup(_Counts, Base):
    """Coarse rollup (day x department x region): what the dashboard and most requests read."""

    __tablename__ = "stats_department_days"
    __table_args__ = (UniqueConstraint("local_day", "department_id", "region_code", "is_default"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_day: Mapped[date] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(12))
    is_default: Mapped[bool] = mapped_column(Boolean)


class ChannelDayRollup(_Counts, Base):
    """Province-wide rollup (day x channel x rater type): the channel and 涉企 views, and the
    headline figures, when no department, region or service item is asked for. At most a few
    dozen rows a day however many departments and ratings there are."""

    __tablename__ = "stats_channel_days"
    __table_args__ = (UniqueConstraint("local_day", "channel", "rater_type", "is_default"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_day: Mapped[date] = mapped_column(Date)
    channel: Mapped[int] = mapped_column(Integer)
    rater_type: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean)


ROLLUPS = (RatingDayRollup, DepartmentDayRollup, ChannelDayRollup)
FINE_KEYS = (
    "local_day",
    "department_id",
    "region_code",
    "service_item_id",
    "channel",
    "rater_type",
    "is_default",
    "low_trust",
)
COARSE_KEYS = ("local_day", "department_id", "region_code", "is_default")
CHANNEL_KEYS = ("local_day", "channel", "rater_type", "is_default")
# The rollups summed from the fine one, with their keys (a subset of FINE_KEYS each).
DERIVED = ((DepartmentDayRollup, COARSE_KEYS), (ChannelDayRollup, CHANNEL_KEYS))


class RatingChange(_Counts, _FineKeys, Base):
    """One change to what a first rating adds to the rollups: +1 in one count column when it is
    stored or starts counting, -1 where it stopped counting (voided, moved, held). Writers only
    ever insert these rows; the fold job adds them to the rollups and deletes them in one
    transaction, so whatever is still here is exactly the not-yet-folded tail readers add."""

    __tablename__ = "stats_rating_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    rating_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: a log line, not a link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FoldState(Base):
    """The watermark of the rollups (one row, id 1), written only by the fold job and the rebuild:
    a fresh random `token` each time the rollups change, so a reader that has seen the token may
    reuse what it read from the rollups under it (random, so a rolled-back fold or a restored
    backup never brings an old token back with other figures)."""

    __tablename__ = "stats_fold_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    folded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    folded_rows: Mapped[int] = mapped_column(BigInteger, default=0)
