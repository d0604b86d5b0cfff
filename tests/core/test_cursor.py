"""core.cursor: hot-path statements run on the connection's own DBAPI cursor pass and return
what `Connection.execute` would, fill the columns' defaults, show themselves to the engine's
listeners, and fail as `Connection.execute` fails (SQLAlchemy's exception; a lost connection
invalidated)."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.auth import _BEARER, token_digest
from core.cursor import PreparedWrite, Rendered, run
from core.db import db, insert_rows, utcnow, write
from core.models import Region, Role
from core.prepared import PreparedLookup
from reports.provincial.models import OutboxRow, OutboxStatus

_scratch = MetaData()
_probe = Table(
    "probe",
    _scratch,
    Column("id", Integer, primary_key=True),
    Column("name", String(10)),
    Column("state", String(10), default="new"),
    Column("touched", String(10), default=lambda: "made", onupdate=lambda: "changed"),
)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()], ids=["sqlite", "postgresql"])
def test_an_insert_takes_the_defaults_of_what_it_leaves_out_and_an_update_its_onupdate(dialect: Any) -> None:
    made = Rendered(insert(_probe).inline(), dialect, ["name"])
    args = made.arguments({"name": "a"})
    values = dict(zip(made.positions, args, strict=True)) if made.positions else args
    assert values == {"name": "a", "state": "new", "touched": "made"}
    given = Rendered(insert(_probe).inline(), dialect, ["name", "state"])
    args = given.arguments({"name": "b", "state": "old"})
    values = dict(zip(given.positions, args, strict=True)) if given.positions else args
    assert values["state"] == "old" and values["touched"] == "made"  # given, not defaulted
    changed = Rendered(update(_probe).values(name="c"), dialect)
    args = changed.arguments({})
    values = dict(zip(changed.positions, args, strict=True)) if changed.positions else args
    assert values["touched"] == "changed" and "state" not in values


def test_rows_returned_on_the_cursor_are_what_a_query_returns(database: Any) -> None:
    """Types both ways: JSON, a timezone-aware UTC datetime and an enum-like string column."""
    columns = list(OutboxRow.__table__.c)
    statement = PreparedWrite(insert(OutboxRow).returning(*columns))
    when = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
    row = {"kind": "probe", "subject_type": "event", "subject_id": 7, "payload": {"级别": 5, "a": [1]}}
    count, (returned,) = write(statement, {**row, "next_attempt_at": when})
    queried = db.session.execute(select(*columns).where(OutboxRow.id == returned[0])).one()
    assert tuple(queried) == returned
    stored = dict(zip([c.key for c in columns], returned, strict=True))
    assert stored["payload"] == {"级别": 5, "a": [1]} and stored["next_attempt_at"] == when
    assert stored["status"] == OutboxStatus.PENDING and stored["attempts"] == 0  # the defaults
    assert stored["created_at"].tzinfo is not None
    assert count == 1


def test_the_engines_listeners_see_each_statement_once_before_and_after(database: Any) -> None:
    seen: list[tuple[str, str]] = []
    connection = db.session.connection()

    def before(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(("before", statement.split()[0]))

    def after(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(("after", statement.split()[0]))

    event.listen(connection, "before_cursor_execute", before)
    event.listen(connection, "after_cursor_execute", after)
    insert_rows(Region, {"code": "990101", "name": "一"}, {"code": "990102", "name": "二"})
    assert seen == [("before", "INSERT"), ("after", "INSERT")]  # two rows, one statement
    assert db.session.get(Region, "990102").name_en == ""  # the default


def test_a_unique_key_broken_on_the_cursor_is_sqlalchemys_integrity_error(database: Any) -> None:
    insert_rows(Region, {"code": "990101", "name": "一"})
    errors: list[Any] = []
    engine = db.session.connection().engine
    listener = lambda context: errors.append(context.original_exception)  # noqa: E731
    event.listen(engine, "handle_error", listener)
    try:
        with pytest.raises(IntegrityError) as raised, db.session.begin_nested():
            insert_rows(Region, {"code": "990101", "name": "again"})
    finally:
        event.remove(engine, "handle_error", listener)
    assert "INSERT INTO regions" in str(raised.value.statement)
    assert isinstance(raised.value.orig, engine.dialect.loaded_dbapi.Error)  # the driver's, wrapped
    assert errors == [raised.value.orig]  # through the connection's own error handling
    assert db.session.get(Region, "990101").name == "一"  # the savepoint rolled back, the session goes on


def test_a_lookups_driver_error_is_sqlalchemys_and_is_not_run_again(app: Any, database: Any) -> None:
    import factories as f

    staff = f.user(Role.AGENT)
    token = f.bearer(staff)["Authorization"].removeprefix("Bearer ")
    lookup = PreparedLookup(_BEARER.statement)
    with app.test_request_context():
        assert lookup.first(digest=token_digest(token), now=utcnow()) is not None
        rendered = next(iter(lookup._rendered.values()))
        rendered.sql = "SELECT no_such_column FROM api_tokens"
        seen: list[str] = []
        event.listen(db.session.connection(), "before_cursor_execute", lambda _c, _k, s, *_a: seen.append(s))
        with pytest.raises(DBAPIError) as raised, db.session.begin_nested():
            lookup.first(digest=token_digest(token), now=utcnow())
    assert raised.value.statement == "SELECT no_such_column FROM api_tokens"
    assert not raised.value.connection_invalidated
    assert [s for s in seen if s.startswith("SELECT")] == ["SELECT no_such_column FROM api_tokens"]


def test_a_connection_lost_under_the_cursor_is_invalidated(app: Any) -> None:
    """PostgreSQL: the backend is killed between two statements; the next one fails with
    SQLAlchemy's error flagged as a disconnect, and the connection is invalidated for the pool."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "postgresql":
        pytest.skip("a server connection to lose: PostgreSQL only")
    engine = create_engine(url)
    try:
        with engine.connect() as connection, engine.connect() as other:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            rendered = Rendered(select(literal(1)), connection.dialect)
            with pytest.raises(DBAPIError) as raised:
                run(connection, rendered, rendered.arguments({}), fetch="one")
            assert raised.value.connection_invalidated and connection.invalidated
        with engine.connect() as again:  # the pool connects anew
            assert again.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
