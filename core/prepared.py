"""Hot-path reads without the ORM's per-statement machinery: a SELECT rendered once per
dialect and run on the request connection's own DBAPI cursor (`PreparedLookup`), and the objects
of its row built as loading builds them (`as_loaded`).

The driver keeps the statement prepared (sqlite3's statement cache; psycopg prepares a statement
it has run a few times). The columns come back through their types' result processors, exactly
as a query would return them. An object is built with no constructor, its columns straight into
the instance's dict and its relationships set as loaded values (`set_committed_value`); added to
the session, it behaves as if a query had loaded it (lazy loads, flushes, expiry). An object the
session already holds is used as it is.

The engine's `before_cursor_execute` listeners see the statement, as they see any other.
A driver error is not handled here: the same statement is run again through SQLAlchemy, which
raises its own error and, for a lost connection, invalidates the pool as for any statement.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import CompoundSelect, Select, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from core.db import db

M = TypeVar("M")
Processor = Callable[[Any], Any] | None


class _Rendered:
    """One statement in one dialect: its SQL text, how its parameters are passed and processed,
    and each result column's processor."""

    def __init__(self, statement: Select[Any] | CompoundSelect, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = compiled.string
        self.positions: tuple[str, ...] | None = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        self.results: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in statement.selected_columns
        ]

    def arguments(self, params: dict[str, Any]) -> Any:
        values = self.compiled.construct_params(params)
        for name, value in values.items():
            process = self.binds.get(name)
            if process is not None and value is not None:
                values[name] = process(value)
        if self.positions is not None:
            return tuple(values[name] for name in self.positions)
        return values

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(self.results, raw, strict=True)
        )


class PreparedLookup:
    """A SELECT rendered once per dialect and run on the request connection's cursor: one row
    (`first`) or all of them (`all`)."""

    def __init__(self, statement: Select[Any] | CompoundSelect) -> None:
        self.statement = statement
        self._rendered: dict[str, _Rendered] = {}

    def first(self, **params: Any) -> tuple[Any, ...] | None:
        rows = self._run(params, one=True)
        return rows[0] if rows else None

    def all(self, **params: Any) -> list[tuple[Any, ...]]:
        return self._run(params, one=False)

    def _run(self, params: dict[str, Any], one: bool) -> list[tuple[Any, ...]]:
        connection = db.session.connection()
        dialect = connection.dialect
        rendered = self._rendered.get(dialect.name)
        if rendered is None:
            rendered = self._rendered[dialect.name] = _Rendered(self.statement, dialect)
        arguments = rendered.arguments(params)
        try:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                if connection._has_events or connection.engine._has_events:
                    # The engine's listeners see the statement, as for any other (instrumentation,
                    # tests counting statements, core.db's transaction hooks).
                    for listener in connection.dispatch.before_cursor_execute:
                        listener(connection, cursor, rendered.sql, arguments, None, False)
                cursor.execute(rendered.sql, arguments)
                found: Sequence[Any]
                if one:
                    raw = cursor.fetchone()
                    found = () if raw is None else (raw,)
                else:
                    found = cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error:
            # Through SQLAlchemy once more: it raises its own error and handles a disconnect.
            result = connection.execute(self.statement, params)
            again = result.first() if one else result.all()
            return [] if again is None else [tuple(again)] if one else [tuple(row) for row in again]
        return [rendered.row(raw) for raw in found]


def as_loaded(model: type[M], columns: Sequence[str], values: Sequence[Any], **related: Any) -> M:
    """The `model` object with these column values, as if a query had loaded it: the one the
    session holds already, or a new detached one, keyed, that the caller adds to the session."""
    mapper, primary_key = _MAPPERS.get(model) or _mapper(model)
    loaded = dict(zip(columns, values, strict=True))
    key = mapper.identity_key_from_primary_key(tuple(loaded[name] for name in primary_key))
    held = db.session().identity_map.get(key)
    if held is not None:
        return held
    # As loading does: no constructor, the columns straight into the instance's dict.
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(loaded)
    for name, value in related.items():
        set_committed_value(obj, name, value)
    make_transient_to_detached(obj)
    return obj


def in_session(obj: M) -> M:
    """An `as_loaded` object in the session: added (with the loaded relations it holds, by the
    save-update cascade) unless the session holds it already."""
    if obj not in db.session():
        db.session.add(obj)
    return obj


_MAPPERS: dict[type[Any], tuple[Mapper[Any], tuple[str, ...]]] = {}  # model -> its mapper, its key's attributes


def _mapper(model: type[Any]) -> tuple[Mapper[Any], tuple[str, ...]]:
    configure_mappers()  # what a model's constructor or a query would have done first
    mapper = inspect(model)
    return _MAPPERS.setdefault(model, (mapper, tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)))
