"""The API contract of API.md: service events, the public rating endpoint (201/404/409/410/422,
Idempotency-Key), staff lists with masked contacts, and who may do what."""

import re

import factories as f
import pytest
import ratings_factories as rf
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from core.db import db
from core.models import Role
from ratings.models import Rating, ServiceEvent

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _new_event(client, role=Role.AGENT, body=None, dept=None):
    staff = f.user(role, dept)
    response = client.post("/api/v1/service-events", json=body if body is not None else {}, headers=f.bearer(staff))
    assert response.status_code == 201, response.json
    return response.json


@pytest.mark.parametrize("role", [Role.AGENT, Role.HANDLER, Role.MANAGER])
def test_staff_create_a_service_event_with_an_empty_body(client, role):
    body = _new_event(client, role)
    assert set(body) == {"id", "token", "rate_url", "qr_url", "expires_at"}
    assert body["rate_url"] == f"http://localhost/rate/{body['token']}"
    assert body["qr_url"] == f"http://localhost/rate/{body['token']}/qr.svg"
    assert ISO_WITH_OFFSET.match(body["expires_at"])
    assert db.session.get(ServiceEvent, body["id"]) is not None


def test_every_field_of_a_service_event(client):
    dept = f.department()
    item = f.service_item(dept)
    body = {
        "department": dept.code,
        "service_item": item.code,
        "region": "460100",
        "kind": "online",
        "external_ref": "BJ20261008001",
        "staff": "工号0701",
    }
    created = _new_event(client, Role.HANDLER, body, dept)
    manager = f.user(Role.MANAGER)
    detail = client.get(f"/api/v1/service-events/{created['id']}", headers=f.bearer(manager)).json
    assert detail["department"] == dept.code and detail["service_item"] == item.code and detail["kind"] == "online"
    assert detail["external_ref"] == "BJ20261008001" and detail["staff"] == "工号0701"
    assert detail["token_status"] == "active" and detail["rating_id"] is None
    assert "token" not in detail


def test_public_base_url_makes_the_links(app, client):
    app.config["PUBLIC_BASE_URL"] = "https://12345.hainan.gov.cn"
    try:
        body = _new_event(client)
    finally:
        app.config["PUBLIC_BASE_URL"] = ""
    assert body["rate_url"].startswith("https://12345.hainan.gov.cn/rate/")


def test_creating_events_needs_an_issuing_role(client):
    assert client.post("/api/v1/service-events", json={}).status_code == 401
    admin = f.user(Role.ADMIN)
    assert client.post("/api/v1/service-events", json={}, headers=f.bearer(admin)).status_code == 403
    agent = f.user(Role.AGENT)
    bad = client.post("/api/v1/service-events", json={"kind": "standing", "x": 1}, headers=f.bearer(agent))
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"kind", "x"}


def test_the_rating_contract(client):
    token = _new_event(client)["token"]
    created = client.post(
        "/api/v1/ratings",
        json={
            "token": token,
            "level": 2,
            "comment": "等了两个小时",
            "contact": {"name": "张三丰", "phone": "13812345678"},
        },
    )
    assert created.status_code == 201
    body = created.json
    assert body["level"] == 2 and body["is_bad_review"] is True and body["hidden_bad"] is False
    assert body["contact"] == {"name": "张**", "phone": "138****5678"}
    assert ISO_WITH_OFFSET.match(body["created_at"]) and body["channel"] == 2 and body["status"] == "valid"

    again = client.post("/api/v1/ratings", json={"token": token, "level": 5})
    assert again.status_code == 409 and again.json["code"] == 409

    unknown = client.post("/api/v1/ratings", json={"token": "x" * 32, "level": 5})
    assert unknown.status_code == 404

    stale = _new_event(client)["token"]
    rf.expire(stale)
    assert client.post("/api/v1/ratings", json={"token": stale, "level": 5}).status_code == 410

    fresh = _new_event(client)["token"]
    invalid = client.post("/api/v1/ratings", json={"token": fresh, "level": 9})
    assert invalid.status_code == 422 and "level" in invalid.json["errors"]
    # A refused request leaves the link usable.
    assert client.post("/api/v1/ratings", json={"token": fresh, "level": 4}).status_code == 201


@pytest.mark.parametrize(
    ("level", "comment", "hidden"),
    [(4, rf.BAD_COMMENT, True), (5, rf.GOOD_COMMENT, False), (3, "不满意", True)],
)
def test_hidden_bad_reviews_over_the_api(client, level, comment, hidden):
    token = _new_event(client)["token"]
    body = client.post("/api/v1/ratings", json={"token": token, "level": level, "comment": comment}).json
    assert body["hidden_bad"] is hidden and body["level"] == level and body["is_bad_review"] is False


@pytest.mark.parametrize(
    "extra",
    [
        {"level": "5"},
        {"level": 0},
        {"channel": 7},
        {"channel": 8},
        {"contact": {"phone": "110"}},
        {"contact": {"email": "a@b.c"}},
        {"dimensions": {"overall": 6}},
        {"reasons": ["slow"]},
        {"surprise": True},
    ],
)
def test_bad_fields_are_422(client, extra):
    token = _new_event(client)["token"]
    response = client.post("/api/v1/ratings", json={"token": token, "level": 5, **extra})
    assert response.status_code == 422, response.json
    assert response.json["errors"]


def test_channels_dimensions_and_reasons(client):
    token = _new_event(client)["token"]
    body = client.post(
        "/api/v1/ratings",
        json={
            "token": token,
            "level": 1,
            "channel": 4,
            "dimensions": {"overall": 1, "attitude": 1},
            "reasons": ["attitude"],
            "rater_type": 2,
        },
    ).json
    assert body["channel"] == 4 and body["dimensions"] == {"overall": 1, "attitude": 1}
    assert body["reasons"] == ["attitude"] and body["rater_type"] == 2 and body["anonymous"] is True


def test_idempotency_key_replays_the_first_answer(client):
    token = _new_event(client)["token"]
    headers = {"Idempotency-Key": "3f1c6f5e-retry-1"}
    payload = {"token": token, "level": 5, "comment": "很好"}
    first = client.post("/api/v1/ratings", json=payload, headers=headers)
    second = client.post("/api/v1/ratings", json=dict(reversed(payload.items())), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Rating).where(Rating.id == first.json["id"])) == 1
    changed = client.post("/api/v1/ratings", json={**payload, "level": 4}, headers=headers)
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json["errors"]
    without_key = client.post("/api/v1/ratings", json=payload)
    assert without_key.status_code == 409


def test_an_invalid_idempotency_key_is_422(client):
    token = _new_event(client)["token"]
    response = client.post("/api/v1/ratings", json={"token": token, "level": 5}, headers={"Idempotency-Key": "k" * 200})
    assert response.status_code == 422


def test_no_staff_role_can_submit_a_citizens_rating(client):
    token = _new_event(client)["token"]
    for role in Role:
        staff = f.user(role) if role != Role.HANDLER else f.user(role, f.department())
        response = client.post("/api/v1/ratings", json={"token": token, "level": 5}, headers=f.bearer(staff))
        assert response.status_code == 403
    assert client.post("/api/v1/ratings", json={"token": token, "level": 5}).status_code == 201


def test_staff_lists_mask_contacts_and_handlers_see_their_department(client):
    mine, other = f.department(), f.department()
    for dept, phone in ((mine, "13812345678"), (other, "13987654321")):
        issued = rf.event(dept)
        rf.rate(issued, 1, comment="打13812345678没人接", contact={"name": "张三丰", "phone": phone})
    manager = f.user(Role.MANAGER)
    listed = client.get("/api/v1/ratings?bad=true", headers=f.bearer(manager)).json
    assert listed["total"] >= 2
    text = str(listed)
    assert "13812345678" not in text and "13987654321" not in text and "张三丰" not in text
    item = listed["items"][0]
    assert item["contact"]["phone"].startswith(("138****", "139****")) and "****" in item["comment"]
    handler = f.user(Role.HANDLER, mine)
    own = client.get("/api/v1/ratings", headers=f.bearer(handler)).json
    assert {i["department"] for i in own["items"]} == {mine.code}
    foreign = next(i for i in listed["items"] if i["department"] == other.code)
    assert client.get(f"/api/v1/ratings/{foreign['id']}", headers=f.bearer(handler)).status_code == 404
    assert client.get("/api/v1/ratings").status_code == 401


def test_standing_codes_over_the_api(client):
    dept = f.department()
    handler = f.user(Role.HANDLER, dept)
    created = client.post("/api/v1/standing-codes", json={"label": "3号窗口"}, headers=f.bearer(handler))
    assert created.status_code == 201
    body = created.json
    assert body["department"] == dept.code and body["token"].startswith("s.") and body["qr_url"].endswith(".svg")
    rating = client.post("/api/v1/ratings", json={"token": body["token"], "level": 5}).json
    assert rating["low_trust"] is True and rating["channel"] == 3
    revoked = client.post(f"/api/v1/standing-codes/{body['id']}/revoke", headers=f.bearer(handler))
    assert revoked.status_code == 200 and revoked.json["active"] is False
    assert client.post("/api/v1/ratings", json={"token": body["token"], "level": 5}).status_code == 410


def test_the_openapi_document_describes_the_ratings_api(client):
    spec = client.get("/api/openapi.json").json
    post = spec["paths"]["/api/v1/ratings"]["post"]
    assert post["security"] == []
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert spec["paths"]["/api/v1/service-events"]["post"]["x-roles"] == ["agent", "handler", "manager"]


def test_the_rating_schema_holds_the_limits_the_service_enforces(app, client):
    """What the OpenAPI document publishes is what a rating may hold: a longer comment or name
    is a JSON 422 naming the field, before the link is used; whitespace around does not count."""
    limit = app.config["RATING_COMMENT_MAX_LENGTH"]
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]
    assert schemas["RatingIn"]["properties"]["comment"]["maxLength"] == limit == 200
    assert schemas["ContactIn"]["properties"]["name"]["maxLength"] == 64
    token = _new_event(client)["token"]

    long_comment = client.post("/api/v1/ratings", json={"token": token, "level": 5, "comment": "好" * (limit + 1)})
    assert long_comment.status_code == 422 and long_comment.content_type == "application/json"
    assert long_comment.json["message"] == "Invalid input."
    assert long_comment.json["errors"] == {"comment": [f"Longer than maximum length {limit}."]}
    long_name = client.post("/api/v1/ratings", json={"token": token, "level": 5, "contact": {"name": "张" * 65}})
    assert long_name.status_code == 422
    assert long_name.json["errors"] == {"contact": {"name": ["Longer than maximum length 64."]}}

    app.config["RATING_COMMENT_MAX_LENGTH"] = 10  # a deployment's own limit holds in the schema too
    try:
        lowered = client.post("/api/v1/ratings", json={"token": token, "level": 5, "comment": "好" * 11})
    finally:
        app.config["RATING_COMMENT_MAX_LENGTH"] = limit
    assert lowered.status_code == 422 and lowered.json["errors"] == {"comment": ["Longer than maximum length 10."]}

    at_limit = {"token": token, "level": 5, "comment": f" {'好' * limit}\n", "contact": {"name": f"{'张' * 64} "}}
    created = client.post("/api/v1/ratings", json=at_limit)
    assert created.status_code == 201, created.json
    assert created.json["comment"] == "好" * limit


@pytest.mark.parametrize("level", [1, 5])
def test_from_the_token_claim_to_the_commit_a_citizens_rating_only_writes(client, level):
    """The token's claim comes once the rating is built, right before its insert; from there to
    the commit (on SQLite, while the write lock is held) every statement is a write, a bad
    review's callback included. (A process's first bad review reads the working calendar, which
    it then keeps.)"""
    warm = _new_event(client)["token"]
    assert client.post("/api/v1/ratings", json={"token": warm, "level": level}).status_code == 201
    token = _new_event(client)["token"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()[:3]).upper())

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        created = client.post(
            "/api/v1/ratings",
            json={"token": token, "level": level, "comment": "办事很快"},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},  # a citizen's phone: the fraud checks read
        )
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    assert created.status_code == 201
    claim = seen.index("UPDATE RATING_TOKENS SET")
    assert seen[claim + 1] == "INSERT INTO RATINGS"
    assert any(statement.startswith("SELECT ") for statement in seen[:claim])  # the fraud checks' reads
    after = seen[claim:]
    # (The test harness runs each request in a savepoint of its own.)
    assert all(statement.startswith(("INSERT ", "UPDATE ", "RELEASE SAVEPOINT")) for statement in after), after
    assert any(statement == "INSERT INTO CALLBACKS" for statement in after) == (level == 1)


@pytest.mark.parametrize("level", [1, 5])
def test_the_listeners_work_out_their_rows_before_the_first_write(client, monkeypatch, level):
    """The outbox payload (its text scrubbed), a bad review's callback deadline (from the
    calendar) and the 201's body are worked out before the token's claim, not while the write
    lock is held; the rows written from them, and the answer, are what the citizen gave."""
    from callbacks import service as callbacks_service
    from callbacks.models import Callback
    from reports.provincial import mapping
    from reports.provincial.models import OutboxRow

    token = _new_event(client)["token"]
    seen: list[str] = []
    payload, deadline = mapping.rating_record, callbacks_service.verification_deadline

    def record_payload(*args, **kwargs):
        seen.append("payload")
        return payload(*args, **kwargs)

    def record_deadline(*args, **kwargs):
        seen.append("deadline")
        return deadline(*args, **kwargs)

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()[:3]).upper())

    from ratings import schemas

    scrub = schemas.scrub_known_names

    def record_scrub(*args, **kwargs):
        seen.append("answer")
        return scrub(*args, **kwargs)

    monkeypatch.setattr(schemas, "scrub_known_names", record_scrub)
    monkeypatch.setattr(mapping, "rating_record", record_payload)
    monkeypatch.setattr(callbacks_service, "verification_deadline", record_deadline)
    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        created = client.post("/api/v1/ratings", json={"token": token, "level": level, "comment": "电话13912345678"})
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    assert created.status_code == 201, created.json
    claim = seen.index("UPDATE RATING_TOKENS SET")
    assert seen.count("payload") == 1 and seen.index("payload") < claim
    assert seen.count("answer") == 1 and seen.index("answer") < claim  # the 201's body, name tagger and all
    assert seen.count("deadline") == (level == 1) and ("deadline" not in seen or seen.index("deadline") < claim)
    row = db.session.scalars(select(OutboxRow).where(OutboxRow.subject_id == created.json["event_id"])).one()
    assert row.payload["satisfaction"] == level and row.payload["writingEvaluation"] == "电话139****5678"
    callback = db.session.scalars(select(Callback).where(Callback.rating_id == created.json["id"])).one_or_none()
    if level == 1:
        assert callback is not None and callback.due_at == deadline(db.session.get(Rating, created.json["id"])).due_at
    else:
        assert callback is None


@pytest.mark.parametrize(
    "body",
    [
        {"level": 1},
        {
            "level": 4,
            "comment": "我是王小明，电话13912345678，服务太差了",
            "contact": {"name": "王小明"},
            "reasons": None,
            "dimensions": {"attitude": 2},
        },
    ],
)
def test_the_201_built_before_the_insert_is_the_stored_rating(client, body):
    """The answer is dumped from the rating as built, before its insert: it is exactly what
    the stored row dumps to, the insert's id included."""
    from ratings.views import RATING_OUT

    token = _new_event(client)["token"]
    created = client.post("/api/v1/ratings", json={"token": token, **{k: v for k, v in body.items() if v is not None}})
    assert created.status_code == 201, created.json
    db.session.expire_all()
    stored = db.session.get(Rating, created.json["id"])
    assert created.json == client.application.json.loads(client.application.json.dumps(RATING_OUT.dump(stored)))
