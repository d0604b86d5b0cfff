"""Listeners: every bad review and every closed ticket gets its callback, in the same transaction
as the rating or the closing (the sender has flushed; nobody commits here)."""

from typing import TYPE_CHECKING, Any

from callbacks import service
from core.calendar import Deadline
from core.signals import Prepared, rating_prepared, rating_recorded, ticket_closed

if TYPE_CHECKING:
    from hotline.models import Ticket
    from ratings.models import Rating


_deadlines: Prepared[Deadline] = Prepared()


def on_rating_prepared(_sender: Any, rating: "Rating", **_kw: Any) -> None:
    """A bad review's callback deadline, from the calendar, before the rating's write transaction."""
    if service.needs_verification(rating):
        _deadlines.keep(rating, service.verification_deadline(rating))


def on_rating_recorded(_sender: Any, rating: "Rating", stored_now: bool = False, **_kw: Any) -> None:
    deadline = _deadlines.take(rating)
    if service.needs_verification(rating):
        service.schedule_verification(rating, first=stored_now, deadline=deadline)


def on_ticket_closed(_sender: Any, ticket: "Ticket", **_kw: Any) -> None:
    service.schedule_ticket_satisfaction(ticket)


def connect() -> None:
    rating_prepared.connect(on_rating_prepared)
    rating_recorded.connect(on_rating_recorded)
    ticket_closed.connect(on_ticket_closed)
