"""三率 (issue 19, part 4): 响应率 = tickets signed for by their deadline / tickets dispatched,
解决率 and 满意率 from the API's own figures, and the composite with the weights in
config/domain.py; per 市县 and per department for a month."""

from datetime import timedelta

import factories as f
import hotline_factories as hf
import pytest
import ratings_factories as rf

from core.calendar import local_date
from core.db import db, utcnow
from core.models import Role
from reports.stats import three_rates


def _month() -> str:
    return local_date(utcnow()).strftime("%Y-%m")


def test_response_satisfaction_and_the_composite(client):
    dept = f.department(region="469021")
    on_time, _ = hf.taken(dept, region_code="469021")
    late, _ = hf.taken(dept, region_code="469021")
    late.taken_at = late.take_due_at + timedelta(minutes=1)
    hf.ticket(dept=dept, region_code="469021")  # dispatched, not signed for
    db.session.commit()
    for level in (5, 5, 5, 1):
        rf.rate(rf.event(dept), level)
    manager = f.user(Role.MANAGER)
    body = client.get(f"/api/v1/stats/three-rates?month={_month()}&group_by=region", headers=f.bearer(manager)).json
    assert body["month"] == _month() and body["weights"] == {"response": 0.1, "resolution": 0.45, "satisfaction": 0.45}
    row = next(g for g in body["groups"] if g["key"] == "469021")
    assert row["label"] == "定安县"
    assert row["response"] == {"numerator": 1, "denominator": 3, "rate": pytest.approx(1 / 3, abs=1e-4)}
    assert row["satisfaction"] == {"valid": 4, "rate": 0.75}
    assert row["resolution"]["denominator"] == 0 and row["composite"] is None  # nothing answered yet
    satisfaction = client.get(
        f"/api/v1/stats/satisfaction?from={local_date(utcnow()).replace(day=1)}&to={local_date(utcnow())}",
        headers=f.bearer(manager),
    ).json
    assert body["total"]["satisfaction"]["rate"] == satisfaction["satisfaction_rate"]
    by_department = client.get(
        f"/api/v1/stats/three-rates?month={_month()}&group_by=department", headers=f.bearer(manager)
    ).json
    mine = next(g for g in by_department["groups"] if g["key"] == str(dept.id))
    assert mine["label"] == dept.name and mine["response"]["numerator"] == 1
    assert on_time.taken_at <= on_time.take_due_at


def test_the_composite_is_the_weighted_sum(app):
    weights = {"response": 0.1, "resolution": 0.45, "satisfaction": 0.45}
    rates = {"response": 0.5, "resolution": 1.0, "satisfaction": 0.75}
    assert three_rates.composite(rates, weights) == pytest.approx(0.8375)
    assert three_rates.composite({**rates, "resolution": None}, weights) is None
    assert sum(app.config["THREE_RATES_WEIGHTS"].values()) == pytest.approx(1.0)


def test_a_handler_sees_their_own_department(client):
    dept, other = f.department(), f.department()
    hf.taken(dept)
    hf.taken(other)
    body = client.get(
        "/api/v1/stats/three-rates?group_by=department", headers=f.bearer(f.user(Role.HANDLER, dept))
    ).json
    assert [g["key"] for g in body["groups"]] == [str(dept.id)]
    assert client.get("/api/v1/stats/three-rates", headers=f.bearer(f.user(Role.AGENT))).status_code == 403
