"""The tickets API through the test client: create, read, list, moves, privacy, OpenAPI."""

import json
from datetime import timedelta

import factories as f
import hotline_factories as hf
from openapi_spec_validator import validate

from core.db import utcnow
from core.models import Role
from hotline.models import Ticket


def test_the_api_shows_the_deadline_of_acceptance_1(client):
    ticket = hf.ticket(type="complaint", now=hf.THURSDAY)
    body = client.get(f"/api/v1/tickets/{ticket.number}", headers=f.bearer(f.user(Role.AGENT))).json
    assert body["created_at"] == "2026-09-24T10:00:00+08:00"
    assert body["handle_due_at"] == "2026-10-20T23:59:59+08:00"
    assert body["handle_due_date"] == "2026-10-20"
    assert body["deadline_estimated"] is False and body["deadline_warning"] is None


def test_create_and_dispatch_in_one_call(client):
    dept = f.department()
    agent = f.user(Role.AGENT)
    payload = {
        "type": "complaint",
        "urgency": "normal",
        "channel": "phone",
        "is_enterprise": True,
        "caller_name": "赵六",
        "caller_phone": "13912345678",
        "content": "商户投诉某部门审批拖延。",
        "region_code": "460100",
        "address": "海口市龙华区滨海大道1号",
        "latitude": 20.04,
        "longitude": 110.32,
        "lead_department": dept.code,
    }
    response = client.post("/api/v1/tickets", json=payload, headers=f.bearer(agent))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["number"].startswith("HN") and len(body["number"]) == 16
    assert body["status"] == "dispatched" and body["lead_department"] == dept.code
    assert body["caller_name"] == "赵六" and body["caller_phone"] == "13912345678"  # agent, detail
    assert [e["move"] for e in body["events"]] == ["create", "dispatch"]
    assert body["version"] >= 1 and "merge" in body["allowed_moves"]


def test_create_validates_input(client):
    agent = f.user(Role.AGENT)
    bad = client.post(
        "/api/v1/tickets",
        json={"type": "gossip", "content": "x", "region_code": "460100", "surprise": 1},
        headers=f.bearer(agent),
    )
    assert bad.status_code == 422
    assert {"type", "content", "surprise"} <= set(bad.json["errors"])
    phone = client.post(
        "/api/v1/tickets",
        json={"type": "help", "content": "求助内容", "region_code": "460100", "caller_phone": "123"},
        headers=f.bearer(agent),
    )
    assert phone.status_code == 422 and "caller_phone" in phone.json["errors"]
    handler = f.user(Role.HANDLER)
    refused = client.post(
        "/api/v1/tickets",
        json={"type": "help", "content": "求助内容", "region_code": "460100"},
        headers=f.bearer(handler),
    )
    assert refused.status_code == 403


def test_moves_through_the_api_and_409_naming_the_allowed_moves(client):
    dept = f.department()
    ticket = hf.ticket(dept=dept)
    handler = f.bearer(hf.handler_of(dept))
    early = client.post(f"/api/v1/tickets/{ticket.number}/reply", json={"reply": "答复"}, headers=handler)
    assert early.status_code == 409
    assert early.json["errors"]["allowed"] == ["merge", "take", "return"]
    assert "take" in early.json["message"]
    taken = client.post(f"/api/v1/tickets/{ticket.number}/take", json={}, headers=handler)
    assert taken.status_code == 200 and taken.json["status"] == "taken"
    replied = client.post(
        f"/api/v1/tickets/{ticket.number}/reply",
        json={"reply": "已处理", "version": taken.json["version"]},
        headers=handler,
    )
    assert replied.status_code == 200 and replied.json["status"] == "closed"
    assert replied.json["closed_at"] is not None and replied.json["reply"] == "已处理"
    stale = client.post(
        f"/api/v1/tickets/{ticket.number}/callback", json={"version": taken.json["version"]}, headers=f.bearer(f.user())
    )
    assert stale.status_code == 409 and "version" in stale.json["errors"]


def test_handler_of_another_department_gets_404_and_confidential_callers_are_hidden(client):
    """Acceptance 4."""
    dept_a, dept_b = f.department(), f.department()
    theirs = hf.ticket(dept=dept_b)
    secret = hf.ticket(dept=dept_a, confidential=True, caller_name="钱七", caller_phone="13612345678",
                       content="来电人13612345678反映噪音问题")  # fmt: skip
    handler_a = f.bearer(hf.handler_of(dept_a))
    assert client.get(f"/api/v1/tickets/{theirs.number}", headers=handler_a).status_code == 404
    assert client.post(f"/api/v1/tickets/{theirs.number}/take", json={}, headers=handler_a).status_code == 404
    response = client.get(f"/api/v1/tickets/{secret.number}", headers=handler_a)
    assert response.status_code == 200
    body = response.json
    assert body["caller_name"] is None and body["caller_phone"] is None and body["caller_hidden"] is True
    raw = json.dumps(body, ensure_ascii=False)
    assert "钱" not in raw and "13612345678" not in raw and "****5678" not in raw
    assert body["content"] == "来电人[保密]反映噪音问题"
    listed = client.get("/api/v1/tickets", headers=handler_a).json["items"]
    assert [t["number"] for t in listed] == [secret.number]
    agent_view = client.get(f"/api/v1/tickets/{secret.number}", headers=f.bearer(f.user(Role.AGENT))).json
    assert agent_view["caller_name"] == "钱七" and agent_view["caller_phone"] == "13612345678"


def test_lists_mask_callers_and_filter(client):
    agent = f.user(Role.AGENT)
    dept = f.department(region="460200")
    hf.ticket(agent, type="consultation", caller_name="孙八", caller_phone="13512345678", content="咨询社保卡补办流程")
    hf.ticket(agent, dept=dept, type="complaint", region_code="460200", is_enterprise=True, content="投诉餐馆卫生")
    headers = f.bearer(agent)
    items = client.get("/api/v1/tickets", headers=headers).json["items"]
    assert len(items) == 2 and items[0]["type"] == "complaint"  # newest first
    consult = items[1]
    assert consult["caller_name"] == "孙*" and consult["caller_phone"] == "135****5678"

    def numbers(query: str) -> list[str]:
        response = client.get(f"/api/v1/tickets?{query}", headers=headers)
        assert response.status_code == 200, response.json
        return [t["type"] for t in response.json["items"]]

    assert numbers("status=dispatched") == ["complaint"]
    assert numbers("status=accepted&status=dispatched") == ["complaint", "consultation"]
    assert numbers("type=consultation") == ["consultation"]
    assert numbers("region=460200") == ["complaint"]
    assert numbers(f"department={dept.code}") == ["complaint"]
    assert numbers("enterprise=true") == ["complaint"]
    assert numbers("q=社保卡") == ["consultation"]
    assert numbers("q=13512345678") == ["consultation"]
    assert numbers("overdue=true") == []
    today = utcnow().date()
    assert numbers(f"created_from={today - timedelta(days=1)}&created_to={today + timedelta(days=1)}") != []
    assert numbers("created_to=2020-01-01") == []
    assert client.get("/api/v1/tickets?department=NOPE", headers=headers).status_code == 422


def test_cursor_pagination_walks_every_ticket_once(client, database):
    agent = f.user(Role.AGENT)
    made = [hf.ticket(agent, now=hf.THURSDAY + timedelta(minutes=i % 3)).number for i in range(7)]
    headers = f.bearer(agent)
    for sort in ("created", "due"):
        seen, cursor = [], None
        while True:
            url = f"/api/v1/tickets?limit=3&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
            body = client.get(url, headers=headers).json
            seen += [t["number"] for t in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    bad = client.get("/api/v1/tickets?cursor=garbage", headers=headers)
    assert bad.status_code == 400 and "cursor" in bad.json["errors"]  # issue 14: a bad cursor is 400


def test_duplicate_hint_finds_the_same_phone_and_similar_text(client):
    agent = f.user(Role.AGENT)
    earlier = hf.ticket(agent, caller_phone="13812340000", content="海秀路小区夜间施工噪音扰民，影响休息")
    other = hf.ticket(agent, caller_phone="13900000000", content="海秀路小区夜间施工噪音很大，影响睡觉")
    hf.ticket(agent, caller_phone="13700000000", content="咨询公积金提取条件")
    headers = f.bearer(agent)
    by_phone = client.get("/api/v1/tickets/duplicates?phone=138-1234-0000", headers=headers).json
    assert [(h["number"], h["reason"]) for h in by_phone] == [(earlier.number, "phone")]
    assert by_phone[0]["caller_phone"] == "138****0000"
    by_text = client.get(
        "/api/v1/tickets/duplicates", query_string={"text": "海秀路小区晚上施工噪音扰民"}, headers=headers
    ).json
    assert {h["number"] for h in by_text} == {earlier.number, other.number}
    assert all(h["reason"] == "text" for h in by_text)
    assert client.get("/api/v1/tickets/duplicates", headers=f.bearer(f.user(Role.HANDLER))).status_code == 403


def test_every_move_has_its_documented_endpoint(client):
    spec = client.get("/api/openapi.json").json
    validate(spec)
    moves = ["dispatch", "take", "handle", "reply", "return", "extension", "extension/approve",
             "extension/reject", "supervise", "callback", "reopen", "archive", "merge"]  # fmt: skip
    for move in moves:
        operation = spec["paths"][f"/api/v1/tickets/{{number}}/{move}"]["post"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert "409" in operation["responses"]
    assert spec["paths"]["/api/v1/tickets"]["post"]["x-roles"] == ["agent", "manager"]
    assert spec["paths"]["/api/v1/tickets/{number}/take"]["post"]["x-roles"] == ["handler"]


def test_unsigned_requests_are_refused(client):
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.post("/api/v1/tickets/HN20260924000001/take", json={}).status_code == 401
    assert Ticket is not None
