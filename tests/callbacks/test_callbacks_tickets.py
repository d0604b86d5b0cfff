"""A closed ticket gets its satisfaction callback; 不满意 reopens it and records a bad rating
that follows the bad-review path."""

import factories as f
import hotline_factories as hf
from sqlalchemy import select

from callbacks import service
from callbacks.models import AttemptResult, Callback, CallbackStatus, Purpose
from core.db import db
from core.models import Role
from hotline.models import TicketStatus
from ratings.models import Rating


def _satisfaction_callback(ticket) -> Callback:
    return db.session.scalar(
        select(Callback).where(
            Callback.purpose == Purpose.TICKET_SATISFACTION,
            Callback.subject_type == "ticket",
            Callback.subject_id == ticket.id,
        )
    )


def test_closing_a_ticket_schedules_its_satisfaction_callback(database):
    ticket, _handler = hf.closed()
    callback = _satisfaction_callback(ticket)
    assert callback is not None and callback.status == CallbackStatus.PENDING
    assert callback.contact_phone == "13812345678"
    assert callback.due_at > ticket.closed_at


def test_dissatisfied_answer_reopens_the_ticket_and_starts_the_bad_review_path(database):
    dept = f.department()
    ticket, _handler = hf.closed(dept)
    agent = f.user(Role.AGENT)
    callback = _satisfaction_callback(ticket)
    service.record_attempt(
        callback, agent, AttemptResult.REACHED, answer=service.Answer(level=2, comment="问题根本没解决")
    )
    db.session.commit()
    assert callback.status == CallbackStatus.DONE
    assert ticket.status == TicketStatus.DISPATCHED and ticket.reopen_count == 1
    rating = db.session.scalar(select(Rating).order_by(Rating.id.desc()))
    assert rating.level == 2 and rating.channel == 8 and rating.is_bad_review
    assert rating.department_id == dept.id
    verify = db.session.scalar(
        select(Callback).where(Callback.rating_id == rating.id, Callback.purpose == Purpose.VERIFY_BAD_REVIEW)
    )
    assert verify is not None and verify.contact_phone == "13812345678"


def test_satisfied_answer_records_the_callback_on_the_ticket(database):
    ticket, _handler = hf.closed()
    agent = f.user(Role.AGENT)
    service.record_attempt(_satisfaction_callback(ticket), agent, AttemptResult.REACHED, answer=service.Answer(level=5))
    db.session.commit()
    assert ticket.status == TicketStatus.CALLED_BACK
    assert db.session.scalar(select(Rating).order_by(Rating.id.desc())).level == 5


def test_satisfaction_answer_needs_a_level(database):
    import pytest

    from core.errors import ValidationFailed

    ticket, _handler = hf.closed()
    with pytest.raises(ValidationFailed):
        service.record_attempt(_satisfaction_callback(ticket), f.user(Role.AGENT), AttemptResult.REACHED)
