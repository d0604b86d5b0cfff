"""Every case and ticket page names the step that comes next and the role that takes it, at every
state, in the page's language; histories and levels show their labels, not their codes."""

import factories as f
import hotline_factories as hf
from callbacks_support import bad_rating, staff
from sqlalchemy import select

from callbacks import service
from callbacks.models import Callback, RectificationCase
from core.db import db
from hotline import service as hotline_service


def _next_step(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    start = html.index('id="next-step"')
    return html[start : html.index("</p>", start)]


def test_case_page_names_the_next_step_at_every_state(client):
    dept = f.department()
    people = staff(dept)
    f.login(client, people["manager"])
    bad_rating(dept, name="", phone="", level=1)
    case = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    url = f"/cases/{case.id}"

    def expect(step: str, role: str | None) -> None:
        db.session.commit()
        shown = _next_step(client, url)
        assert step in shown and (role is None or role in shown), shown

    expect("核实", "承办单位人员")
    page = client.get(url).get_data(as_text=True)
    assert "非常不满意" in page and "评价等级" not in page
    service.verify_case(case, people["handler"], True, "属实")
    expect("整改", "承办单位人员")
    service.submit_report(case, people["handler"], "已整改")
    expect("验收", "管理人员")
    rating = bad_rating(dept)  # with a phone: an accepted case waits for the agent's call
    verify = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    service.record_attempt(verify, people["agent"], service.AttemptResult.REACHED, answer=service.Answer(verified=True))
    called = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    service.submit_report(called, people["handler"], "已整改")
    service.accept_case(called, people["manager"])
    url = f"/cases/{called.id}"
    expect("回访", "话务员")
    history = client.get(url).get_data(as_text=True)
    assert "→ 已验收" in history and "accepted →" not in history and "opened" not in history
    report_back = db.session.scalar(select(Callback).where(Callback.case_id == called.id))
    service.record_attempt(report_back, people["agent"], service.AttemptResult.REACHED)
    expect("已在整改公示栏公示", None)
    bad_rating(dept, name="", phone="")
    dismissed = db.session.scalar(select(RectificationCase).order_by(RectificationCase.id.desc()))
    service.verify_case(dismissed, people["handler"], False, "经核实不存在该问题")
    url = f"/cases/{dismissed.id}"
    expect("不属实", None)
    english = client.get(f"{url}?lang=en").get_data(as_text=True)
    assert "Nothing more" in english


def test_ticket_page_names_the_next_step_at_every_state(client):
    dept = f.department()
    agent = f.user("agent")
    handler = hf.handler_of(dept)
    f.login(client, agent)
    ticket = hf.ticket(agent)
    url = f"/hotline/tickets/{ticket.number}"

    def expect(step: str, role: str | None) -> None:
        db.session.commit()
        shown = _next_step(client, url)
        assert step in shown and (role is None or role in shown), shown

    expect("派单至责任单位", "话务员")
    hotline_service.make_move("dispatch", ticket, agent, {"department": dept.code})
    expect("签收工单", "承办单位人员")
    hotline_service.make_move("return", ticket, handler, {"reason": "非本单位职责"})
    expect("重新派单", "话务员")
    hotline_service.make_move("dispatch", ticket, agent, {"department": dept.code})
    hotline_service.make_move("take", ticket, handler)
    expect("答复", "承办单位人员")
    hotline_service.make_move("handle", ticket, handler, {"note": "已联系物业"})
    expect("答复", "承办单位人员")
    hotline_service.make_move("reply", ticket, handler, {"reply": "已处理完毕。"})
    expect("回访", "话务员")
    hotline_service.make_move("callback", ticket, agent, {"note": "满意"})
    expect("归档", "话务员")
    hotline_service.make_move("archive", ticket, agent)
    expect("工单已归档", None)
    other = hf.ticket(agent)
    hotline_service.make_move("merge", other, agent, {"into": hf.ticket(agent).number})
    url = f"/hotline/tickets/{other.number}"
    expect("合并后的工单", None)
