"""`flask stats rebuild`: recompute the rollups from the raw ratings; `flask stats fold`: fold
the queued rating changes now (what the `reports.stats-fold` job does)."""

import click
from flask.cli import AppGroup

from core.db import db
from reports.stats import fold as folding
from reports.stats import service

stats_cli = AppGroup("stats", help="Satisfaction statistics.")


@stats_cli.command("rebuild")
def rebuild() -> None:
    """Recompute the rating rollups from the raw rows (after a bulk load or a repair)."""
    rows = service.rebuild_rollups()
    db.session.commit()
    click.echo(f"{rows} rollup rows")


@stats_cli.command("fold")
def fold() -> None:
    """Fold the queued rating changes into the rollups now."""
    click.echo(f"{folding.fold()} changes folded")
