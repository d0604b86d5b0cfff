"""KPIs: 差评回访及时率, 整改按期率, 12345 按时办结率, 回访率 and 涉企 share over Asia/Shanghai days,
with what is overdue; a handler sees their own department only."""

from datetime import timedelta

import factories as f
import hotline_factories as hf
from stats_support import callback_row, rating

from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.calendar import local_date
from core.db import db, utcnow
from core.models import Role


def _callback(dept, due, status=CallbackStatus.PENDING, on_time=None):
    return callback_row(dept, due, status=status, on_time=on_time)


def _case(dept, due, status, on_time=None):
    bad = rating(due, 1, dept)
    db.session.flush()
    row = RectificationCase(
        rating_id=bad.id,
        department_id=dept.id,
        region_code=dept.region_code,
        status=status,
        due_at=due,
        accepted_at=due if on_time is not None else None,
        accepted_on_time=on_time,
    )
    db.session.add(row)
    return row


def test_kpis_count_what_they_should(client):
    dept, other = f.department(), f.department()
    manager, handler = f.user(Role.MANAGER), f.user(Role.HANDLER, dept)
    now = utcnow()
    past, future = now - timedelta(hours=2), now + timedelta(hours=2)
    _callback(dept, past, CallbackStatus.DONE, True)
    _callback(dept, past, CallbackStatus.DONE, False)
    _callback(dept, past)  # overdue: counts against
    _callback(dept, future)  # not yet due: not counted
    _callback(other, past, CallbackStatus.DONE, True)
    _case(dept, past, CaseStatus.ACCEPTED, True)
    _case(dept, past, CaseStatus.OPEN)  # overdue
    _case(dept, future, CaseStatus.OPEN)  # not yet due
    db.session.commit()
    hf.closed(dept, is_enterprise=True)
    hf.ticket(dept=dept)
    today = local_date(now)
    span = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    body = client.get(f"/api/v1/stats/kpis?{span}&department={dept.code}", headers=f.bearer(manager)).json
    assert body["bad_review_callback_timeliness"] == {"numerator": 1, "denominator": 3, "rate": 0.3333}
    assert body["rectification_on_time"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert body["on_time_completion"] == {"numerator": 1, "denominator": 1, "rate": 1.0}
    assert body["callback_rate"]["denominator"] == 1
    assert body["enterprise_share"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert body["overdue"] == {"callbacks": 1, "rectifications": 1}
    everyone = client.get(f"/api/v1/stats/kpis?{span}", headers=f.bearer(manager)).json
    assert everyone["bad_review_callback_timeliness"]["denominator"] >= 4
    own = client.get(f"/api/v1/stats/kpis?{span}", headers=f.bearer(handler)).json
    assert own["bad_review_callback_timeliness"] == body["bad_review_callback_timeliness"]
    hidden = client.get(f"/api/v1/stats/kpis?{span}&department={other.code}", headers=f.bearer(handler))
    assert hidden.status_code == 404
    default = client.get("/api/v1/stats/kpis", headers=f.bearer(manager)).json  # the last 30 days, as satisfaction
    today = local_date(utcnow())
    assert (default["from"], default["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert client.get(f"/api/v1/stats/kpis?{span}", headers=f.bearer(f.user(Role.AGENT))).status_code == 403


def test_kpis_over_an_empty_range_have_no_rates(client):
    manager = f.user(Role.MANAGER)
    body = client.get("/api/v1/stats/kpis?from=2001-01-01&to=2001-01-31", headers=f.bearer(manager)).json
    assert body["rectification_on_time"] == {"numerator": 0, "denominator": 0, "rate": None}
    assert body["on_time_completion"]["rate"] is None


def test_kpis_group_by_department_and_period(client):
    dept, other = f.department(), f.department(region="460200")
    manager, handler = f.user(Role.MANAGER), f.user(Role.HANDLER, dept)
    now = utcnow()
    _callback(dept, now - timedelta(hours=2))  # overdue, pending
    _case(other, now - timedelta(hours=2), CaseStatus.OPEN)  # overdue
    db.session.commit()
    hf.closed(dept)
    hf.closed(dept, is_enterprise=True)
    hf.closed(other)
    today = local_date(now)
    span = f"from={today - timedelta(days=1)}&to={today}"
    body = client.get(f"/api/v1/stats/kpis?{span}&group_by=department", headers=f.bearer(manager)).json
    groups = {g["key"]: g for g in body["groups"]}
    assert {str(dept.id), str(other.id)} <= set(groups)
    mine = groups[str(dept.id)]
    assert mine["label"] == dept.name
    assert mine["on_time_completion"] == {"numerator": 2, "denominator": 2, "rate": 1.0}
    assert mine["enterprise_share"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert mine["handling_hours"]["tickets"] == 2 and mine["overdue"] == {"callbacks": 1, "rectifications": 0}
    assert groups[str(other.id)]["overdue"] == {"callbacks": 0, "rectifications": 1}
    assert body["on_time_completion"]["denominator"] == sum(
        g["on_time_completion"]["denominator"] for g in groups.values()
    )
    assert body["overdue"]["callbacks"] == sum(g["overdue"]["callbacks"] for g in groups.values())
    plain = client.get(f"/api/v1/stats/kpis?{span}", headers=f.bearer(manager)).json
    assert "groups" not in plain and {k: v for k, v in body.items() if k != "groups"} == plain

    own = client.get(f"/api/v1/stats/kpis?{span}&group_by=region", headers=f.bearer(handler)).json
    assert [g["key"] for g in own["groups"]] == [dept.region_code]
    assert own["groups"][0]["on_time_completion"]["denominator"] == 2
    by_month = client.get(f"/api/v1/stats/kpis?{span}&group_by=month", headers=f.bearer(handler)).json
    assert all(g["overdue"] is None for g in by_month["groups"])
    assert sum(g["handling_hours"]["tickets"] for g in by_month["groups"]) == 2
    assert client.get(f"/api/v1/stats/kpis?{span}&group_by=channel", headers=f.bearer(manager)).status_code == 422
    assert (
        client.get(f"/api/v1/stats/kpis?{span}&group_by=day", headers=f.bearer(f.user(Role.AGENT))).status_code == 403
    )


def test_kpis_answer_resolution_and_handling_time(client):
    from callbacks import service as callbacks_service
    from callbacks.models import AttemptResult

    dept = f.department()
    manager, agent = f.user(Role.MANAGER), f.user(Role.AGENT)
    for level in (5, 2):
        ticket, _ = hf.closed(dept)
        callback = db.session.scalar(
            db.select(Callback).where(Callback.purpose == Purpose.TICKET_SATISFACTION, Callback.subject_id == ticket.id)
        )
        callbacks_service.record_attempt(
            callback, agent, AttemptResult.REACHED, answer=callbacks_service.Answer(level=level)
        )
        db.session.commit()
    today = local_date(utcnow())
    span = f"from={today}&to={today + timedelta(days=10)}"
    body = client.get(f"/api/v1/stats/kpis?{span}&department={dept.code}", headers=f.bearer(manager)).json
    assert body["resolution_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    hours = body["handling_hours"]
    assert hours["tickets"] == 1  # the reopened ticket is no longer closed
    assert hours["average"] == hours["total"] >= 0
