"""Listeners: a closed 12345 ticket opens a service event for its caller, in the closing's
transaction (the sender has flushed; nobody commits here), and its rating link goes into the
outbox for the caller's own number (core.messages sends it after commit)."""

from typing import Any

from core.signals import ticket_closed
from ratings import status, tokens


def on_ticket_closed(_sender: Any, ticket: Any, **_kw: Any) -> None:
    tokens.send_satisfaction_link(tokens.open_event_for_ticket(ticket))
    status.issue_for_ticket(ticket)


def connect() -> None:
    ticket_closed.connect(on_ticket_closed)
