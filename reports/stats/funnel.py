"""The bad-review funnel as a real funnel (issue 19): one cohort, each stage a subset of the one
before, so no stage can ever be larger than the stage above it.

The cohort: valid first ratings that are bad reviews (levels 1-2, or hidden bad), rated on the
Asia/Shanghai days asked for (and of the department or 市县 asked for). Each rating of the cohort
then counts in a stage when it also counts in every stage above:

1. 差评 (bad): every rating of the cohort.
2. 已回访 (followed up): its verification callback was completed, or — an anonymous review with no
   phone to call goes straight to the department as a case to verify — the department finished
   verifying it.
3. 核实属实 (confirmed): that follow-up confirmed a real problem (callback outcome `verified`, or the
   department opened the case).
4. 整改中 (rectification started): a rectification case was opened for it.
5. 已验收 (accepted): a manager accepted the department's report.
6. 已公开 (published): the case is on the public feedback board.

The older funnel (`kpis.funnel`, since removed) counted each stage separately, so cases of anonymous reviews
(verified by the department, never called back) could make a later stage larger than an earlier
one. This module reads the raw tables with correlated EXISTS tests, one query per call.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select

from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.db import db
from ratings.models import Rating, RatingStatus
from reports.stats.service import group_order, labels

STAGES = ("bad", "followed_up", "confirmed", "rectifying", "accepted", "published")
GROUP_BY = ("department", "region")


@dataclass(frozen=True)
class FunnelFilters:
    start: date
    end: date
    department_id: int | None = None
    region_code: str | None = None


def _callback(*conditions: Any) -> Any:
    return exists().where(
        Callback.rating_id == Rating.id,
        Callback.purpose == Purpose.VERIFY_BAD_REVIEW,
        Callback.status == CallbackStatus.DONE,
        *conditions,
    )


def _case(*conditions: Any) -> Any:
    return exists().where(RectificationCase.rating_id == Rating.id, *conditions)


def stage_conditions() -> list[Any]:
    """The condition of each stage after the first, each including the one before."""
    followed_up = or_(
        _callback(),
        _case(or_(RectificationCase.opened_at.is_not(None), RectificationCase.status == CaseStatus.DISMISSED)),
    )
    confirmed = and_(
        followed_up, or_(_callback(Callback.outcome == "verified"), _case(RectificationCase.opened_at.is_not(None)))
    )
    rectifying = and_(confirmed, _case(RectificationCase.opened_at.is_not(None)))
    accepted = and_(rectifying, _case(RectificationCase.accepted_at.is_not(None)))
    published = and_(accepted, _case(RectificationCase.published_at.is_not(None)))
    return [followed_up, confirmed, rectifying, accepted, published]


def _cohort(filters: FunnelFilters) -> list[Any]:
    conditions = [
        Rating.local_day >= filters.start,
        Rating.local_day <= filters.end,
        Rating.assess_number == 1,
        Rating.status == RatingStatus.VALID,
        or_(Rating.is_bad_review.is_(True), Rating.hidden_bad.is_(True)),
    ]
    if filters.department_id is not None:
        conditions.append(Rating.department_id == filters.department_id)
    if filters.region_code is not None:
        conditions.append(Rating.region_code == filters.region_code)
    return conditions


def _stages(numbers: Sequence[Any]) -> dict[str, int]:
    return {name: int(n or 0) for name, n in zip(STAGES, numbers, strict=True)}


def funnel(filters: FunnelFilters, group_by: str | None = None) -> dict[str, Any]:
    """`{"stages": {...}}` for the whole cohort and, with `group_by` (department or region),
    `groups`: `[{key, label, stages}]` in key order (no department or region: key "", last)."""
    sums = [func.count(), *(func.sum(case((condition, 1), else_=0)) for condition in stage_conditions())]
    where = _cohort(filters)
    total = db.session.execute(select(*sums).select_from(Rating).where(*where)).one()
    body: dict[str, Any] = {"from": filters.start, "to": filters.end, "stages": _stages(total)}
    if group_by is None:
        return body
    column = Rating.department_id if group_by == "department" else Rating.region_code
    rows = db.session.execute(select(column, *sums).select_from(Rating).where(*where).group_by(column)).all()
    found = {row[0] or None: _stages(row[1:]) for row in rows}
    names = labels(group_by, [k for k in found if k is not None])
    body["groups"] = [
        {
            "key": "" if key is None else str(key),
            "label": "-" if key is None else names.get(key, ""),
            "stages": found[key],
        }
        for key in sorted(found, key=group_order)
    ]
    return body
