"""Issue 19, acceptance 2: the bad-review funnel is a funnel — one cohort, each stage a subset of
the one before — on the demo data and on any history hypothesis makes up, and it equals the stage
definitions (docs/statistics.md) applied in Python to the raw rows."""

from datetime import timedelta
from itertools import pairwise

import factories as f
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stats_support import callback_row, rating

from callbacks.models import CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.calendar import local_date
from core.db import db, utcnow
from core.models import Role
from ratings.models import RatingStatus
from reports.stats.funnel import STAGES, FunnelFilters, funnel


def _monotone(stages: dict[str, int]) -> bool:
    numbers = [stages[s] for s in STAGES]
    return all(a >= b >= 0 for a, b in pairwise(numbers))


def test_the_funnel_is_monotone_on_the_demo_data(runner, client):
    result = runner.invoke(args=["demo", "load", "--ratings", "1500", "--seed", "7"])
    assert result.exit_code == 0, result.output
    manager = f.user(Role.MANAGER)
    today = local_date(utcnow())
    start = today - timedelta(days=89)
    response = client.get(f"/api/v1/stats/funnel?from={start}&to={today}&group_by=region", headers=f.bearer(manager))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["stages"]["bad"] > 0 and body["stages"]["published"] > 0  # the demo walks cases to the end
    assert _monotone(body["stages"])
    assert all(_monotone(group["stages"]) for group in body["groups"])
    for stage in STAGES:  # every cohort rating lands in exactly one group
        assert sum(group["stages"][stage] for group in body["groups"]) == body["stages"][stage]
    by_department = client.get(
        f"/api/v1/stats/funnel?from={start}&to={today}&group_by=department", headers=f.bearer(manager)
    ).json
    assert by_department["stages"] == body["stages"] and all(_monotone(g["stages"]) for g in by_department["groups"])


CALLBACK = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from([CallbackStatus.DONE, CallbackStatus.PENDING, CallbackStatus.UNREACHABLE]),
        st.sampled_from(["verified", "not_verified", ""]),
    ),
)
# Any combination of the case's moments, even ones the workflow would not make (accepted but
# never opened): the funnel must stay a funnel whatever the rows say.
CASE = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(list(CaseStatus)), st.booleans(), st.booleans(), st.booleans()),
)
RATING = st.tuples(
    st.integers(1, 5),
    st.booleans(),
    st.sampled_from([RatingStatus.VALID, RatingStatus.VALID, RatingStatus.VOIDED]),
    CALLBACK,
    CASE,
)


def _expected(history: list[tuple]) -> dict[str, int]:
    """The stage definitions, restated over the generated rows."""
    counts = dict.fromkeys(STAGES, 0)
    for level, hidden_bad, status, callback, case in history:
        if status != RatingStatus.VALID or not (level <= 2 or hidden_bad):
            continue
        done = callback is not None and callback[0] == CallbackStatus.DONE
        opened = case is not None and case[1]
        followed_up = done or opened or (case is not None and case[0] == CaseStatus.DISMISSED)
        confirmed = followed_up and ((done and callback[1] == "verified") or opened)
        rectifying = confirmed and opened
        accepted = rectifying and case[2]
        published = accepted and case[3]
        for stage, counted in zip(STAGES, (True, followed_up, confirmed, rectifying, accepted, published), strict=True):
            counts[stage] += int(counted)
    return counts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(RATING, max_size=12))
def test_the_funnel_is_monotone_on_any_history(ctx, history):
    dept = f.department()  # a fresh department per example: earlier examples' rows stay out
    now = utcnow()
    for level, hidden_bad, status, callback, case in history:
        row = rating(now, level, dept, hidden_bad=hidden_bad, status=status)
        db.session.flush()
        if callback is not None:
            callback_row(
                dept,
                now,
                Purpose.VERIFY_BAD_REVIEW,
                callback[0],
                rating_id=row.id,
                subject_id=row.id,
                outcome=callback[1],
            )
        if case is not None:
            case_status, opened, accepted, published = case
            db.session.add(
                RectificationCase(
                    rating_id=row.id,
                    department_id=dept.id,
                    region_code=dept.region_code,
                    status=case_status,
                    opened_at=now if opened else None,
                    accepted_at=now if accepted else None,
                    published_at=now if published else None,
                )
            )
    db.session.flush()
    day = local_date(now)
    body = funnel(FunnelFilters(day, day, department_id=dept.id), "department")
    assert _monotone(body["stages"])
    assert body["stages"] == _expected(history)
    assert [g["stages"] for g in body["groups"]] == ([body["stages"]] if body["stages"]["bad"] else [])


def test_a_handler_sees_their_own_funnel(client):
    dept, other = f.department(), f.department()
    handler = f.user(Role.HANDLER, dept)
    assert client.get(f"/api/v1/stats/funnel?department={other.code}", headers=f.bearer(handler)).status_code == 404
    assert client.get("/api/v1/stats/funnel", headers=f.bearer(handler)).status_code == 200
    assert client.get("/api/v1/stats/funnel", headers=f.bearer(f.user(Role.AGENT))).status_code == 403


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_a_title(stage):
    from reports.stats.monthly import STAGE_TITLES

    assert STAGE_TITLES[stage][0] and STAGE_TITLES[stage][1]
