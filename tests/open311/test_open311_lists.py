"""GET requests (filters, window, limits), status and notes as a ticket moves, and FixMyStreet's
servicerequestupdates (GET the hotline's updates since a date, POST the citizen's)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import factories as f
import open311_support as osup
import pytest
from open311_support import schema_checked  # noqa: F401 - a fixture: every answer is checked
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from core.db import db, utcnow
from core.models import Notification, Role
from hotline import service as tickets
from hotline.open311 import service
from hotline.open311.keys import find_active
from hotline.open311.models import CitizenUpdate
from hotline.open311.present import w3c

pytestmark = pytest.mark.usefixtures("schema_checked")


def _filed(item, key, days_ago=0.0, **extra):
    """A request filed through the service `days_ago` days ago; returns its ticket."""
    form = MultiDict({"service_code": item.code, "address_string": "三亚市", "attribute[scope]": "home", **extra})
    req = service.create_request(form, find_active(key), now=utcnow() - timedelta(days=days_ago))
    db.session.commit()
    return req.ticket


def _ids(client, **query):
    answer = client.get("/open311/v2/requests.json", query_string=query)
    assert answer.status_code == 200, answer.json
    return [row["service_request_id"] for row in answer.json]


@pytest.fixture
def three(client):
    """Three requests: today and 10 days ago for the water item, 100 days ago for another."""
    water, other, key = osup.water_service(), osup.plain_service(), osup.new_key()
    today, earlier = _filed(water, key), _filed(water, key, days_ago=10)
    old = _filed(other, key, days_ago=100)
    return water, other, today, earlier, old


def test_filters(client, three):
    water, other, today, earlier, old = three
    assert _ids(client) == [today.number, earlier.number]  # the last 90 days, newest first
    assert _ids(client, service_code=water.code) == [today.number, earlier.number]
    assert _ids(client, service_code=f"{other.code},{water.code}") == [today.number, earlier.number]
    assert _ids(client, service_code="NOPE") == []
    assert _ids(client, status="open") == [today.number, earlier.number]
    assert _ids(client, status="closed") == []
    assert _ids(client, status="open,closed", service_code=water.code) == [today.number, earlier.number]
    # service_request_id overrides the other filters (even the window) and takes a comma list
    assert set(_ids(client, service_request_id=f"{old.number}, {today.number}", status="closed")) == {
        old.number,
        today.number,
    }
    start = utcnow() - timedelta(days=12)
    assert _ids(client, start_date=w3c(start), end_date=w3c(start + timedelta(days=5))) == [earlier.number]
    assert _ids(client, start_date=w3c(utcnow() - timedelta(days=120))) == [old.number]  # 90 days from start
    assert _ids(client, end_date=w3c(utcnow() - timedelta(days=50))) == [old.number]
    # an empty parameter counts as absent
    assert _ids(client, status="", service_code="", start_date="") == [today.number, earlier.number]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start_date": "2026-01-01"}, "is not a W3C datetime with a time zone"),
        ({"start_date": "2026-01-01T00:00:00"}, "is not a W3C datetime with a time zone"),
        ({"end_date": "2026-02-30T00:00:00Z"}, "end_date:"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}, "more than 90 days"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "after end_date"),
        ({"status": "pending"}, "Unknown status pending: open or closed."),
    ],
)
def test_bad_queries_are_400(client, query, message):
    answer = client.get("/open311/v2/requests.json", query_string=query)
    assert answer.status_code == 400 and message in answer.json[0]["description"]


def test_dates_with_offsets_and_an_unencoded_plus(client, three):
    _water, _other, today, _earlier, _old = three
    local = (utcnow() - timedelta(hours=1)).astimezone(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    assert _ids(client, start_date=local.isoformat()) == [today.number]
    # "+08:00" sent without percent-encoding arrives as " 08:00": read it as the client meant
    assert client.get(f"/open311/v2/requests.json?start_date={local.isoformat()}").status_code == 200


def test_at_most_max_rows(client, app, monkeypatch, three):
    monkeypatch.setitem(app.config, "OPEN311_MAX_ROWS", 1)
    _water, _other, today, _earlier, old = three
    assert _ids(client) == [today.number]
    assert len(_ids(client, service_request_id=f"{today.number},{old.number}")) == 1


def test_status_agency_and_notes_follow_the_ticket(client):
    item, key = osup.water_service(), osup.new_key()
    ticket = _filed(item, key, description="停水")

    def row():
        return client.get(f"/open311/v2/requests/{ticket.number}.json").json[0]

    first = row()
    assert first["status"] == "open" and first["status_notes"] == "已受理 / Accepted"
    assert first["agency_responsible"] is None and first["expected_datetime"] == w3c(ticket.handle_due_at)
    dept = item.department
    f.saved(tickets.make_move("dispatch", ticket, None, {"department": dept.code}))
    assert (
        row()["agency_responsible"] == dept.name
        and row()["status_notes"] == f"已派交{dept.name}办理 / Sent to {dept.name}"
    )
    handler = f.user(Role.HANDLER, dept)
    f.saved(tickets.make_move("take", ticket, handler))
    f.saved(
        tickets.make_move("request_extension", ticket, handler, {"working_days": 2, "reason": "需要更换管道"})
    )  # internal: not a public note
    assert row()["status_notes"] == f"{dept.name}已签收 / Taken by {dept.name}" and row()["status"] == "open"
    f.saved(tickets.make_move("reply", ticket, handler, {"reply": "已修复，请市民拨打13912345678联系维修班。"}))
    closed = row()
    assert closed["status"] == "closed" and closed["updated_datetime"] == w3c(ticket.closed_at)
    assert closed["status_notes"] == "已办结 / Answered: 已修复，请市民拨打139****5678联系维修班。"
    f.saved(tickets.make_move("reopen", ticket, f.user(Role.AGENT), {"note": "市民不满意"}))
    assert row()["status"] == "open" and row()["status_notes"] == "重新办理 / Reopened"


def test_a_merged_request_is_closed(client):
    item, key = osup.water_service(), osup.new_key()
    original, duplicate = _filed(item, key), _filed(item, key)
    f.saved(tickets.make_move("merge", duplicate, None, {"into": original.number}))
    row = client.get(f"/open311/v2/requests/{duplicate.number}.json").json[0]
    assert row["status"] == "closed" and original.number in row["status_notes"]
    assert _ids(client, status="closed") == [duplicate.number]


def test_get_updates_lists_the_hotline_moves_since_a_date(client):
    item, key = osup.water_service(), osup.new_key()
    ticket = _filed(item, key)
    phone_ticket = f.saved(tickets.create_ticket({"type": "help", "content": "电话", "region_code": "460100"}, None))
    dept = item.department
    f.saved(tickets.make_move("dispatch", ticket, None, {"department": dept.code}))
    f.saved(tickets.make_move("dispatch", phone_ticket, None, {"department": dept.code}))
    f.saved(tickets.make_move("supervise", ticket, None, now=utcnow() + timedelta(days=30)))  # internal
    until = w3c(utcnow() + timedelta(days=31))  # the supervision happened "in 30 days"
    updates = client.get(f"/open311/v2/servicerequestupdates.json?end_date={until}").json
    assert [u["service_request_id"] for u in updates] == [ticket.number, ticket.number]  # no phone ticket
    assert [u["description"] for u in updates] == ["已受理 / Accepted", f"已派交{dept.name}办理 / Sent to {dept.name}"]
    assert all(u["update_id"].startswith("E") and u["status"] == "open" for u in updates)
    later = w3c(utcnow() + timedelta(minutes=1))
    assert client.get(f"/open311/v2/servicerequestupdates.json?start_date={later}").json == []
    assert client.get("/open311/v2/servicerequestupdates.xml?start_date=soon").status_code == 400


def _update(client, key, number, fmt="json", **extra):
    data = {"api_key": key, "service_request_id": number, "description": "还没来水。", **extra}
    return client.post(f"/open311/v2/servicerequestupdates.{fmt}", data=data)


def test_post_an_update_from_the_citizen(client, database):
    item, key = osup.water_service(), osup.new_key("fms")
    ticket = _filed(item, key)
    agent, manager, handler = f.user(Role.AGENT), f.user(Role.MANAGER), f.user(Role.HANDLER)
    answer = _update(
        client,
        key,
        ticket.number,
        update_id="fms-81",
        status="OPEN",
        updated_datetime="2026-09-24T10:00:00+08:00",
        first_name="三丰",
        last_name="张",
        email="zhang@example.com",
        media_url="https://img.example.com/2.jpg",
    )
    assert answer.status_code == 200, answer.json
    update_id = answer.json[0]["update_id"]
    row = database.session.get(CitizenUpdate, int(update_id[1:]))
    assert (row.ticket_id, row.external_id, row.status, row.name) == (ticket.id, "fms-81", "OPEN", "张三丰")
    assert row.updated_datetime == datetime(2026, 9, 24, 2, 0, tzinfo=UTC)
    notified = {
        n.user_id for n in database.session.scalars(select(Notification).where(Notification.kind == "open311_update"))
    }
    assert {agent.id, manager.id} <= notified and handler.id not in notified
    # a retry with the same update_id is the same update, notified once
    again = _update(client, key, ticket.number, update_id="fms-81", status="OPEN")
    assert again.json[0]["update_id"] == update_id
    assert ticket.status.value == "accepted"  # the citizen's word never moves the ticket


@pytest.mark.parametrize(
    ("key_of", "number_of", "extra", "status", "message"),
    [
        ("none", "ticket", {}, 403, "api_key is required"),
        ("other", "ticket", {}, 400, "is not a request this client filed"),
        ("owner", "HN20990101000001", {}, 400, "is not a request this client filed"),
        ("owner", "ticket", {"description": "", "status": ""}, 400, "An update needs a description"),
        ("owner", "ticket", {"updated_datetime": "today"}, 400, "updated_datetime:"),
        ("owner", "ticket", {"status": "<b>"}, 400, "status: Not a status."),
        ("owner", "ticket", {"phone": "1"}, 400, "phone:"),
    ],
)
def test_refused_updates(client, key_of, number_of, extra, status, message):
    item, key = osup.water_service(), osup.new_key()
    ticket = _filed(item, key)
    keys = {"none": "", "other": osup.new_key(), "owner": key}
    number = ticket.number if number_of == "ticket" else number_of
    answer = _update(client, keys[key_of], number, **extra)
    assert answer.status_code == status and message in answer.json[0]["description"], answer.json


def test_a_citizen_update_reaches_the_timeline_and_the_lead_departments_handlers(client, database):
    """Issue 14: updates were stored and shown to nobody."""
    item, key = osup.water_service(), osup.new_key("fms")
    ticket = _filed(item, key)
    f.saved(tickets.make_move("dispatch", ticket, None, {"department": item.department.code}))
    lead_handler, other_handler = f.user(Role.HANDLER, item.department), f.user(Role.HANDLER)
    answer = _update(
        client, key, ticket.number, update_id="fms-90", status="OPEN", description="水管又漏了，楼道积水。"
    )
    assert answer.status_code == 200, answer.json
    notified = {
        n.user_id for n in database.session.scalars(select(Notification).where(Notification.kind == "open311_update"))
    }
    assert lead_handler.id in notified and other_handler.id not in notified

    body = client.get(f"/api/v1/tickets/{ticket.number}", headers=f.bearer(lead_handler)).json
    update = [e for e in body["events"] if e["move"] == "citizen_update"]
    assert len(update) == 1 and "水管又漏了，楼道积水。" in update[0]["note"]
    assert update[0]["from_status"] == update[0]["to_status"] == "dispatched"
    assert tickets.replay(ticket.events) == ticket.status  # the chain of states holds
    f.login(client, lead_handler)
    page = client.get(f"/hotline/tickets/{ticket.number}").get_data(as_text=True)
    assert "市民补充" in page and "水管又漏了" in page
    # a retry is the same update: one event, not two
    _update(client, key, ticket.number, update_id="fms-90", status="OPEN", description="水管又漏了，楼道积水。")
    database.session.expire_all()
    assert [e.move for e in ticket.events].count("citizen_update") == 1
    # and it stays off the public answers
    public = client.get(f"/open311/v2/requests/{ticket.number}.json").get_data(as_text=True)
    assert "楼道积水" not in public
