"""The admin page: the outbox's figures, its dead letters and the retry buttons."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from core.auth import roles_required
from core.db import utcnow
from core.models import Role
from reports.provincial import delivery, service
from reports.provincial.models import ReportKind

bp = Blueprint("reporting_pages", __name__, template_folder="templates")

VIEWERS = (Role.ADMIN, Role.MANAGER)
DEAD_LETTERS_SHOWN = 50
PENDING_SHOWN = 20
ACK_DAYS_SHOWN = 30

KIND_LABELS = {
    ReportKind.RATING.value: _l("Rating"),
    ReportKind.FOLLOW_UP.value: _l("Follow-up rating"),
    ReportKind.CALLBACK.value: _l("Callback outcome"),
    ReportKind.RECTIFICATION.value: _l("Rectification accepted"),
    ReportKind.APPEAL.value: _l("Appeal decision"),
}


@bp.route("/reporting")
@roles_required(*VIEWERS)
def status_page() -> str:
    figures = service.status()
    age = figures.oldest_pending_age_seconds(utcnow())
    threshold = float(current_app.config["REPORTING_LAG_WARNING_SECONDS"])
    return render_template(
        "reporting/status.html",
        figures=figures,
        age_minutes=None if age is None else int(age // 60),
        lag_seconds=int(age or 0),
        lag_threshold=int(threshold),
        lagging=(age or 0) > threshold,
        concurrency=int(current_app.config["REPORTING_CONCURRENCY"]),
        acknowledgements=service.acknowledgement_log(ACK_DAYS_SHOWN),
        dead=service.dead_letters(DEAD_LETTERS_SHOWN),
        pending=service.oldest_pending(PENDING_SHOWN),
        receiver=delivery.receiver_label(),
        kind_labels=KIND_LABELS,
    )


@bp.route("/reporting/retry", methods=["POST"])
@roles_required(*VIEWERS)
def retry() -> Response:
    ids = [int(value) for value in request.form.getlist("id") if value.isdigit()]
    changed = service.retry(ids or None, waiting=request.form.get("waiting") == "1")
    flash(_("%(count)s reports will be sent again.", count=changed), "notice")
    return redirect(url_for("reporting_pages.status_page"))
