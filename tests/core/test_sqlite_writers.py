"""SQLite's writers: a request's transaction reads without the write lock and takes it at its
first write; writers of different processes queue on a file lock, not on SQLite's sleeps."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from core.db import WriterQueue, configure_sqlite, connection_version, set_write_intent


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    configure_sqlite(engine, 2000)
    return engine


def _other_process_can_lock(lock_file: str) -> bool:
    code = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", code, lock_file], check=False).returncode == 0


def test_a_request_reads_outside_a_transaction_and_takes_the_write_lock_at_its_first_write(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "db.sqlite")
    lock_file = f"{tmp_path / 'db.sqlite'}-writers"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
    set_write_intent(False)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM t")).scalar_one()
            assert _other_process_can_lock(lock_file)  # reading holds nothing
            assert not conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]  # no BEGIN
            conn.execute(text("INSERT INTO t (v) VALUES (1)"))
            assert not _other_process_can_lock(lock_file)  # the write queued first
            assert conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]  # and began one
            conn.commit()
        assert _other_process_can_lock(lock_file)  # back in the pool: the next writer may go
    finally:
        set_write_intent(True)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t")).scalar_one() == 1
    engine.dispose()


def test_a_process_never_waits_for_its_own_lock(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "q"), timeout_s=30)
    first, second = object(), object()
    queue.open(first)
    queue.open(second)
    queue.enter(first)
    queue.enter(second)  # would wait 30 s if it queued behind its own process
    assert queue.holders == {id(first)}
    queue.leave(first)
    assert not queue.holders
    queue.close(first)
    queue.close(second)


def test_a_writer_waits_for_another_process_and_goes_at_its_release(tmp_path: Path) -> None:
    path = tmp_path / "q"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # this test's own descriptor stands in for another writer
    queue = WriterQueue(str(path), timeout_s=0.05)
    conn = object()
    queue.open(conn)
    queue.enter(conn)  # cannot get in within the timeout: goes on without the queue
    assert not queue.holders
    fcntl.flock(fd, fcntl.LOCK_UN)
    queue.enter(conn)
    assert queue.holders == {id(conn)}
    queue.close(conn)
    os.close(fd)


def test_the_data_version_moves_with_any_change_and_only_then(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "db.sqlite")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
    set_write_intent(False)
    try:
        with engine.connect() as reader, engine.connect() as writer:
            first = connection_version(reader)
            reader.execute(text("SELECT count(*) FROM t")).scalar_one()
            reader.commit()
            assert connection_version(reader) == first  # reading changes nothing
            writer.execute(text("INSERT INTO t (v) VALUES (1)"))
            writer.commit()
            second = connection_version(reader)
            assert second != first  # another connection committed
            reader.execute(text("UPDATE t SET v = 2"))
            assert connection_version(reader) is None  # in a transaction: its own, uncommitted write
            reader.rollback()
            third = connection_version(reader)
            assert third != second  # its own write, even rolled back (data_version misses those)
            reader.connection.dbapi_connection.execute("INSERT INTO t (v) VALUES (3)")  # type: ignore[union-attr]
            assert connection_version(reader) != third  # a write past SQLAlchemy (a bulk load) too
            assert connection_version(writer) != connection_version(reader)  # each connection its own
    finally:
        set_write_intent(True)
    engine.dispose()
