"""`flask reporting ...`: the outbox's status, retrying dead letters, and one delivery run by hand."""

from datetime import datetime

import click
from flask.cli import AppGroup

from core.db import db
from core.templating import localtime
from reports.provincial import delivery, service

reporting_cli = AppGroup("reporting", help="Real-time reporting to the provincial platform (实时上报).")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def _when(moment: datetime | None) -> str:
    return localtime(moment) if moment else "-"


@reporting_cli.command("status")
@click.option("--dead-letters", "show", default=20, show_default=True, help="How many dead letters to list.")
def status(show: int) -> None:
    """Backlog, oldest pending report, dead letters."""
    figures = service.status()
    age = figures.oldest_pending_age_seconds()
    click.echo(f"receiver\t{delivery.receiver_label() or 'not configured (the outbox fills; nothing is sent)'}")
    click.echo(f"backlog\t{figures.backlog}")
    click.echo(f"oldest pending\t{_when(figures.oldest_pending_at)}{f' ({_age(age)} ago)' if age is not None else ''}")
    click.echo(f"lag\t{_age(age or 0.0)}")
    click.echo(f"dead letters\t{figures.dead}")
    click.echo(f"blocked by dead letters\t{figures.blocked}")
    click.echo(f"sent\t{figures.sent}")
    click.echo(f"last sent\t{_when(figures.last_sent_at)}")
    for row in service.dead_letters(show) if show > 0 else []:
        click.echo(
            f"dead\t#{row.id}\t{row.kind}\t{row.subject_type}:{row.subject_id}\t{row.attempts}\t{row.last_error}"
        )
    db.session.rollback()


@reporting_cli.command("retry")
@click.option("--id", "ids", type=int, multiple=True, help="Only this dead letter (repeatable).")
@click.option("--waiting", is_flag=True, help="Also send rows that are backing off now, not at their next try.")
def retry(ids: tuple[int, ...], waiting: bool) -> None:
    """Send dead letters again, with a fresh count of tries."""
    changed = service.retry(list(ids) or None, waiting)
    db.session.commit()
    click.echo(f"{changed} reports due again")


@reporting_cli.command("deliver")
def deliver() -> None:
    """Send what is due now, once (the scheduler does this every REPORTING_INTERVAL_SECONDS)."""
    click.echo(delivery.deliver_due().summary())
