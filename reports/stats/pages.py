"""The manager dashboard: headline figures against the 95% line, the trend, departments and
regions worst first, the channel split, the bad-review funnel and what is overdue (counts and a list,
longest overdue first). Charts are SVG drawn here; a department handler sees their own department's
dashboard."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.auth import require_staff, roles_required, visible_department_id
from core.calendar import local_date
from core.db import utcnow
from core.models import Role, User
from ratings.labels import CHANNEL_LABELS, label
from reports.stats import charts, kpis, service

bp = Blueprint("stats_pages", __name__, template_folder="templates")

VIEWERS = (Role.MANAGER, Role.ADMIN, Role.HANDLER)
TRENDS = ("day", "week", "month")
RANKED = 15


def _day(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


def _range() -> tuple[date, date]:
    end = _day("to", local_date(utcnow()))
    start = _day("from", end - timedelta(days=29))
    if start > end or (end - start).days > 366:
        start = end - timedelta(days=29)
    return start, end


def _worst_first(groups: list[dict[str, Any]]) -> list[charts.Bar]:
    ranked = sorted((g for g in groups if g["valid"]), key=lambda g: (g["satisfaction_rate"], -g["valid"]))
    return [charts.Bar(g["label"], g["satisfaction_rate"], f"  n={g['valid']}") for g in ranked[:RANKED]]


def _charts(filters: service.Filters, trend_by: str, target: float, funnel: dict[str, int]) -> dict[str, Markup]:
    trend = service.groups(filters, trend_by)
    channels = service.groups(filters, "channel")
    funnel_labels = {
        "bad": _l("Bad reviews"),
        "called_back": _l("Called back"),
        "verified": _l("Verified"),
        "rectified": _l("Rectified"),
        "published": _l("Published"),
    }
    return {
        "trend": charts.trend(
            str(_l("Satisfaction trend")), [(g["key"], g["satisfaction_rate"]) for g in trend], target
        ),
        "departments": charts.rate_bars(
            str(_l("Departments, worst first")), _worst_first(service.groups(filters, "department")), target
        ),
        "regions": charts.rate_bars(
            str(_l("Regions, worst first")), _worst_first(service.groups(filters, "region")), target
        ),
        "channels": charts.count_bars(
            str(_l("Ratings by channel")),
            [(str(label(CHANNEL_LABELS, int(g["key"]))), g["valid"]) for g in channels],
        ),
        "funnel": charts.count_bars(
            str(_l("Bad-review funnel")), [(str(funnel_labels[k]), n) for k, n in funnel.items()]
        ),
    }


# Who may open the callbacks worklist (callbacks/pages.py); others see the callback's number only.
CALLBACK_WORKERS = (Role.AGENT, Role.MANAGER)


def _late(late: timedelta) -> str:
    days, seconds = late.days, late.seconds
    if days:
        return _("%(days)s d %(hours)s h", days=days, hours=seconds // 3600)
    return _("%(hours)s h %(minutes)s min", hours=seconds // 3600, minutes=seconds % 3600 // 60)


def _overdue_rows(filters: kpis.KpiFilters, user: User) -> tuple[list[dict[str, Any]], int]:
    """The overdue list with a link to where each item is worked on, when the viewer may go there."""
    items, total = kpis.overdue_list(filters)
    endpoints = current_app.view_functions
    purposes = {
        "verify_bad_review": _("Bad review verification callback"),
        "ticket_satisfaction": _("Ticket satisfaction callback"),
        "rectification_report": _("Rectification report-back callback"),
        "open": _("Rectification case, open"),
        "submitted": _("Rectification case, reported"),
    }
    rows = []
    for item in items:
        link = None
        if item.kind == "case" and "callbacks_pages.case_detail" in endpoints:
            link = url_for("callbacks_pages.case_detail", case_id=item.id)
        elif item.kind == "callback" and user.role in CALLBACK_WORKERS and "callbacks_pages.worklist" in endpoints:
            link = url_for("callbacks_pages.worklist", _anchor=f"callback-{item.id}")
        rows.append(
            {
                "item": item,
                "what": purposes.get(item.detail, item.detail),
                "late": _late(item.late),
                "link": link,
            }
        )
    return rows, total


@bp.route("/stats")
@roles_required(*VIEWERS)
def dashboard() -> str:
    start, end = _range()
    trend_by = request.args.get("trend", "day")
    trend_by = trend_by if trend_by in TRENDS else "day"
    user = require_staff()
    scope = visible_department_id(user)
    filters = service.Filters(start, end, department_id=scope)
    kpi_filters = kpis.KpiFilters(start, end, department_id=scope)
    target = float(current_app.config["SATISFACTION_TARGET"])
    funnel = kpis.funnel(kpi_filters)
    overdue_rows, overdue_total = _overdue_rows(kpi_filters, user)
    return render_template(
        "stats/dashboard.html",
        start=start,
        end=end,
        trend_by=trend_by,
        trends=TRENDS,
        target=target,
        summary=service.satisfaction(replace(filters)),
        figures=kpis.kpis(kpi_filters),
        charts=_charts(filters, trend_by, target, funnel),
        overdue_rows=overdue_rows,
        overdue_total=overdue_total,
        scoped=scope is not None,
    )
