"""Domain signals. Upstream packages announce what happened; downstream ones listen and act
inside the same transaction (the sender flushes; nobody commits in a receiver)."""

from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: rating=<ratings.models.Rating>, stored_now=<bool: the rating's row was
# inserted in this transaction, so nothing refers to it yet (a held rating confirmed later: False)>
rating_recorded = _signals.signal("rating-recorded")
# sender: the app; kwargs: ticket=<hotline.models.Ticket>
ticket_closed = _signals.signal("ticket-closed")
# sender: the app; kwargs: callback=<callbacks.models.Callback> (done or unreachable)
callback_completed = _signals.signal("callback-completed")
# sender: the app; kwargs: case=<callbacks.models.RectificationCase>
case_accepted = _signals.signal("case-accepted")
# sender: the app; kwargs: appeal=<ratings.models.RatingAppeal>, rating=<ratings.models.Rating>
appeal_decided = _signals.signal("appeal-decided")
