"""Handlers hear about their department's work: a ticket dispatched to them, a case opened, sent
back or accepted — in the header, on the notifications page and through the API."""

import factories as f
import hotline_factories as hf
from callbacks_support import bad_rating, staff
from sqlalchemy import select

from callbacks import service
from callbacks.models import Callback, RectificationCase
from core.db import db


def _api(client, handler, query: str = "") -> dict:
    response = client.get(f"/api/v1/notifications{query}", headers=f.bearer(handler))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_handler_is_notified_of_a_dispatched_ticket_and_an_opened_case(client):
    dept, other = f.department(), f.department()
    people = staff(dept)
    outsider = f.user("handler", other)
    ticket = hf.ticket(dept=dept)
    rating = bad_rating(dept)
    verify = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    service.record_attempt(verify, people["agent"], service.AttemptResult.REACHED, answer=service.Answer(verified=True))
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    db.session.commit()

    listing = _api(client, people["handler"])
    kinds = {(n["kind"], n["subject_type"], n["subject_id"]) for n in listing["items"]}
    assert ("ticket_dispatched", "ticket", ticket.id) in kinds
    assert ("case_opened", "case", case.id) in kinds
    assert listing["unread"] == 2
    assert any(ticket.number in n["message"] for n in listing["items"])
    assert _api(client, outsider)["total"] == 0  # another department hears nothing

    f.login(client, people["handler"])
    page = client.get("/hotline/notifications").get_data(as_text=True)
    assert ticket.number in page and f"#{case.id}" in page
    assert f'href="/cases/{case.id}"' in page  # each notification links to what it is about
    assert 'id="unread-count">2<' in client.get("/cases").get_data(as_text=True)

    client.post("/logout")
    first = listing["items"][0]["id"]
    read = client.post(f"/api/v1/notifications/{first}/read", headers=f.bearer(people["handler"]))
    assert read.status_code == 200 and read.get_json()["read_at"]
    assert _api(client, people["handler"], "?unread=true")["total"] == 1
    theirs = client.post(f"/api/v1/notifications/{first}/read", headers=f.bearer(outsider))
    assert theirs.status_code == 404
    marked = client.post("/api/v1/notifications/read-all", headers=f.bearer(people["handler"]))
    assert marked.get_json() == {"marked": 1}
    assert _api(client, people["handler"])["unread"] == 0


def test_handler_is_notified_when_a_report_is_sent_back_or_accepted(client):
    dept = f.department()
    people = staff(dept)
    bad_rating(dept, name="", phone="")  # anonymous: straight to the department to verify
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    service.verify_case(case, people["handler"], True, "属实")
    service.submit_report(case, people["handler"], "已整改")
    service.send_back(case, people["manager"], "请补充照片")
    service.submit_report(case, people["handler"], "已整改并补充照片")
    service.accept_case(case, people["manager"])
    db.session.commit()
    kinds = [n["kind"] for n in _api(client, people["handler"])["items"]]
    assert {"case_opened", "case_sent_back", "case_accepted"} <= set(kinds)


def test_handlers_are_reminded_once_the_day_before_a_case_is_due(client):
    from datetime import timedelta

    from callbacks import jobs
    from core.db import utcnow

    dept = f.department()
    people = staff(dept)
    bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    service.verify_case(case, people["handler"], True, "属实")
    case.due_at = utcnow() + timedelta(days=20)
    db.session.commit()
    jobs.remind_cases_due_tomorrow()
    assert "case_due_soon" not in {n["kind"] for n in _api(client, people["handler"])["items"]}
    case.due_at = utcnow() + timedelta(hours=2)
    db.session.commit()
    jobs.remind_cases_due_tomorrow()
    jobs.remind_cases_due_tomorrow()  # once only
    kinds = [n["kind"] for n in _api(client, people["handler"])["items"]]
    assert kinds.count("case_due_soon") == 1


def test_a_case_of_a_department_without_handlers_is_reminded_once_not_at_every_sweep(client):
    """The reminder is marked on the case: with nobody to notify, the next sweep must not take
    the same case again (a backlog of such cases cost every sweep its whole batch)."""
    from datetime import timedelta

    from callbacks import jobs
    from core.db import utcnow

    dept = f.department()
    people = staff(dept)
    bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    service.verify_case(case, people["handler"], True, "属实")
    people["handler"].active = False  # the department has no active handler left
    case.due_at = utcnow() + timedelta(hours=2)
    db.session.commit()
    assert jobs.remind_cases_due_tomorrow() == "reminded 1 cases"
    assert db.session.get(RectificationCase, case.id).reminded_at is not None
    assert jobs.remind_cases_due_tomorrow() == "reminded 0 cases"


def test_dispatch_accepts_a_department_name(client):
    from hotline import service as hotline_service

    dept = f.department(name="海口市住房和城乡建设局")
    agent = f.user("agent")
    ticket = hf.ticket(agent)
    hotline_service.make_move("dispatch", ticket, agent, {"department": "海口市住房和城乡建设局"})
    assert ticket.lead_department_id == dept.id
