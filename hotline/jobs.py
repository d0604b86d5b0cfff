"""Scheduled work for tickets: the overdue sweep (督办)."""

import logging

from flask import current_app
from sqlalchemy import select

from core.db import utcnow
from core.errors import DomainError
from core.jobs import claim_each
from core.scheduler import Job
from hotline import service
from hotline.models import HANDLING_STATUSES, Ticket

log = logging.getLogger("haocha.hotline.jobs")


def sweep_overdue() -> str:
    """Supervise (督办) each overdue ticket once per handling round and notify the managers and
    the lead department, most overdue first. One claimed ticket and one commit at a time
    (core.jobs.claim_each), so two sweeps never supervise the same ticket."""
    now = utcnow()
    overdue = (
        select(Ticket)
        .where(Ticket.status.in_(HANDLING_STATUSES), Ticket.supervised_at.is_(None), service.overdue_clause(now))
        .order_by(Ticket.handle_due_at, Ticket.id)
    )

    def supervise(ticket: Ticket) -> bool:
        try:
            service.make_move("supervise", ticket, None, now=now)
        except DomainError:  # not supervisable after all: nothing to keep
            return False
        return True

    sweep = claim_each(overdue, supervise, int(current_app.config["TICKET_OVERDUE_SWEEP_BATCH"]))
    if sweep.done:
        log.info("overdue sweep: %d tickets supervised", sweep.done)
    return f"{sweep.done} tickets supervised"


JOBS = [Job("hotline.overdue-sweep", sweep_overdue, "TICKET_OVERDUE_SWEEP_SECONDS")]
