"""Domain signals. Upstream packages announce what happened; downstream ones listen and act
inside the same transaction (the sender flushes; nobody commits in a receiver)."""

from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: rating=<ratings.models.Rating>
rating_recorded = _signals.signal("rating-recorded")
# sender: the app; kwargs: ticket=<hotline.models.Ticket>
ticket_closed = _signals.signal("ticket-closed")
