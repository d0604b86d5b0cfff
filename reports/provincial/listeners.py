"""Signal receivers: every rating, callback outcome, accepted rectification and appeal decision
writes its outbox row in the sender's transaction (the sender has flushed; nobody commits here)."""

from typing import Any

from callbacks.models import Callback, RectificationCase
from core.signals import Prepared, appeal_decided, callback_completed, case_accepted, rating_prepared, rating_recorded
from ratings.models import Rating, RatingAppeal, ServiceEvent
from reports.provincial import service

_reports: Prepared[service.RatingReport] = Prepared()


def on_rating_prepared(_sender: Any, rating: Rating, event: ServiceEvent, **_kw: Any) -> None:
    """The report's payload (its text scrubbed) before the rating's write transaction."""
    _reports.keep(rating, service.rating_report(rating, event, event.department, event.service_item))


def on_rating_recorded(_sender: Any, rating: Rating, **_kw: Any) -> None:
    service.enqueue_rating(rating, _reports.take(rating))


def on_callback_completed(_sender: Any, callback: Callback, **_kw: Any) -> None:
    service.enqueue_callback(callback)


def on_case_accepted(_sender: Any, case: RectificationCase, **_kw: Any) -> None:
    service.enqueue_rectification(case)


def on_appeal_decided(_sender: Any, appeal: RatingAppeal, rating: Rating | None = None, **_kw: Any) -> None:
    service.enqueue_appeal(appeal, rating)


def connect() -> None:
    """Idempotent: blinker keeps one connection per receiver however often an app is created."""
    rating_prepared.connect(on_rating_prepared)
    rating_recorded.connect(on_rating_recorded)
    callback_completed.connect(on_callback_completed)
    case_accepted.connect(on_case_accepted)
    appeal_decided.connect(on_appeal_decided)
