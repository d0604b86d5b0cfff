"""Pages: the agent's callback worklist, the department's rectification queue, the manager's
approvals, and the public feedback board."""

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from callbacks import service, workbench
from callbacks.models import AttemptResult, Callback, CaseStatus, Purpose
from core.auth import require_staff, roles_required
from core.db import db
from core.errors import DomainError
from core.localize import chinese, localize
from core.models import Department, Region, Role
from core.pagination import paginate
from core.unit_of_work import discard
from ratings.labels import LEVEL_LABELS

bp = Blueprint(
    "callbacks_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/callbacks",
)

CALLERS = (Role.AGENT, Role.MANAGER)


def _sep() -> str:
    """The colon between a label and its text: full-width in Chinese."""
    return "：" if chinese() else ": "


def _form_bool(name: str) -> bool | None:
    value = request.form.get(name, "")
    return {"yes": True, "no": False}.get(value)


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else None


PER_PAGE = 20
PAGE_SIZES = ("5", "10", "20", "50", "100")
LIST_STATUSES = ("pending", "done", "all")


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 100_000) if raw.isdigit() and int(raw) > 0 else 1


def _filters() -> dict[str, Any]:
    """The worklist's filters from the query string; unknown values fall back to the default."""
    args = request.args
    purpose = args.get("purpose", "")
    due = args.get("due", "")
    status = args.get("status", "pending")
    department = workbench.find_department(args.get("department", ""))
    region = args.get("region", "")
    return {
        "purpose": purpose if purpose in {p.value for p in Purpose} else "",
        "due": due if due in service.DUE_WINDOWS else "",
        "status": status if status in LIST_STATUSES else "pending",
        "department": department,
        "region": region if db.session.get(Region, region) else "",
        "sort": "-due" if args.get("sort") == "-due" else "due",
    }


@bp.route("/callbacks")
@roles_required(*CALLERS)
def worklist() -> str:
    """回访工作台: pending callbacks by due time, filtered and paged, with what each is about."""
    user = require_staff()
    chosen = _filters()
    stmt = service.callbacks_query(
        user,
        None if chosen["status"] == "all" else chosen["status"],
        chosen["purpose"] or None,
        due=chosen["due"] or None,
        department_id=chosen["department"].id if chosen["department"] else None,
        region_code=chosen["region"] or None,
        newest_due_first=chosen["sort"] == "-due",
    )
    per_page = int(request.args.get("per_page", "")) if request.args.get("per_page") in PAGE_SIZES else PER_PAGE
    listing = paginate(stmt, _page_arg(), per_page)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "callbacks/worklist.html",
        listing=listing,
        rows=[workbench.describe(cb, user) for cb in listing["items"]],
        chosen=chosen,
        query=query,
        purposes=workbench.PURPOSE_LABELS,
        statuses=workbench.STATUS_LABELS,
        departments=_active_departments(),
        regions=list(db.session.scalars(select(Region).order_by(Region.code))),
        next_up=service.next_due(user),
        per_page=per_page,
        default_per_page=PER_PAGE,
    )


def _active_departments() -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code)))


@bp.route("/callbacks/next")
@roles_required(*CALLERS)
def next_callback() -> Response:
    """The next callback due, or the worklist when there is none left."""
    upcoming = service.next_due(require_staff())
    if upcoming is None:
        flash(_("No callbacks are waiting."), "notice")
        return redirect(url_for("callbacks_pages.worklist"))
    return redirect(url_for("callbacks_pages.callback_detail", callback_id=upcoming.id))


@bp.route("/callbacks/<int:callback_id>")
@roles_required(*CALLERS)
def callback_detail(callback_id: int) -> str:
    """One callback with its whole context, the call script and the keyboard-first outcome form."""
    user = require_staff()
    callback = service.get_callback(callback_id, user)
    return render_template(
        "callbacks/callback.html",
        ctx=workbench.describe(callback, user, detail=True),
        outcomes=workbench.outcomes(callback.purpose),
        results=workbench.RESULT_LABELS,
        statuses=workbench.STATUS_LABELS,
        departments=_active_departments(),
        Purpose=Purpose,
    )


def _answer_from_form(callback: Callback) -> tuple[AttemptResult, service.Answer]:
    """The outcome form (one `outcome` choice) or the older fields (`result`, `verified`, `level`)."""
    chosen = workbench.outcome_by_value(callback.purpose, request.form.get("outcome", ""))
    result = AttemptResult(chosen.result if chosen else request.form.get("result", ""))
    department = workbench.find_department(request.form.get("department", ""))
    if request.form.get("department", "").strip() and department is None:
        raise DomainError(_("No such department: choose one from the list."))
    answer = service.Answer(
        verified=chosen.verified if chosen and chosen.verified is not None else _form_bool("verified"),
        problem=request.form.get("problem", ""),
        department_id=department.id if department else None,
        level=chosen.level if chosen and chosen.level else _form_int("level"),
        comment=request.form.get("comment", ""),
    )
    return result, answer


@bp.route("/callbacks/<int:callback_id>/attempt", methods=["POST"])
@roles_required(*CALLERS)
def record_attempt(callback_id: int) -> Response:
    """One step while on the phone: the outcome, and when reached, the answer. "Record and next"
    goes on to the next callback due; a refused form comes back to the same callback."""
    user = require_staff()
    callback = service.get_callback(callback_id, user)
    back = url_for("callbacks_pages.callback_detail", callback_id=callback_id)
    try:
        result, answer = _answer_from_form(callback)
        service.record_attempt(callback, user, result, request.form.get("note", ""), answer, _form_int("version"))
        flash(_("Callback #%(id)s recorded.", id=callback_id), "notice")
    except ValueError:
        discard()
        flash(_("Choose what happened on the call."), "alert")
        return redirect(back if request.form.get("from") == "detail" else url_for("callbacks_pages.worklist"))
    except DomainError as error:
        discard()
        flash(f"{_('Not saved')}{_sep()}{localize(error.message, error.status)}", "alert")
        return redirect(back if request.form.get("from") == "detail" else url_for("callbacks_pages.worklist"))
    if request.form.get("next"):
        upcoming = service.next_due(user, after=callback)
        if upcoming is not None:
            return redirect(url_for("callbacks_pages.callback_detail", callback_id=upcoming.id))
        flash(_("No callbacks are waiting."), "notice")
        return redirect(url_for("callbacks_pages.worklist"))
    if request.form.get("from") == "detail":
        return redirect(back)
    return redirect(url_for("callbacks_pages.worklist"))


@bp.route("/cases")
@roles_required(Role.MANAGER, Role.HANDLER, Role.ADMIN, Role.AGENT)
def cases() -> str:
    user = require_staff()
    status = request.args.get("status") or None
    if status not in {s.value for s in CaseStatus}:
        status = None
    page = max(int(request.args.get("page", "1") or 1), 1) if request.args.get("page", "1").isdigit() else 1
    listing = paginate(service.cases_query(user, status), page, 50)
    return render_template(
        "callbacks/cases.html",
        listing=listing,
        status=status,
        statuses=list(CaseStatus),
        shown=lambda case, text: service.case_text(case, text or "", user),
    )


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@roles_required(Role.MANAGER, Role.HANDLER, Role.ADMIN, Role.AGENT)
def case_detail(case_id: int) -> Any:
    user = require_staff()
    case = service.get_case(case_id, user)
    if request.method == "POST":
        action = request.form.get("action", "")
        note = request.form.get("note", "")
        try:
            if action == "verify" and user.role == Role.HANDLER:
                service.verify_case(case, user, request.form.get("confirmed") == "yes", note)
            elif action == "report" and user.role == Role.HANDLER:
                service.submit_report(
                    case, user, request.form.get("action_taken", ""), bool(request.form.get("immediate"))
                )
            elif action == "accept" and user.role == Role.MANAGER:
                service.accept_case(case, user, note)
            elif action == "send_back" and user.role == Role.MANAGER:
                service.send_back(case, user, note)
            elif action == "resend_follow_up" and user.role in (Role.MANAGER, Role.AGENT):
                service.resend_follow_up(case, user)
            else:
                raise DomainError(_("This step is not yours to take."))
            flash(_("Saved."), "notice")
        except DomainError as error:
            discard()
            flash(f"{_('Not saved')}{_sep()}{localize(error.message, error.status)}", "alert")
        return redirect(url_for("callbacks_pages.case_detail", case_id=case_id))
    from ratings import service as ratings_service

    rating = ratings_service.get_rating(case.rating_id)
    return render_template(
        "callbacks/case.html",
        case=case,
        rating=rating,
        level_label=str(LEVEL_LABELS.get(rating.level, rating.level)),
        role=user.role.value,
        follow_up_messages=service.follow_up_messages(case),
        shown=lambda text: service.case_text(case, text or "", user),
    )


@bp.route("/feedback")
def feedback() -> str:
    """整改公开: the public feedback board, masked, filterable by region and department."""
    region = request.args.get("region") or None
    department_code = request.args.get("department") or None
    department_id = None
    if department_code:
        dept = db.session.scalar(select(Department).where(Department.code == department_code))
        department_id = dept.id if dept else -1
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
    listing = paginate(service.published_cases(region, department_id), page, 20)
    regions = list(db.session.scalars(select(Region).order_by(Region.code)))
    departments = list(
        db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code))
    )
    return render_template(
        "callbacks/feedback.html",
        listing=listing,
        regions=regions,
        departments=departments,
        region=region,
        department=department_code,
    )
