"""Scheduled work for tickets: the overdue sweep (督办)."""

import logging

from flask import current_app
from sqlalchemy import select

from core.db import db, is_postgresql, utcnow
from core.errors import DomainError
from hotline import service
from hotline.models import Ticket

log = logging.getLogger("haocha.hotline.jobs")


def sweep_overdue() -> str:
    """Supervise (督办) each overdue ticket once per handling round and notify the managers and
    the lead department. One commit per ticket; on PostgreSQL rows are claimed with
    FOR UPDATE SKIP LOCKED, so two sweeps never supervise the same ticket."""
    now = utcnow()
    done = 0
    for ticket_id in service.overdue_unsupervised_ids(now, current_app.config["TICKET_OVERDUE_SWEEP_BATCH"]):
        stmt = select(Ticket).where(Ticket.id == ticket_id)
        if is_postgresql():
            stmt = stmt.with_for_update(skip_locked=True)
        ticket = db.session.scalar(stmt)
        if ticket is None:  # another sweep holds it
            db.session.rollback()
            continue
        try:
            service.make_move("supervise", ticket, None, now=now)
        except DomainError:  # answered or supervised meanwhile
            db.session.rollback()
            continue
        db.session.commit()
        done += 1
    if done:
        log.info("overdue sweep: %d tickets supervised", done)
    return f"{done} tickets supervised"
