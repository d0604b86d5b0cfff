"""The worklist, case and feedback pages through the client."""

import factories as f
from callbacks_support import bad_rating, staff
from sqlalchemy import select

from callbacks.models import Callback, CallbackStatus, RectificationCase
from core.db import db


def test_worklist_records_an_attempt_in_one_step(client):
    dept = f.department()
    people = staff(dept)
    rating = bad_rating(dept)
    callback = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    f.login(client, people["agent"])
    page = client.get("/callbacks").get_data(as_text=True)
    assert f"callback-{callback.id}" in page and "13812345678" not in page  # lists never show the number
    detail = client.get(f"/callbacks/{callback.id}").get_data(as_text=True)
    assert "13812345678" in detail  # the number to dial, in full on the callback's own page
    response = client.post(
        f"/callbacks/{callback.id}/attempt",
        data={"result": "reached", "verified": "yes", "problem": "窗口推诿", "version": callback.version},
    )
    assert response.status_code == 302
    assert callback.status == CallbackStatus.DONE
    assert db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id)) is not None


def test_worklist_is_for_agents_and_managers(client):
    dept = f.department()
    people = staff(dept)
    assert client.get("/callbacks").status_code == 302  # to the sign-in page
    f.login(client, people["handler"])
    assert client.get("/callbacks").status_code == 403


def test_department_reports_and_manager_accepts_on_the_case_page(client):
    dept = f.department()
    people = staff(dept)
    bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    f.login(client, people["handler"])
    assert "待核实" in client.get("/cases").get_data(as_text=True)
    client.post(f"/cases/{case.id}", data={"action": "verify", "confirmed": "yes", "note": "属实"})
    client.post(f"/cases/{case.id}", data={"action": "report", "action_taken": "已整改"})
    client.post("/logout")
    f.login(client, people["manager"])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "已整改" in page
    client.post(f"/cases/{case.id}", data={"action": "accept", "note": "同意"})
    assert case.status.value == "published"  # nobody to call back: published at once
    board = client.get("/feedback").get_data(as_text=True)
    assert "已整改" in board and dept.name in board


def test_feedback_board_is_public_and_masked(client):
    dept = f.department()
    people = staff(dept)
    from callbacks import service

    rating = bad_rating(dept)
    callback = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    service.record_attempt(
        callback, people["agent"], service.AttemptResult.REACHED, answer=service.Answer(verified=True)
    )
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    service.submit_report(case, people["handler"], "增加导办员")
    service.accept_case(case, people["manager"])
    report_back = db.session.scalar(select(Callback).where(Callback.case_id == case.id))
    service.record_attempt(report_back, people["agent"], service.AttemptResult.REACHED)
    db.session.commit()
    html = client.get(f"/feedback?region={dept.region_code}&department={dept.code}").get_data(as_text=True)
    assert "张**" in html and "138****5678" in html and "增加导办员" in html
    assert "张三丰" not in html and "13812345678" not in html


def test_the_case_page_offers_only_the_steps_the_reader_may_take(client):
    dept = f.department()
    people = staff(dept)
    bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    f.login(client, people["manager"])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'value="verify"' not in page and 'value="accept"' not in page
    refused = client.post(f"/cases/{case.id}", data={"action": "verify", "confirmed": "yes"}, follow_redirects=True)
    assert "未保存：您无权办理此步骤。" in refused.get_data(as_text=True)
    assert case.status.value == "to_verify"
    client.post("/logout")
    f.login(client, people["handler"])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'value="verify"' in page and 'value="accept"' not in page
    english = client.post(f"/cases/{case.id}?lang=en", data={"action": "accept"}, follow_redirects=True)
    assert "This step is not yours to take." in english.get_data(as_text=True)
