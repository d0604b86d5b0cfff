"""`flask stats rebuild`: recompute the rollups from the raw ratings."""

import click
from flask.cli import AppGroup

from core.db import db
from reports.stats import service

stats_cli = AppGroup("stats", help="Satisfaction statistics.")


@stats_cli.command("rebuild")
def rebuild() -> None:
    """Recompute the rating rollups from the raw rows (after a bulk load or a repair)."""
    rows = service.rebuild_rollups()
    db.session.commit()
    click.echo(f"{rows} rollup rows")
