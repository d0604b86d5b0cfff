"""月度报告 (issue 19): one month's figures as a four-sheet XLSX workbook — 汇总 (the headline
rates with last month's value and the change), 市县, 部门, and 差评整改 (the bad-review funnel with
the callback and rectification rates).

Every figure is taken from the bodies the API answers (`service.satisfaction`, `kpis.kpis`,
`funnel.funnel`) for the same month and scope: no second computation, so each total row equals
`GET /api/v1/stats/satisfaction`, `/kpis` and `/funnel` for that month. The workbook is written by
`exports.xlsx_workbook` (constant memory, streamed in chunks)."""

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from core.db import db
from core.models import Department, Region
from reports.stats import exports, service
from reports.stats.exports import INT, RATE, Column, Sheet
from reports.stats.funnel import STAGES, FunnelFilters, funnel
from reports.stats.kpis import KpiFilters, kpis


def month_days(month: str) -> tuple[date, date]:
    """`2026-11` to its first and last day; ValueError for anything else."""
    year, number = (int(part) for part in month.split("-", 1))
    last = calendar.monthrange(year, number)[1]
    return date(year, number, 1), date(year, number, last)


def previous_month(start: date) -> tuple[date, date]:
    end = start - timedelta(days=1)
    return end.replace(day=1), end


@dataclass(frozen=True)
class Scope:
    """Whose figures: everything (a manager) or one department (a handler)."""

    department_id: int | None = None

    def satisfaction(self, start: date, end: date) -> service.Filters:
        return service.Filters(start=start, end=end, department_id=self.department_id)

    def kpi(self, start: date, end: date) -> KpiFilters:
        return KpiFilters(start=start, end=end, department_id=self.department_id)

    def funnel(self, start: date, end: date) -> FunnelFilters:
        return FunnelFilters(start=start, end=end, department_id=self.department_id)


# The headline rates: (title zh, title en, where the figure is).
SATISFACTION_RATES = (
    ("满意率", "Satisfaction rate", "satisfaction_rate", (3, 4, 5)),
    ("好评率", "Good-review rate", "good_rate", (4, 5)),
    ("差评率", "Bad-review rate", "bad_rate", (1, 2)),
)
KPI_RATES = (
    ("差评回访及时率", "Bad-review callbacks on time", "bad_review_callback_timeliness"),
    ("整改按期率", "Rectifications on time", "rectification_on_time"),
    ("按时办结率", "Tickets closed on time", "on_time_completion"),
    ("回访率", "Tickets called back", "callback_rate"),
    ("解决率", "Resolution rate", "resolution_rate"),
)

SUMMARY_COLUMNS = (
    Column("figure", "指标", "Figure", width=22),
    Column("numerator", "分子", "Numerator", INT),
    Column("denominator", "分母", "Denominator", INT),
    Column("rate", "本月", "This month", RATE),
    Column("previous", "上月", "Last month", RATE),
    Column("change", "变化", "Change", RATE),
    Column("target", "目标", "Target", RATE),
)

GROUP_FIGURES = (
    Column("valid", "有效评价数", "Valid ratings", INT),
    Column("satisfaction_rate", "满意率", "Satisfaction rate", RATE),
    Column("good_rate", "好评率", "Good-review rate", RATE),
    Column("bad_rate", "差评率", "Bad-review rate", RATE),
    *(Column(key, zh, en, RATE, 14) for zh, en, key in KPI_RATES),
)
REGION_COLUMNS = (Column("code", "市县代码", "Region code"), Column("name", "市县", "Region", width=14), *GROUP_FIGURES)
DEPARTMENT_COLUMNS = (
    Column("code", "部门代码", "Department code", width=14),
    Column("name", "部门", "Department", width=34),
    *GROUP_FIGURES,
)
STAGE_TITLES = {
    "bad": ("差评", "Bad reviews"),
    "followed_up": ("已回访", "Followed up"),
    "confirmed": ("核实属实", "Confirmed"),
    "rectifying": ("整改中", "Rectification started"),
    "accepted": ("已验收", "Accepted"),
    "published": ("已公开", "Published"),
}
BAD_REVIEW_COLUMNS = (
    Column("code", "部门代码", "Department code", width=14),
    Column("name", "部门", "Department", width=34),
    *(Column(stage, *STAGE_TITLES[stage], INT) for stage in STAGES),
    Column("bad_review_callback_timeliness", "差评回访及时率", "Bad-review callbacks on time", RATE, 14),
    Column("rectification_on_time", "整改按期率", "Rectifications on time", RATE, 14),
)
SHEET_NAMES = {
    "zh": ("汇总", "市县", "部门", "差评整改"),
    "en": ("Summary", "Regions", "Departments", "Bad reviews"),
}


@dataclass(frozen=True)
class Month:
    """The API bodies of one month (and the month before, for the change) in one scope."""

    start: date
    end: date
    satisfaction: dict[str, Any]
    previous_satisfaction: dict[str, Any]
    kpis: dict[str, Any]
    previous_kpis: dict[str, Any]
    by_region: tuple[dict[str, Any], dict[str, Any]]
    by_department: tuple[dict[str, Any], dict[str, Any]]
    funnel: dict[str, Any]
    target: float

    @classmethod
    def load(cls, month: str, scope: Scope) -> "Month":
        start, end = month_days(month)
        before = previous_month(start)
        now = scope.satisfaction(start, end)
        return cls(
            start=start,
            end=end,
            satisfaction=service.satisfaction(now),
            previous_satisfaction=service.satisfaction(scope.satisfaction(*before)),
            kpis=kpis(scope.kpi(start, end)),
            previous_kpis=kpis(scope.kpi(*before)),
            by_region=(service.satisfaction(now, "region"), kpis(scope.kpi(start, end), "region")),
            by_department=(service.satisfaction(now, "department"), kpis(scope.kpi(start, end), "department")),
            funnel=funnel(scope.funnel(start, end), "department"),
            target=float(current_app.config["SATISFACTION_TARGET"]),
        )


def _change(now: Any, before: Any) -> Any:
    return None if now is None or before is None else round(now - before, 4)


def summary_rows(month: Month, lang: str) -> Iterator[Sequence[Any]]:
    """One row per headline rate: numerator, denominator, this month, last month, the change."""
    body, before = month.satisfaction, month.previous_satisfaction
    for zh, en, key, levels in SATISFACTION_RATES:
        numerator = sum(body["levels"][str(level)] for level in levels)
        rate, previous = body[key], before[key]
        yield (
            en if lang == "en" else zh,
            numerator,
            body["valid"],
            rate,
            previous,
            _change(rate, previous),
            month.target,
        )
    for zh, en, key in KPI_RATES:
        figure, previous = month.kpis[key], month.previous_kpis[key]["rate"]
        rate = figure["rate"]
        yield (
            en if lang == "en" else zh,
            figure["numerator"],
            figure["denominator"],
            rate,
            previous,
            _change(rate, previous),
            month.target,
        )


def _figures(satisfaction: dict[str, Any] | None, kpi: dict[str, Any] | None) -> tuple[Any, ...]:
    sat = satisfaction or {"valid": 0, "satisfaction_rate": None, "good_rate": None, "bad_rate": None}
    return (
        sat["valid"],
        sat["satisfaction_rate"],
        sat["good_rate"],
        sat["bad_rate"],
        *((kpi[key]["rate"] if kpi else None) for _, _, key in KPI_RATES),
    )


def _by_key(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group["key"]: group for group in body.get("groups", [])}


def group_rows(
    bodies: tuple[dict[str, Any], dict[str, Any]],
    totals: tuple[dict[str, Any], dict[str, Any]],
    names: dict[str, tuple[str, str]],
    lang: str,
) -> Iterator[Sequence[Any]]:
    """合计 first (the month's API totals), then every known 市县 or department in code order, then
    any group the reference table lacks (no department: "-")."""
    satisfaction, kpi = _by_key(bodies[0]), _by_key(bodies[1])
    yield ("", exports.TOTAL_LABEL.get(lang, "合计"), *_figures(*totals))
    seen = set()
    for key, (code, name) in names.items():
        seen.add(key)
        yield (code, name, *_figures(satisfaction.get(key), kpi.get(key)))
    for key in sorted((set(satisfaction) | set(kpi)) - seen):
        label = (satisfaction.get(key) or kpi.get(key) or {}).get("label", "-")
        yield (key, label, *_figures(satisfaction.get(key), kpi.get(key)))


def region_names(lang: str) -> dict[str, tuple[str, str]]:
    rows = db.session.execute(select(Region.code, Region.name, Region.name_en).order_by(Region.code))
    return {code: (code, (english or name) if lang == "en" else name) for code, name, english in rows}


def department_names(scope: Scope, lang: str) -> dict[str, tuple[str, str]]:
    stmt = select(Department.id, Department.code, Department.name, Department.name_en).order_by(Department.code)
    if scope.department_id is not None:
        stmt = stmt.where(Department.id == scope.department_id)
    return {
        str(i): (code, (english or name) if lang == "en" else name)
        for i, code, name, english in db.session.execute(stmt)
    }


def bad_review_rows(month: Month, names: dict[str, tuple[str, str]], lang: str) -> Iterator[Sequence[Any]]:
    """合计 first (the funnel and KPI totals), then each department with bad reviews or callbacks."""
    stages, kpi = _by_key(month.funnel), _by_key(month.by_department[1])

    def rates(figures: dict[str, Any] | None) -> tuple[Any, Any]:
        if not figures:
            return (None, None)
        return figures["bad_review_callback_timeliness"]["rate"], figures["rectification_on_time"]["rate"]

    totals = month.funnel["stages"]
    yield ("", exports.TOTAL_LABEL.get(lang, "合计"), *(totals[s] for s in STAGES), *rates(month.kpis))
    for key in sorted(set(stages) | {k for k, g in kpi.items() if _has_bad_review_work(g)}, key=_key_order):
        code, name = names.get(key, (key, (stages.get(key) or kpi.get(key) or {}).get("label", "-")))
        counted = stages.get(key, {}).get("stages", dict.fromkeys(STAGES, 0))
        yield (code, name, *(counted[s] for s in STAGES), *rates(kpi.get(key)))


def _has_bad_review_work(group: dict[str, Any]) -> bool:
    return bool(group["bad_review_callback_timeliness"]["denominator"] or group["rectification_on_time"]["denominator"])


def _key_order(key: str) -> tuple[bool, int, str]:
    return key == "", int(key) if key.isdigit() else 0, key


def workbook(month: str, scope: Scope, lang: str = "zh") -> Iterator[bytes]:
    """The monthly report as XLSX bytes in chunks."""
    figures = Month.load(month, scope)
    departments = department_names(scope, lang)
    region_totals = (figures.satisfaction, figures.kpis)
    sheets = [
        Sheet(SHEET_NAMES[lang][0], SUMMARY_COLUMNS, summary_rows(figures, lang)),
        Sheet(
            SHEET_NAMES[lang][1], REGION_COLUMNS, group_rows(figures.by_region, region_totals, region_names(lang), lang)
        ),
        Sheet(
            SHEET_NAMES[lang][2],
            DEPARTMENT_COLUMNS,
            group_rows(figures.by_department, region_totals, departments, lang),
        ),
        Sheet(SHEET_NAMES[lang][3], BAD_REVIEW_COLUMNS, bad_review_rows(figures, departments, lang)),
    ]
    return exports.xlsx_workbook(sheets, lang)
