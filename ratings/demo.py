"""`flask demo load --ratings N`: realistic ratings over the last 90 days, in bulk.

About 93-97 % satisfied, varying by department; Chinese comments from a fixed pool whose
sentiment is scored once (never per row), so some satisfied levels carry hidden bad reviews;
office-hour timestamps; all six public channels; some enterprises and real names (fake numbers).
Rows go in with executemany on SQLite and COPY on PostgreSQL: a million ratings (and their
service events) in well under a minute. No signals are sent and no audit rows are written: this
is history, not new ratings.
"""

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from core.calendar import local_date, start_of_day
from core.db import db, is_postgresql, utcnow
from core.demo import advance_id_sequences, next_free_id
from core.models import Department, ServiceItem
from ratings.models import Rating, ServiceEvent
from ratings.recording import is_hidden_bad, score_comment

DAYS = 90
CHUNK = 50_000

PRAISE = [
    "工作人员很热情,一次就办好了",
    "办事效率高,十分钟就办完了",
    "服务态度很好,耐心解答我的问题",
    "窗口人员很专业,材料一次说清楚",
    "流程简单,网上就能办,很方便",
    "比以前快多了,点赞",
    "不用跑腿,手机上就办好了",
    "工作人员主动帮忙填表,非常贴心",
    "环境整洁,叫号有序",
    "一窗通办,省时省力",
    "咨询电话很快接通,回答清楚",
    "办理速度快,态度好",
]
NEUTRAL = [
    "还行",
    "一般",
    "可以",
    "排队时间有点长,不过总体还可以",
    "希望能增加几个窗口",
    "办好了",
    "建议把办事指南写得更清楚一些",
]
COMPLAINTS = [
    "办事效率太低,态度很差,跑了三趟都没办好",
    "等了两个小时才轮到我",
    "工作人员态度冷淡,问什么都不耐烦",
    "材料要求前后说法不一致,白跑一趟",
    "系统一直出故障,办不了",
    "问题反映了很久都没人处理",
    "不满意",
    "推来推去,没有人负责",
    "电话一直打不通",
    "收费不合理",
]
# Said with a satisfied level (3-5): the analyzer should flag these as hidden bad reviews.
HIDDEN = [
    "不满意",
    "办事效率太低,态度很差,跑了三趟都没办好",
    "问题到现在还没解决",
    "态度很差",
    "等了很久也没人管",
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高符"
GIVEN = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华海琼"
CHANNEL_WEIGHTS = {1: 12, 2: 35, 3: 25, 4: 18, 5: 4, 6: 6}
HOUR_WEIGHTS = {8: 3, 9: 10, 10: 14, 11: 13, 12: 5, 13: 4, 14: 11, 15: 13, 16: 12, 17: 8, 18: 4, 19: 2, 20: 1}


@dataclass(frozen=True)
class Comment:
    text: str
    sentiment: float | None


@dataclass(frozen=True)
class Place:
    department_id: int
    region_code: str
    items: tuple[int | None, ...]
    bad_share: float
    weight: float


def _pool(texts: Sequence[str]) -> list[Comment]:
    """Comments with their sentiment, scored once here and never per row."""
    return [Comment(t, score_comment(t)) for t in texts]


def _places(rng: random.Random) -> list[Place]:
    items: dict[int, list[int]] = {}
    for item_id, dept_id in db.session.execute(select(ServiceItem.id, ServiceItem.department_id)):
        items.setdefault(dept_id, []).append(item_id)
    places = []
    for dept in db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.id)):
        satisfied = rng.uniform(0.93, 0.97)
        weight = rng.uniform(0.3, 2.0)
        places.append(Place(dept.id, dept.region_code, tuple(items.get(dept.id, ())) or (None,), 1 - satisfied, weight))
    return places


def _table(weights: Mapping[Any, float], size: int = 4096) -> list[Any]:
    """A lookup table for weighted draws with one random number: table[int(random() * size)]."""
    total = sum(weights.values())
    table: list[Any] = []
    for value, weight in weights.items():
        table += [value] * round(size * weight / total)
    return table or list(weights)


class Formats:
    """How values travel to the database: strings for SQLite's executemany, objects for COPY."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def stamp(self, moment: datetime) -> Any:
        # The moments are UTC: SQLAlchemy's SQLite format is the naive ISO form (a third of strftime's cost).
        return moment if self.postgres else moment.replace(tzinfo=None).isoformat(" ", "microseconds")

    def day(self, day: date) -> Any:
        return day if self.postgres else day.isoformat()

    def tags(self, tags: list[str]) -> Any:
        if self.postgres:
            from psycopg.types.json import Jsonb

            return Jsonb(tags)
        return json.dumps(tags)


class RowMaker:
    """Builds (event, rating) rows; all randomness comes from the seeded generator."""

    def __init__(self, rng: random.Random, places: list[Place], now: datetime, formats: Formats) -> None:
        self.random = rng.random
        self.rng = rng
        self.now = now
        self.formats = formats
        today = local_date(now)
        self.days = [
            (start_of_day(today - timedelta(days=d)), formats.day(today - timedelta(days=d))) for d in range(DAYS)
        ]
        self.places = _table({place: place.weight for place in places})
        self.channels = _table(CHANNEL_WEIGHTS)
        self.hours = _table(HOUR_WEIGHTS)
        self.satisfied = _table({5: 72, 4: 20, 3: 8})
        self.praise, self.neutral = _pool(PRAISE), _pool(NEUTRAL)
        self.complaints, self.hidden = _pool(COMPLAINTS), _pool(HIDDEN)
        tags = list(current_app.config["RATING_REASON_TAGS"])
        self.reasons = [formats.tags([t]) for t in tags] + [formats.tags([a, b]) for a in tags for b in tags if a < b]
        self.hidden_flags = {(lv, c.text): is_hidden_bad(lv, c.sentiment) for lv in (3, 4, 5) for c in self.hidden}

    def _pick(self, items: Sequence[Any]) -> Any:
        return items[int(self.random() * len(items))]

    def _level(self, place: Place) -> int:
        if self.random() < place.bad_share:
            return 2 if self.random() < 0.65 else 1
        return int(self._pick(self.satisfied))

    def _comment(self, level: int) -> Comment | None:
        chance = self.random()
        if level <= 2:
            return self._pick(self.complaints) if chance < 0.85 else None
        if chance < 0.008:
            return self._pick(self.hidden)
        if level == 3:
            return self._pick(self.neutral) if chance < 0.3 else None
        return self._pick(self.praise) if chance < 0.25 else None

    def _contact(self) -> tuple[str, str]:
        if self.random() >= 0.35:
            return "", ""
        name = self._pick(SURNAMES) + self._pick(GIVEN) + (self._pick(GIVEN) if self.random() < 0.6 else "")
        return name, f"1{self._pick('3456789')}{int(self.random() * 10**9):09d}"

    def _hidden(self, level: int, comment: Comment | None) -> bool:
        return comment is not None and level >= 3 and self.hidden_flags.get((level, comment.text), False)

    def make(self, event_id: int, rating_id: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        place: Place = self._pick(self.places)
        item = self._pick(place.items)
        level = self._level(place)
        comment = self._comment(level)
        channel = self._pick(self.channels)
        rater_type = 2 if self.random() < 0.12 else 1
        midnight, day = self._pick(self.days)
        offset = self._pick(self.hours) * 3600 + int(self.random() * 3600)
        created = midnight + timedelta(seconds=offset)
        if created > self.now:  # later today: somewhere between midnight and now instead
            created = midnight + (self.now - midnight) * self.random()
        served = created - timedelta(seconds=60 + int(self.random() * 1800))
        name, phone = self._contact()
        bad = level <= 2
        reasons = self._pick(self.reasons) if bad and self.random() < 0.7 else None
        stamp = self.formats.stamp
        event = (
            event_id,
            "online" if channel == 1 else "counter",
            place.department_id,
            item,
            place.region_code,
            rater_type,
            stamp(served),
        )
        rating = (
            rating_id,
            event_id,
            1,
            level,
            channel,
            rater_type,
            not phone,
            name,
            phone,
            comment.text if comment else "",
            reasons,
            comment.sentiment if comment else None,
            bad,
            self._hidden(level, comment),
            False,
            False,
            "valid",
            place.department_id,
            place.region_code,
            item,
            day,
            stamp(created),
        )
        return event, rating


EVENT_COLUMNS = ("id", "kind", "department_id", "service_item_id", "region_code", "rater_type", "created_at")
EVENT_DEFAULTS: dict[str, Any] = {
    "external_ref": "",
    "staff_ref": "",
    "ticket_number": "",
    "contact_name": "",
    "contact_phone": "",
    "confidential": False,
    "issued_via": "system",
    "issuer_address": "",
}
RATING_COLUMNS = (
    "id", "event_id", "assess_number", "level", "channel", "rater_type", "is_anonymous", "contact_name",
    "contact_phone", "comment", "reasons", "sentiment", "is_bad_review", "hidden_bad", "is_default", "low_trust",
    "status", "department_id", "region_code", "service_item_id", "local_day", "created_at",
)  # fmt: skip


BULK_CACHE_KIB = 1024 * 1024


def _names(table: str, columns: Sequence[str]) -> tuple[list[str], tuple[Any, ...]]:
    extra = EVENT_DEFAULTS if table == "service_events" else {}
    return [*columns, *extra], tuple(extra.values())


def _write_sqlite(cursor: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    names, tail = _names(table, columns)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608
    cursor.executemany(sql, [row + tail for row in rows] if tail else rows)


def _write_postgresql(cursor: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    names, tail = _names(table, columns)
    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row + tail)


def _drop_indexes(cursor: Any, tables: Sequence[str]) -> list[str]:
    """Drop the tables' secondary indexes (SQLite; in the load's transaction) and return the
    statements that make them again: SQLite builds an index from all its rows by sorting them,
    several times faster than inserting ten million random keys one by one into seven B-trees
    that outgrow the page cache. The unique constraints' own indexes stay (they check the rows)."""
    marks = ", ".join("?" * len(tables))
    found = cursor.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",  # noqa: S608
        tuple(tables),
    ).fetchall()
    for name, _sql in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in found]


def _chunks(maker: RowMaker, count: int, first_event: int, first_rating: int) -> Iterator[tuple[list[Any], list[Any]]]:
    done = 0
    while done < count:
        size = min(CHUNK, count - done)
        events, ratings = [], []
        for i in range(done, done + size):
            event, rating = maker.make(first_event + i, first_rating + i)
            events.append(event)
            ratings.append(rating)
        yield events, ratings
        done += size


def load_demo_ratings(count: int, rng: random.Random) -> int:
    """Insert `count` first ratings, each with its service event; returns how many."""
    places = _places(rng)
    if not places:
        return 0
    postgres = is_postgresql()
    maker = RowMaker(rng, places, utcnow(), Formats(postgres))
    first_event, first_rating = next_free_id(ServiceEvent.id), next_free_id(Rating.id)
    write = _write_postgresql if postgres else _write_sqlite
    cursor = db.session.connection().connection.cursor()
    indexes: list[str] = []
    if not postgres:
        # Millions of rows go into seven indexes: keep their pages in memory for the load
        # (SQLite's default cache is 2 MB, and every insert then reads index pages from disk).
        cache_size = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        indexes = _drop_indexes(cursor, ("service_events", "ratings"))
    try:
        for events, ratings in _chunks(maker, count, first_event, first_rating):
            write(cursor, "service_events", EVENT_COLUMNS, events)
            write(cursor, "ratings", RATING_COLUMNS, ratings)
        for sql in indexes:
            cursor.execute(sql)
    finally:
        if not postgres:
            cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
        cursor.close()
    advance_id_sequences("service_events", "ratings")
    db.session.commit()
    return count
