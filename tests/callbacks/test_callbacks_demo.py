"""The demo's history of callbacks and cases (callbacks/demo.py), as `flask demo load` leaves it."""

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select

from callbacks import demo
from callbacks.jobs import overdue_unescalated_callbacks, overdue_unescalated_cases
from callbacks.models import (
    Callback,
    CallbackAttempt,
    CallbackStatus,
    CaseEvent,
    CaseStatus,
    Purpose,
    RectificationCase,
)
from core.calendar import deadline_after, local_date
from core.db import db, utcnow
from hotline.models import Ticket, TicketEvent
from ratings.models import Rating, RatingStatus
from reports.stats.funnel import FunnelFilters, funnel
from reports.stats.kpis import KpiFilters, kpis

FULL_MOBILE = re.compile(r"1[3-9]\d{9}")


def _count(stmt):
    return int(db.session.scalar(stmt) or 0)


def _closing_called_about(callback):
    """A dissatisfied answer was about the first reply (the ticket was reopened), any other about
    the ticket's current closing."""
    if callback.outcome in ("level_1", "level_2"):
        first_reply = select(func.min(TicketEvent.created_at)).where(
            TicketEvent.ticket_id == callback.subject_id, TicketEvent.move == "reply"
        )
        return db.session.scalar(first_reply)
    return db.session.get(Ticket, callback.subject_id).closed_at


def test_every_bad_review_and_closed_ticket_gets_its_history(runner):
    result = runner.invoke(args=["demo", "load", "--tickets", "300", "--ratings", "3000", "--seed", "5"])
    assert result.exit_code == 0, result.output
    now = utcnow()

    bad = select(Rating.id).where(
        Rating.assess_number == 1,
        Rating.status == RatingStatus.VALID,
        or_(Rating.is_bad_review.is_(True), Rating.hidden_bad.is_(True)),
    )
    bad_ids = set(db.session.scalars(bad))
    verify = set(db.session.scalars(select(Callback.rating_id).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW)))
    cased = set(db.session.scalars(select(RectificationCase.rating_id)))
    assert bad_ids and bad_ids <= verify | cased
    # Anonymous bad reviews go to the department as cases; with a phone, a callback comes first.
    anonymous = set(db.session.scalars(bad.where(Rating.contact_phone == "")))
    assert anonymous.isdisjoint(verify)

    closed = set(db.session.scalars(select(Ticket.id).where(Ticket.closed_at.is_not(None))))
    reopened = set(db.session.scalars(select(Ticket.id).where(Ticket.reopen_count > 0)))
    satisfaction = select(Callback.subject_id).where(Callback.purpose == Purpose.TICKET_SATISFACTION)
    assert closed and reopened and closed | reopened == set(db.session.scalars(satisfaction))
    # Reopened tickets, and only they, had a callback that heard a dissatisfied caller.
    dissatisfied = select(Callback.subject_id).where(
        Callback.purpose == Purpose.TICKET_SATISFACTION, Callback.outcome.in_(("level_1", "level_2"))
    )
    assert set(db.session.scalars(dissatisfied)) == reopened

    # Deadlines are the rules' own; what ended, ended in the past, and on_time says so truly.
    for callback in db.session.scalars(select(Callback)):
        start = {
            Purpose.VERIFY_BAD_REVIEW: lambda c: c.rating.created_at,
            Purpose.TICKET_SATISFACTION: _closing_called_about,
            Purpose.RECTIFICATION_REPORT: lambda c: c.case.accepted_at,
        }[callback.purpose](callback)
        assert callback.due_at == deadline_after(start, 1).due_at
        if callback.status == CallbackStatus.PENDING:
            assert callback.completed_at is None and callback.on_time is None
        else:
            assert start <= callback.completed_at <= now
            assert callback.attempts and all(callback.created_at <= a.created_at <= now for a in callback.attempts)
            # The service's rule: done by the deadline, or (unreachable) first tried by it.
            first_try = min(a.created_at for a in callback.attempts)
            if callback.status == CallbackStatus.DONE:
                assert callback.on_time == (callback.completed_at <= callback.due_at)
            else:
                assert callback.on_time == (first_try <= callback.due_at)
        if callback.purpose == Purpose.RECTIFICATION_REPORT:
            assert callback.contact_phone  # nobody to call: published on acceptance instead
    # What was overdue then was escalated then: a new server's sweep finds no history to escalate.
    waiting: list[Any] = list(db.session.scalars(overdue_unescalated_callbacks()))
    waiting += list(db.session.scalars(overdue_unescalated_cases()))
    assert all(item.due_at > now - demo.ESCALATED_AFTER for item in waiting)
    escalated: list[Any] = list(db.session.scalars(select(Callback).where(Callback.escalated_at.is_not(None))))
    escalated += db.session.scalars(select(RectificationCase).where(RectificationCase.escalated_at.is_not(None)))
    assert all(item.due_at < item.escalated_at <= now for item in escalated)
    statuses = dict(db.session.execute(select(Callback.status, func.count()).group_by(Callback.status)).all())
    assert statuses[CallbackStatus.DONE] > statuses.get(CallbackStatus.UNREACHABLE, 0) > 0
    assert statuses[CallbackStatus.PENDING] > 0

    # Cases at every stage, each step in its trail, in order; published ones are masked.
    stages = set(db.session.scalars(select(RectificationCase.status)))
    assert {CaseStatus.OPEN, CaseStatus.PUBLISHED, CaseStatus.DISMISSED} <= stages
    for case in db.session.scalars(select(RectificationCase).limit(300)):
        trail = [(e.to_status, e.created_at) for e in case.events]
        assert trail[-1][0] == case.status.value
        assert [at for _, at in trail] == sorted(at for _, at in trail)
        if case.accepted_at is not None:
            assert case.accepted_on_time == (case.accepted_at <= case.due_at)
            assert case.due_at == deadline_after(case.opened_at, 15).due_at
        if case.status == CaseStatus.PUBLISHED:
            assert case.published_at <= now and case.public_action
            assert not FULL_MOBILE.search(case.public_phone + case.public_review)

    # The KPIs and the funnel now have something to count.
    today = local_date(now)
    figures = kpis(KpiFilters(today - timedelta(days=89), today))
    for name in ("bad_review_callback_timeliness", "rectification_on_time", "resolution_rate"):
        assert figures[name]["denominator"] > 0, name
        assert 0.5 < figures[name]["rate"] < 1, name
    flow = funnel(FunnelFilters(today - timedelta(days=89), today))["stages"]
    assert flow["bad"] >= flow["followed_up"] >= flow["confirmed"] > 0
    assert flow["rectifying"] >= flow["accepted"] >= flow["published"] > 0


def test_the_history_is_added_once(runner):
    assert runner.invoke(args=["demo", "load", "--tickets", "80", "--ratings", "800", "--seed", "3"]).exit_code == 0
    tables = (Callback, CallbackAttempt, RectificationCase, CaseEvent)
    before = [_count(select(func.count()).select_from(model)) for model in tables]
    assert demo.load_demo_history() == 0
    assert [_count(select(func.count()).select_from(model)) for model in tables] == before
