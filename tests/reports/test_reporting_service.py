"""The outbox: rows written by the domain signals in the sender's transaction, the per-subject
order of the sweep, backoff and dead letters, status and retry, /healthz, /metrics, CLI, page, API."""

from datetime import UTC, datetime, timedelta

import factories as f
import pytest
from flask import current_app
from sqlalchemy import select

from callbacks.models import Callback, CallbackStatus, Purpose, RectificationCase
from core.db import db, utcnow
from core.models import Role
from core.scheduler import scheduled_jobs
from core.signals import appeal_decided, callback_completed, case_accepted
from ratings.models import AppealKind, AppealStatus, EventKind, RatingAppeal, ServiceEvent
from ratings.recording import record_rating
from reports.provincial import delivery, service
from reports.provincial.jobs import JOB_NAME, deliver_reports
from reports.provincial.models import OutboxRow, OutboxStatus


def _event(**kw):
    dept = f.department()
    item = f.service_item(dept)
    event = ServiceEvent(
        kind=EventKind.COUNTER, department_id=dept.id, service_item_id=item.id, region_code="460100", **kw
    )
    db.session.add(event)
    db.session.flush()
    return event


def _rows():
    return list(db.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def _send(signal, **kw):
    signal.send(current_app._get_current_object(), **kw)


def test_a_rating_writes_its_report_in_the_same_transaction(database):
    event = _event(external_ref="BJ-2026-7")
    rating = record_rating(event, 4, 3, "很好，联系我 13812345678")
    [row] = _rows()
    assert (row.kind, row.subject_type, row.subject_id, row.status) == ("rating", "event", event.id, "pending")
    assert row.payload["projectNo"] == "BJ-2026-7"
    assert row.payload["satisfaction"] == 4 and row.payload["pf"] == 3 and row.payload["assessNumber"] == 1
    assert row.payload["deptCode"] == rating.department.code
    assert row.payload["taskCode"] == rating.service_item.code
    assert row.payload["writingEvaluation"] == "很好，联系我 138****5678"
    db.session.rollback()  # the rating goes, and so does its report
    assert _rows() == []


def test_a_follow_up_rating_is_its_own_kind_on_the_same_subject(database):
    event = _event()
    record_rating(event, 2, 2, "太慢")
    record_rating(event, 5, 2, "整改后满意", assess_number=2)
    first, follow_up = [r for r in _rows() if r.kind in ("rating", "follow_up")]
    assert (first.kind, follow_up.kind) == ("rating", "follow_up")
    assert first.subject_id == follow_up.subject_id == event.id
    assert follow_up.payload["assessNumber"] == 2 and follow_up.id > first.id


def test_callback_rectification_and_appeal_signals_report_on_the_rating_s_event(database):
    event = _event()
    rating = record_rating(event, 1, 2, "态度差")
    when = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    # Not added to the session: the receivers read them as the senders hand them over.
    _send(
        callback_completed,
        callback=Callback(
            id=9,
            rating=rating,
            purpose=Purpose.VERIFY_BAD_REVIEW,
            subject_type="rating",
            subject_id=rating.id,
            status=CallbackStatus.DONE,
            outcome="verified",
            completed_at=when,
            on_time=True,
            department=rating.department,
            region_code="460100",
        ),
    )
    _send(
        case_accepted,
        case=RectificationCase(
            id=3,
            rating=rating,
            department=rating.department,
            action_taken="已整改",
            accepted_at=when,
            accepted_on_time=True,
            immediate=False,
            region_code="460100",
        ),
    )
    appeal = RatingAppeal(
        id=5, kind=AppealKind.MALICIOUS, status=AppealStatus.REJECTED, decision_note="", decided_at=when
    )
    _send(appeal_decided, appeal=appeal, rating=rating)
    _send(appeal_decided, appeal=RatingAppeal(id=6, status=AppealStatus.PENDING), rating=rating)  # undecided
    rows = [r for r in _rows() if r.subject_type == "event"]
    assert [r.kind for r in rows] == ["rating", "callback", "rectification", "appeal"]
    assert {r.subject_id for r in rows} == {event.id}
    project = rows[0].payload["projectNo"]
    assert all(r.payload["projectNo"] == project for r in rows)
    assert rows[1].payload["visitResult"] == 1 and rows[1].payload["visitTime"] == "2026-10-08 10:00:00"
    assert rows[2].payload["rectifyContent"] == "已整改"
    assert rows[3].payload["appealResult"] == 2


def test_a_ticket_callback_reports_on_the_ticket_s_service_event(database):
    event = _event(ticket_id=77, ticket_number="HN2026100800077")
    satisfaction = {"purpose": Purpose.TICKET_SATISFACTION, "status": CallbackStatus.DONE, "subject_type": "ticket"}
    service.enqueue_callback(Callback(id=1, subject_id=77, outcome="level_5", **satisfaction))
    service.enqueue_callback(Callback(id=2, subject_id=78, **satisfaction))  # no service event
    first, second = _rows()
    assert (first.subject_type, first.subject_id, first.payload["projectNo"]) == ("event", event.id, "HN2026100800077")
    assert first.payload["visitType"] == 3
    assert (second.subject_type, second.subject_id, second.payload["projectNo"]) == ("ticket", 78, "")


def _row(subject_id, kind="rating", subject_type="event"):
    return service.enqueue(kind, subject_type, subject_id, {"projectNo": f"P{subject_id}"})


def test_each_subject_is_delivered_in_id_order_and_a_failure_blocks_only_its_subject(database):
    a1, b1, a2 = _row(1), _row(2), _row(1)
    now = utcnow()
    claimed = service.claim_due(10, 30, now)
    assert [c.id for c in claimed] == [a1.id, b1.id]  # a2 waits for a1
    assert service.claim_due(10, 30, now) == []  # leased
    service.mark_failed(claimed[0], "HTTP 500", 5, 1.0, 1.0, now)
    service.mark_sent(b1.id, now)
    later = now + timedelta(seconds=2)
    again = service.claim_due(10, 30, later)
    assert [c.id for c in again] == [a1.id]
    assert again[0].attempts == 1
    service.mark_sent(a1.id, later)
    assert [c.id for c in service.claim_due(10, 30, later)] == [a2.id]


def test_release_gives_rows_back_without_counting_a_try(database):
    row = _row(1)
    [claimed] = service.claim_due(10, 300)
    service.release([claimed.id])
    [again] = service.claim_due(10, 300)
    assert again.id == row.id and again.attempts == 0


def test_dead_after_the_last_try_blocks_its_subject_until_retried(database):
    a1, _a2, b1 = _row(1), _row(1), _row(2)
    now = utcnow()
    for attempt in range(3):
        claimed = {c.id: c for c in service.claim_due(10, 30, now)}
        assert a1.id in claimed
        status = service.mark_failed(claimed[a1.id], f"HTTP 500 #{attempt}", 3, 0.0, 0.0, now)
        for other in set(claimed) - {a1.id}:
            service.release([other], now)
    assert status == OutboxStatus.DEAD
    figures = service.status()
    assert (figures.backlog, figures.dead, figures.blocked, figures.sent) == (2, 1, 1, 0)
    assert [c.id for c in service.claim_due(10, 30, now)] == [b1.id]  # a2 stays behind the dead a1
    [dead] = service.dead_letters()
    assert (dead.id, dead.attempts, dead.last_error) == (a1.id, 3, "HTTP 500 #2")
    assert service.retry() == 1
    db.session.refresh(a1)
    assert (a1.status, a1.attempts) == (OutboxStatus.PENDING, 0)


def test_retry_by_id_and_waiting_rows(database):
    a, b = _row(1), _row(2)
    now = utcnow()
    for claimed in service.claim_due(10, 30, now):
        service.mark_failed(claimed, "boom", 1, 1.0, 1.0, now)
    assert service.retry([b.id]) == 1
    db.session.refresh(a)
    db.session.refresh(b)
    assert (a.status, b.status) == (OutboxStatus.DEAD, OutboxStatus.PENDING)
    c = _row(3)
    claimed = {x.id: x for x in service.claim_due(10, 30, c.created_at)}
    service.mark_failed(claimed[c.id], "boom", 10, 3600.0, 3600.0, c.created_at)
    assert service.retry(waiting=True) >= 2  # a revived, c made due now


def test_backoff_is_full_jitter_capped_exponential():
    assert service.backoff_seconds(1, 2.0, 900.0, lambda: 1.0) == 2.0
    assert service.backoff_seconds(4, 2.0, 900.0, lambda: 1.0) == 16.0
    assert service.backoff_seconds(20, 2.0, 900.0, lambda: 1.0) == 900.0
    assert service.backoff_seconds(10_000, 2.0, 900.0, lambda: 1.0) == 900.0
    assert service.backoff_seconds(4, 2.0, 900.0, lambda: 0.0) == 0.0
    assert 0 <= service.backoff_seconds(6, 2.0, 900.0) <= 64.0


def test_status_reports_backlog_and_oldest_pending(database):
    assert service.status().backlog == 0
    first = _row(1)
    _row(2)
    figures = service.status()
    assert figures.backlog == 2 and figures.oldest_pending_at == first.created_at
    assert figures.oldest_pending_age_seconds(first.created_at + timedelta(seconds=90)) == 90
    assert service.backlog() == 2


def test_without_a_url_the_outbox_fills_and_the_job_idles(database, app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORTING_URL", "")
    record_rating(_event(), 5, 1)
    assert delivery.deliver_due().summary() == "idle: no REPORTING_URL"
    assert service.backlog() == 1
    monkeypatch.setitem(app.config, "REPORTING_URL", "http://127.0.0.1:9/report")
    monkeypatch.setitem(app.config, "REPORTING_SECRET", "")
    assert "REPORTING_SECRET" in delivery.deliver_due().summary()
    monkeypatch.setitem(app.config, "REPORTING_URL", "file:///etc/passwd")
    monkeypatch.setitem(app.config, "REPORTING_SECRET", "s")
    assert "http(s)" in delivery.deliver_due().summary()
    assert service.backlog() == 1


def test_the_delivery_job_is_registered(app):
    [job] = [j for j in scheduled_jobs(app) if j.name == JOB_NAME]
    assert job.func is deliver_reports and job.seconds(app.config) == app.config["REPORTING_INTERVAL_SECONDS"]


def test_healthz_shows_the_backlog_as_a_figure(client):
    _row(1)
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["database"], body["reporting_backlog"]) == ("ok", "ok", 1)
    assert body["reporting_lag_seconds"] >= 0


def test_metrics_expose_the_backlog(client):
    _row(1)
    _row(2)
    db.session.commit()
    body = client.get("/metrics").get_data(as_text=True)
    assert "haocha_outbox_backlog 2.0" in body
    assert "haocha_outbox_dead_letters 0.0" in body


def test_cli_status_and_retry(runner):
    row = _row(1)
    [claimed] = service.claim_due(10, 30)
    service.mark_failed(claimed, "HTTP 502: bad gateway", 1, 1.0, 1.0)
    _row(1)
    db.session.commit()
    result = runner.invoke(args=["reporting", "status"])
    assert result.exit_code == 0, result.output
    assert "backlog\t1" in result.output
    assert "dead letters\t1" in result.output
    assert "lag\t0h00m" in result.output
    assert "blocked by dead letters\t1" in result.output
    assert f"dead\t#{row.id}\trating\tevent:1\t1\tHTTP 502: bad gateway" in result.output
    result = runner.invoke(args=["reporting", "retry", "--id", str(row.id)])
    assert result.exit_code == 0 and "1 reports due again" in result.output
    assert service.status().dead == 0


def test_cli_deliver_idles_without_a_url(runner, app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORTING_URL", "")
    result = runner.invoke(args=["reporting", "deliver"])
    assert result.exit_code == 0 and "idle: no REPORTING_URL" in result.output


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_the_admin_page_shows_figures_and_retries(client, role):
    row = _row(1)
    [claimed] = service.claim_due(10, 30)
    service.mark_failed(claimed, "HTTP 500: 13812345678", 1, 1.0, 1.0)
    db.session.commit()
    f.login(client, f.user(role))
    page = client.get("/reporting?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Dead letters" in html and "P1" in html
    assert "13812345678" not in html
    assert 'name="csrf_token"' in html
    assert "<script" not in html and "style=" not in html
    response = client.post("/reporting/retry", data={"id": str(row.id)})
    assert response.status_code == 302
    db.session.refresh(row)
    assert row.status == OutboxStatus.PENDING


@pytest.mark.parametrize("role", [Role.AGENT, Role.HANDLER])
def test_the_admin_page_is_for_admins_and_managers_only(client, role):
    f.login(client, f.user(role))
    assert client.get("/reporting").status_code == 403
    assert client.post("/reporting/retry").status_code == 403


def test_the_page_is_in_chinese_by_default(client):
    f.login(client, f.user(Role.MANAGER))
    html = client.get("/reporting").get_data(as_text=True)
    assert "省级平台实时上报" in html


def test_the_retry_form_needs_its_csrf_token(tmp_path):
    from tests_support import build_app_with

    app = build_app_with(f"sqlite:///{tmp_path}/csrf.db", create_schema=True, WTF_CSRF_ENABLED=True)
    with app.app_context():
        manager = f.user(Role.MANAGER)
        client = app.test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = login_page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"username": manager.username, "password": f.PASSWORD, "csrf_token": token})
        assert client.post("/reporting/retry").status_code == 400
        page = client.get("/reporting").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        assert client.post("/reporting/retry", data={"csrf_token": token}).status_code == 302


def test_api_status_and_retry(client):
    row = _row(1)
    [claimed] = service.claim_due(10, 30)
    service.mark_failed(claimed, "boom", 1, 1.0, 1.0)
    db.session.commit()
    headers = f.bearer(f.user(Role.MANAGER))
    body = client.get("/api/v1/reporting/status", headers=headers).json
    assert (body["backlog"], body["dead"], body["sent"]) == (0, 1, 0)
    assert (body["lag_seconds"], body["lagging"]) == (0.0, False)  # a dead letter is not lag
    response = client.post("/api/v1/reporting/retry", json={"ids": [row.id]}, headers=headers)
    assert response.status_code == 200 and response.json == {"changed": 1}
    assert client.post("/api/v1/reporting/retry", json={"bogus": 1}, headers=headers).status_code == 422
    agent = f.bearer(f.user(Role.AGENT))
    assert client.get("/api/v1/reporting/status", headers=agent).status_code == 403
    assert client.get("/api/v1/reporting/status").status_code == 401


def test_a_real_appeal_decision_maps_fully(database):
    from ratings.models import AppealKind, RatingAppeal

    event = _event()
    rating = record_rating(event, 1, 8, "办了三趟")
    manager = f.user(Role.MANAGER)
    appeal = RatingAppeal(
        rating_id=rating.id,
        department_id=rating.department_id,
        kind=AppealKind.MALICIOUS,
        reason="恶意",
        filed_by_id=manager.id,
    )
    db.session.add(appeal)
    db.session.flush()
    appeal.decide(manager, True, "支持，来电 13812345678")
    db.session.flush()
    _send(appeal_decided, appeal=appeal, rating=rating)
    first, decision = [r for r in _rows() if r.subject_id == event.id]
    assert first.payload["pf"] == 6  # the hotline callback channel
    assert decision.kind == "appeal"
    assert decision.payload == {
        "reportType": "appeal",
        "projectNo": first.payload["projectNo"],
        "assessNumber": 1,
        "deptCode": rating.department.code,
        "appealType": "malicious",
        "appealResult": 1,
        "appealOpinion": "支持，来电 138****5678",
        "appealTime": decision.payload["appealTime"],
    }
    assert decision.payload["appealTime"]


def test_real_callback_and_case_rows_map_fully(database):
    """The signals with the real callbacks models (attribute names checked, not just stand-ins)."""
    from sqlalchemy import inspect

    from callbacks.models import Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase

    if not inspect(db.session.connection()).has_table("callbacks"):
        pytest.skip("the callbacks tables are not in this app yet (callbacks.init_app not wired)")
    event = _event()
    rating = record_rating(event, 3, 2, "")
    dept = rating.department
    now = utcnow()
    callback = Callback(
        purpose=Purpose.VERIFY_BAD_REVIEW,
        subject_type="rating",
        subject_id=rating.id,
        rating_id=rating.id,
        department_id=dept.id,
        region_code="460100",
        status=CallbackStatus.DONE,
        outcome="verified",
        due_at=now,
        completed_at=now,
        on_time=True,
    )
    case = RectificationCase(
        rating_id=rating.id,
        department_id=dept.id,
        region_code="460100",
        status=CaseStatus.ACCEPTED,
        action_taken="已整改 13812345678",
        accepted_at=now,
        accepted_on_time=True,
        immediate=True,
    )
    db.session.add_all([callback, case])
    db.session.flush()
    _send(callback_completed, callback=callback)
    _send(case_accepted, case=case)
    by_kind = {r.kind: r.payload for r in _rows() if r.subject_id == event.id}
    assert by_kind["callback"] == {
        "reportType": "visit",
        "projectNo": by_kind["rating"]["projectNo"],
        "assessNumber": 1,
        "deptCode": dept.code,
        "areaCode": "460100",
        "visitType": 1,
        "visitResult": 1,
        "visitOutcome": "verified",
        "visitTime": by_kind["callback"]["visitTime"],
        "visitOnTime": 1,
    }
    assert by_kind["callback"]["visitTime"]
    assert by_kind["rectification"]["rectifyContent"] == "已整改 138****5678"
    assert by_kind["rectification"]["deptCode"] == dept.code
    assert (by_kind["rectification"]["rectifyOnTime"], by_kind["rectification"]["rectifyImmediate"]) == (1, 1)
