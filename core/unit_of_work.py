"""One commit point per request (DESIGN.md "Transactions and time"; indico's `RH.process`).

A request's writes are one unit of work: the app commits it once, after the view has returned
(and rendered or serialised its answer), and rolls it back on any error or any answer of 400 or
more. Views, pages and
services never commit by hand. A page that catches a domain error to show it calls `discard()`:
whatever the failed step flushed is rolled back and nothing of the request is committed.

Safe methods (GET, HEAD, OPTIONS) never write: a safe request that leaves changes behind is
rolled back, logged as the bug it is, and fails outright under test.
"""

import logging
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import WROTE, db

log = logging.getLogger("haocha.unit_of_work")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SafeMethodWrote(RuntimeError):
    """A GET (or HEAD) changed the database: it must not."""


def discard() -> None:
    """Abandon this request's unit of work: roll back now, commit nothing at the end."""
    g.unit_discarded = True
    db.session.rollback()


def _wrote(session: Session) -> bool:
    return bool(session.info.get(WROTE) or session.new or session.dirty or session.deleted)


def finish(succeeded: bool = True) -> None:
    """End the request's unit of work: commit a write request's changes when it succeeded (an
    answer under 400), or roll back."""
    session = db.session
    if g.pop("unit_discarded", False) or not succeeded:
        session.rollback()
    elif request.method in SAFE_METHODS:
        if _wrote(session()):
            session.rollback()
            message = f"{request.method} {request.path} wrote to the database; safe methods never write"
            if current_app.testing:
                raise SafeMethodWrote(message)
            log.error(message)
    else:
        session.commit()
    session().info.pop(WROTE, None)


def _mark_flush(session: Session, _context: Any) -> None:
    if session.new or session.dirty or session.deleted:
        session.info[WROTE] = True


def _clear_mark(session: Session, *_args: Any) -> None:
    session.info.pop(WROTE, None)


_connected = False


class UnitOfWorkFlask(Flask):
    """Flask, with the request's unit of work committed once after the view returns."""

    def dispatch_request(self) -> Any:
        answer = self.make_response(super().dispatch_request())
        finish(succeeded=answer.status_code < 400)
        return answer

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """As Flask's, remembering which functions are coroutines: Flask asks `inspect` again for
        every hook and view of every request (fifteen times a request here). A method is
        remembered by its function, so a view's new bound method per request adds nothing."""
        key = getattr(func, "__func__", func)
        try:
            is_async = _COROUTINES.get(key)
        except TypeError:  # an unhashable callable: ask every time, as Flask does
            is_async = None
            key = None
        if is_async is None:
            is_async = iscoroutinefunction(func)
            if key is not None and len(_COROUTINES) < COROUTINES_KEPT:
                _COROUTINES[key] = is_async
        return self.async_to_sync(func) if is_async else func


COROUTINES_KEPT = 4096
_COROUTINES: dict[Any, bool] = {}


def init_unit_of_work(_app: Flask) -> None:
    """Watch flushes, so a safe request that flushed a write (and so shows no pending change)
    is still caught."""
    global _connected
    if _connected:
        return
    event.listen(Session, "before_flush", lambda s, _c, _i: _mark_flush(s, _c))
    event.listen(Session, "after_commit", _clear_mark)
    event.listen(Session, "after_soft_rollback", _clear_mark)
    _connected = True
