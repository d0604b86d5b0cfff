"""Listeners: a closed 12345 ticket opens a service event for its caller, in the closing's
transaction (the sender has flushed; nobody commits here)."""

from typing import Any

from core.signals import ticket_closed
from ratings import delivery, service
from ratings.models import Channel


def on_ticket_closed(_sender: Any, ticket: Any, **_kw: Any) -> None:
    issued = service.open_event_for_ticket(ticket)
    delivery.send_rating_link(issued.event, f"{issued.rate_url}?ch={int(Channel.SMS)}")


def connect() -> None:
    ticket_closed.connect(on_ticket_closed)
