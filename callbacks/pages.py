"""Pages: the agent's callback worklist, the department's rectification queue, the manager's
approvals, and the public feedback board."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, select
from werkzeug.wrappers import Response

from callbacks import service, status_view, workbench
from callbacks.models import AttemptResult, Callback, CaseStatus, Purpose, RectificationCase
from core.auth import carries_staff_credentials, require_staff, roles_required
from core.calendar import local_date, start_of_day
from core.db import db, utcnow
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.localize import chinese, localize
from core.models import Department, Region, User
from core.pagination import paginate
from core.templating import localdate
from core.unit_of_work import discard
from ratings import status
from ratings.labels import LEVEL_LABELS
from ratings.limits import page_limit, submission_limits
from ratings.pages import place_of

bp = Blueprint(
    "callbacks_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/callbacks",
)

CALLERS = service.CALLERS


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
@roles_required(*service.CASE_READERS)
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


CaseForm = Callable[[RectificationCase, User], Any]

# The case page's forms: each `action` calls its step; the service decides who may take it when.
CASE_FORMS: dict[str, CaseForm] = {
    "verify": lambda case, user: service.verify_case(
        case, user, request.form.get("confirmed") == "yes", request.form.get("note", "")
    ),
    "report": lambda case, user: service.submit_report(
        case, user, request.form.get("action_taken", ""), bool(request.form.get("immediate"))
    ),
    "accept": lambda case, user: service.accept_case(case, user, request.form.get("note", "")),
    "send_back": lambda case, user: service.send_back(case, user, request.form.get("note", "")),
    "resend_follow_up": lambda case, user: service.resend_follow_up(case, user),
}


def _case_refusal(error: DomainError) -> str:
    """Why a case form was not saved, in the page's language."""
    if isinstance(error, Forbidden):
        return f"{_('Not saved')}{_sep()}{_('This step is not yours to take.')}"
    return f"{_('Not saved')}{_sep()}{localize(error.message, error.status)}"


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@roles_required(*service.CASE_READERS)
def case_detail(case_id: int) -> Any:
    user = require_staff()
    case = service.get_case(case_id, user)
    if request.method == "POST":
        form = CASE_FORMS.get(request.form.get("action", ""))
        try:
            if form is None:
                raise Forbidden(service.NOT_YOURS)
            form(case, user)
            flash(_("Saved."), "notice")
        except DomainError as error:
            discard()
            flash(_case_refusal(error), "alert")
        return redirect(url_for("callbacks_pages.case_detail", case_id=case_id))
    rating = case.rating
    return render_template(
        "callbacks/case.html",
        case=case,
        rating=rating,
        level_label=str(LEVEL_LABELS.get(rating.level, rating.level)),
        moves=service.case_moves_for(user, case),
        follow_up_messages=service.follow_up_messages(case),
        shown=lambda text: service.case_text(case, text or "", user),
    )


BOARD_PAGE_SIZE = 20
BOARD_VIEWS = ("cases", "satisfaction")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class BoardFilters:
    """What the public board is narrowed to; every section of the page honours all of it."""

    region: str | None = None
    department: str | None = None
    month: str | None = None  # YYYY-MM, Asia/Shanghai
    q: str | None = None  # a reference number

    @classmethod
    def from_args(cls, args: Any) -> "BoardFilters":
        month = (args.get("month") or "").strip()
        match = MONTH.match(month)
        valid_month = bool(match and 2000 <= int(match.group(1)) <= 2100 and 1 <= int(match.group(2)) <= 12)
        return cls(
            region=(args.get("region") or "").strip() or None,
            department=(args.get("department") or "").strip() or None,
            month=month if valid_month else None,
            q=(args.get("q") or "").strip()[:32] or None,
        )

    def args(self, **extra: Any) -> dict[str, Any]:
        """The query arguments for a link that keeps these filters."""
        kept = {"region": self.region, "department": self.department, "month": self.month, "q": self.q}
        merged = {**kept, **extra}
        return {k: v for k, v in merged.items() if v not in (None, "") and not (k == "page" and v == 1)}

    def days(self) -> tuple[date, date]:
        """The month's days, else the last 30 days (the public satisfaction window)."""
        if self.month:
            year, month = (int(x) for x in self.month.split("-"))
            start = date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            return start, following - timedelta(days=1)
        today = local_date(utcnow())
        return today - timedelta(days=29), today


def _department_id(code: str | None) -> int | None:
    if not code:
        return None
    dept = db.session.scalar(select(Department).where(Department.code == code))
    return dept.id if dept else -1


def _board_cases(filters: BoardFilters) -> Select[RectificationCase]:
    stmt = service.published_cases(filters.region, _department_id(filters.department))
    if filters.month:
        start, end = filters.days()
        stmt = stmt.where(
            RectificationCase.published_at >= start_of_day(start),
            RectificationCase.published_at < start_of_day(end + timedelta(days=1)),
        )
    if filters.q:
        stmt = stmt.where(RectificationCase.rating_id.in_(status.reference_rating_ids(filters.q) or [-1]))
    return stmt


def _satisfaction(filters: BoardFilters) -> dict[str, Any] | None:
    """Satisfaction by department under the filters (counts and rates only; None when the
    statistics package is not installed)."""
    try:
        from reports.stats.service import Filters, satisfaction_json
    except ImportError:  # pragma: no cover - statistics are an optional package
        return None
    start, end = filters.days()
    body = json.loads(
        satisfaction_json(
            Filters(start, end, department_id=_department_id(filters.department), region_code=filters.region),
            "department",
        )
    )
    rows = [
        {"name": g["label"], "valid": g["valid"], "satisfaction_rate": g["satisfaction_rate"]}
        for g in body["groups"]
        if g["key"] and g["valid"]
    ]
    return {"from": start, "to": end, "valid": body["valid"], "rate": body["satisfaction_rate"], "departments": rows}


def _references(cases: list[RectificationCase]) -> dict[int, str]:
    ids = [c.rating_id for c in cases]
    if not ids:
        return {}
    rows = db.session.execute(
        select(status.StatusLink.rating_id, status.StatusLink.reference).where(status.StatusLink.rating_id.in_(ids))
    )
    return {row[0]: row[1] for row in rows if row[0] is not None}


@bp.route("/feedback")
def feedback() -> str:
    """整改公开: the public feedback board — published rectifications first, newest first, paged;
    satisfaction by department on its own tab; region, department, month and reference filters
    applied to every section; an Atom feed beside it."""
    filters = BoardFilters.from_args(request.args)
    view = request.args.get("view") if request.args.get("view") in BOARD_VIEWS else "cases"
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdigit() and 0 < int(page_arg) < 100_000 else 1
    listing = paginate(_board_cases(filters), page, BOARD_PAGE_SIZE) if view == "cases" else None
    pages = max(1, -(-listing["total"] // BOARD_PAGE_SIZE)) if listing else 1
    regions = list(db.session.scalars(select(Region).order_by(Region.code)))
    departments = list(
        db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code))
    )
    return render_template(
        "callbacks/feedback.html",
        view=view,
        listing=listing,
        pages=pages,
        references=_references(listing["items"]) if listing else {},
        satisfaction=_satisfaction(filters),
        regions=regions,
        departments=departments,
        filters=filters,
        region=filters.region,
        department=filters.department,
    )


ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50


@bp.route("/feedback/feed.atom")
def feedback_feed() -> Response:
    """The published rectifications as an Atom feed (all, or one region's with ?region=)."""
    filters = BoardFilters(region=(request.args.get("region") or "").strip() or None)
    cases = list(db.session.scalars(_board_cases(filters).limit(FEED_SIZE)))
    base = request.host_url.rstrip("/")
    board = base + url_for("callbacks_pages.feedback", **filters.args())
    region = db.session.get(Region, filters.region) if filters.region else None
    title = _("Public feedback board") + (f" · {region.name}" if region else "")
    feed = ElementTree.Element("feed", xmlns=ATOM)
    feed.set("xml:lang", "zh-Hans")
    _text(feed, "title", title)
    _text(feed, "subtitle", _("What the responsible department did about bad reviews. Personal data is masked."))
    _text(feed, "id", base + url_for("callbacks_pages.feedback_feed", **filters.args()))
    updated = max((c.published_at for c in cases if c.published_at), default=None) or utcnow()
    _text(feed, "updated", _atom_time(updated))
    ElementTree.SubElement(feed, "link", rel="alternate", type="text/html", href=board)
    self_href = base + url_for("callbacks_pages.feedback_feed", **filters.args())
    ElementTree.SubElement(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    author = ElementTree.SubElement(feed, "author")
    _text(author, "name", "12345")
    references = _references(cases)
    for case in cases:
        entry = ElementTree.SubElement(feed, "entry")
        _text(entry, "title", f"{case.department.name} · {localdate(case.published_at)}")
        _text(entry, "id", f"{base}/feedback#case-{case.id}")
        _text(entry, "updated", _atom_time(case.published_at or case.created_at))
        _text(entry, "published", _atom_time(case.published_at or case.created_at))
        reference = references.get(case.rating_id)
        href = base + url_for("callbacks_pages.feedback", q=reference) if reference else f"{base}/feedback"
        ElementTree.SubElement(entry, "link", rel="alternate", type="text/html", href=f"{href}#case-{case.id}")
        summary = (
            f"{_('Review')}: {case.public_review or _('(no comment)')}\n{_('What was done')}: {case.public_action}"
        )
        _text(entry, "summary", summary)
    body = ElementTree.tostring(feed, encoding="unicode", xml_declaration=False)
    response = Response('<?xml version="1.0" encoding="utf-8"?>\n' + body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _text(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, tag).text = text


def _atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the citizen's status page (查询进度) ------------------------------------------------------


@bp.get("/status/<token>")
@page_limit
def status_page(token: str) -> Any:
    """查询进度: what happened since the rating, for whoever holds the status link."""
    try:
        link = status.resolve(token)
    except NotFound:
        return render_template("ratings/status.html", view=None), 404
    if link.rating_id is None:
        ticket = status_view.ticket_view(link)
        level = LEVEL_LABELS.get(ticket.rating_level) if ticket.rating_level else None
        return render_template("ratings/ticket_status.html", view=ticket, level=level)
    view = status_view.status_view(link)
    return render_template(
        "ratings/status.html",
        token=token,
        view=view,
        level=LEVEL_LABELS.get(view.rating.level),
        follow_up_level=LEVEL_LABELS.get(view.follow_up_level) if view.follow_up_level else None,
        place=place_of(view.event),
    )


@bp.post("/status/<token>/follow-up")
@submission_limits
def status_follow_up(token: str) -> Any:
    """The 追评 through the status link: a fresh follow-up token, then straight to the form."""
    if carries_staff_credentials():
        raise Forbidden(_("Staff may not submit a citizen's rating. Please sign out first."))
    try:
        link = status.resolve(token)
    except NotFound:
        return render_template("ratings/status.html", view=None), 404
    try:
        rate_token = status_view.follow_up_token(link)
    except Conflict:
        return render_template("ratings/link_state.html", state="used"), 409
    return redirect(url_for("ratings_pages.rate", token=rate_token), code=303)
