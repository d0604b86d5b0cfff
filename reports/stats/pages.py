"""The manager dashboard (issue 19): headline tiles against the target with the previous period
and the change, a Hainan map of the 19 市县 (click one to filter the whole page to it), rankings
with full names, the trend, the channel split, the bad-review funnel with its definitions, the 三率
ranking of the month and what is overdue. Charts are Apache ECharts, vendored under
`static/vendor/` and drawn by `static/dashboard.js` from the same JSON API; every chart has a plain
table beside it, rendered here, for readers without JavaScript and for screen readers. The colour
rule is one everywhere: a rate at or above the target is good. A department handler sees their own
department's dashboard (no map, no rankings)."""

import json
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.auth import require_staff, roles_required, visible_department_id
from core.calendar import local_date
from core.db import db, utcnow
from core.models import Region, Role, User
from ratings.labels import CHANNEL_LABELS, label
from reports.stats import kpis, service, three_rates
from reports.stats.funnel import STAGES, FunnelFilters, funnel
from reports.stats.monthly import month_days

bp = Blueprint(
    "stats_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/stats",
)

VIEWERS = (Role.MANAGER, Role.ADMIN, Role.HANDLER)
TRENDS = ("day", "week", "month")
ECHARTS = "vendor/echarts-5.6.0/echarts.min.js"
HAINAN_MAP = "vendor/echarts-4.9.0/map/json/province/hainan.json"

STAGE_LABELS = {
    "bad": (_l("Bad reviews"), _l("Valid first ratings at level 1-2 (or hidden bad) rated in the period.")),
    "followed_up": (
        _l("Followed up"),
        _l("Of those: the verification callback was done, or the department verified an anonymous one."),
    ),
    "confirmed": (_l("Confirmed"), _l("Of those: the follow-up confirmed a real problem.")),
    "rectifying": (_l("Rectification started"), _l("Of those: a rectification case was opened.")),
    "accepted": (_l("Rectification accepted"), _l("Of those: a manager accepted the department's report.")),
    "published": (_l("Published"), _l("Of those: the case is on the public feedback board.")),
}


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


def _region() -> Region | None:
    code = request.args.get("region", "")
    return db.session.get(Region, code) if code else None


def _month(end: date) -> str:
    """`?month=YYYY-MM` for the 三率 and the monthly report; by default the last complete month at
    `end` (its own month when `end` is that month's last day)."""
    asked = request.args.get("month", "")
    try:
        return month_days(asked)[0].strftime("%Y-%m")
    except ValueError:
        pass
    if (end + timedelta(days=1)).month != end.month:
        return end.strftime("%Y-%m")
    return (end.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _change(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 4)


def _tiles(
    now: tuple[dict[str, Any], dict[str, Any]], before: tuple[dict[str, Any], dict[str, Any]], target: float
) -> list[dict[str, Any]]:
    """The seven headline rates with last period's value, the change, and whether each meets its
    target: at least the target, or for 差评率 (lower is better) at most 1 - target."""
    rows = [
        ("satisfaction", _l("Satisfaction rate"), now[0]["satisfaction_rate"], before[0]["satisfaction_rate"], False),
        ("good", _l("Good review rate"), now[0]["good_rate"], before[0]["good_rate"], False),
        ("bad", _l("Bad review rate"), now[0]["bad_rate"], before[0]["bad_rate"], True),
    ]
    for key, title in (
        ("bad_review_callback_timeliness", _l("Bad review callbacks on time")),
        ("rectification_on_time", _l("Rectifications on time")),
        ("on_time_completion", _l("Tickets completed on time")),
        ("resolution_rate", _l("Resolved, as the caller said")),
    ):
        rows.append((key, title, now[1][key]["rate"], before[1][key]["rate"], False))
    tiles = []
    for key, title, value, previous, lower_is_better in rows:
        goal = round(1 - target, 4) if lower_is_better else target
        good = None if value is None else (value <= goal if lower_is_better else value >= goal)
        tiles.append(
            {
                "key": key,
                "title": str(title),
                "value": value,
                "previous": previous,
                "change": _change(value, previous),
                "goal": goal,
                "lower_is_better": lower_is_better,
                "good": good,
            }
        )
    return tiles


def _ranked(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups with ratings, worst 满意率 first (ties: more ratings first)."""
    return sorted((g for g in groups if g["valid"]), key=lambda g: (g["satisfaction_rate"], -g["valid"]))


def _regions(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All 19 市县 in code order with their figures (none when nobody rated there)."""
    found = {g["key"]: g for g in groups}
    rows = []
    for code, name in db.session.execute(select(Region.code, Region.name).order_by(Region.code)):
        group = found.get(code, {})
        rows.append(
            {"code": code, "name": name, "valid": group.get("valid", 0), "rate": group.get("satisfaction_rate")}
        )
    return rows


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
    region = _region()
    code = region.code if region else None
    target = float(current_app.config["SATISFACTION_TARGET"])
    filters = service.Filters(start, end, department_id=scope, region_code=code)
    kpi_filters = kpis.KpiFilters(start, end, department_id=scope, region_code=code)
    days = (end - start).days + 1
    before_end = start - timedelta(days=1)
    before_start = before_end - timedelta(days=days - 1)
    summary = service.satisfaction(filters)
    figures = kpis.kpis(kpi_filters)
    previous = (
        service.satisfaction(service.Filters(before_start, before_end, department_id=scope, region_code=code)),
        kpis.kpis(kpis.KpiFilters(before_start, before_end, department_id=scope, region_code=code)),
    )
    bad_reviews = funnel(FunnelFilters(start, end, scope, code))
    month = _month(end)
    month_start, month_end = month_days(month)
    month_filters = kpis.KpiFilters(month_start, month_end, department_id=scope, region_code=code)
    overdue_rows, overdue_total = _overdue_rows(kpi_filters, user)
    query = {"from": start.isoformat(), "to": end.isoformat()}
    regions = _regions(service.groups(service.Filters(start, end), "region")) if scope is None else []
    config = {
        "target": target,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "trend": trend_by,
        "region": code or "",
        "scoped": scope is not None,
        "api": url_for("stats.Satisfaction"),
        "funnelApi": url_for("stats.Funnel"),
        "map": url_for("stats_pages.static", filename=HAINAN_MAP),
        "page": url_for("stats_pages.dashboard"),
        "regions": {r["name"]: r["code"] for r in regions},
        "labels": {
            "ratings": _("Valid ratings"),
            "satisfaction": _("Satisfaction rate"),
            "target": _("Target"),
            "noData": _("No ratings"),
            "count": _("Count"),
            "stages": [str(STAGE_LABELS[s][0]) for s in STAGES],
        },
    }
    return render_template(
        "stats/dashboard.html",
        start=start,
        end=end,
        trend_by=trend_by,
        trends=TRENDS,
        target=target,
        region=region,
        all_regions=db.session.execute(select(Region.code, Region.name).order_by(Region.code)).all(),
        query=query,
        summary=summary,
        figures=figures,
        tiles=_tiles((summary, figures), previous, target),
        previous_range=(before_start, before_end),
        regions=regions,
        departments=_ranked(service.groups(filters, "department")) if scope is None else [],
        trend=service.groups(filters, trend_by),
        channels=[
            {"label": str(label(CHANNEL_LABELS, int(g["key"]))), "valid": g["valid"]}
            for g in service.groups(filters, "channel")
        ],
        stages=[(s, STAGE_LABELS[s][0], STAGE_LABELS[s][1], bad_reviews["stages"][s]) for s in STAGES],
        month=month,
        three_rates={by: three_rates.ranking(month_filters, by) for by in three_rates.GROUP_BY}
        if scope is None
        else {},
        weights=three_rates.weights(),
        overdue_rows=overdue_rows,
        overdue_total=overdue_total,
        scoped=scope is not None,
        config=json.dumps(config, ensure_ascii=False),
        echarts=url_for("stats_pages.static", filename=ECHARTS),
        script=url_for("stats_pages.static", filename="dashboard.js"),
        stylesheet=url_for("stats_pages.static", filename="dashboard.css"),
    )
