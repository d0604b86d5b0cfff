"""Listeners: every bad review and every closed ticket gets its callback, in the same transaction
as the rating or the closing (the sender has flushed; nobody commits here)."""

from typing import TYPE_CHECKING, Any

from callbacks import service
from core.signals import rating_recorded, ticket_closed

if TYPE_CHECKING:
    from hotline.models import Ticket
    from ratings.models import Rating


def on_rating_recorded(_sender: Any, rating: "Rating", stored_now: bool = False, **_kw: Any) -> None:
    if rating.assess_number == 1 and (rating.is_bad_review or rating.hidden_bad):
        service.schedule_verification(rating, first=stored_now)


def on_ticket_closed(_sender: Any, ticket: "Ticket", **_kw: Any) -> None:
    service.schedule_ticket_satisfaction(ticket)


def connect() -> None:
    rating_recorded.connect(on_rating_recorded)
    ticket_closed.connect(on_ticket_closed)
