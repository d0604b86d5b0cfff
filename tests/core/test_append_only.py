"""Every history table refuses to change or lose a row once it is stored (core.db.AppendOnly)."""

from collections.abc import Callable
from typing import Any

import factories as f
import hotline_factories as hf
import pytest
import ratings_factories as rf
from callbacks_support import bad_rating, staff
from sqlalchemy import inspect, select

from callbacks import service as callbacks_service
from callbacks.models import AttemptResult, Callback, CallbackAttempt, CaseEvent, RectificationCase
from core.db import AppendOnly, AppendOnlyError, Base, ImmutableRecord, db
from hotline.models import TicketEvent
from ratings.models import RatingAuditEvent


def _ticket_event() -> Any:
    ticket = hf.ticket()
    return db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))


def _rating_audit_event() -> Any:
    rating = rf.rate(rf.event(), 3)
    return db.session.scalar(select(RatingAuditEvent).where(RatingAuditEvent.rating_id == rating.id))


def _callback_attempt() -> Any:
    dept = f.department()
    rating = bad_rating(dept)
    callback = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    callbacks_service.record_attempt(callback, staff(dept)["agent"], AttemptResult.WRONG_NUMBER, "空号")
    return callback.attempts[0]


def _case_event() -> Any:
    rating = bad_rating(f.department(), name="", phone="")  # anonymous: a case to verify at once
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    return case.events[0]


# Every append-only table, and how a test gets one stored row of it.
STORED_ROW: dict[type, Callable[[], Any]] = {
    TicketEvent: _ticket_event,
    RatingAuditEvent: _rating_audit_event,
    CallbackAttempt: _callback_attempt,
    CaseEvent: _case_event,
}


def _append_only_models() -> set[type]:
    found: set[type] = set()
    pending = list(AppendOnly.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return {cls for cls in found if issubclass(cls, Base) and hasattr(cls, "__table__")}


def test_the_known_list_is_every_append_only_model(app):
    assert _append_only_models() == set(STORED_ROW)


def _first_text_column(model: type) -> str:
    for name in ("note", "detail"):
        if name in inspect(model).columns:
            return name
    raise AssertionError(f"{model.__name__}: no text column to tamper with")


@pytest.mark.parametrize("model", list(STORED_ROW), ids=lambda m: m.__name__)
def test_a_stored_row_refuses_update_and_delete(database, model):
    row = STORED_ROW[model]()
    assert isinstance(row, model)
    db.session.commit()
    row_id, column = row.id, _first_text_column(model)

    setattr(row, column, "tampered")
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    assert getattr(db.session.get(model, row_id), column) != "tampered"

    db.session.delete(db.session.get(model, row_id))
    with pytest.raises(AppendOnlyError) as refused:
        db.session.flush()
    assert isinstance(refused.value, ImmutableRecord)
    db.session.rollback()
    assert db.session.get(model, row_id) is not None
