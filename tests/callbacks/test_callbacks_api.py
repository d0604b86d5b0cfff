"""The callbacks, cases and public-board API through the client."""

import factories as f
from callbacks_support import bad_rating, staff
from sqlalchemy import select

from callbacks.models import Callback, Purpose, RectificationCase
from core.db import db
from core.models import Role


def _verify(rating) -> Callback:
    return db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))


def test_callbacks_list_follows_the_contract(client):
    dept = f.department()
    people = staff(dept)
    first = _verify(bad_rating(dept))
    second = _verify(bad_rating(dept, phone="13900002222"))
    body = client.get("/api/v1/callbacks?status=pending", headers=f.bearer(people["agent"])).json
    ids = [item["id"] for item in body["items"]]
    assert ids.index(first.id) < ids.index(second.id)  # soonest due first
    item = next(i for i in body["items"] if i["id"] == first.id)
    assert {"id", "purpose", "subject_type", "subject_id", "due_at", "status"} <= set(item)
    assert item["purpose"] == "verify_bad_review" and item["subject_type"] == "rating"
    assert item["contact_phone"] == "138****5678"  # masked in lists
    assert item["due_at"].endswith(("+00:00", "Z"))
    assert client.get("/api/v1/callbacks?status=overdue", headers=f.bearer(people["agent"])).json["items"] == []
    assert client.get("/api/v1/callbacks?status=nope", headers=f.bearer(people["agent"])).status_code == 422


def test_callbacks_need_agent_or_manager(client):
    dept = f.department()
    people = staff(dept)
    assert client.get("/api/v1/callbacks").status_code == 401
    assert client.get("/api/v1/callbacks", headers=f.bearer(people["handler"])).status_code == 403
    assert client.get("/api/v1/callbacks", headers=f.bearer(people["manager"])).status_code == 200


def test_record_attempt_and_follow_the_case_through_the_api(client):
    dept = f.department()
    people = staff(dept)
    rating = bad_rating(dept)
    callback = _verify(rating)
    agent_h, handler_h, manager_h = (f.bearer(people[k]) for k in ("agent", "handler", "manager"))

    detail = client.get(f"/api/v1/callbacks/{callback.id}", headers=agent_h).json
    assert detail["contact_phone"] == "13812345678"  # the agent dials the full number

    stale = client.post(
        f"/api/v1/callbacks/{callback.id}/attempts", json={"result": "no_answer", "version": 99}, headers=agent_h
    )
    assert stale.status_code == 409
    bad = client.post(f"/api/v1/callbacks/{callback.id}/attempts", json={"result": "reached"}, headers=agent_h)
    assert bad.status_code == 422 and "verified" in bad.json["errors"]
    done = client.post(
        f"/api/v1/callbacks/{callback.id}/attempts",
        json={"result": "reached", "verified": True, "problem": "窗口推诿", "note": "已核实"},
        headers=agent_h,
    )
    assert done.status_code == 201 and done.json["status"] == "done" and done.json["outcome"] == "verified"

    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    assert client.post(f"/api/v1/cases/{case.id}/accept", json={}, headers=manager_h).status_code == 409
    reported = client.post(
        f"/api/v1/cases/{case.id}/report", json={"action_taken": "已整改", "immediate": True}, headers=handler_h
    )
    assert reported.status_code == 200 and reported.json["status"] == "submitted"
    assert (
        client.post(f"/api/v1/cases/{case.id}/report", json={"action_taken": "x"}, headers=manager_h).status_code == 403
    )
    accepted = client.post(f"/api/v1/cases/{case.id}/accept", json={"note": "同意"}, headers=manager_h)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    history = client.get(f"/api/v1/cases/{case.id}", headers=manager_h).json["events"]
    assert [e["action"] for e in history] == ["opened", "submitted", "accepted"]

    report_back = db.session.scalar(
        select(Callback).where(Callback.case_id == case.id, Callback.purpose == Purpose.RECTIFICATION_REPORT)
    )
    client.post(f"/api/v1/callbacks/{report_back.id}/attempts", json={"result": "reached"}, headers=agent_h)
    board = client.get("/api/v1/public/rectifications").json
    published = next(item for item in board["items"] if item["id"] == case.id)
    assert published["rater"] == "张**" and published["phone"] == "138****5678"
    assert published["action_taken"] == "已整改" and published["immediate"] is True
    assert "13812345678" not in str(board) and "张三丰" not in str(board)


def test_handler_gets_404_for_another_departments_case(client):
    dept, other = f.department(), f.department()
    bad_rating(other, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    handler = f.user(Role.HANDLER, dept)
    assert client.get(f"/api/v1/cases/{case.id}", headers=f.bearer(handler)).status_code == 404
    listed = client.get("/api/v1/cases", headers=f.bearer(handler)).json
    assert case.id not in [c["id"] for c in listed["items"]]


def test_public_board_filters_by_region_and_department(client):
    assert client.get("/api/v1/public/rectifications?region=460200").status_code == 200
    assert client.get("/api/v1/public/rectifications?department=NOPE").status_code == 404


def test_callbacks_api_filters_by_due_window_department_and_region(client):
    dept, other = f.department(), f.department(region="460200")
    people = staff(dept)
    mine, theirs = bad_rating(dept), bad_rating(other, phone="13900001111")
    headers = f.bearer(people["agent"])

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/v1/callbacks?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return {item["subject_id"] for item in response.get_json()["items"]}

    assert ids(f"department={dept.code}") == {mine.id}
    assert ids(f"department={other.name}") == {theirs.id}  # a name works as well as a code
    assert ids("region=460200") == {theirs.id}
    assert {mine.id, theirs.id} <= ids("due=later") | ids("due=today")  # due by the next working day
    assert ids("due=overdue").isdisjoint({mine.id, theirs.id})
    order = [i["id"] for i in client.get("/api/v1/callbacks?sort=-due", headers=headers).get_json()["items"]]
    assert len(order) == 2 and order == sorted(order, reverse=True)  # same due time: newest id first
    refused = client.get("/api/v1/callbacks?department=nowhere", headers=headers)
    assert refused.status_code == 422


def test_a_case_step_not_yours_answers_403_in_the_error_shape(client):
    dept = f.department()
    people = staff(dept)
    bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    url = f"/api/v1/cases/{case.id}"
    refused = client.post(f"{url}/verify", json={"confirmed": True}, headers=f.bearer(people["manager"]))
    assert refused.status_code == 403
    assert refused.json["code"] == 403 and refused.json["status"] == "Forbidden" and refused.json["message"]
    assert client.post(f"{url}/accept", json={}, headers=f.bearer(people["handler"])).status_code == 403
    stale = client.post(f"{url}/verify", json={"confirmed": True, "version": 99}, headers=f.bearer(people["handler"]))
    assert stale.status_code == 409 and "version" in stale.json["errors"]
    verified = client.post(
        f"{url}/verify", json={"confirmed": True, "note": "属实"}, headers=f.bearer(people["handler"])
    )
    assert verified.status_code == 200 and verified.json["status"] == "open"


def test_openapi_documents_the_403_of_every_case_step(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for step in ("verify", "report", "accept", "send-back"):
        responses = paths[f"/api/v1/cases/{{case_id}}/{step}"]["post"]["responses"]
        assert "403" in responses and "200" in responses, step
