"""Acceptance 3: no GET response contains the submitter's name, phone or e-mail — they are stored
like any caller's — and the place is published as DOMAIN.md says (district, rounded position)."""

import factories as f
import open311_support as osup
import pytest
from open311_support import schema_checked  # noqa: F401 - a fixture: every answer is checked
from sqlalchemy import select

from core.db import db
from core.models import Role
from hotline import service as tickets
from hotline.models import Ticket
from hotline.open311.models import Open311Request

pytestmark = pytest.mark.usefixtures("schema_checked")

NAME, PHONE, EMAIL = ("三丰", "张"), "13812345678", "zhang.sanfeng@example.com"
SECRETS = ("张三丰", "三丰", PHONE, "138-1234-5678", EMAIL, "zhang.sanfeng")


def test_no_get_response_shows_the_submitter(client):
    item, key = osup.water_service(), osup.new_key()
    description = "我是张三丰，电话138-1234-5678，邮箱zhang.sanfeng@example.com，楼下水管爆裂。"
    form = {
        "api_key": key,
        "service_code": item.code,
        "first_name": NAME[0],
        "last_name": NAME[1],
        "phone": PHONE,
        "email": EMAIL,
        "address_string": "三亚市天涯区三亚湾路88号3栋201",
        "lat": "18.252847",
        "long": "109.511924",
        "description": description,
        "attribute[scope]": "home",
    }
    token = client.post("/open311/v2/requests.json", data=form).json[0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    # stored like any caller's, for the staff who need them
    assert (ticket.caller_name, ticket.caller_phone) == ("张三丰", PHONE)
    assert db.session.scalar(select(Open311Request.email).where(Open311Request.ticket_id == ticket.id)) == EMAIL
    handler = f.user(Role.HANDLER, item.department)
    f.saved(tickets.make_move("dispatch", ticket, None, {"department": item.department.code}))
    f.saved(tickets.make_move("take", ticket, handler))
    f.saved(tickets.make_move("reply", ticket, handler, {"reply": "已联系张三丰（13812345678）并修复水管。"}))

    answers = []
    for fmt in ("xml", "json"):
        for path in (
            f"requests/{number}",
            "requests",
            f"requests?service_request_id={number}",
            f"tokens/{token}",
            "servicerequestupdates",
        ):
            resource, _, query = path.partition("?")
            answer = client.get(f"/open311/v2/{resource}.{fmt}?{query}")
            assert answer.status_code == 200
            answers.append(answer.get_data(as_text=True))
    for text in answers:
        for secret in SECRETS:
            assert secret not in text, (secret, text)
    row = client.get(f"/open311/v2/requests/{number}.json").json[0]
    assert row["description"] == "我是[已隐去]，电话138****5678，邮箱[已隐去]，楼下水管爆裂。"
    assert row["status_notes"] == "已办结 / Answered: 已联系[已隐去]（[已隐去]）并修复水管。"
    assert row["address"] == "三亚市天涯区…" and row["address_id"] is None
    assert (row["lat"], row["long"]) == (18.25, 109.51)


def test_latin_names_are_redacted_part_by_part(client):
    item, key = osup.water_service(), osup.new_key()
    form = {
        "api_key": key,
        "service_code": item.code,
        "first_name": "John",
        "last_name": "Smith",
        "address_id": "ADDR-9",
        "description": "John Smith here; ask for Smith at the gate.",
        "attribute[scope]": "home",
    }
    token = client.post("/open311/v2/requests.json", data=form).json[0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    assert db.session.scalar(select(Ticket.caller_name).where(Ticket.number == number)) == "John Smith"
    row = client.get(f"/open311/v2/requests/{number}.json").json[0]
    assert row["description"] == "[已隐去] here; ask for [已隐去] at the gate."


def test_status_notes_hide_a_third_party_and_numbers_however_written(client):
    """A handler's reply names a neighbour and writes numbers with dots, glued or full-width:
    none of it reaches status_notes or the updates (issue 14)."""
    item, key = osup.water_service(), osup.new_key()
    form = {"api_key": key, "service_code": item.code, "lat": "18.25", "long": "109.51", "description": "楼下漏水"}
    form["attribute[scope]"] = "home"
    token = client.post("/open311/v2/requests.json", data=form).json[0]["token"]
    number = client.get(f"/open311/v2/tokens/{token}.json").json[0]["service_request_id"]
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    handler = f.user(Role.HANDLER, item.department)
    f.saved(tickets.make_move("dispatch", ticket, None, {"department": item.department.code}))
    f.saved(tickets.make_move("take", ticket, handler))
    reply = "已约邻居王建国（139.1234.5678，ID460100199001011234，１３８１２３４５６７８，wjg@example.com）修复。"
    f.saved(tickets.make_move("reply", ticket, handler, {"reply": reply}))
    for fmt in ("json", "xml"):
        for path in (f"requests/{number}", "servicerequestupdates"):
            text = client.get(f"/open311/v2/{path}.{fmt}").get_data(as_text=True)
            for secret in ("王建国", "1234.5678", "460100199001011234", "１２３４", "wjg@example.com"):
                assert secret not in text, (path, fmt, secret, text)
    note = client.get(f"/open311/v2/requests/{number}.json").json[0]["status_notes"]
    assert note.startswith("已办结 / Answered: 已约邻居王**（139****5678")
