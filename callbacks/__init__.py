"""回访 and 整改: callbacks for every bad review and closed ticket, rectification by the
responsible department, and the public feedback board."""

from flask import Flask, url_for
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


# 下一步: for each case status, the step that comes next and the role that takes it.
NEXT_STEP = {
    "to_verify": (_l("Verify whether the review describes a real problem"), _l("Department handler")),
    "open": (_l("Rectify the problem and report what was done"), _l("Department handler")),
    "submitted": (_l("Accept the report or send it back"), _l("Manager")),
    "accepted": (_l("Call the citizen back to report what was done; the case is then published"), _l("Call agent")),
    "published": (_l("Nothing more: published on the feedback board; the citizen may rate once more"), None),
    "dismissed": (_l("Nothing more: verification found no real problem"), None),
}
EVENT_LABELS = {
    "opened": _l("Opened"),
    "verified": _l("Verified"),
    "dismissed": _l("Dismissed"),
    "submitted": _l("Report submitted"),
    "accepted": _l("Report accepted"),
    "sent_back": _l("Sent back"),
    "published": _l("Published"),
}


def case_status_label(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))


def case_event_label(value: str) -> str:
    return str(EVENT_LABELS.get(value, value))


def case_next_step(value: str) -> tuple[str, str]:
    """The next step of a case in this status and who takes it ("" when nobody does)."""
    step, role = NEXT_STEP.get(value, ("", None))
    return str(step), str(role) if role is not None else ""


def init_app(app: Flask, api: Api) -> None:
    from callbacks import demo, jobs, listeners, pages, views
    from core.demo import register_demo_finisher
    from core.notify import register_subject_link
    from core.pages import add_nav_link
    from core.scheduler import add_jobs

    api.register_blueprint(views.blp)
    api.register_blueprint(views.public_blp)
    app.register_blueprint(pages.bp)
    app.jinja_env.globals["case_status_label"] = case_status_label
    app.jinja_env.globals["case_event_label"] = case_event_label
    app.jinja_env.globals["case_next_step"] = case_next_step
    listeners.connect()
    register_subject_link("case", lambda case_id: url_for("callbacks_pages.case_detail", case_id=case_id))
    register_subject_link("callback", lambda cb_id: url_for("callbacks_pages.callback_detail", callback_id=cb_id))
    add_jobs(app, jobs.JOBS)
    # The demo loaders write in bulk, without signals: give the demo's history its callbacks.
    register_demo_finisher("callbacks", demo.load_demo_history)
    add_nav_link("callbacks_pages.worklist", _l("Callback worklist"), "agent", "manager")
    add_nav_link("callbacks_pages.cases", _l("Rectification cases"), "manager", "handler", "admin", "agent")
    add_nav_link("callbacks_pages.feedback", _l("Public feedback board"), "admin", "manager", "agent", "handler")
