"""POST requests: a GeoReport request becomes a 12345 ticket (channel Open311) — its type,
urgency, region, caller, text and deadline — and every way a request is refused."""

import factories as f
import open311_support as osup
import pytest
from open311_support import schema_checked  # noqa: F401 - a fixture: every answer is checked
from sqlalchemy import select

from core.db import db, utcnow
from core.models import Role
from hotline.models import Channel, Ticket, TicketStatus, TicketType, Urgency
from hotline.open311.models import ApiKey, Open311Request
from hotline.open311.present import w3c
from hotline.pages import hotline_time

pytestmark = pytest.mark.usefixtures("schema_checked")

DESCRIPTION = "小区停水两天了，\r\n请尽快处理 & 回复 <急>！😀"


def _form(item, key, **extra):
    form = {
        "api_key": key,
        "jurisdiction_id": osup.JURISDICTION,
        "service_code": item.code,
        "lat": "18.2528",
        "long": "109.5119",
        "description": "三亚湾路停水。",
        "attribute[scope]": "home",
    }
    form.update(extra)
    return {k: v for k, v in form.items() if v is not None}


def _file(client, item, key, fmt="json", **extra):
    """POST, then follow the token: the ticket the request became."""
    posted = client.post(f"/open311/v2/requests.{fmt}", data=_form(item, key, **extra))
    assert posted.status_code == 200, posted.data
    token = posted.json[0]["token"] if fmt == "json" else osup.xml_data(posted.data)[1][0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    return client, db.session.scalar(select(Ticket).where(Ticket.number == number))


def _refused(client, form, status=400, fmt="json"):
    answer = client.post(f"/open311/v2/requests.{fmt}", data=form)
    assert answer.status_code == status, answer.data
    return " ".join(e["description"] for e in answer.json) if fmt == "json" else answer.get_data(as_text=True)


def test_a_request_becomes_an_open311_ticket(client, database):
    item, key = osup.water_service(), osup.new_key("fixmystreet")
    extra = {
        "first_name": "三丰",
        "last_name": "张",
        "phone": "138-1234-5678",
        "email": "zhang@example.com",
        "device_id": "android-1",
        "address_string": "三亚市天涯区三亚湾路88号",
        "media_url": "https://img.example.com/1.jpg",
        "attribute[issues][]": ["pressure", "colour"],
        "attribute[households]": "12",
        "attribute[fixmystreet_id]": "99",  # a client's own attribute: ignored
    }
    _client, ticket = _file(client, item, key, **extra)
    assert ticket.channel == Channel.OPEN311 and ticket.status == TicketStatus.ACCEPTED
    assert ticket.type == TicketType.HELP and ticket.urgency == Urgency.UTILITIES  # a 水电气热 item
    assert ticket.created_by_id is None and ticket.lead_department_id is None  # waits for an agent
    assert ticket.caller_name == "张三丰" and ticket.caller_phone == "13812345678"
    assert ticket.region_code == "460200" and ticket.address == "三亚市天涯区三亚湾路88号"
    assert (ticket.latitude, ticket.longitude) == (18.2528, 109.5119)
    assert ticket.service_item_id == item.id and ticket.category == "水电气热"
    assert ticket.content == (
        "三亚湾路停水。\n\n附加信息 / Details:\n停水范围：本户\n涉及户数：12\n问题：水压低、水质发黄"
    )
    assert ticket.events[0].note == "Open311 · fixmystreet; media: https://img.example.com/1.jpg"
    row = database.session.scalar(select(Open311Request).where(Open311Request.ticket_id == ticket.id))
    assert row.email == "zhang@example.com" and row.device_id == "android-1"
    assert row.attributes == {"scope": "home", "households": "12", "issues": ["pressure", "colour"]}
    assert row.api_key.name == "fixmystreet" and row.api_key.last_used_at is not None


def test_the_ticket_is_in_the_agents_worklist_with_channel_open311_and_its_deadline(client):
    item, key = osup.water_service(), osup.new_key()
    _client, ticket = _file(client, item, key)
    due = hotline_time(ticket.handle_due_at)
    agent = f.user(Role.AGENT)
    f.login(client, agent)
    worklist = client.get("/hotline/").get_data(as_text=True)
    waiting = worklist.split(ticket.number, 1)
    row = waiting[1].split("</tr>", 1)[0]
    assert len(waiting) == 2 and due in row
    assert '<td class="channel">Open311</td>' in row
    page = client.get(f"/hotline/tickets/{ticket.number}").get_data(as_text=True)
    assert "Open311" in page and due in page
    detail = client.get(f"/api/v1/tickets/{ticket.number}", headers=f.bearer(agent)).json
    assert detail["channel"] == "open311" and detail["handle_due_at"] == w3c(ticket.handle_due_at)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_chinese_description_comes_back_byte_for_byte(client, fmt):
    item, key = osup.water_service(), osup.new_key()
    _client, ticket = _file(client, item, key, fmt=fmt, description=DESCRIPTION)
    answer = client.get(f"/open311/v2/requests/{ticket.number}.{fmt}")
    if fmt == "xml":
        assert "&#13;" in answer.get_data(as_text=True) and "&amp; 回复 &lt;急&gt;" in answer.get_data(as_text=True)
        got = osup.xml_data(answer.data)[1][0]["description"]
    else:
        got = answer.json[0]["description"]
    assert got.encode("utf-8") == DESCRIPTION.encode("utf-8")
    assert ticket.content == DESCRIPTION.strip() + "\n\n附加信息 / Details:\n停水范围：本户"


@pytest.mark.parametrize(
    ("place", "region"),
    [
        ({"address_string": "三亚市吉阳区", "lat": "20.04", "long": "110.2"}, "460200"),  # the address wins
        ({"address_string": "陵水县英州镇", "lat": None, "long": None}, "469028"),  # short county name
        ({"address_string": "Wanning, Hainan", "lat": None, "long": None}, "469006"),
        ({"lat": "18.80", "long": "110.40"}, "469006"),  # nearest county seat: 万宁
        ({"address_string": "白沙门路1号", "lat": None, "long": None}, "460100"),  # a street, not 白沙县
        ({"lat": "39.90", "long": "116.40"}, "460100"),  # far from Hainan: the department's region
        ({"address_id": "A-1", "lat": None, "long": None}, "460100"),
    ],
)
def test_the_region_comes_from_the_place(client, place, region):
    item = osup.water_service(region="460100")
    _client, ticket = _file(client, item, osup.new_key(), **place)
    assert ticket.region_code == region


def test_configured_type_and_default_region(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "OPEN311_TICKET_TYPE", "complaint")
    monkeypatch.setitem(app.config, "OPEN311_DEFAULT_REGION", "469002")
    item = osup.plain_service(region="460100")
    _client, ticket = _file(client, item, osup.new_key(), lat=None, long=None, address_id="X9")
    assert ticket.type == TicketType.COMPLAINT and ticket.urgency == Urgency.NORMAL
    assert ticket.region_code == "469002" and ticket.content == "三亚湾路停水。"


def test_an_empty_parameter_counts_as_absent(client):
    item = osup.water_service()
    form = _form(item, osup.new_key(), lat="", long="", address_string="三亚市", email="", phone=" ")
    form["description"] = ""
    assert client.post("/open311/v2/requests.json", data=form).status_code == 200
    ticket = db.session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert ticket.latitude is None and ticket.caller_phone == "" and ticket.content.startswith(item.name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service_code": None}, "service_code: Missing data for required field."),
        ({"service_code": "NOPE"}, "service_code NOPE is not a service of this endpoint."),
        ({"lat": None, "long": None}, "A location is required: lat and long, address_string or address_id."),
        ({"long": None}, "lat and long must be sent together."),
        ({"lat": "91"}, "lat: Must be greater than or equal to -90 and less than or equal to 90."),
        ({"lat": "north"}, "lat: Not a valid number."),
        ({"attribute[scope]": None}, "attribute[scope] is required: 停水范围"),
        ({"attribute[scope]": "street"}, "attribute[scope] must be one of building, home."),
        ({"attribute[scope][]": ["home", "building"], "attribute[scope]": None}, "attribute[scope] takes one value."),
        ({"attribute[households]": "many"}, "attribute[households] must be a number."),
        ({"attribute[since]": "last night"}, "attribute[since] must be an ISO 8601 datetime"),
        ({"attribute[issues][]": ["pressure", "smell"]}, "attribute[issues] must be one of colour, pressure."),
        ({"phone": "12345"}, "phone: a mobile number or a landline with its area code."),
        ({"email": "not-an-email"}, "email: Not a valid email address."),
        ({"media_url": "ftp://x/y.jpg"}, "media_url: Not a valid URL."),
        ({"description": "x" * 4001}, "description: Longer than maximum length 4000."),
        ({"description": "bell\x07"}, "description: Control characters are not allowed."),  # one message everywhere
        ({"first_name": "名" * 32, "last_name": "姓" * 32}, "last_name: first_name and last_name together: at most 63"),
    ],
)
def test_bad_requests_are_refused_with_400(client, change, message):
    item = osup.water_service()
    assert message in _refused(client, _form(item, osup.new_key(), **change))
    assert db.session.scalar(select(Ticket).where(Ticket.service_item_id == item.id)) is None


def test_several_problems_are_listed_together(client):
    item = osup.water_service()
    answer = client.post(
        "/open311/v2/requests.xml",
        data=_form(item, osup.new_key(), **{"attribute[scope]": None, "attribute[households]": "x"}),
    )
    root, errors = osup.xml_data(answer.data)
    assert answer.status_code == 400 and root == "errors" and len(errors) == 2
    assert [e["code"] for e in errors] == ["400", "400"]


def test_private_items_cannot_be_requested(client):
    item = osup.plain_service(is_public=False)
    assert "is not a service of this endpoint" in _refused(client, _form(item, osup.new_key()))


def test_a_description_of_4000_characters_is_accepted(client):
    item = osup.water_service()
    _client, ticket = _file(client, item, osup.new_key(), description="水" * 4000)
    assert ticket.content.startswith("水" * 4000)


def test_keys_and_jurisdiction(client, database, app, monkeypatch):
    item, key = osup.water_service(), osup.new_key("client-a")
    assert "api_key is required" in _refused(client, _form(item, None), 403)
    assert "api_key is required" in _refused(client, _form(item, "   "), 403, fmt="json")  # blank: absent
    assert "Invalid api_key." in _refused(client, _form(item, key + "x"), 403, fmt="xml")
    # jurisdiction_id: ours or none; another is 404 (GET and POST)
    assert "not found" in _refused(client, _form(item, key, jurisdiction_id="sfgov.org"), 404)
    assert client.get("/open311/v2/services.xml?jurisdiction_id=sfgov.org").status_code == 404
    assert client.post("/open311/v2/requests.json", data=_form(item, key, jurisdiction_id=None)).status_code == 200
    monkeypatch.setitem(app.config, "OPEN311_JURISDICTION_ID", "")
    assert client.get("/open311/v2/services.xml?jurisdiction_id=anything.gov").status_code == 200
    # a revoked key is refused
    database.session.scalar(select(ApiKey).where(ApiKey.name == "client-a")).revoked_at = utcnow()
    database.session.commit()
    assert "Invalid api_key." in _refused(client, _form(item, key), 403)


def test_several_media_urls_keep_the_first(client, database):
    item = osup.water_service()
    _client, ticket = _file(
        client, item, osup.new_key(), media_url=["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"]
    )
    row = database.session.scalar(select(Open311Request).where(Open311Request.ticket_id == ticket.id))
    assert row.media_url == "https://img.example.com/1.jpg"
