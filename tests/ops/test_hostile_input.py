"""Hostile input gets a clear error, never a 500 (issue 14): oversized bodies (413), JSON nested
too deeply or with endless numbers (422), cursors the list did not make (400), control characters
in any text (422, one message on both databases), and XML output that stays well-formed whatever
was stored. The API answers JSON; pages answer a bilingual page."""

import base64
import json
import xml.etree.ElementTree as ET

import factories as f
import hotline_factories as hf
import open311_support as osup
import pytest
import ratings_factories as rf
from sqlalchemy import func, select

from core.db import db
from core.input_guard import CONTROL_MESSAGE
from core.models import Role, StaffSession
from hotline import service as tickets
from ratings.models import Rating

BIG = 2 * 1024 * 1024


def _bilingual(response) -> str:
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "The request could not be completed." in page or "请求未能完成。" in page
    return page


# -- size -----------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413(client):
    api = client.post("/api/v1/ratings", data=b"{" + b" " * BIG + b"}", content_type="application/json")
    assert api.status_code == 413 and api.json["code"] == 413
    page = client.post("/login", data={"username": "x", "password": "y" * BIG})
    assert page.status_code == 413
    _bilingual(page)


# -- JSON -----------------------------------------------------------------------------------------

DEEP_ARRAYS = "[" * 100_000 + "]" * 100_000
DEEP_OBJECTS = '{"a":' * 5000 + "1" + "}" * 5000
LONG_LEVEL = '{"token": "x", "level": ' + "9" * 5000 + "}"


@pytest.mark.parametrize(
    "body", [DEEP_ARRAYS, DEEP_OBJECTS, LONG_LEVEL, '{"token": "x", "level": 1e999999}', '{"level": NaN}']
)
@pytest.mark.parametrize("path", ["/api/v1/ratings", "/api/v1/tickets", "/api/v1/service-events"])
def test_json_beyond_the_limits_is_422(client, path, body):
    headers = f.bearer(f.user(Role.AGENT))
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 422, (path, body[:40], response.status_code)
    assert response.json["code"] == 422 and response.json["errors"]


def test_json_within_the_limits_still_works(client):
    issued = rf.event()
    db.session.commit()
    response = client.post("/api/v1/ratings", json={"token": issued.token, "level": 5, "dimensions": {"attitude": 5}})
    assert response.status_code == 201, response.json


# -- cursors --------------------------------------------------------------------------------------


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


BAD_CURSORS = [
    _cursor("created", "2026-12-01T10:00:00", 5),  # naive: used to be a 500
    _cursor("created", "2026-12-01T10:00:00+00:00", 10**30),
    _cursor("created", "2026-12-01T10:00:00+00:00", -1),
    _cursor("created", "0001-01-01T00:00:00+14:00", 1),
    _cursor("due", "2026-12-01T10:00:00+00:00", 5),
    _cursor("created", 5, 1),
    _cursor("created"),
    "garbage",
    "%00",
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_cursor_the_list_did_not_make_is_400(client, cursor):
    agent = f.user(Role.AGENT)
    hf.ticket(agent)
    api = client.get(f"/api/v1/tickets?cursor={cursor}", headers=f.bearer(agent))
    assert api.status_code in (400, 422) and api.json["code"] == api.status_code
    if cursor != "%00":
        assert api.status_code == 400 and "cursor" in api.json["errors"]
    f.login(client, agent)
    page = client.get(f"/hotline/tickets?cursor={cursor}")
    assert page.status_code < 500


# -- control characters ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x0b\x01", "\x1b[2J", "\ud800", "\x7f"])
def test_control_characters_are_refused_with_one_message_in_every_text(client, bad):
    agent = f.user(Role.AGENT)
    headers = f.bearer(agent)
    ticket = {"type": "complaint", "content": f"噪音{bad}扰民", "region_code": "460100"}
    made = client.post("/api/v1/tickets", json=ticket, headers=headers)
    assert made.status_code == 422 and made.json["errors"]["content"] == [CONTROL_MESSAGE]

    issued = rf.event()
    db.session.commit()
    rated = client.post(
        "/api/v1/ratings",
        json={"token": issued.token, "level": 2, "contact": {"name": f"张{bad}", "phone": "13812345678"}},
    )
    assert rated.status_code == 422 and rated.json["errors"]["contact"] == [CONTROL_MESSAGE]
    assert db.session.scalar(select(func.count()).select_from(Rating).where(Rating.event_id == issued.event.id)) == 0

    if "\ud800" in bad:
        return  # a lone surrogate travels only in JSON (\\ud800); a URL or form cannot carry it
    query = client.get("/api/v1/tickets", query_string={"q": f"a{bad}"}, headers=headers)
    assert query.status_code == 422 and query.json["errors"]["q"] == [CONTROL_MESSAGE]

    sessions = db.session.scalar(select(func.count()).select_from(StaffSession))
    login = client.post("/login", data={"username": f"x{bad}", "password": "whatever"})
    assert login.status_code == 422
    assert "不允许包含控制字符" in _bilingual(login)  # the page's language: Chinese by default
    english = client.post("/login?lang=en", data={"username": f"x{bad}", "password": "whatever"})
    assert CONTROL_MESSAGE in english.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(StaffSession)) == sessions

    f.login(client, agent)
    form = client.post("/hotline/new", data={"type": "complaint", "content": f"噪音{bad}", "region_code": "460100"})
    assert form.status_code == 422
    _bilingual(form)


def test_tab_newline_and_carriage_return_are_text(client):
    headers = f.bearer(f.user(Role.AGENT))
    ticket = {"type": "complaint", "content": "第一行\r\n第二行\t完", "region_code": "460100"}
    assert client.post("/api/v1/tickets", json=ticket, headers=headers).status_code == 201


def test_open311_refuses_control_characters_in_its_own_format(client):
    item, key = osup.water_service(), osup.new_key()
    form = {"api_key": key, "service_code": item.code, "lat": "18.25", "long": "109.51"}
    form |= {"description": "漏水\x00", "attribute[scope]": "home"}
    for fmt in ("json", "xml"):
        response = client.post(f"/open311/v2/requests.{fmt}", data=form)
        assert response.status_code == 422 or response.status_code == 400, response.status_code
        assert CONTROL_MESSAGE in response.get_data(as_text=True)


def test_xml_output_never_carries_what_xml_forbids(client):
    """A reply stored with \\x0b\\x01 (before input was checked) no longer breaks requests.xml."""
    item, key = osup.water_service(), osup.new_key()
    form = {"api_key": key, "service_code": item.code, "lat": "18.25", "long": "109.51", "description": "漏水"}
    token = client.post("/open311/v2/requests.json", data=form | {"attribute[scope]": "home"}).json[0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    ticket = tickets.get_by_number(number)
    handler = f.user(Role.HANDLER, item.department)
    f.saved(tickets.make_move("dispatch", ticket, None, {"department": item.department.code}))
    f.saved(tickets.make_move("take", ticket, handler))
    f.saved(tickets.make_move("reply", ticket, handler, {"reply": "已修复\x0b\x01，谢谢\ufffe"}))
    for path in ("requests.xml", f"requests/{number}.xml", "servicerequestupdates.xml"):
        response = client.get(f"/open311/v2/{path}")
        assert response.status_code == 200
        ET.fromstring(response.data)  # well-formed
    note = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").data).find("request/status_notes").text
    assert "已修复，谢谢" in note


PAGE_ARGS = [
    "q",
    "from",
    "to",
    "page",
    "cursor",
    "status",
    "department",
    "region",
    "limit",
    "month",
    "group_by",
    "sort",
]


@pytest.mark.parametrize("value", ["9" * 5000, "9" * 41, "²", "2026-12-01T10:00:00", "-1", "0", "１２３", "1e999"])
def test_every_page_answers_crafted_query_values_without_a_server_error(app, client, value):
    """Every staff and public page (GET), signed in as each role, with crafted values in the
    query parameters pages read: never a 5xx."""
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
        and not rule.rule.startswith(("/api/", "/open311/", "/static", "/metrics"))
        and "filename" not in rule.arguments
    ]
    failures = []
    for role in Role:
        f.login(client, f.user(role))
        for rule in rules:
            values = {name: 999999 if name.endswith("_id") else "x" for name in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            response = client.get(url, query_string=dict.fromkeys(PAGE_ARGS, value))
            if response.status_code >= 500:
                failures.append(f"{role.value} GET {url}: {response.status_code}")
        client.post("/logout")
    assert not failures, "\n".join(failures)


def test_every_input_schema_refuses_control_characters_outside_a_request_too(ctx):
    """The same check sits in core.schemas.InSchema, for loads that do not come through HTTP."""
    from marshmallow import ValidationError

    from hotline.schemas import TicketIn
    from ratings.schemas import RatingIn

    with pytest.raises(ValidationError) as caught:
        TicketIn().load({"type": "complaint", "content": "噪音\x00", "region_code": "460100"})
    assert caught.value.messages == {"content": [CONTROL_MESSAGE]}
    with pytest.raises(ValidationError) as caught:
        RatingIn().load({"token": "t", "level": 1, "contact": {"name": "\x1b"}})
    assert caught.value.messages == {"contact": [CONTROL_MESSAGE]}
