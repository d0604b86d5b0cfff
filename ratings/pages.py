"""HTML pages: the citizen's rating form at /rate/<token> (mobile-first, works without JavaScript),
its QR code, and the staff pages for issuing QR codes, reading ratings and deciding appeals."""

from contextlib import suppress
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from core.auth import carries_staff_credentials, current_staff, require_staff, roles_required
from core.db import db
from core.errors import Conflict, DomainError, Forbidden, Gone, NotFound, ValidationFailed
from core.extensions import client_ip
from core.models import Department, Role
from core.pagination import paginate
from core.unit_of_work import discard
from ratings import labels, links, reading, recording, review, status, tokens
from ratings.appeals import appeals_query, decide_appeal, file_appeal, get_appeal
from ratings.issuers import IssuingParty
from ratings.limits import page_limit, submission_limits
from ratings.models import PUBLIC_CHANNELS, AppealKind, Channel, EventKind
from ratings.review import Client

bp = Blueprint(
    "ratings_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/ratings",
)

ISSUERS = (Role.AGENT, Role.HANDLER, Role.MANAGER)
READERS = (Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)
RATED_KEY = "ratings_rated"


@bp.context_processor
def _label_helpers() -> dict[str, Any]:
    return {
        "level_label": lambda v: labels.label(labels.LEVEL_LABELS, v),
        "channel_label": lambda v: labels.label(labels.CHANNEL_LABELS, v),
        "appeal_kind_label": lambda v: labels.label(labels.APPEAL_KIND_LABELS, v),
        "appeal_status_label": lambda v: labels.label(labels.APPEAL_STATUS_LABELS, v),
        "review_reason_label": lambda v: labels.label(labels.REVIEW_REASON_LABELS, v),
        # A rating's comment and contact as the signed-in reader may see them (core.disclosure).
        "comment_for": lambda r: reading.comment_for(r, current_staff()),
        "contact_for": lambda r: reading.contact_for(r, current_staff()),
    }


LINK_STATES: dict[type[DomainError], str] = {NotFound: "unknown", Gone: "expired", Conflict: "used"}


# --- the citizen's form -------------------------------------------------------------------


def _link_state(error: DomainError) -> tuple[str, int]:
    state = LINK_STATES.get(type(error), "unknown")
    if state == "expired" and "withdrawn" in error.message:
        state = "withdrawn"
    return render_template("ratings/link_state.html", state=state), error.status


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _channel(raw: str | None, target: tokens.RatingTarget) -> int:
    """The channel the citizen came through: the QR code's mark, else guessed from the device."""
    chosen = _int(raw)
    if chosen in PUBLIC_CHANNELS:
        return int(chosen)
    if target.standing is not None:
        return int(Channel.QR_CODE)
    agent = request.headers.get("User-Agent", "")
    return int(Channel.MOBILE if "Mobi" in agent else Channel.PC_WEB)


def _form_context(target: tokens.RatingTarget, form: MultiDict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    online = target.is_online
    event = target.event
    return {
        "form": form,
        "errors": errors,
        "levels": [(lv, labels.LEVEL_LABELS[lv]) for lv in (5, 4, 3, 2, 1)],
        "bad_max": current_app.config["BAD_REVIEW_MAX_LEVEL"],
        "reasons": [(tag, labels.label(labels.REASON_LABELS, tag)) for tag in current_app.config["RATING_REASON_TAGS"]],
        "dimensions": [
            (key, labels.DIMENSION_LABELS[key])
            for key in (labels.ONLINE_DIMENSIONS if online else labels.OFFLINE_DIMENSIONS)
        ],
        "rater_types": list(labels.RATER_TYPE_LABELS.items()),
        "default_rater_type": event.rater_type if event else 1,
        "follow_up": target.assess_number == 2,
        "place": _place(target),
        # The service event's day (a standing code rates today's visit: no date to show).
        "served_at": target.event.created_at if target.event is not None else None,
        "comment_max": current_app.config["RATING_COMMENT_MAX_LENGTH"],
        "staff_signed_in": carries_staff_credentials(),
        "known_contact": bool(event is not None and event.contact_phone),
    }


def place_of(holder: Any) -> str:
    """The issuing unit of an event or a standing code: department · service item, or a 12345
    ticket's number, else the service in general, so the form always says what is rated."""
    parts = [holder.department.name if holder is not None and holder.department else ""]
    if holder is not None and holder.service_item is not None:
        parts.append(holder.service_item.name)
    place = " · ".join(p for p in parts if p)
    if not place and getattr(holder, "ticket_number", None):
        place = _("12345 hotline request %(number)s", number=holder.ticket_number)
    return place or _("12345 government service")


def _place(target: tokens.RatingTarget) -> str:
    return place_of(target.event or target.standing)


@bp.get("/rate/<token>")
@page_limit
def rate(token: str) -> Any:
    try:
        target = tokens.resolve_token(token)
    except (NotFound, Gone, Conflict) as error:
        return _link_state(error)
    form = MultiDict({"channel": str(_channel(request.args.get("ch"), target))})
    return render_template("ratings/rate.html", token=token, **_form_context(target, form, {}))


def _submitted(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form's answers in the service's terms; reason tags only count with a bad level."""
    level = _int(form.get("level"))
    dimensions = {key: _int(form.get(f"dim_{key}")) for key in labels.DIMENSIONS}
    bad = level is not None and level <= current_app.config["BAD_REVIEW_MAX_LEVEL"]
    anonymous = form.get("anonymous") == "1"
    return {
        "level": level or 0,
        "comment": form.get("comment", ""),
        "reasons": form.getlist("reasons") if bad else None,
        "dimensions": {k: v for k, v in dimensions.items() if v is not None} or None,
        "rater_type": _int(form.get("rater_type")),
        "anonymous": anonymous,
        "contact": None
        if anonymous
        else {"name": form.get("contact_name", ""), "phone": form.get("contact_phone", "")},
    }


FIELD_MESSAGES = {
    "level": _l("Please choose one of the five answers."),
    "contact": _l("Please enter a valid mobile or landline number, or leave it empty."),
    "comment": _l("Your comment is too long."),
}


def _page_errors(error: ValidationFailed) -> dict[str, str]:
    found = {field: str(FIELD_MESSAGES[field]) for field in error.errors if field in FIELD_MESSAGES}
    return found or {"form": _("Please check your answers.")}


@bp.post("/rate/<token>")
@submission_limits
def submit(token: str) -> Any:
    if carries_staff_credentials():
        raise Forbidden(_("Staff may not submit a citizen's rating. Please sign out first."))
    try:
        target = tokens.resolve_token(token)
    except (NotFound, Gone, Conflict) as error:
        return _link_state(error)
    data = _submitted(request.form)
    channel = _channel(request.form.get("channel"), target)
    try:
        rating = recording.rate_with_token(token, data.pop("level"), channel, Client(client_ip()), **data)
    except ValidationFailed as error:
        context = _form_context(target, request.form, _page_errors(error))
        return render_template("ratings/rate.html", token=token, **context), 422
    except (NotFound, Gone, Conflict) as error:
        return _link_state(error)  # a 4xx: the commit point rolls the lost race back
    rated: dict[str, Any] = {
        "level": rating.level,
        "follow_up": rating.is_bad_review or rating.hidden_bad,
        "contact": bool(rating.contact_phone),
    }
    if rating.assess_number == 1:
        # The citizen's own browser keeps the status link until the thanks page shows it once.
        issued = status.issue_for_rating(rating)
        rated |= {"reference": issued.reference, "status_token": issued.token}
    session[RATED_KEY] = rated
    return redirect(url_for("ratings_pages.thanks"), code=303)


@bp.get("/rate/thanks")
def thanks() -> str:
    rated = session.pop(RATED_KEY, None)
    level = labels.LEVEL_LABELS.get(rated["level"]) if rated else None
    days = current_app.config["CALLBACK_VERIFY_WORKING_DAYS"]
    return render_template("ratings/thanks.html", rated=rated, level=level, days=days)


@bp.get("/rate/<token>/qr.<fmt>")
@page_limit
def qr(token: str, fmt: str) -> Response:
    """The QR code of a rating link; only whoever holds the token can ask for it."""
    if fmt not in links.QR_FORMATS:
        raise NotFound(_("Page not found"))
    with suppress(Conflict, Gone):  # still the same printed code; the form explains the link's state
        tokens.resolve_token(token)
    image = links.qr_image(links.qr_target(token, Channel.QR_CODE), fmt, _("Rate this service"))
    response = Response(image, mimetype=links.QR_FORMATS[fmt])
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = f'inline; filename="rating-qr.{fmt}"'
    return response


# --- staff pages --------------------------------------------------------------------------


def _departments_for(user: Any) -> list[Department]:
    """Staff issue rating links for their own department only (ratings.issuers)."""
    return [user.department] if user.department else []


@bp.route("/staff/ratings/qr", methods=["GET", "POST"])
@roles_required(*ISSUERS)
def issue_qr() -> Any:
    """Issue a one-off rating QR code to print or show on a counter pad."""
    user = require_staff()
    issued, error = None, None
    if request.method == "POST":
        data = {
            key: request.form.get(key, "").strip()
            for key in ("department", "service_item", "kind", "external_ref", "staff")
        }
        data["kind"] = data["kind"] if data["kind"] in (EventKind.COUNTER, EventKind.ONLINE) else EventKind.COUNTER
        try:
            issued = tokens.create_service_event(data, IssuingParty.staff(user, client_ip()))
        except (ValidationFailed, Forbidden) as failed:
            discard()
            error = _(failed.message)
    return render_template(
        "ratings/staff_qr.html", issued=issued, error=error, departments=_departments_for(user), form=request.form
    )


@bp.get("/staff/ratings")
@roles_required(*READERS)
def staff_list() -> str:
    """Recent ratings; contacts masked, comments scrubbed."""
    user = require_staff()
    bad_only = request.args.get("bad") == "1"
    page = max(_int(request.args.get("page")) or 1, 1)
    result = paginate(reading.ratings_query(user, {"bad": bad_only}), page, 50)
    return render_template(
        "ratings/staff_list.html", result=result, bad_only=bad_only, can_appeal=user.role == Role.HANDLER
    )


@bp.route("/staff/ratings/<int:rating_id>/appeal", methods=["GET", "POST"])
@roles_required(Role.HANDLER)
def appeal(rating_id: int) -> Any:
    """A handler appeals a bad review of their department."""
    user = require_staff()
    rating = reading.get_rating(rating_id, user)
    error = None
    kind = request.form.get("kind", "")
    if request.method == "POST" and kind not in {k.value for k in AppealKind}:
        error = _("Choose a kind of appeal.")
    elif request.method == "POST":
        try:
            file_appeal(rating, user, kind, request.form.get("reason", ""))
            return redirect(url_for("ratings_pages.appeals"), code=303)
        except (ValidationFailed, Conflict) as failed:
            error = failed.message  # answered 422: the commit point rolls back
    kinds = [(k.value, labels.label(labels.APPEAL_KIND_LABELS, k)) for k in AppealKind]
    return render_template("ratings/staff_appeal.html", rating=rating, kinds=kinds, error=error), 422 if error else 200


@bp.get("/staff/ratings/appeals")
@roles_required(Role.MANAGER, Role.HANDLER)
def appeals() -> str:
    user = require_staff()
    status = request.args.get("status", "pending")
    status = status if status in ("pending", "upheld", "rejected") else "pending"
    items = list(db.session.scalars(appeals_query(user, status)))
    return render_template(
        "ratings/staff_appeals.html", items=items, status=status, can_decide=user.role == Role.MANAGER
    )


@bp.post("/staff/ratings/appeals/<int:appeal_id>")
@roles_required(Role.MANAGER)
def decide(appeal_id: int) -> Response:
    manager = require_staff()
    decision = request.form.get("decision")
    if decision not in ("uphold", "reject"):
        raise ValidationFailed(_("Choose to uphold or reject."))
    decide_appeal(get_appeal(appeal_id), manager, decision == "uphold", request.form.get("note", ""))
    return redirect(url_for("ratings_pages.appeals"), code=303)


# --- ratings held for review (评价精准) -------------------------------------------------------


@bp.get("/staff/ratings/review")
@roles_required(Role.MANAGER)
def reviews() -> str:
    """Ratings the fraud signals held, oldest first, to confirm or reject."""
    page = max(_int(request.args.get("page")) or 1, 1)
    result = paginate(review.pending_query(), page, 50)
    return render_template("ratings/staff_review.html", result=result)


@bp.post("/staff/ratings/review/<int:rating_id>")
@roles_required(Role.MANAGER)
def review_decide(rating_id: int) -> Response:
    manager = require_staff()
    decision = request.form.get("decision")
    if decision not in ("confirm", "reject"):
        raise ValidationFailed(_("Choose to confirm or reject."))
    rating = reading.get_rating(rating_id, manager)
    try:
        (review.confirm if decision == "confirm" else review.reject)(rating, manager, request.form.get("note", ""))
        flash(_("Saved."), "notice")
    except Conflict as error:
        discard()
        flash(f"{_('Not saved')}: {error.message}", "alert")
    return redirect(url_for("ratings_pages.reviews"), code=303)
