"""评价精准: nobody inside can fake, steer or harvest a rating — who may issue tokens for what,
issuer keys, staff never rate, and the fraud signals that hold a rating for a manager's review."""

import json

import factories as f
import pytest
from sqlalchemy import select

from callbacks.models import Callback
from core.db import db
from core.models import Role
from ratings import issuers, recording, review, tokens
from ratings.models import IssuedVia, Rating, RatingAuditEvent, RatingStatus, ServiceEvent

ISSUER_ADDR = "198.51.100.20"
CITIZEN_ADDR = "203.0.113.7"


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


@pytest.fixture
def signals_on(app, monkeypatch):
    """The fraud signals with their production defaults (the test config exempts 127.0.0.1)."""
    from config.domain import DOMAIN_DEFAULTS

    for key in ("REVIEW_EXEMPT_NETWORKS", "REVIEW_STAFF_TOKEN_SECONDS", "REVIEW_ADDRESS_MAX", "REVIEW_SAME_ADDRESS"):
        monkeypatch.setitem(app.config, key, DOMAIN_DEFAULTS[key])


def _issuer(*depts) -> str:
    _issuer_row, key = issuers.create_issuer(f"counter-{depts[0].code}", [d.code for d in depts])
    db.session.commit()
    return key


def _issue(client, key: str, body: dict | None = None, address: str = ISSUER_ADDR):
    return client.post("/api/v1/service-events", json=body or {}, headers={issuers.HEADER: key}, **_from(address))


# --- who may issue for what ---------------------------------------------------------------


def test_a_handler_cannot_issue_for_another_departments_item_or_region(client):
    mine, theirs = f.department(region="460100"), f.department(region="460200")
    their_item = f.service_item(theirs)
    headers = f.bearer(f.user(Role.HANDLER, mine))
    for body in (
        {"department": theirs.code},
        {"service_item": their_item.code},
        {"region": "460200"},
        {"department": mine.code, "service_item": their_item.code},
    ):
        response = client.post("/api/v1/service-events", json=body, headers=headers)
        assert response.status_code == 403, body
    ok = client.post("/api/v1/service-events", json={}, headers=headers, **_from(ISSUER_ADDR))
    assert ok.status_code == 201
    event = db.session.get(ServiceEvent, ok.json["id"])
    assert (event.department_id, event.region_code, event.issued_via) == (mine.id, "460100", IssuedVia.STAFF)
    assert event.issuer_address == ISSUER_ADDR and event.created_by_id is not None


def test_staff_without_a_department_issue_only_neutral_events(client):
    dept = f.department()
    headers = f.bearer(f.user(Role.MANAGER))
    assert client.post("/api/v1/service-events", json={"department": dept.code}, headers=headers).status_code == 403
    assert client.post("/api/v1/service-events", json={"region": "460200"}, headers=headers).status_code == 422
    neutral = client.post("/api/v1/service-events", json={}, headers=headers)
    assert neutral.status_code == 201
    event = db.session.get(ServiceEvent, neutral.json["id"])
    assert event.department_id is None and event.region_code is None


def test_an_issuer_key_issues_for_its_departments_only(client):
    mine, theirs = f.department(region="460100"), f.department(region="460200")
    item, their_item = f.service_item(mine), f.service_item(theirs)
    key = _issuer(mine)
    created = _issue(client, key, {"service_item": item.code, "external_ref": "BJ-1"})
    assert created.status_code == 201 and set(created.json) == {"id", "token", "rate_url", "qr_url", "expires_at"}
    event = db.session.get(ServiceEvent, created.json["id"])
    assert event.issued_via == IssuedVia.ISSUER and event.issuer_id is not None and event.created_by_id is None
    assert (event.department_id, event.issuer_address) == (mine.id, ISSUER_ADDR)
    for body in ({"department": theirs.code}, {"service_item": their_item.code}, {"region": "460200"}):
        assert _issue(client, key, body).status_code == 403, body
    assert _issue(client, "iss_not-a-key").status_code == 401
    issuers.revoke_issuer(f"counter-{mine.code}")
    db.session.commit()
    assert _issue(client, key).status_code == 401


def test_an_issuer_key_with_several_departments_must_name_one(client):
    first, second = f.department(), f.department()
    key = _issuer(first, second)
    assert _issue(client, key).status_code == 422
    assert _issue(client, key, {"department": second.code}).status_code == 201


def test_issuers_cli_prints_the_key_once_and_revokes(runner, client):
    dept = f.department()
    created = runner.invoke(args=["issuers", "create", "hall-pad-1", "--department", dept.code])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("iss_") and len(key) > 40
    row = db.session.scalar(select(issuers.Issuer).where(issuers.Issuer.name == "hall-pad-1"))
    assert row.key_hash != key and key not in json.dumps(row.department_ids)
    listed = runner.invoke(args=["issuers", "list"])
    assert "hall-pad-1" in listed.output and dept.code in listed.output and key not in listed.output
    assert runner.invoke(args=["issuers", "create", "x", "--department", "NOPE"]).exit_code != 0
    assert runner.invoke(args=["issuers", "revoke", "hall-pad-1"]).exit_code == 0
    assert _issue(client, key).status_code == 401


# --- staff never rate -----------------------------------------------------------------------


def test_a_signed_in_browser_session_cannot_rate_through_the_api(client):
    token = tokens.create_service_event({}).token
    db.session.commit()
    f.login(client, f.user(Role.HANDLER))
    response = client.post("/api/v1/ratings", json={"token": token, "level": 5})
    assert response.status_code == 403 and "Staff" in response.json["message"]
    assert db.session.scalar(select(Rating).where(Rating.event_id.is_not(None)).limit(1)) is None


def test_any_bearer_token_is_refused_on_the_rating_api(client):
    token = tokens.create_service_event({}).token
    db.session.commit()
    for headers in (f.bearer(f.user(Role.AGENT)), {"Authorization": "Bearer made-up"}):
        assert client.post("/api/v1/ratings", json={"token": token, "level": 5}, headers=headers).status_code == 403
    assert client.post("/api/v1/ratings", json={"token": token, "level": 5}).status_code == 201


def test_the_form_refuses_a_signed_in_staff_member(client):
    token = tokens.create_service_event({}).token
    db.session.commit()
    f.login(client, f.user(Role.MANAGER))
    page = client.get(f"/rate/{token}")
    assert page.status_code == 200 and "工作人员" in page.get_data(as_text=True)
    refused = client.post(f"/rate/{token}", data={"level": "5"})
    assert refused.status_code == 403
    assert tokens.resolve_token(token).token is not None  # the link is still unused


# --- fraud signals and review ---------------------------------------------------------------


def test_twenty_ratings_from_one_address_count_ten_and_hold_the_rest(client, signals_on):
    dept = f.department()
    key = _issuer(dept)
    tokens = [_issue(client, key).json["token"] for _ in range(20)]
    statuses = []
    for token in tokens:
        body = {"token": token, "level": 1, "contact": {"phone": "13800001234"}}
        answer = client.post("/api/v1/ratings", json=body, **_from(CITIZEN_ADDR))
        assert answer.status_code == 201
        statuses.append(answer.json["status"])
    assert statuses == ["valid"] * 10 + ["pending"] * 10
    held = db.session.scalars(select(Rating).where(Rating.status == RatingStatus.PENDING)).all()
    assert all("address_burst" in r.review_reasons for r in held)
    assert all(r.client_hash and CITIZEN_ADDR not in r.client_hash for r in held)

    manager = f.user(Role.MANAGER)
    headers = f.bearer(manager)
    query = f"/api/v1/stats/satisfaction?department={dept.code}"
    stats = client.get(query, headers=headers).json
    assert (stats["valid"], stats["levels"]["1"], stats["pending_review"]) == (10, 10, 10)
    # Held bad reviews are not called back until they count; counted ones are.
    callbacks = db.session.scalars(select(Callback).where(Callback.subject_id.in_([r.id for r in held]))).all()
    assert callbacks == []
    assert len(db.session.scalars(select(Callback)).all()) == 10

    listed = client.get("/api/v1/rating-reviews", headers=headers).json
    assert listed["total"] == 10 and listed["items"][0]["review_reasons"] == ["address_burst"]
    for rating in held[:4]:
        done = client.post(f"/api/v1/rating-reviews/{rating.id}", json={"decision": "confirm"}, headers=headers)
        assert done.status_code == 200 and done.json["status"] == "valid"
    rejected = client.post(
        f"/api/v1/rating-reviews/{held[4].id}", json={"decision": "reject", "note": "刷评"}, headers=headers
    )
    assert rejected.status_code == 200 and rejected.json["status"] == "voided"
    again = client.post(f"/api/v1/rating-reviews/{held[4].id}", json={"decision": "confirm"}, headers=headers)
    assert again.status_code == 409
    stats = client.get(query, headers=headers).json
    assert (stats["valid"], stats["total"], stats["pending_review"]) == (14, 15, 5)
    # Confirmed bad reviews get their verification callback now.
    confirmed_ids = [r.id for r in held[:4]]
    assert len(db.session.scalars(select(Callback).where(Callback.subject_id.in_(confirmed_ids))).all()) == 4
    actions = db.session.scalars(
        select(RatingAuditEvent.action).where(RatingAuditEvent.rating_id.in_([r.id for r in held[:5]]))
    ).all()
    assert sorted(actions).count("review.confirmed") == 4 and "review.rejected" in actions


def test_a_handler_may_not_review(client, signals_on):
    handler = f.user(Role.HANDLER)
    assert client.get("/api/v1/rating-reviews", headers=f.bearer(handler)).status_code == 403
    assert (
        client.post("/api/v1/rating-reviews/1", json={"decision": "confirm"}, headers=f.bearer(handler)).status_code
        == 403
    )


def test_rating_from_the_address_that_issued_the_token_is_held(client, signals_on):
    dept = f.department()
    key = _issuer(dept)
    token = _issue(client, key, address=ISSUER_ADDR).json["token"]
    answer = client.post("/api/v1/ratings", json={"token": token, "level": 5}, **_from(ISSUER_ADDR))
    assert answer.status_code == 201 and answer.json["status"] == "pending"
    assert db.session.get(Rating, answer.json["id"]).review_reasons == ["issuer_address"]


def test_exempt_hall_networks_skip_the_address_signals(app, client, signals_on, monkeypatch):
    monkeypatch.setitem(app.config, "REVIEW_EXEMPT_NETWORKS", ["198.51.100.0/24"])
    key = _issuer(f.department())
    token = _issue(client, key, address=ISSUER_ADDR).json["token"]
    answer = client.post("/api/v1/ratings", json={"token": token, "level": 5}, **_from(ISSUER_ADDR))
    assert answer.json["status"] == "valid"


def test_a_staff_issued_token_used_at_once_is_held(client, signals_on):
    handler = f.user(Role.HANDLER)
    created = client.post("/api/v1/service-events", json={}, headers=f.bearer(handler), **_from(ISSUER_ADDR))
    answer = client.post("/api/v1/ratings", json={"token": created.json["token"], "level": 5}, **_from(CITIZEN_ADDR))
    assert answer.json["status"] == "pending"
    assert db.session.get(Rating, answer.json["id"]).review_reasons == ["instant_staff_token"]


def test_a_departments_burst_of_one_level_is_held(app, database, monkeypatch):
    monkeypatch.setitem(app.config, "REVIEW_BURST_MIN", 5)
    dept = f.department()
    statuses = []
    for i in range(8):
        token = tokens.create_service_event({"department": dept.code}).token
        rating = recording.rate_with_token(token, 1, None, review.Client(f"192.0.2.{i}"))
        statuses.append(rating.status.value)
    assert statuses == ["valid"] * 4 + ["pending"] * 4
    assert db.session.get(Rating, rating.id).review_reasons == ["department_burst"]


def test_the_review_page_confirms_and_rejects(client, signals_on):
    key = _issuer(f.department())
    held = []
    for _ in range(2):
        token = _issue(client, key).json["token"]
        held.append(client.post("/api/v1/ratings", json={"token": token, "level": 2}, **_from(ISSUER_ADDR)).json["id"])
    manager = f.user(Role.MANAGER)
    f.login(client, manager)
    page = client.get("/staff/ratings/review")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "评价来自签发链接的同一地址" in text and f"#{held[0]}" in text
    client.post(f"/staff/ratings/review/{held[0]}", data={"decision": "confirm"})
    client.post(f"/staff/ratings/review/{held[1]}", data={"decision": "reject"})
    assert db.session.get(Rating, held[0]).status == RatingStatus.VALID
    assert db.session.get(Rating, held[1]).status == RatingStatus.VOIDED
    assert "暂无待复核的评价" in client.get("/staff/ratings/review").get_data(as_text=True)


def test_issuing_is_limited_per_issuer_key_and_per_person(tmp_path):
    from tests_support import app_with_limits

    limits = {"ISSUER_RATE_LIMIT": "3 per minute", "STAFF_ISSUE_RATE_LIMIT": "2 per minute"}
    with app_with_limits(f"sqlite:///{tmp_path / 'issue-limits.db'}", **limits) as app:
        with app.app_context():
            dept = f.department()
            key_a, key_b = _issuer(dept), issuers.create_issuer("second", [dept.code])[1]
            staff_headers = f.bearer(f.user(Role.HANDLER, dept))
            db.session.commit()
            db.session.remove()
        client = app.test_client()
        answers = [_issue(client, key_a).status_code for _ in range(4)]
        assert answers == [201, 201, 201, 429]
        assert _issue(client, key_b).status_code == 201  # each key counts alone
        post = lambda: client.post("/api/v1/service-events", json={}, headers=staff_headers).status_code  # noqa: E731
        assert [post(), post(), post()] == [201, 201, 429]
