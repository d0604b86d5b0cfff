"""What a citizen reads on their status page (/status/<token>): the timeline of their rating
— callback, case, the department's accepted report, publication, the 追评 — or of their 12345
ticket. It reads across the flow (ratings, callbacks, hotline), so it lives here, downstream of
all three; the status links themselves are issued by ratings (ratings/status.py)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.db import db
from core.errors import Conflict, NotFound
from core.templating import localtime
from hotline.models import Ticket, TicketEvent
from ratings.models import Rating, ServiceEvent
from ratings.recording import issue_follow_up_token
from ratings.status import StatusLink
from ratings.tokens import event_rating, service_event_for_ticket


@dataclass
class Step:
    title: Any
    at: datetime | None = None
    detail: Any = ""
    done: bool = True


@dataclass
class StatusView:
    reference: str
    rating: Rating
    event: ServiceEvent
    steps: list[Step] = field(default_factory=list)
    report: str = ""  # the department's report, as published
    follow_up_open: bool = False
    follow_up_level: int | None = None


@dataclass
class TicketView:
    reference: str
    steps: list[Step] = field(default_factory=list)
    rating_level: int | None = None


# A ticket's moves as the caller may read them: where it went and when; never who or why.
TICKET_STEPS: dict[str, Any] = {
    "dispatched": _l("Sent to %(department)s to handle"),
    "taken": _l("%(department)s took it on"),
    "closed": _l("Replied and closed"),
    "called_back": _l("We called you back about it"),
}


def ticket_view(link: StatusLink) -> TicketView:
    """The public timeline of a 12345 ticket: accepted, dispatched to which department, taken,
    replied and closed, called back — department names and times only (read-only)."""

    view = TicketView(link.reference)
    ticket = db.session.get(Ticket, link.ticket_id)
    if ticket is None:
        return view
    view.steps.append(Step(_l("Your request was accepted"), ticket.created_at))
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.created_at, TicketEvent.id)
    )
    for event in events:
        title = TICKET_STEPS.get(event.to_status.value)
        if title is not None:
            department = event.department.name if event.department else str(_l("the responsible department"))
            view.steps.append(Step(_format(title, department), event.created_at))
    service_event = service_event_for_ticket(ticket.id)
    rating = event_rating(service_event) if service_event is not None else None
    if rating is not None:
        view.rating_level = rating.level
        view.steps.append(Step(_l("You rated how it was handled"), rating.created_at))
    return view


def _format(title: Any, department: Any) -> str:
    text = str(title)
    return text % {"department": department} if "%(department)s" in text else text


def status_view(link: StatusLink) -> StatusView:
    """The timeline of a rating as its rater may read it (read-only)."""

    rating = link.rating
    if rating is None:  # a ticket's link: ticket_view reads it
        raise NotFound("Status link not found.")
    view = StatusView(link.reference, rating, rating.event)
    view.steps.append(Step(_l("We received your rating"), rating.created_at))
    callback = db.session.scalar(
        select(Callback).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW, Callback.rating_id == rating.id)
    )
    if callback is not None:
        view.steps.append(
            Step(_l("Call back scheduled"), callback.created_at, _l("due by %(when)s", when=_local(callback.due_at)))
        )
        if callback.status == CallbackStatus.DONE:
            view.steps.append(Step(_l("We called you back"), callback.completed_at))
        elif callback.status == CallbackStatus.UNREACHABLE:
            view.steps.append(Step(_l("We could not reach you by phone"), callback.completed_at))
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    if case is not None:
        if case.status == CaseStatus.DISMISSED:
            view.steps.append(Step(_l("The check found no problem to put right"), case.opened_at or case.created_at))
        else:
            view.steps.append(
                Step(
                    _l("Rectification case opened"),
                    case.opened_at or case.created_at,
                    _l("Responsible department: %(name)s", name=case.department.name),
                )
            )
        if case.accepted_at is not None:
            view.steps.append(Step(_l("The department's report was accepted"), case.accepted_at))
        if case.status == CaseStatus.PUBLISHED:
            view.steps.append(Step(_l("Published on the public feedback board"), case.published_at))
            view.report = case.public_action
            follow_up = event_rating(rating.event, 2)
            if follow_up is None:
                view.follow_up_open = True
            else:
                view.follow_up_level = follow_up.level
                view.steps.append(Step(_l("You gave your follow-up rating"), follow_up.created_at))
        elif case.status != CaseStatus.DISMISSED:
            view.steps.append(Step(_l("The department is putting it right"), None, done=False))
    elif callback is not None and callback.status == CallbackStatus.PENDING:
        view.steps.append(Step(_l("Waiting for the call back"), None, done=False))
    return view


def _local(moment: datetime) -> str:
    return localtime(moment)


def follow_up_token(link: StatusLink) -> str:
    """A fresh 追评 token for the rater holding the status link, once the case is published and
    no 追评 was given (the one sent by message stops working: only the newest is valid)."""
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == link.rating_id))
    if link.rating is None or case is None or case.status != CaseStatus.PUBLISHED:
        raise Conflict("The follow-up rating opens once the case is published.")
    return issue_follow_up_token(link.rating).token
