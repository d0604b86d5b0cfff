"""PostgreSQL: a request reads outside a transaction (no BEGIN, no ROLLBACK round trips) and its
first statement that writes or locks begins the transaction that holds the writes; a pooled
connection idle for a while is pinged before use, so a restarted server is never met by a request."""

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, select, text
from tests_support import postgres_scratch_database

from core.db import (
    _writes_or_locks,
    configure_postgresql,
    connection_version,
    note_snapshot,
    ping_idle_connections,
    set_write_intent,
    snapshot_column,
)

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")

IDLE = psycopg.pq.TransactionStatus.IDLE
INTRANS = psycopg.pq.TransactionStatus.INTRANS


@pytest.fixture
def engine() -> Iterator[Engine]:
    for url in postgres_scratch_database():
        engine = create_engine(url)
        configure_postgresql(engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id SERIAL PRIMARY KEY, v INTEGER)"))
            conn.execute(text("INSERT INTO t (v) VALUES (1)"))
        yield engine
        engine.dispose()


@pytest.fixture
def reading() -> Iterator[None]:
    set_write_intent(False)
    try:
        yield
    finally:
        set_write_intent(True)


def _status(conn: object) -> object:
    return conn.connection.dbapi_connection.info.transaction_status  # type: ignore[attr-defined]


def _other_can_update(engine: Engine) -> bool:
    """Whether another connection can update row 1 at once (no lock is held on it)."""
    with engine.connect() as other:
        other.execute(text("SET lock_timeout = '100ms'"))
        try:
            other.execute(text("UPDATE t SET v = v WHERE id = 1"))
        except Exception:
            return False
        other.rollback()
        return True


def test_a_request_reads_outside_a_transaction_and_writes_inside_one(engine: Engine, reading: None) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t WHERE id = 1")).scalar_one() == 1
        assert _status(conn) == IDLE  # no transaction was begun for the read
        conn.execute(text("INSERT INTO t (v) VALUES (2)"))
        assert _status(conn) == INTRANS  # the first write began one
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1  # and it rolled back whole


def test_a_locking_read_begins_the_transaction_so_its_lock_is_held(engine: Engine, reading: None) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT v FROM t WHERE id = 1 FOR UPDATE")).scalar_one()
        assert _status(conn) == INTRANS
        assert not _other_can_update(engine)  # the row lock lasts until the end of the transaction
        conn.rollback()
    assert _other_can_update(engine)


def test_jobs_and_commands_keep_a_transaction_from_the_first_statement(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1")).scalar_one()
        assert _status(conn) == INTRANS
        conn.rollback()


def test_statements_that_begin_the_transaction() -> None:
    assert _writes_or_locks("INSERT INTO t VALUES (1)")
    assert _writes_or_locks("  update t set v = 1")
    assert _writes_or_locks("DELETE FROM t")
    assert _writes_or_locks("SAVEPOINT sa_savepoint_1")
    assert _writes_or_locks("SELECT t.id FROM t WHERE t.v = 1 FOR UPDATE SKIP LOCKED")
    assert _writes_or_locks("SELECT pg_advisory_xact_lock(1)")
    assert _writes_or_locks("SELECT pg_try_advisory_xact_lock(1)")
    assert not _writes_or_locks("SELECT t.id FROM t WHERE t.v = 1")
    assert not _writes_or_locks("EXPLAIN SELECT 1")


def test_an_idle_connection_whose_server_end_died_is_replaced_before_use(engine: Engine) -> None:
    ping_idle_connections(engine, idle_s=0)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:  # outside the pool, which keeps `first` idle
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    with engine.connect() as conn:  # the ping finds `first` dead: the pool connects anew
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first


def test_the_data_version_is_the_snapshot_and_moves_with_any_ended_writer(engine: Engine, reading: None) -> None:
    """core.db.data_version on PostgreSQL: pg_current_snapshot, read outside a transaction only.
    It stands while nothing is written, and moves when another connection's writing transaction
    ends, committed or rolled back, including one that began before the value was read."""
    with engine.connect() as reader, engine.connect() as writer:
        reader.execute(text("SELECT 1"))  # begins reading (a request's session does so at once)
        first = connection_version(reader)
        assert first is not None
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        assert connection_version(reader) == first  # reading changes nothing
        writer.execute(text("INSERT INTO t (v) VALUES (2)"))  # begins a transaction, not ended yet
        running = connection_version(reader)
        assert running is not None
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        writer.commit()
        committed = connection_version(reader)
        assert committed not in (first, running)
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
        writer.execute(text("INSERT INTO t (v) VALUES (3)"))
        writer.rollback()
        assert connection_version(reader) != committed  # a rolled-back writer moves it too
        reader.execute(text("UPDATE t SET v = 5 WHERE id = 1"))
        assert connection_version(reader) is None  # its own transaction: no value
        reader.rollback()
    set_write_intent(True)
    with engine.connect() as job:
        job.execute(text("SELECT 1"))
        assert connection_version(job) is None  # a job's (or a test's) transaction: none either


def test_a_snapshot_read_with_the_first_statement_serves_as_the_data_version(engine: Engine, reading: None) -> None:
    """The credential lookup reads the snapshot in its own statement (snapshot_column) and notes
    it: the data version then costs no round trip. It is the version the connection would read
    itself, stands while nothing is written, and is forgotten once the connection writes or
    begins again."""
    with engine.connect() as reader, engine.connect() as writer:
        noted = reader.execute(select(snapshot_column())).scalar_one()
        note_snapshot(reader, noted)
        assert connection_version(reader) == ("pg", noted)
        assert reader.execute(text("SELECT pg_current_snapshot()::text")).scalar_one() == noted
        writer.execute(text("INSERT INTO t (v) VALUES (2)"))
        writer.commit()
        assert connection_version(reader) == ("pg", noted)  # what the request's reads went by
        reader.execute(text("UPDATE t SET v = 5 WHERE id = 1"))
        assert connection_version(reader) is None
        reader.commit()
        reader.execute(text("SELECT 1"))  # the next request on this connection
        fresh = connection_version(reader)
        assert fresh is not None and fresh != ("pg", noted)
    with engine.connect() as sqlite_like:
        note_snapshot(sqlite_like, None)  # NULL on other databases: nothing is noted
        sqlite_like.execute(text("SELECT 1"))
        assert connection_version(sqlite_like) is not None


def test_a_streamed_read_begins_a_transaction_for_its_server_side_cursor(engine: Engine, reading: None) -> None:
    """A read with yield_per runs on a server-side cursor, which PostgreSQL declares only inside
    a transaction ("DECLARE CURSOR can only be used in transaction blocks" answered the KPI
    dashboard with a 500): it begins one, and leaves no lock behind."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # reading outside a transaction, as a GET does
        assert _status(conn) == IDLE
        rows = conn.execution_options(yield_per=1).execute(text("SELECT v FROM t ORDER BY id"))
        assert [row.v for row in rows] == [1]
        assert _status(conn) == INTRANS
        assert _other_can_update(engine)
        conn.rollback()
