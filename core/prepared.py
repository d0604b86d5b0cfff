"""Hot-path reads without the ORM's per-statement machinery: a SELECT rendered once per
dialect and run on the request connection's own DBAPI cursor (`PreparedLookup`), and the objects
of its row built as loading builds them (`as_loaded`).

The driver keeps the statement prepared (sqlite3's statement cache; psycopg prepares a statement
it has run a few times). The columns come back through their types' result processors, exactly
as a query would return them. An object is built with no constructor, its columns straight into
the instance's dict and its relationships set as loaded values (`set_committed_value`); added to
the session, it behaves as if a query had loaded it (lazy loads, flushes, expiry). An object the
session already holds is used as it is.

The statement runs as core.cursor runs it: the engine's cursor listeners see it, and a driver
error comes out as SQLAlchemy's own exception, a lost connection invalidated.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import CompoundSelect, Select, inspect
from sqlalchemy.orm import Mapper, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from core.cursor import Rendered, run
from core.db import db

M = TypeVar("M")


class PreparedLookup:
    """A SELECT rendered once per dialect and run on the request connection's cursor: one row
    (`first`) or all of them (`all`)."""

    def __init__(self, statement: Select[Any] | CompoundSelect) -> None:
        self.statement = statement
        self._rendered: dict[str, Rendered] = {}

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
            rendered = self._rendered[dialect.name] = Rendered(self.statement, dialect)
        _count, rows = run(connection, rendered, rendered.arguments(params), fetch="one" if one else "all")
        return rows


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
