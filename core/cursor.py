"""Statements of the hot paths run on a connection's own DBAPI cursor, without SQLAlchemy's
per-statement machinery (an execution context, a result object, the compiled cache's lookup),
which costs several times what the driver does for a short statement: on PostgreSQL about 110 µs
of CPU for a one-row INSERT through `Connection.execute` against 40 µs on the cursor; on SQLite
24 µs against 6 µs.

A statement is rendered once per dialect (and, for an INSERT, per set of columns given):
`Rendered`. Its parameters go through the bind parameters' type processors and its result rows
through the columns' result processors, exactly as `Connection.execute` would pass and return
them; the columns' Python-side defaults (a scalar, or a function of no argument) fill what an
INSERT leaves out, and an UPDATE's `onupdate` values what it does not set, as the execution
context would.

The engine's `before_cursor_execute` and `after_cursor_execute` listeners see every statement
run here (core.db's transaction hooks take SQLite's write lock and begin PostgreSQL's transaction
in them; tests count statements with them). A driver error comes out as SQLAlchemy's own
exception, through the connection's error handling: the same exception class, the same
`handle_error` events and, for a lost connection, the same invalidation as `Connection.execute`.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import Connection, Executable, Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
Params = Mapping[str, Any]


class Rendered:
    """One statement in one dialect: its SQL text, how its parameters are passed and processed,
    the defaults it fills in, and each result column's processor."""

    def __init__(self, statement: Any, dialect: Dialect, keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        assert isinstance(compiled, SQLCompiler)
        self.compiled = compiled
        self.sql: str = compiled.string
        self.positions: tuple[str, ...] | None = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        self.defaults = _defaults(compiled)
        self.dialect = dialect
        self.types = [column.type.dialect_impl(dialect) for column in statement.exported_columns]
        self.results: list[Processor] | None = None  # known from the first result's description

    def arguments(self, params: Params) -> Any:
        """The DBAPI parameters for one set of statement parameters."""
        values = self.compiled.construct_params(params)
        for key, default in self.defaults:
            # A callable default is wrapped by SQLAlchemy to take the execution context; ours
            # take none (a default that reads the context would fail here, loudly).
            values[key] = default.arg if default.is_scalar else default.arg(None)
        for name, value in values.items():
            process = self.binds.get(name)
            if process is not None and value is not None:
                values[name] = process(value)
        if self.positions is not None:
            return tuple(values[name] for name in self.positions)
        return values

    def rows(self, found: Sequence[Sequence[Any]], cursor: Any) -> list[tuple[Any, ...]]:
        """Result rows as `Connection.execute` returns them. The processors depend on the driver's
        type codes, as SQLAlchemy's do (PostgreSQL's numeric or float, say): they are worked out
        from the first result's description (which psycopg builds anew each time it is asked)."""
        results = self.results
        if results is None:
            results = self.results = [
                kind.result_processor(self.dialect, column[1])
                for kind, column in zip(self.types, cursor.description, strict=True)
            ]
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(results, raw, strict=True)
            )
            for raw in found
        ]


def _defaults(compiled: SQLCompiler) -> tuple[tuple[str, Any], ...]:
    """The (bind name, default) of each column whose Python-side value the statement takes from
    the execution context: an INSERT's defaults, an UPDATE's onupdate values."""
    found: list[tuple[str, Any]] = []
    for columns, attribute in ((compiled.insert_prefetch, "default"), (compiled.update_prefetch, "onupdate")):
        for column in columns:
            default = getattr(column, attribute)
            if default is None or not (default.is_scalar or default.is_callable):
                raise TypeError(f"{column} has a default that runs SQL; run its statement through SQLAlchemy")
            if column.key not in compiled.binds:
                raise TypeError(f"{column} is not passed as {column.key!r}; run its statement through SQLAlchemy")
            found.append((column.key, default))
    return tuple(found)


def _listeners(connection: Connection, name: str) -> Sequence[Callable[..., Any]]:
    if connection._has_events or connection.engine._has_events:
        return list(getattr(connection.dispatch, name))
    return ()


Fetch = Literal["none", "one", "all"]


def run(
    connection: Connection, rendered: Rendered, arguments: Any, *, many: bool = False, fetch: Fetch = "none"
) -> tuple[int, list[tuple[Any, ...]]]:
    """Run a rendered statement with DBAPI `arguments` (a list of them with `many`) on the
    connection's cursor: its row count, and its rows (the first, or all). A driver error is
    raised as `Connection.execute` raises it: SQLAlchemy's exception (an IntegrityError, say),
    with a lost connection invalidated and the pool emptied."""
    listeners = _listeners(connection, "before_cursor_execute")
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for listener in listeners:
            listener(connection, cursor, rendered.sql, arguments, None, many)
        if many:
            cursor.executemany(rendered.sql, arguments)
        else:
            cursor.execute(rendered.sql, arguments)
        found: Sequence[Any] = ()
        if fetch == "one":
            first = cursor.fetchone()
            found = () if first is None else (first,)
        elif fetch == "all":
            found = cursor.fetchall()
        rows = rendered.rows(found, cursor) if found else []
        count = cursor.rowcount
        for listener in _listeners(connection, "after_cursor_execute"):
            listener(connection, cursor, rendered.sql, arguments, None, many)
    except connection.dialect.loaded_dbapi.Error as exc:
        connection._handle_dbapi_exception(exc, rendered.sql, arguments, cursor, None)
    finally:
        cursor.close()
    return count, rows


class PreparedWrite:
    """An INSERT, UPDATE or DELETE rendered once per dialect (and per set of keys given) and run
    on the connection's cursor: `execute` gives its row count and the rows it returns."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._rendered: dict[tuple[str, tuple[str, ...]], Rendered] = {}

    def rendered(self, dialect: Dialect, keys: tuple[str, ...]) -> Rendered:
        """Rendered for these parameters' keys: an INSERT names the columns given (the others
        take their defaults); any other statement's parameters are its own bind parameters."""
        columns = keys if isinstance(self.statement, Insert) else None
        found = self._rendered.get((dialect.name, columns or ()))
        if found is None:
            found = self._rendered[(dialect.name, columns or ())] = Rendered(self.statement, dialect, columns)
        return found

    def execute(self, connection: Connection, *rows: Params) -> tuple[int, list[tuple[Any, ...]]]:
        """Run it with one set of parameters, or with several (which all give the same keys)."""
        rendered = self.rendered(connection.dialect, tuple(rows[0]))
        if len(rows) == 1:
            return run(connection, rendered, rendered.arguments(rows[0]), fetch="all" if rendered.types else "none")
        if rendered.types:
            raise TypeError("rows returned by a statement run with several sets of parameters are not read")
        return run(connection, rendered, [rendered.arguments(row) for row in rows], many=True)
