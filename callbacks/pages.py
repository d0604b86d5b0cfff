"""Pages: the agent's callback worklist, the department's rectification queue, the manager's
approvals, and the public feedback board."""

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from callbacks import service
from callbacks.models import AttemptResult, CaseStatus, Purpose
from core import refdata
from core.auth import require_staff, roles_required
from core.db import db
from core.errors import DomainError
from core.models import Department, Region, Role
from core.pagination import paginate
from core.unit_of_work import discard

bp = Blueprint("callbacks_pages", __name__, template_folder="templates")

CALLERS = (Role.AGENT, Role.MANAGER)


def _form_bool(name: str) -> bool | None:
    value = request.form.get(name, "")
    return {"yes": True, "no": False}.get(value)


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/callbacks")
@roles_required(*CALLERS)
def worklist() -> str:
    user = require_staff()
    departments = list(
        db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code))
    )
    return render_template(
        "callbacks/worklist.html",
        groups=service.worklist(user),
        results=list(AttemptResult),
        Purpose=Purpose,
        departments=departments,
    )


@bp.route("/callbacks/<int:callback_id>/attempt", methods=["POST"])
@roles_required(*CALLERS)
def record_attempt(callback_id: int) -> Response:
    """One step while on the phone: the result, and when reached, the answer."""
    user = require_staff()
    callback = service.get_callback(callback_id, user)
    try:
        result = AttemptResult(request.form.get("result", ""))
        department_code = request.form.get("department", "")
        answer = service.Answer(
            verified=_form_bool("verified"),
            problem=request.form.get("problem", ""),
            department_id=refdata.get_department(department_code).id if department_code else None,
            level=_form_int("level"),
            comment=request.form.get("comment", ""),
        )
        service.record_attempt(callback, user, result, request.form.get("note", ""), answer, _form_int("version"))
        flash(_("Callback #%(id)s recorded.", id=callback_id), "notice")
    except ValueError:
        discard()
        flash(_("Choose what happened on the call."), "alert")
    except DomainError as error:
        discard()
        flash(f"{_('Not saved')}: {error.message}", "alert")
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
            flash(f"{_('Not saved')}: {error.message}", "alert")
        return redirect(url_for("callbacks_pages.case_detail", case_id=case_id))
    from ratings import service as ratings_service

    rating = ratings_service.get_rating(case.rating_id)
    return render_template(
        "callbacks/case.html",
        case=case,
        rating=rating,
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
