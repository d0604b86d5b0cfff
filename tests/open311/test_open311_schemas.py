"""Every JSON answer of /open311/v2 validated against the Open311 project's JSON schemas (copied in
tests/open311/schemas; their defects are worked around in open311_support, each with a comment),
and every XML answer compared with its JSON twin (the Spark convention)."""

import factories as f
import open311_support as osup
import pytest
from open311_support import schema_checked  # noqa: F401 - a fixture: every answer is checked

from core.models import Role
from hotline import service as tickets
from hotline.models import Ticket

pytestmark = pytest.mark.usefixtures("schema_checked")

FORM = {
    "jurisdiction_id": osup.JURISDICTION,
    "lat": "18.25",
    "long": "109.51",
    "description": "三亚湾路一带停水，请尽快处理。",
    "first_name": "三丰",
    "last_name": "张",
    "phone": "13812345678",
    "email": "zhang@example.com",
    "account_id": "acct-7",
    "attribute[scope]": "building",
}


def _post(client, fmt, item, key, **extra):
    return client.post(f"/open311/v2/requests.{fmt}", data={**FORM, "service_code": item.code, "api_key": key, **extra})


def test_discovery_services_and_definitions(client):
    item, plain = osup.water_service(), osup.plain_service(keywords="营业执照,变更")
    discovery, root = osup.both(client, "discovery")
    assert root == "discovery" and discovery.status_code == 200
    osup.validate(osup.DISCOVERY, discovery.json)
    endpoint = discovery.json["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/") and endpoint["formats"] == ["text/xml", "application/json"]

    services, root = osup.both(client, "services", query_string={"jurisdiction_id": osup.JURISDICTION})
    assert root == "services"
    osup.validate(osup.SERVICES, services.json)
    by_code = {s["service_code"]: s for s in services.json}
    water = by_code[item.code]
    assert water["metadata"] is True and water["type"] == "batch"
    assert water["group"] == "水电气热" and water["keywords"] == "停水,供水" and "三亚市水务局" in water["description"]
    assert by_code[plain.code]["metadata"] is False

    definition, root = osup.both(client, f"services/{item.code}")
    assert root == "service_definition"
    osup.validate(osup.DEFINITION, definition.json)
    body = definition.json
    assert body["service_code"] == item.code
    assert [a["code"] for a in body["attributes"]] == ["scope", "since", "households", "issues", "safety"]
    assert [a["order"] for a in body["attributes"]] == [1, 2, 3, 4, 5]
    scope = body["attributes"][0]
    assert scope["required"] is True and scope["values"][1] == {"key": "building", "name": "整栋楼"}
    assert body["attributes"][4]["variable"] is False and "values" not in body["attributes"][4]
    empty, _root = osup.both(client, f"services/{plain.code}")
    osup.validate(osup.DEFINITION, empty.json)
    assert empty.json == {"service_code": plain.code, "attributes": []}


def test_private_and_inactive_items_are_not_offered(client, database):
    hidden = osup.plain_service(is_public=False)
    retired = osup.plain_service()
    retired.active = False
    database.session.commit()
    codes = {s["service_code"] for s in client.get("/open311/v2/services.json").json}
    assert hidden.code not in codes and retired.code not in codes
    for item in (hidden, retired):
        missing, _root = osup.both(client, f"services/{item.code}")
        assert missing.status_code == 404
        osup.validate(osup.ERRORS, missing.json)


def test_post_token_and_request_documents_in_batch_mode(client):
    item, key = osup.water_service(), osup.new_key()
    for fmt in ("json", "xml"):
        posted = _post(client, fmt, item, key)
        assert posted.status_code == 200, posted.data
    body = _post(client, "json", item, key).json
    osup.validate(osup.POSTED, body)
    # The spec: "This should not be returned if token is returned".
    assert set(body[0]) == {"token", "service_notice", "account_id"} and body[0]["account_id"] == "acct-7"

    token, root = osup.both(client, f"tokens/{body[0]['token']}")
    assert root == "service_requests"
    osup.validate(osup.TOKEN, token.json)
    number = token.json[0]["service_request_id"]
    assert number.startswith("HN") and token.json[0]["token"] == body[0]["token"]

    one, root = osup.both(client, f"requests/{number}")
    assert root == "service_requests"
    osup.validate(osup.REQUESTS, one.json)
    osup.validate(osup.REQUEST, one.json[0])
    assert one.json[0]["service_request_id"] == number and one.json[0]["status"] == "open"

    listed, _root = osup.both(client, "requests", query_string={"service_code": item.code})
    osup.validate(osup.REQUESTS, listed.json)
    assert len(listed.json) == 3


def test_post_in_realtime_mode_answers_the_id_and_no_token(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "OPEN311_SERVICE_TYPE", "realtime")
    item, key = osup.water_service(), osup.new_key()
    body = _post(client, "json", item, key, account_id="").json
    osup.validate(osup.POSTED, body)
    # account_id "May not be returned": left out when the client sent none (swagger.json's
    # RequestResponse allows no null, the spec's example shows an empty element).
    assert set(body[0]) == {"service_request_id", "service_notice"}
    services = client.get("/open311/v2/services.json").json
    assert {s["type"] for s in services} == {"realtime"}


def test_a_request_through_its_life(client):
    """Status, agency, notes and dates as the ticket moves: every answer still validates."""
    item, key = osup.water_service(), osup.new_key()
    token = _post(client, "json", item, key).json[0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    ticket = tickets.get_by_number(number)
    dept = item.department
    tickets.make_move("dispatch", ticket, None, {"department": dept.code})
    handler = f.user(Role.HANDLER, dept)
    tickets.make_move("take", ticket, handler)
    tickets.make_move("reply", ticket, handler, {"reply": "已抢修管道，今晚恢复供水。"})
    f.saved(ticket)
    body, _root = osup.both(client, f"requests/{number}")
    osup.validate(osup.REQUESTS, body.json)
    row = body.json[0]
    assert row["status"] == "closed" and row["agency_responsible"] == dept.name
    assert row["status_notes"] == "已办结 / Answered: 已抢修管道，今晚恢复供水。"


def test_updates_documents(client):
    item, key = osup.water_service(), osup.new_key()
    token = _post(client, "json", item, key).json[0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    got, root = osup.both(client, "servicerequestupdates")
    assert root == "service_request_updates"
    osup.validate(osup.UPDATES, got.json)
    assert [u["service_request_id"] for u in got.json] == [number]
    for fmt in ("json", "xml"):
        posted = client.post(
            f"/open311/v2/servicerequestupdates.{fmt}",
            data={"api_key": key, "service_request_id": number, "description": "还没来水", "update_id": fmt},
        )
        assert posted.status_code == 200
        if fmt == "json":
            osup.validate(osup.POSTED_UPDATE, posted.json)
        else:
            assert osup.xml_data(posted.data)[0] == "service_request_updates"


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("post", "requests", {}, 403),
        ("post", "requests", {"api_key": "wrong"}, 403),
        ("post", "requests", "KEY", 400),
        ("get", "requests/HN20990101000001", None, 404),
        ("get", "tokens/nope", None, 404),
        ("get", "services/nope", None, 404),
        ("get", "requests", {"start_date": "yesterday"}, 400),
        ("get", "services", {"jurisdiction_id": "sfgov.org"}, 404),
        ("get", "nothing/here", None, 404),
        ("delete", "requests", None, 405),
    ],
)
def test_error_documents(client, method, path, data, status):
    if data == "KEY":
        data = {"api_key": osup.new_key()}
    kwargs = {"query_string": data} if method == "get" else {"data": data}
    answer, root = osup.both(client, path, method=method, **kwargs)
    assert answer.status_code == status and root == "errors"
    osup.validate(osup.ERRORS, answer.json)
    assert all(e["code"] == str(status) for e in answer.json)
    if status == 405:
        assert answer.headers["Allow"] == "GET, POST"


def test_a_ticket_not_filed_through_open311_is_not_found(client):
    ticket: Ticket = f.saved(
        tickets.create_ticket({"type": "complaint", "content": "电话来电", "region_code": "460100"}, None)
    )
    answer, root = osup.both(client, f"requests/{ticket.number}")
    assert answer.status_code == 404 and root == "errors"
