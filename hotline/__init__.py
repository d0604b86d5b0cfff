"""hotline: 12345 tickets (工单) — intake, dispatch, handling, deadlines and the closed loop."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api

from core.demo import register_demo_loader
from core.models import Role
from core.notify import register_subject_link
from core.pages import add_nav_link
from core.scheduler import add_jobs


def init_app(app: Flask, api: Api) -> None:
    """Register the API, the pages, the demo loader, the overdue sweep, the home-page links and
    where a ticket's notifications link to."""
    from hotline import demo, jobs, models, pages, views  # noqa: F401 - models register the tables

    api.register_blueprint(views.blp)
    app.register_blueprint(pages.bp)
    register_demo_loader("tickets", demo.load_tickets)
    add_jobs(app, jobs.JOBS)
    add_nav_link("hotline_pages.intake", _l("New ticket"), Role.AGENT.value, Role.MANAGER.value)
    add_nav_link("hotline_pages.worklist", _l("My worklist"), Role.AGENT.value, Role.MANAGER.value)
    add_nav_link("hotline_pages.department_queue", _l("Department queue"), Role.HANDLER.value)
    add_nav_link("hotline_pages.search", _l("All tickets"), Role.AGENT.value, Role.MANAGER.value, Role.HANDLER.value)
    register_subject_link("ticket", pages.ticket_link)  # a ticket's notifications link to its page
