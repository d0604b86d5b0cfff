"""Statistics API: `GET /api/v1/stats/satisfaction` (API.md) read from the rollups, the KPIs, and
the streamed exports."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView

from core import refdata
from core.api import api_blueprint, guard, public
from core.auth import require_staff, visible_department_id
from core.calendar import local_date
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.models import Role
from hotline.models import TicketType
from reports.stats import exports, monthly, service, three_rates
from reports.stats.funnel import FunnelFilters, funnel
from reports.stats.kpis import KpiFilters, kpis
from reports.stats.schemas import (
    ExportQuery,
    FunnelOut,
    FunnelQuery,
    KpiOut,
    KpiQuery,
    MonthlyReportQuery,
    PublicSatisfactionOut,
    SatisfactionOut,
    SatisfactionQuery,
    ThreeRatesOut,
    ThreeRatesQuery,
    TicketExportQuery,
)

blp = api_blueprint("stats", __name__, "/stats", "Satisfaction statistics (满意率) from rollups")
public_blp = api_blueprint("public_stats", __name__, "/public", "评价结果公开: public satisfaction figures")

MAX_DAYS = 3660


def period(args: dict[str, Any]) -> tuple[date, date]:
    """Asia/Shanghai days from..to, both included; the last 30 days by default."""
    end = args.get("to") or local_date(utcnow())
    start = args.get("from_") or end - timedelta(days=29)
    if start > end:
        raise ValidationFailed("Bad period.", {"from": ["Must not be after `to`."]})
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed("Bad period.", {"from": [f"At most {MAX_DAYS} days."]})
    return start, end


def filters_from(args: dict[str, Any]) -> service.Filters:
    """Query arguments to filters; unknown codes are 404."""
    start, end = period(args)
    return service.Filters(
        start=start,
        end=end,
        department_id=refdata.get_department(args["department"]).id if args.get("department") else None,
        region_code=refdata.get_region(args["region"]).code if args.get("region") else None,
        service_item_id=refdata.get_service_item(args["service"]).id if args.get("service") else None,
        channel=args.get("channel"),
        rater_type=args.get("rater_type"),
        include_default=bool(args.get("include_default")),
    )


@blp.route("/satisfaction")
class Satisfaction(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN)
    @blp.arguments(SatisfactionQuery, location="query")
    @blp.response(200, SatisfactionOut)
    def get(self, args: dict[str, Any]) -> Response:
        """满意率, 好评率, 差评率 of first ratings over Asia/Shanghai days (default: the last 30).

        Read from rollups folded every few seconds plus the ratings not folded yet, so the
        figures are exact at once and the cost does not grow with the number of ratings. Voided ratings count in `total` only; system default ratings are
        left out unless `include_default=true`. `rater_type=2` gives the enterprise (涉企) view.
        """
        body = service.satisfaction_json(filters_from(args), args.get("group_by"))
        return Response(body, mimetype="application/json")


def _kpi_filters(args: dict[str, Any]) -> KpiFilters:
    """A handler sees their own department's KPIs and tickets; another department is 404."""
    start, end = period(args)
    department_id = refdata.get_department(args["department"]).id if args.get("department") else None
    scope = visible_department_id(require_staff())
    if scope is not None:
        if department_id not in (None, scope):
            raise NotFound("Department not found.")
        department_id = scope
    return KpiFilters(
        start=start,
        end=end,
        department_id=department_id,
        region_code=refdata.get_region(args["region"]).code if args.get("region") else None,
        ticket_type=TicketType(args["type"]) if args.get("type") else None,
        enterprise=args.get("enterprise"),
    )


@blp.route("/kpis")
class Kpis(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN, Role.HANDLER)
    @blp.arguments(KpiQuery, location="query")
    @blp.response(200, KpiOut)
    def get(self, args: dict[str, Any]) -> Any:
        """差评回访及时率, 整改按期率, 12345 按时办结率, 回访率, 解决率, 涉企 share, handling time in
        working hours, and what is overdue now.

        Each rate is `{numerator, denominator, rate}` (rate null when nothing counts); see
        docs/statistics.md for the definitions. `group_by` adds `groups`, the same figures per
        department, region or period (`overdue` per department or region only). A handler sees
        their own department only.
        """
        return kpis(_kpi_filters(args), args.get("group_by"))


FILE_DOC = {
    "responses": {
        "200": {
            "description": "A CSV or XLSX file, streamed.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in exports.MEDIA_TYPES.values()
            },
        }
    }
}


def _download(name: str, fmt: str, header: Any, rows: Any, lang: str = "zh") -> Response:
    stream = exports.STREAMERS[fmt](header, rows, lang)
    response = Response(stream_with_context(stream), content_type=exports.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/satisfaction/export")
class SatisfactionExport(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN)
    @blp.arguments(ExportQuery, location="query")
    @blp.doc(**FILE_DOC)
    def get(self, args: dict[str, Any]) -> Response:
        """The satisfaction view (same filters and `group_by`) as CSV or XLSX: one row for the
        whole period, then one per group."""
        filters = filters_from(args)
        body = service.satisfaction(filters, args.get("group_by"))
        name = f"satisfaction-{filters.start}-{filters.end}"
        lang = args["lang"]
        rows = exports.stats_rows(body, lang, exports.group_codes(args.get("group_by")))
        return _download(name, args["format"], exports.STATS_COLUMNS, rows, lang)


@blp.route("/ratings/export")
class RatingsExport(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN, Role.HANDLER)
    @blp.arguments(ExportQuery, location="query")
    @blp.doc(**FILE_DOC)
    def get(self, args: dict[str, Any]) -> Response:
        """Raw first and follow-up ratings (same filters; `group_by` ignored) as CSV or XLSX, in id
        order, streamed; names, phones and numbers in comments masked. A handler gets their own
        department's ratings only."""
        filters = filters_from(args)
        scope = visible_department_id(require_staff())
        if scope is not None:
            if filters.department_id not in (None, scope):
                raise NotFound("Department not found.")
            filters = replace(filters, department_id=scope)
        name = f"ratings-{filters.start}-{filters.end}"
        rows = exports.rating_rows(filters, lang=args["lang"], reader=require_staff())
        return _download(name, args["format"], exports.RATING_COLUMNS, rows, args["lang"])


@blp.route("/tickets/export")
class TicketsExport(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN, Role.HANDLER)
    @blp.arguments(TicketExportQuery, location="query")
    @blp.doc(**FILE_DOC)
    def get(self, args: dict[str, Any]) -> Response:
        """12345 tickets created on the days asked for (default: the last 30) as CSV or XLSX, in id
        order, streamed, with their deadlines, on-time flag and handling time in working hours.
        Callers' names and phones are masked (nothing of a confidential caller is shown), numbers
        in the text scrubbed, addresses cut at the district. A handler gets the tickets their
        department leads; another department is 404."""
        filters = _kpi_filters(args)
        name = f"tickets-{filters.start}-{filters.end}"
        rows = exports.ticket_rows(filters, lang=args["lang"])
        return _download(name, args["format"], exports.TICKET_COLUMNS, rows, args["lang"])


@blp.route("/funnel")
class Funnel(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN, Role.HANDLER)
    @blp.arguments(FunnelQuery, location="query")
    @blp.response(200, FunnelOut)
    def get(self, args: dict[str, Any]) -> Any:
        """The bad-review funnel over one cohort — valid first bad reviews rated in the range —
        each stage a subset of the one before: 差评 → 已回访 → 核实属实 → 整改中 → 已验收 → 已公开
        (docs/statistics.md). `group_by` adds the same per department or region. A handler sees
        their own department only."""
        scope = _kpi_filters(args)
        filters = FunnelFilters(scope.start, scope.end, scope.department_id, scope.region_code)
        return funnel(filters, args.get("group_by"))


@blp.route("/three-rates")
class ThreeRates(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN, Role.HANDLER)
    @blp.arguments(ThreeRatesQuery, location="query")
    @blp.response(200, ThreeRatesOut)
    def get(self, args: dict[str, Any]) -> Any:
        """三率 of a month per 市县 or department: 响应率 (signed for on time / dispatched), 解决率,
        满意率 (each `{numerator, denominator, rate}` or `{valid, rate}`) and the composite
        Σ weight × rate (weights in the body; null when a rate has nothing to count), best first.
        A handler sees their own department only."""
        month = args.get("month") or local_date(utcnow()).strftime("%Y-%m")
        start, end = monthly.month_days(month)
        scope = visible_department_id(require_staff())
        region = refdata.get_region(args["region"]).code if args.get("region") else None
        filters = KpiFilters(start=start, end=end, department_id=scope, region_code=region)
        return {"month": month, **three_rates.ranking(filters, args["group_by"])}


@blp.route("/monthly-report")
class MonthlyReport(MethodView):
    @guard(blp, Role.MANAGER, Role.ADMIN, Role.HANDLER)
    @blp.arguments(MonthlyReportQuery, location="query")
    @blp.doc(**FILE_DOC)
    def get(self, args: dict[str, Any]) -> Response:
        """月度报告: one month as an XLSX workbook of four sheets — 汇总 (the headline rates with last
        month's and the change), 市县, 部门, 差评整改 — each total row equal to `/satisfaction`,
        `/kpis` and `/funnel` for the month. Written in constant memory and streamed. A handler
        gets their own department's report."""
        month = args.get("month") or local_date(utcnow()).strftime("%Y-%m")
        scope = monthly.Scope(visible_department_id(require_staff()))
        stream = monthly.workbook(month, scope, args["lang"])
        response = Response(stream_with_context(stream), content_type=exports.MEDIA_TYPES["xlsx"])
        response.headers["Content-Disposition"] = f'attachment; filename="monthly-report-{month}.xlsx"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@public_blp.route("/satisfaction")
class PublicSatisfaction(MethodView):
    @public(public_blp)
    @public_blp.response(200, PublicSatisfactionOut)
    def get(self) -> Any:
        """评价结果公开: satisfaction by department over the last 30 days (counts and rates only)."""
        return service.public_board(local_date(utcnow()))
