"""回访 and 整改: callbacks for every bad review and closed ticket, rectification by the
responsible department, and the public feedback board."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api

STATUS_LABELS = {
    "to_verify": _l("To verify"),
    "open": _l("Being rectified"),
    "submitted": _l("Awaiting acceptance"),
    "accepted": _l("Report accepted"),
    "published": _l("Published"),
    "dismissed": _l("Dismissed"),
}


def case_status_label(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))


def init_app(app: Flask, api: Api) -> None:
    from callbacks import demo, jobs, listeners, pages, views
    from core.demo import register_demo_finisher
    from core.pages import add_nav_link

    api.register_blueprint(views.blp)
    api.register_blueprint(views.public_blp)
    app.register_blueprint(pages.bp)
    app.jinja_env.globals["case_status_label"] = case_status_label
    listeners.connect()
    jobs.register_jobs(app.config["FOLLOW_UP_SWEEP_SECONDS"])
    # The demo loaders write in bulk, without signals: give the demo's history its callbacks.
    register_demo_finisher("callbacks", demo.load_demo_history)
    add_nav_link("callbacks_pages.worklist", _l("Callback worklist"), "agent", "manager")
    add_nav_link("callbacks_pages.cases", _l("Rectification cases"), "manager", "handler", "admin", "agent")
    add_nav_link("callbacks_pages.feedback", _l("Public feedback board"), "admin", "manager", "agent", "handler")
