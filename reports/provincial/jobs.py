"""The reporting jobs: delivery (commits per round, see delivery.deliver_due) and retention
(commits per batch). Both are thin and idempotent."""

import logging
import time
from datetime import datetime, timedelta

from flask import current_app

from core.db import db, set_write_intent, utcnow
from core.scheduler import Job
from reports.provincial import delivery, service

log = logging.getLogger("haocha.reporting")

JOB_NAME = "reports.provincial-delivery"
RETENTION_JOB_NAME = "reports.provincial-retention"
RETENTION_INTERVAL_SECONDS = 3600
PRUNE_BATCH_SIZE = 1000
# One retention tick deletes for at most this long; a large first prune spreads over a few ticks.
PRUNE_BUDGET_SECONDS = 120.0


class QuietOverlaps(logging.Filter):
    """The delivery run stays for its whole budget, so it overlaps its own next few ticks by design
    and APScheduler skips them; its warning for every skipped tick would only be noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (f'"{JOB_NAME} (' in message and "maximum number of running instances" in message)


def quiet_overlaps() -> None:
    """Install the filter once on APScheduler's logger."""
    logger = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(existing, QuietOverlaps) for existing in logger.filters):
        logger.addFilter(QuietOverlaps())


def deliver_reports() -> str:
    """Send what is due to the provincial platform; idles without REPORTING_URL. Warns while the
    oldest owed report is older than REPORTING_LAG_WARNING_SECONDS."""
    # The run stays for its whole budget, so a report written now goes out now, not at the next tick.
    report = delivery.deliver_due(linger=True)
    if report.idle:
        return report.summary()
    lag = service.lag_seconds()
    threshold = float(current_app.config["REPORTING_LAG_WARNING_SECONDS"])
    if lag > threshold:
        log.warning(
            "provincial reporting is %.0f s behind (over %.0f s): backlog %s", lag, threshold, service.backlog()
        )
    db.session.rollback()
    return f"{report.summary()}, lag {lag:.0f}s"


def prune_reports(now: datetime | None = None) -> str:
    """Delete acknowledged rows older than REPORTING_RETENTION_DAYS, in batches (0 keeps them all)."""
    days = int(current_app.config["REPORTING_RETENTION_DAYS"])
    if days <= 0:
        return "kept: REPORTING_RETENTION_DAYS is 0"
    set_write_intent(True)
    before = (now or utcnow()) - timedelta(days=days)
    pruned = 0
    started = time.monotonic()
    while time.monotonic() - started < PRUNE_BUDGET_SECONDS:
        deleted = service.prune_sent(before, PRUNE_BATCH_SIZE)
        db.session.commit()
        pruned += deleted
        if deleted < PRUNE_BATCH_SIZE:
            break
    return f"pruned {pruned}"


JOBS = [
    Job(JOB_NAME, deliver_reports, "REPORTING_INTERVAL_SECONDS"),
    Job(RETENTION_JOB_NAME, prune_reports, RETENTION_INTERVAL_SECONDS),
]
