"""实时上报: real-time reporting of ratings, callback outcomes, rectifications and appeal decisions
to the provincial 好差评 platform, through a transactional outbox (see docs/reporting.md)."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api

from core.metrics import register_gauge
from core.models import Role
from core.pages import add_health_figure, add_nav_link
from core.scheduler import add_jobs


def init_app(app: Flask, api: Api) -> None:
    """Listen for the domain signals, schedule delivery, add the CLI, the page, the API and figures."""
    from reports.provincial import cli, jobs, listeners, models, pages, service, views  # noqa: F401 - models: tables

    listeners.connect()
    add_jobs(app, jobs.JOBS)
    jobs.quiet_overlaps()
    app.register_blueprint(pages.bp)
    api.register_blueprint(views.blp)
    app.cli.add_command(cli.reporting_cli)
    add_nav_link("reporting_pages.status_page", _l("Provincial reporting"), Role.ADMIN.value, Role.MANAGER.value)
    add_health_figure("reporting_backlog", service.backlog)
    add_health_figure("reporting_lag_seconds", service.lag_seconds)
    register_gauge("outbox_backlog", "Reports owed to the provincial platform (pending outbox rows).", service.backlog)
    register_gauge(
        "outbox_lag_seconds", "Age of the oldest report owed to the provincial platform (0: none).", service.lag_seconds
    )
    register_gauge("outbox_dead_letters", "Reports that gave up after the last try (dead letters).", service.dead_count)
