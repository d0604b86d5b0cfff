"""A confidential (保密) caller stays confidential: search is no oracle for their number or name,
and nothing derived from their ticket — callback notes, the case and its history, the
satisfaction rating and its comment, the ticket's address — shows a department who they are.
Agents and managers still see them (they took the call). One place decides: core.disclosure."""

import factories as f
import hotline_factories as hf
from sqlalchemy import select

from callbacks import service as callbacks
from callbacks.models import AttemptResult, Callback, Purpose, RectificationCase
from core.db import db
from core.disclosure import Sight, person_sight
from core.models import Role
from ratings.models import Rating

NAME, PHONE = "欧阳娜娜", "13912345678"
SECRET_BITS = (NAME, PHONE, "1391234", "5678", "白沙门路88号")


def _confidential_ticket(dept):
    return hf.closed(
        dept,
        confidential=True,
        caller_name=NAME,
        caller_phone=PHONE,
        content=f"{NAME}来电，电话{PHONE}，反映小区噪音扰民。",
        address=f"海口市美兰区白沙门路88号{NAME}家",
    )


def _leaks(text: str) -> list[str]:
    return [bit for bit in SECRET_BITS if bit in text]


def test_search_finds_a_confidential_ticket_by_its_number_only_for_its_department(client):
    dept = f.department()
    ticket, handler = _confidential_ticket(dept)
    db.session.commit()
    as_handler = f.bearer(handler)
    for q in (f"电话{PHONE}", PHONE, NAME, "白沙门路88号", "1391234"):
        found = client.get("/api/v1/tickets", query_string={"q": q}, headers=as_handler).json["items"]
        assert found == [], q
    by_number = client.get("/api/v1/tickets", query_string={"q": ticket.number}, headers=as_handler).json["items"]
    assert [t["number"] for t in by_number] == [ticket.number]
    assert _leaks(str(by_number)) == []
    agent = f.bearer(f.user(Role.AGENT))
    assert client.get("/api/v1/tickets", query_string={"q": NAME}, headers=agent).json["items"]
    f.login(client, handler)
    page = client.get("/hotline/tickets", query_string={"q": NAME}).get_data(as_text=True)
    assert ticket.number not in page


def test_nothing_derived_from_a_confidential_ticket_shows_the_department_who_called(client):
    dept = f.department()
    ticket, handler = _confidential_ticket(dept)
    agent, manager = f.user(Role.AGENT), f.user(Role.MANAGER)
    satisfaction = db.session.scalar(select(Callback).where(Callback.purpose == Purpose.TICKET_SATISFACTION))
    callbacks.record_attempt(
        satisfaction,
        agent,
        AttemptResult.REACHED,
        f"{NAME}({PHONE})表示不满意",
        answer=callbacks.Answer(level=1, comment=f"我是{NAME}，电话{PHONE}，问题没解决"),
    )
    rating = db.session.scalar(select(Rating).order_by(Rating.id.desc()))
    assert rating.is_confidential and rating.is_bad_review
    verify = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    callbacks.record_attempt(
        verify,
        agent,
        AttemptResult.REACHED,
        f"{NAME}(139 1234 5678)反映属实",
        answer=callbacks.Answer(verified=True, problem=f"{NAME}家门口施工噪音，{PHONE}"),
    )
    db.session.commit()
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    assert case is not None

    as_handler = f.bearer(handler)
    views = {
        "case api": client.get(f"/api/v1/cases/{case.id}", headers=as_handler).get_data(as_text=True),
        "cases api": client.get("/api/v1/cases", headers=as_handler).get_data(as_text=True),
        "ratings api": client.get("/api/v1/ratings", headers=as_handler).get_data(as_text=True),
        "rating api": client.get(f"/api/v1/ratings/{rating.id}", headers=as_handler).get_data(as_text=True),
        "ticket api": client.get(f"/api/v1/tickets/{ticket.number}", headers=as_handler).get_data(as_text=True),
    }
    day = rating.local_day.isoformat()
    export = client.get(f"/api/v1/stats/ratings/export?format=csv&from={day}&to={day}", headers=as_handler)
    assert export.status_code == 200 and "[保密]" in export.get_data(as_text=True)
    views["ratings export"] = export.get_data(as_text=True)
    assert client.get(f"/api/v1/ratings/{rating.id}", headers=as_handler).json["ticket_number"] is None
    f.login(client, handler)
    views["case page"] = client.get(f"/cases/{case.id}").get_data(as_text=True)
    views["cases page"] = client.get("/cases").get_data(as_text=True)
    views["ratings page"] = client.get("/staff/ratings").get_data(as_text=True)
    views["ticket page"] = client.get(f"/hotline/tickets/{ticket.number}").get_data(as_text=True)
    leaks = {name: _leaks(body) for name, body in views.items() if _leaks(body)}
    assert not leaks, leaks
    assert "[保密]" in views["case page"] and "美兰区" in views["ticket page"]

    # The manager (and the agent) still see who it was, where they need to.
    manager_case = client.application.test_client()
    f.login(manager_case, manager)
    assert NAME in manager_case.get(f"/hotline/tickets/{ticket.number}").get_data(as_text=True)
    assert NAME in manager_case.get(f"/cases/{case.id}").get_data(as_text=True)


def test_the_one_rule(database):
    dept = f.department()
    handler, other = f.user(Role.HANDLER, dept), f.user(Role.HANDLER)
    agent, manager, admin = f.user(Role.AGENT), f.user(Role.MANAGER), f.user(Role.ADMIN)
    secret = {"confidential": True, "department_id": dept.id, "detail": True}
    assert [person_sight(u, **secret) for u in (handler, other, admin, None)] == [Sight.HIDDEN] * 4
    assert person_sight(agent, **secret) == person_sight(manager, **secret) == Sight.FULL
    plain = {"confidential": False, "department_id": dept.id}
    assert person_sight(handler, **plain, detail=True) == Sight.FULL
    assert person_sight(other, **plain, detail=True) == Sight.MASKED
    assert person_sight(agent, **plain) == Sight.MASKED  # lists mask for everyone
    assert person_sight(None, **plain, detail=True) == Sight.MASKED
