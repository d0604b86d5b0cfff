"""One language per page: staff forms submitted empty and with invalid values answer in the
page's language — no English sentence on a Chinese page, no untranslated Chinese UI text on an
English one (data such as names and ticket content aside)."""

import html
import re

import factories as f
import hotline_factories as hf
import pytest
from callbacks_support import bad_rating, staff
from sqlalchemy import select

from callbacks.models import Callback, RectificationCase
from core.db import db
from core.models import Role
from hotline.service import MOVES

ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}[ ,.:;'’-]+[A-Za-z]{2,}")
CJK = re.compile(r"[\u4e00-\u9fff]")
INVALID = {
    "type": "bogus",
    "region_code": "999999",
    "caller_phone": "abc",
    "department": "nowhere",
    "lead_department": "nowhere",
    "working_days": "many",
    "into": "NOPE",
    "version": "x",
    "level": "9",
    "outcome": "bogus",
    "result": "bogus",
    "confirmed": "maybe",
}


def _main_text(response, client) -> str:
    """The visible text of <main> of the page the form leads to (following one redirect)."""
    if response.status_code in (301, 302, 303):
        response = client.get(response.headers["Location"])
    page = response.get_data(as_text=True)
    main = page[page.index("<main") : page.index("</main>")]
    main = re.sub(r"<(script|style)\b.*?</\1>", " ", main, flags=re.S)
    main = re.sub(r"<(option|textarea)\b[^>]*>.*?</\1>", " ", main, flags=re.S)  # choices and typed values
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def _forms(client) -> list[tuple[str, str, dict[str, str]]]:
    """Every staff form, as (who, url, fields), with its data arranged."""
    dept = f.department()
    people = staff(dept)
    people["admin"] = f.user(Role.ADMIN)
    ticket = hf.ticket(people["agent"], dept=dept)
    rating = bad_rating(dept)
    callback = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    db.session.commit()
    forms = [("agent", "/hotline/new", {})]
    for move in MOVES:
        who = "handler" if move in {"take", "handle", "reply", "return", "request_extension"} else "manager"
        forms.append((who, f"/hotline/tickets/{ticket.number}/{move}", {}))
    forms += [
        ("agent", f"/callbacks/{callback.id}/attempt", {"from": "detail"}),
        ("agent", f"/callbacks/{callback.id}/attempt", {"from": "detail", "outcome": "verified", "department": "x"}),
        ("handler", f"/cases/{case.id}", {"action": "verify"}),
        ("handler", f"/cases/{case.id}", {"action": "report"}),
        ("manager", f"/cases/{case.id}", {"action": "accept"}),
        ("manager", f"/cases/{case.id}", {"action": "send_back"}),
    ]
    return [(who, url, data) for who, url, data in forms], people


@pytest.mark.parametrize("values", ["empty", "invalid"])
def test_staff_forms_answer_in_chinese(client, values):
    forms, people = _forms(client)
    signed_in = None
    shown: list[str] = []
    for who, url, data in forms:
        if signed_in != who:
            client.post("/logout")
            f.login(client, people[who])
            signed_in = who
        payload = dict(data) if values == "empty" else {**INVALID, **data}
        text = _main_text(client.post(url, data=payload), client)
        assert not ENGLISH_SENTENCE.search(text), f"{url} {payload}: {ENGLISH_SENTENCE.findall(text)}"
        shown.append(text)
    # The refusals were shown, in Chinese, not silently dropped.
    assert any("未保存" in t for t in shown) and any("必填" in t or "有误" in t or "不是" in t for t in shown)
    for url in ("/nothing-here", "/cases/999999", "/callbacks/999999"):
        text = _main_text(client.get(url), client)
        assert not ENGLISH_SENTENCE.search(text), f"{url}: {ENGLISH_SENTENCE.findall(text)}"


def test_staff_forms_answer_in_english(client):
    forms, people = _forms(client)
    signed_in = None
    for who, url, data in forms:
        if signed_in != who:
            client.post("/logout")
            f.login(client, people[who])
            client.get("/?lang=en")
            signed_in = who
        text = _main_text(client.post(f"{url}?lang=en", data={**INVALID, **data}), client)
        # Data stays as it was entered (Chinese names, the ticket's text); the UI must not.
        for line in text.splitlines():
            if CJK.search(line) and not re.search(r"测试部门|市民来电|张|海口|小区|窗口|[0-9]{4}-", line):
                pytest.fail(f"{url}: untranslated {line.strip()!r}")


def test_english_mode_shows_english_names(client):
    dept = f.department(name="海口市住房和城乡建设局", name_en="Haikou Housing and Urban-Rural Development Bureau")
    agent = f.user(Role.AGENT)
    ticket = hf.ticket(agent, dept=dept)
    db.session.commit()
    f.login(client, agent)
    english = client.get(f"/hotline/tickets/{ticket.number}?lang=en").get_data(as_text=True)
    assert "Haikou Housing and Urban-Rural Development Bureau" in english and "海口市住房和城乡建设局" not in english
    chinese = client.get(f"/hotline/tickets/{ticket.number}?lang=zh").get_data(as_text=True)
    assert "海口市住房和城乡建设局" in chinese


def test_intake_pickers_take_names_and_show_code_with_name(client):
    from hotline.models import Ticket

    dept = f.department(name="屯昌县住房和城乡建设局", region="469022")
    agent = f.user(Role.AGENT)
    f.login(client, agent)
    form = client.get("/hotline/new").get_data(as_text=True)
    assert 'value="460100 海口市"' in form  # the region as the picker shows it, not a bare code
    assert re.search(r'<aside id="duplicate-hint"[^>]*></aside>', form)  # empty until something is typed
    response = client.post(
        "/hotline/new",
        data={
            "type": "complaint",
            "urgency": "normal",
            "channel": "phone",
            "content": "屯昌县某小区停水三天，无人处理。",
            "region_code": "屯昌县",
            "lead_department": "屯昌县住房和城乡建设局",
        },
    )
    assert response.status_code == 302, _main_text(response, client)
    ticket = db.session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert ticket.region_code == "469022" and ticket.lead_department_id == dept.id
