"""Database: the typed declarative base, the Flask-SQLAlchemy handle and engine tuning.

SQLite is set up for concurrent writers (WAL, busy_timeout, foreign keys, synchronous=FULL).
A request reads in autocommit (each statement its own snapshot; no BEGIN, no ROLLBACK) and takes
the write lock only at its first write statement, which begins the transaction IMMEDIATE: two
writers queue on the lock instead of failing halfway with "database is locked", and the lock is
held for the writes alone, not while the request authenticates, validates, scores sentiment or
builds its answer. Whatever the reads decided is settled again by the database at the write
(unique keys, version counters). Jobs and commands, which write what they read, begin IMMEDIATE
(`set_write_intent`).

PostgreSQL does the same: a request reads in autocommit (each statement its own READ COMMITTED
snapshot, which is all a READ COMMITTED transaction gives a reader anyway), and the first
statement that writes or locks (INSERT, UPDATE, DELETE, a savepoint, FOR UPDATE / FOR SHARE, a
transaction-scoped advisory lock) begins the transaction that holds the writes until the one
commit (core.unit_of_work). A GET that writes still writes inside a transaction, which the unit
of work rolls back.
"""

import enum
import fcntl
import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from blinker import Namespace
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from psycopg.pq import TransactionStatus
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Enum,
    FunctionElement,
    MetaData,
    Table,
    Text,
    event,
    insert,
    inspect,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapper, Session, configure_mappers
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.types import TypeDecorator

from core.cursor import PreparedWrite

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model, with a constraint naming convention for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# False while serving a safe (read-only) request: its transaction then begins DEFERRED.
_write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; naive values from SQLite come back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(cls: type[enum.Enum], length: int = 16) -> Enum:
    """The column type of every enum column: the members' values (not their names) in a VARCHAR
    of `length`, no native database enum and no CHECK constraint, so adding a member needs no
    migration."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


# --- inserting one new object at once ----------------------------------------------------

M = TypeVar("M")
# Set in a session's info once it has written (core.unit_of_work: a safe request must not).
WROTE = "haocha_unit_wrote"
# sender: the session; kwargs: obj=<the object insert_now has just inserted>. What a flush hook
# does for an inserted object, a receiver does for these (reports.stats: the rollup queue row).
inserted_now = Namespace().signal("inserted-now")

Pairs = tuple[tuple[str, Any], ...]
Plan = tuple[PreparedWrite, Pairs, tuple[str, ...], tuple[str, Callable[[Any], Any]] | None]
_INSERT_PLANS: dict[type[Any], Plan] = {}


def mapped_columns(model: type[Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """A model's column attributes' names and their columns, in mapper order: what to SELECT to
    build the whole object (core.prepared.as_loaded), or to INSERT and get back (insert_now)."""
    props = list(inspect(model).column_attrs)
    return tuple(p.key for p in props), tuple(p.columns[0] for p in props)


def _insert_plan(model: type[Any]) -> Plan:
    """The model's INSERT ... RETURNING every column, its (attribute, column) pairs, its
    relationships' names, and its version counter's column (or None)."""
    plan = _INSERT_PLANS.get(model)
    if plan is None:
        configure_mappers()  # every relationship known, backrefs included
        mapper: Mapper[Any] = inspect(model)
        if mapper.inherits is not None:
            raise TypeError(f"insert_now takes single-table models, not {model.__name__}")
        pairs = tuple(zip(*mapped_columns(model), strict=True))
        table = cast(Table, mapper.local_table)
        statement = PreparedWrite(insert(table).returning(*(column for _key, column in pairs)))
        generator = mapper.version_id_generator
        counter = mapper.version_id_col
        version = (str(counter.key), generator) if counter is not None and generator else None
        plan = (statement, pairs, tuple(mapper.relationships.keys()), version)
        _INSERT_PLANS[model] = plan
    return plan


def insert_now(obj: M) -> M:
    """Insert a new object at once, by one INSERT ... RETURNING on the session connection's own
    cursor (core.cursor), and leave it in the session as a flush leaves an inserted object: for the rows of a hot write
    path, where a unit-of-work flush costs several times the statement.

    What a flush would send is sent: the attributes set, a None only where the type stores one
    (JSON); the columns' defaults fill the rest (a version counter starts as a flush starts it),
    and every column comes back. Foreign keys are given as columns (`event_id=`), not as related
    objects. Mapper insert events and flush hooks do not run for it: `inserted_now` is sent
    instead. The row commits or rolls back with the session's transaction, and a rollback (of a
    savepoint too) takes the object out of the session, as it does a flushed one."""
    statement, pairs, relationships, version = _insert_plan(type(obj))
    state = instance_state(obj)
    if not state.transient:
        raise ValueError("insert_now takes a new object that no session holds")
    given = state.dict
    related = [name for name in relationships if given.get(name) not in (None, [])]
    if related:
        raise ValueError(f"insert_now takes foreign keys as columns, not related objects ({', '.join(related)})")
    values = {
        column.key: given[key]
        for key, column in pairs
        if key in given and (given[key] is not None or column.type.should_evaluate_none)
    }
    if version is not None and values.get(version[0]) is None:
        values[version[0]] = version[1](None)  # the counter's first value, as a flush gives it
    session = db.session()
    _count, (row,) = write(statement, values, session=session)
    given.update(zip((key for key, _column in pairs), row, strict=True))
    # Pending, then persistent as a flush leaves an inserted object: no history (nothing left
    # to write), and known to the transaction as new, so a rollback lets it go.
    session.add(obj)
    session._register_persistent({state})
    inserted_now.send(session, obj=obj)
    return obj


_ROW_INSERTS: dict[type[Any], PreparedWrite] = {}


def insert_rows(model: type[Any], *rows: dict[str, Any], session: Session | None = None) -> None:
    """Insert rows of `model` at once, by one INSERT on the session connection's own cursor
    (core.cursor), and build no objects: for the rows a request writes and never reads back (an
    audit trail, a queue), where making an object and keeping it in the session costs more than
    the statement. Column defaults fill what the rows leave out (every row gives the same keys);
    the rows commit or roll back with the session's transaction (`session`: the request's unless
    given). No mapper event, flush hook or `inserted_now` runs for them, and no key comes back."""
    if not rows:
        return
    statement = _ROW_INSERTS.get(model)
    if statement is None:
        statement = _ROW_INSERTS[model] = PreparedWrite(insert(model).inline())
    write(statement, *rows, session=session)


def write(
    statement: PreparedWrite, *rows: Mapping[str, Any], session: Session | None = None
) -> tuple[int, list[tuple[Any, ...]]]:
    """Run a prepared INSERT, UPDATE or DELETE on the session connection's own cursor (the
    request's session unless given), in its transaction: the rows it changed, and those it
    returned. The session is marked as having written (core.unit_of_work: a GET must not)."""
    session = session or db.session()
    ran = statement.execute(session.connection(), *rows)
    session.info[WROTE] = True
    return ran


class ImmutableRecord(RuntimeError):
    """Code tried to change or delete what must stay as it was stored."""


class AppendOnlyError(ImmutableRecord):
    """Code tried to change or delete a row of an append-only (history) table."""


class AppendOnly:
    """Mixin for history tables (audit trails, event logs, call attempts): rows are inserted and
    never updated or deleted. The ORM refuses both at flush; bulk loaders insert only."""


@event.listens_for(AppendOnly, "before_update", propagate=True)
@event.listens_for(AppendOnly, "before_delete", propagate=True)
def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise AppendOnlyError(f"{type(target).__name__} {getattr(target, 'id', '')} is append-only".rstrip())


@contextmanager
def read_only() -> Iterator[None]:
    """Mark the transactions begun inside as read-only: they read in autocommit until a write."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)


def set_write_intent(value: bool) -> None:
    """Set whether transactions begun from now on in this context may write."""
    _write_intent.set(value)


class WriterQueue:
    """The order in which this database's writers take SQLite's write lock.

    SQLite lets a blocked writer sleep and retry (1, 2, 5 … then 100 ms at a time), so a worker
    that commits and at once writes again keeps winning while another sleeps: under steady load
    a rating waited seconds. Writers here first take an exclusive `flock` on a file beside the
    database, polled every 0.2 ms for the first 5 ms of a wait and every millisecond after, then
    BEGIN IMMEDIATE, and release it when the connection goes back to the pool after COMMIT or
    ROLLBACK: the next writer starts within a fraction of a millisecond.
    The file lock dies with its process (kill -9 included). A connection of a process that already
    holds the lock through another connection (a test's second session, a job's own log) skips
    the queue and relies on SQLite's busy timeout, so a process never waits for itself; so does
    any writer that could not get in within the busy timeout."""

    FIRST_POLL_S = 0.0002  # how often a writer looks for the lock in its first FIRST_POLLS_FOR_S
    FIRST_POLLS_FOR_S = 0.005

    def __init__(self, path: str, timeout_s: float) -> None:
        self.path, self.timeout_s = path, timeout_s
        self.fds: dict[int, int] = {}  # this process's DBAPI connections (by id) -> their lock file
        self.holders: set[int] = set()  # those holding the lock

    def open(self, dbapi_connection: Any) -> None:
        self.fds[id(dbapi_connection)] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def enter(self, dbapi_connection: Any) -> None:
        fd = self.fds.get(id(dbapi_connection))
        if fd is None or self.holders:
            return
        started = time.monotonic()
        deadline = started + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                now = time.monotonic()
                if now >= deadline:
                    return
                # A writer holds the lock for a millisecond or two: look again soon at first, so
                # the lock does not stand free while this writer sleeps; then every millisecond,
                # so many waiting writers do not spin.
                time.sleep(self.FIRST_POLL_S if now - started < self.FIRST_POLLS_FOR_S else 0.001)
                continue
            self.holders.add(id(dbapi_connection))
            return

    def leave(self, dbapi_connection: Any) -> None:
        if id(dbapi_connection) in self.holders:
            self.holders.discard(id(dbapi_connection))
            fcntl.flock(self.fds[id(dbapi_connection)], fcntl.LOCK_UN)

    def close(self, dbapi_connection: Any) -> None:
        self.leave(dbapi_connection)
        fd = self.fds.pop(id(dbapi_connection), None)
        if fd is not None:
            os.close(fd)


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Apply the pragmas and transaction mode that make SQLite safe for concurrent writers."""
    database = engine.url.database or ""
    queue = WriterQueue(f"{database}-writers", busy_timeout_ms / 1000) if database not in ("", ":memory:") else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        if queue is not None:
            queue.open(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = _write_intent.get()
        if immediate:
            if queue is not None:
                queue.enter(conn.connection.dbapi_connection)
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info[_DEFERRED] = not immediate  # reading: no BEGIN, each statement its own snapshot

    @event.listens_for(engine, "before_cursor_execute")
    def _take_write_lock(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_DEFERRED) and _writes(statement):
            conn.info[_DEFERRED] = False
            dbapi_connection = conn.connection.dbapi_connection
            if queue is not None:
                queue.enter(dbapi_connection)
            _begin_immediate(dbapi_connection)

    if queue is not None:
        # Back in the pool means COMMIT or ROLLBACK is done: the next writer may go.
        event.listen(engine, "checkin", lambda dbapi_connection, _record: queue.leave(dbapi_connection))
        event.listen(engine, "close", lambda dbapi_connection, _record: queue.close(dbapi_connection))
        event.listen(engine, "rollback", lambda conn: queue.leave(conn.connection.dbapi_connection))


_DEFERRED = "haocha_deferred"
_CONNECTION_ID = "haocha_connection_id"
_connection_ids = itertools.count(1)


def data_version() -> tuple[Any, ...] | None:
    """A value that changes whenever the database may have changed, as seen by this request's
    connection; None where there is none. It costs no table read: an answer computed after
    reading the value is still exact while the value stands.

    - SQLite: the connection's identity, `PRAGMA data_version` (which moves when another
      connection commits) and the rows this connection changed itself (`total_changes`, which
      data_version does not see).
    - PostgreSQL: the current snapshot (`pg_current_snapshot()`: the oldest transaction still
      running, the next one to be assigned and those in progress between). Any transaction that
      writes and ends, committed or rolled back, changes it; while it stands, every statement
      sees the same rows. The request's credential lookup reads it in the same statement
      (`snapshot_column`, `note_snapshot`), so a request that reads no more than it costs no
      round trip of its own.

    None inside a transaction: its reads may see its own writes, which a rollback takes back
    without moving the value, or a snapshot older than the value (a job's, a test's)."""
    return connection_version(db.session.connection())


def connection_version(connection: Connection) -> tuple[Any, ...] | None:
    """`data_version` of one connection."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    name = connection.dialect.name
    if name == "postgresql":
        if not dbapi_connection.autocommit or dbapi_connection.info.transaction_status != TransactionStatus.IDLE:
            return None
        noted = connection.info.get(_SNAPSHOT)
        if noted is not None:
            return ("pg", noted)
        return ("pg", dbapi_connection.execute("SELECT pg_current_snapshot()::text").fetchone()[0])
    if name != "sqlite" or dbapi_connection.in_transaction:
        return None
    info = connection.info
    if _CONNECTION_ID not in info:
        info[_CONNECTION_ID] = next(_connection_ids)
    version = dbapi_connection.execute("PRAGMA data_version").fetchone()[0]
    return info[_CONNECTION_ID], int(version), int(dbapi_connection.total_changes)


class _Snapshot(FunctionElement[str]):
    """PostgreSQL's current snapshot as text; NULL elsewhere."""

    type = Text()
    name = "haocha_snapshot"
    inherit_cache = True


@compiles(_Snapshot)
def _no_snapshot(_element: _Snapshot, _compiler: Any, **_kw: Any) -> str:
    return "NULL"


@compiles(_Snapshot, "postgresql")
def _pg_snapshot(_element: _Snapshot, _compiler: Any, **_kw: Any) -> str:
    return "pg_current_snapshot()::text"


def snapshot_column() -> ColumnElement[str]:
    """A column to add to a request's first read: PostgreSQL's snapshot as that statement saw
    it (NULL on other databases), for `note_snapshot`."""
    return _Snapshot().label("data_snapshot")


def note_snapshot(connection: Connection, snapshot: str | None) -> None:
    """Keep the snapshot a `snapshot_column` read on this connection outside a transaction, as
    its `data_version` until the connection next begins or writes (the events below forget it)."""
    if snapshot is not None and connection.connection.dbapi_connection.autocommit:  # type: ignore[union-attr]
        connection.info[_SNAPSHOT] = snapshot


_SNAPSHOT = "haocha_snapshot"


# Statements that write, or open a savepoint around writes (a savepoint cannot outlive the
# restart of its transaction, so it takes the lock first).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")


def _writes(statement: str) -> bool:
    return statement.lstrip()[:9].upper().startswith(_WRITES)


def _begin_immediate(dbapi_connection: Any) -> None:
    """Begin the transaction that holds the writes, with the write lock taken at once."""
    if dbapi_connection.in_transaction:  # begun by hand (a test's outer transaction): write in it
        return
    dbapi_connection.execute("BEGIN IMMEDIATE")


_LOCKING_READS = (" FOR UPDATE", " FOR NO KEY UPDATE", " FOR SHARE", " FOR KEY SHARE", "_advisory_xact_lock")


def _writes_or_locks(statement: str) -> bool:
    if _writes(statement):
        return True
    reads = statement.lstrip()[:6].upper().startswith(("SELECT", "WITH"))
    return reads and any(lock in statement for lock in _LOCKING_READS)


def configure_postgresql(engine: Engine) -> None:
    """Read outside a transaction until the first statement that writes or locks, or streams
    its rows (module doc)."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        reading = not _write_intent.get()
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection.autocommit != reading:
            dbapi_connection.autocommit = reading
        conn.info[_DEFERRED] = reading
        conn.info.pop(_SNAPSHOT, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_at_first_write(conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_args: Any) -> None:
        # A streamed read (yield_per) runs on a server-side cursor, which PostgreSQL declares
        # only inside a transaction: it begins one too (a read-only one, rolled back at the end).
        streamed = context is not None and bool(context.execution_options.get("stream_results"))
        if conn.info.get(_DEFERRED) and (streamed or _writes_or_locks(statement)):
            conn.info[_DEFERRED] = False
            conn.info.pop(_SNAPSHOT, None)
            conn.connection.dbapi_connection.autocommit = False


_IDLE_SINCE = "haocha_idle_since"


def ping_idle_connections(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection before use only when it has been idle longer than `idle_s`
    (SQLAlchemy's "pessimistic" disconnect handling, done in a checkout event): a busy worker
    reuses connections without the round trip `pool_pre_ping` costs every request, and a server
    restart during a quiet spell is found before any request meets it. A restart under load is met
    by the requests in flight: SQLAlchemy sees the disconnect and invalidates the whole pool."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError() from exc  # the pool discards it and connects anew


def init_db(app: Flask) -> None:
    """Bind the database to the app and tune the engine for its dialect."""
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        elif engine.dialect.name == "postgresql":
            configure_postgresql(engine)
        ping_idle_connections(engine, app.config["DB_PING_AFTER_IDLE_S"])


def is_postgresql() -> bool:
    """True when the bound database is PostgreSQL."""
    return bool(db.engine.dialect.name == "postgresql")
