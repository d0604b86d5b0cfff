"""三率 (issue 19): the monthly ranking of 市县 and departments by 响应率, 解决率 and 满意率, as
12345 centres publish it (Beijing's 接诉即办 "三率"), and a weighted composite.

- 响应率 (response): tickets dispatched in the range (their last dispatch) that were signed for
  (taken) by their sign-for deadline / tickets dispatched in the range. Read here from tickets,
  grouped by lead department or 市县.
- 解决率 (resolution): the KPI of that name (`kpis.kpis`, `resolution_rate`).
- 满意率 (satisfaction): the satisfaction figure (`service.satisfaction`, `satisfaction_rate`).
- 综合 (composite) = Σ weight × rate over the three, weights `THREE_RATES_WEIGHTS` in
  config/domain.py (they sum to 1); none when any of the three has nothing to count, so a unit
  is never ranked on part of its work.
"""

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, func, select

from core.calendar import start_of_day
from core.db import db
from hotline.models import Ticket
from reports.stats import service
from reports.stats.kpis import KpiFilters, kpis, ratio
from reports.stats.service import group_order, labels

GROUP_BY = ("region", "department")
RATES = ("response", "resolution", "satisfaction")


def response_counts(filters: KpiFilters, group_by: str | None = None) -> dict[Any, list[int]]:
    """{group key (None without group_by): [signed for on time, dispatched]}."""
    on_time = and_(Ticket.taken_at.is_not(None), Ticket.taken_at <= Ticket.take_due_at)
    where = [
        Ticket.dispatched_at >= start_of_day(filters.start),
        Ticket.dispatched_at < start_of_day(filters.end + timedelta(days=1)),
    ]
    if filters.department_id is not None:
        where.append(Ticket.lead_department_id == filters.department_id)
    if filters.region_code is not None:
        where.append(Ticket.region_code == filters.region_code)
    sums = [func.sum(case((on_time, 1), else_=0)), func.count()]
    if group_by is None:
        row = db.session.execute(select(*sums).where(*where)).one()
        return {None: [int(row[0] or 0), int(row[1] or 0)]}
    column = Ticket.region_code if group_by == "region" else Ticket.lead_department_id
    rows = db.session.execute(select(column, *sums).where(*where).group_by(column))
    return {row[0] or None: [int(row[1] or 0), int(row[2] or 0)] for row in rows}


def weights() -> dict[str, float]:
    return {name: float(current_app.config["THREE_RATES_WEIGHTS"][name]) for name in RATES}


def composite(rates: dict[str, float | None], weight: dict[str, float]) -> float | None:
    if any(rates[name] is None for name in RATES):
        return None
    return round(sum(weight[name] * float(rates[name] or 0) for name in RATES), 4)


def _entry(
    key: Any,
    label: str,
    response: list[int],
    resolution: dict[str, Any],
    satisfaction: dict[str, Any] | None,
    weight: dict[str, float],
) -> dict[str, Any]:
    sat = satisfaction or {"valid": 0, "satisfaction_rate": None}
    rates = {
        "response": ratio(*response)["rate"],
        "resolution": resolution["rate"],
        "satisfaction": sat["satisfaction_rate"],
    }
    return {
        "key": "" if key is None else str(key),
        "label": label,
        "response": ratio(*response),
        "resolution": resolution,
        "satisfaction": {"valid": sat["valid"], "rate": sat["satisfaction_rate"]},
        "composite": composite(rates, weight),
    }


def ranking(filters: KpiFilters, group_by: str) -> dict[str, Any]:
    """The 三率 of every 市县 or department with any of them, best composite first (those without a
    composite last, by name), with the totals and the weights used."""
    weight = weights()
    response = {"" if k is None else str(k): v for k, v in response_counts(filters, group_by).items()}
    resolution = {g["key"]: g["resolution_rate"] for g in kpis(filters, group_by).get("groups", [])}
    sat_filters = service.Filters(filters.start, filters.end, filters.department_id, filters.region_code)
    satisfaction = {g["key"]: g for g in service.satisfaction(sat_filters, group_by)["groups"]}
    totals = service.satisfaction(sat_filters)
    keys = (set(response) | set(resolution) | set(satisfaction)) - {""}
    raw = {key: int(key) if group_by == "department" else key for key in keys}
    names = labels(group_by, list(raw.values()))
    empty = ratio(0, 0)
    rows = [
        _entry(
            key,
            names.get(raw[key], key),
            response.get(key, [0, 0]),
            resolution.get(key, empty),
            satisfaction.get(key),
            weight,
        )
        for key in sorted(keys, key=group_order)
    ]
    rows.sort(key=lambda r: (r["composite"] is None, -(r["composite"] or 0), r["label"]))
    total = _entry(None, "", response_counts(filters)[None], kpis(filters)["resolution_rate"], totals, weight)
    return {"from": filters.start, "to": filters.end, "weights": weight, "total": total, "groups": rows}
