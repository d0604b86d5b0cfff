"""Domain signals. Upstream packages announce what happened; downstream ones listen and act
inside the same transaction (the sender flushes; nobody commits in a receiver)."""

from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from blinker import Namespace

T = TypeVar("T")

_signals = Namespace()

# sender: the app; kwargs: rating=<ratings.models.Rating>, stored_now=<bool: the rating's row was
# inserted in this transaction, so nothing refers to it yet (a held rating confirmed later: False)>
rating_recorded = _signals.signal("rating-recorded")
# sender: the app; kwargs: rating=<ratings.models.Rating, built and not yet stored>,
# event=<its ratings.models.ServiceEvent>. Sent before the rating's first write, for a rating that
# `rating_recorded` will announce in the same transaction: a receiver does here the work that
# needs no database (a report's payload, a deadline from the calendar) and keeps it for its
# `rating_recorded` receiver (`Prepared`), so the write transaction (SQLite's write lock) holds
# only the writes. A receiver of `rating_recorded` must still work for a rating never prepared.
rating_prepared = _signals.signal("rating-prepared")
# sender: the app; kwargs: ticket=<hotline.models.Ticket>
ticket_closed = _signals.signal("ticket-closed")
# sender: the app; kwargs: callback=<callbacks.models.Callback> (done or unreachable)
callback_completed = _signals.signal("callback-completed")
# sender: the app; kwargs: case=<callbacks.models.RectificationCase>
case_accepted = _signals.signal("case-accepted")
# sender: the app; kwargs: appeal=<ratings.models.RatingAppeal>, rating=<ratings.models.Rating>
appeal_decided = _signals.signal("appeal-decided")


class Prepared(Generic[T]):
    """What a receiver worked out for an object when it was prepared, until it is recorded: held
    weakly, so an object whose write failed (a 409) takes its entry with it."""

    def __init__(self) -> None:
        self._held: WeakKeyDictionary[object, T] = WeakKeyDictionary()

    def keep(self, obj: object, value: T) -> None:
        self._held[obj] = value

    def take(self, obj: object) -> T | None:
        """The value kept for `obj` (once: it is forgotten), or None."""
        return self._held.pop(obj, None)
