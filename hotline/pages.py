"""Staff pages for tickets: the intake form, worklists, search, the ticket page with its timeline
and move forms, and the department queue. Forms work without JavaScript; hotline/static/*.js
only speeds them up (duplicate hint as you type, pickers narrowed by region).
"""

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from core.auth import require_staff, roles_required
from core.calendar import local_tz
from core.db import db, utcnow
from core.errors import Conflict, DomainError
from core.localize import chinese, localize, localize_errors
from core.models import Department, Region, Role, ServiceItem, User
from core.templating import local_name
from core.unit_of_work import discard
from hotline import labels, queries, service
from hotline.models import Channel, Ticket, TicketStatus, TicketType, Urgency
from hotline.schemas import TicketIn, TicketQuery, event_note

bp = Blueprint(
    "hotline_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/hotline",
)

FORM_LISTS = ("assisting_departments",)
QUERY_LISTS = ("status", "type")
PICKER_FIELDS = ("region_code", "lead_department", "department", "service_item")


def _code(value: str, key: str = "") -> str:
    """Pickers show "CODE name"; the first word is the code. A name typed alone (Chinese or
    English) stands for its code too."""
    value = value.strip()
    if not value:
        return ""
    model = PICKER_MODELS.get(key)
    if model is None or " " in value:
        return value.split()[0]
    key_column = model.code
    if db.session.scalar(select(key_column).where(key_column == value)) is not None:
        return value
    named = db.session.scalar(select(key_column).where((model.name == value) | (model.name_en == value)).limit(1))
    return str(named) if named is not None else value


PICKER_MODELS: dict[str, Any] = {
    "region_code": Region,
    "lead_department": Department,
    "department": Department,
    "service_item": ServiceItem,
}


def form_data(source: MultiDict[str, str], lists: tuple[str, ...] = FORM_LISTS) -> dict[str, Any]:
    """A submitted form as schema input: no CSRF token, blanks left out, pickers reduced to codes,
    and the `lists` fields as lists (repeated or comma-separated)."""
    data: dict[str, Any] = {}
    for key in source:
        if key in ("csrf_token", "action"):
            continue
        if key in lists:
            values = [_code(v, "department") for raw in source.getlist(key) for v in raw.replace("，", ",").split(",")]
            data[key] = [v for v in values if v]
            continue
        value = source.get(key, "").strip()
        if value:
            data[key] = _code(value, key) if key in PICKER_FIELDS else value
    return data


@bp.app_template_filter("hotline_time")
def hotline_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as Asia/Shanghai wall-clock time."""
    return value.astimezone(local_tz()).strftime(fmt) if value else ""


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "labels": labels,
        "label": labels.label,
        "caller_view": service.caller_view,
        "content_for": service.content_for,
        "event_note": event_note,
        "now": utcnow(),
        "Role": Role,
    }


# -- worklists ---------------------------------------------------------------------------------


@bp.route("/hotline/")
@roles_required(*service.READERS)
def worklist() -> Any:
    """An agent's or manager's worklist; handlers go to their department's queue."""
    staff = require_staff()
    if staff.role == Role.HANDLER:
        return redirect(url_for(".department_queue"))
    now = utcnow()
    sections: list[tuple[str, list[Ticket]]] = []
    if staff.role == Role.MANAGER:
        sections.append((_("Extension requests"), queries.extension_requests()))
        sections.append((_("Overdue tickets"), queries.overdue_tickets(now)))
    else:
        sections.append((_("My open tickets (overdue first)"), queries.my_open_tickets(staff, now)))
    sections.append((_("Waiting for dispatch"), queries.awaiting_dispatch()))
    return render_template("hotline/worklist.html", staff=staff, sections=sections)


@bp.route("/hotline/department")
@roles_required(Role.HANDLER)
def department_queue() -> Any:
    """The department's queue: what it leads (overdue first) and where it assists."""
    staff = require_staff()
    department_id = staff.department_id or 0
    return render_template(
        "hotline/department.html",
        staff=staff,
        queue=queries.department_queue(department_id, utcnow()),
        assisting=queries.assisting_queue(department_id),
    )


@bp.route("/hotline/tickets")
@roles_required(*service.READERS)
def search() -> Any:
    """Search and filter tickets, a page at a time (keyset cursor)."""
    staff = require_staff()
    args = form_data(request.args, QUERY_LISTS)
    error = None
    page = None
    try:
        parsed = TicketQuery().load(args)
        limit = parsed.pop("limit", current_app.config["TICKET_PAGE_SIZE"])
        cursor = parsed.pop("cursor", None)
        page = queries.list_tickets(staff, queries.TicketFilters(**parsed), limit, cursor)
    except ValidationError as exc:
        error = "; ".join(f"{k}: {v}" for k, v in exc.messages_dict.items())
    except DomainError as exc:
        error = exc.message
    next_args = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "cursor"}
    return render_template(
        "hotline/search.html", page=page, error=error, args=request.args, next_args=next_args, **_pickers()
    )


# -- intake ------------------------------------------------------------------------------------


def _pickers() -> dict[str, Any]:
    return {
        "regions": list(db.session.scalars(select(Region).order_by(Region.code))),
        "departments": list(
            db.session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code))
        ),
        "service_items": list(
            db.session.scalars(select(ServiceItem).where(ServiceItem.active.is_(True)).order_by(ServiceItem.code))
        ),
        "TicketType": TicketType,
        "Urgency": Urgency,
        "Channel": Channel,
        "TicketStatus": TicketStatus,
    }


def _last_region(agent: User) -> str:
    """Sensible default: the region of the agent's last ticket (agents mostly serve one city),
    shown as the picker shows it ("CODE name"), never a bare code."""
    stmt = select(Ticket.region_code).where(Ticket.created_by_id == agent.id).order_by(Ticket.id.desc()).limit(1)
    code = db.session.scalar(stmt) or "460100"
    region = db.session.get(Region, code)
    return f"{code} {local_name(region)}" if region is not None else code


def _intake_form(values: dict[str, Any], errors: dict[str, Any], hints: list[Any] | None, status: int = 200) -> Any:
    html = render_template("hotline/intake.html", values=values, errors=errors, hints=hints, **_pickers())
    return html, status


@bp.route("/hotline/new", methods=["GET", "POST"])
@roles_required(*service.AGENTS)
def intake() -> Any:
    """受理: the intake form, built for speed while the caller is on the line."""
    staff = require_staff()
    if request.method == "GET":
        defaults = {"type": "consultation", "urgency": "normal", "channel": "phone", "region_code": _last_region(staff)}
        return _intake_form(defaults, {}, None)
    values = request.form.to_dict()
    data = form_data(request.form)
    if request.form.get("action") == "check":
        hints = queries.duplicate_hints(data.get("caller_phone", ""), data.get("content", ""), data.get("region_code"))
        return _intake_form(values, {}, hints)
    try:
        ticket = service.create_ticket(TicketIn().load(data), staff)
    except ValidationError as exc:
        return _intake_form(values, localize_errors(exc.messages_dict), None, 422)
    except DomainError as exc:
        errors = localize_errors(exc.errors) if exc.errors else {"form": [localize(exc.message, exc.status)]}
        return _intake_form(values, errors, None, exc.status)
    flash(_("Ticket %(number)s created.", number=ticket.number), "notice")
    return redirect(url_for(".ticket_page", number=ticket.number))


# -- the ticket page and its moves -------------------------------------------------------------


@bp.route("/hotline/tickets/<number>")
@roles_required(*service.READERS)
def ticket_page(number: str) -> Any:
    """One ticket: details, deadlines, the timeline, and the moves the viewer may make."""
    staff = require_staff()
    ticket = service.get_ticket(number, staff)
    return render_template(
        "hotline/ticket.html",
        ticket=ticket,
        staff=staff,
        caller=service.caller_view(ticket, staff, detail=True),
        content=service.content_for(ticket, staff, detail=True),
        address=service.address_for(ticket, staff),
        moves=service.moves_for(staff, ticket),
        events=list(ticket.events),
        duplicates=queries.merged_duplicates(ticket),
        **_pickers(),
    )


def ticket_link(ticket_id: int) -> str:
    """The page of the ticket a notification is about ("" when there is no such ticket)."""
    ticket = db.session.get(Ticket, ticket_id)
    return url_for("hotline_pages.ticket_page", number=ticket.number) if ticket is not None else ""


def _refusal(exc: DomainError) -> str:
    if isinstance(exc, Conflict) and "allowed" in exc.errors:
        moves = "、".join(labels.label(labels.MOVE, m) for m in exc.errors["allowed"]) or _("none")
        return _("This move is not possible now. Possible moves: %(moves)s", moves=moves)
    if isinstance(exc, Conflict):
        return _("Someone else changed this ticket meanwhile; it has been reloaded. Please try again.")
    return f"{localize(exc.message, exc.status)} {_field_errors(exc.errors)}".strip()


def _field_errors(errors: dict[str, Any]) -> str:
    """Field errors for a banner, in the page's language (the messages, not the field keys)."""
    messages: list[str] = []
    for value in localize_errors(errors).values():
        items = value if isinstance(value, list) else [value]
        messages.extend(str(v) for v in items if isinstance(v, str))
    return ("；" if chinese() else "; ").join(dict.fromkeys(messages))


@bp.route("/hotline/tickets/<number>/<move>", methods=["POST"])
@roles_required(*service.READERS)
def make_move(number: str, move: str) -> Response:
    """Make one move from the ticket page (its form loaded by the move's schema in service.MOVES),
    then show the ticket again (or the queue, when the move took it out of the handler's sight,
    as 退单 does)."""
    spec = service.MOVES.get(move)
    if spec is None:
        abort(404)
    staff = require_staff()
    ticket = service.get_ticket(number, staff)
    try:
        service.make_move(move, ticket, staff, spec.schema().load(form_data(request.form)))
        flash(_("Done: %(move)s.", move=labels.label(labels.MOVE, move)), "notice")
    except ValidationError as exc:
        discard()
        flash(_field_errors(exc.messages_dict), "alert")
    except DomainError as exc:
        discard()
        flash(_refusal(exc), "alert")
    except StaleDataError:
        discard()
        flash(_("Someone else changed this ticket meanwhile; it has been reloaded. Please try again."), "alert")
    try:
        service.get_ticket(number, staff)
    except DomainError:
        return redirect(url_for(".department_queue"))
    return redirect(url_for(".ticket_page", number=number))
