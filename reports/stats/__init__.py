"""Satisfaction statistics: rollups folded by a job from the queue of rating changes, the
statistics API and the rebuild command (see docs/statistics.md)."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from flask_babel import lazy_gettext as _l

    from core.demo import register_demo_finisher
    from core.pages import add_nav_link
    from core.scheduler import add_jobs
    from reports.stats import cli, jobs, listeners, models, pages, service, views  # noqa: F401 - models: tables

    listeners.connect()
    api.register_blueprint(views.blp)
    api.register_blueprint(views.public_blp)
    app.register_blueprint(pages.bp)
    add_nav_link("stats_pages.dashboard", _l("Satisfaction dashboard"), "manager", "admin", "handler")
    app.cli.add_command(cli.stats_cli)
    register_demo_finisher("stats_rollups", service.rebuild_rollups)
    add_jobs(app, jobs.JOBS)

    @app.context_processor
    def public_board() -> dict[str, object]:
        """`public_satisfaction()` for the feedback board's include (computed only if called)."""
        from core.calendar import local_date
        from core.db import utcnow

        return {"public_satisfaction": lambda: service.public_board(local_date(utcnow()))}
