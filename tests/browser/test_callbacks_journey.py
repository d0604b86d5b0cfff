"""The whole 好差评 loop in a browser: a citizen's bad rating → the agent's verification callback →
the department's report → the manager's acceptance → the report-back callback → published on
/feedback, masked → the 追评 link by text message to the citizen, never on a staff page."""

import re

import factories as f
import pytest
from sqlalchemy import select

from callbacks.models import RectificationCase
from core import messages
from core.models import Role
from ratings import tokens

pytestmark = pytest.mark.browser


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _sign_out(page) -> None:
    page.click("text=退出登录")


def test_bad_review_to_published_rectification(live_server, live_db, page):
    base = live_server.url
    dept = f.department(name="海口市测试审批局")
    agent, manager, handler = f.user(Role.AGENT), f.user(Role.MANAGER), f.user(Role.HANDLER, dept)
    names = (agent.username, manager.username, handler.username)
    issued = tokens.create_service_event({"department": dept.code})
    token = issued.token
    live_db.session.commit()

    # The citizen rates 不满意 and leaves a name and number.
    page.goto(f"{base}/rate/{token}")
    page.get_by_label("不满意", exact=True).check()
    page.fill("#comment", "窗口推诿，跑了三趟都没办好")
    page.fill("#contact_name", "张三丰")
    page.fill("#contact_phone", "13812345678")
    page.click("#submit-rating")
    page.wait_for_url(f"{base}/rate/thanks")

    # The agent calls back: reached, problem confirmed.
    _sign_in(page, base, names[0])
    page.goto(f"{base}/callbacks")
    page.locator("tr.callback-row", has_text="差评回访核实").first.locator("a").click()
    assert "13812345678" in page.inner_text("#phone")
    assert "窗口推诿，跑了三趟都没办好" in page.inner_text("#rating-comment")
    page.get_by_label("已接通：问题属实").check()
    page.locator("textarea[name=problem]").fill("窗口人员推诿，多次往返")
    page.click("#record-only")
    assert "已记录" in page.inner_text("main")
    _sign_out(page)

    live_db.session.rollback()
    case_id = live_db.session.scalar(select(RectificationCase.id).order_by(RectificationCase.id.desc()))

    # The department reports what it did.
    _sign_in(page, base, names[2])
    page.goto(f"{base}/cases/{case_id}")
    page.fill("#action_taken", "已约谈窗口人员，增设导办岗")
    page.get_by_role("button", name="提交整改报告").click()
    assert "待验收" in page.inner_text("main")
    _sign_out(page)

    # The manager accepts it.
    _sign_in(page, base, names[1])
    page.goto(f"{base}/cases/{case_id}")
    page.click("button[value=accept]")
    assert "已验收" in page.inner_text("main")
    _sign_out(page)

    # The agent reports back to the citizen; the case is published.
    _sign_in(page, base, names[0])
    page.goto(f"{base}/callbacks")
    page.locator("tr.callback-row", has_text="整改反馈回访").first.locator("a").click()
    assert "已约谈窗口人员，增设导办岗" in page.inner_text("#case-report")
    page.get_by_label("已接通：已告知整改情况").check()
    page.click("#record-only")
    assert "已记录" in page.inner_text("main")
    page.goto(f"{base}/cases/{case_id}")
    assert page.locator("a[href*='/rate/']").count() == 0  # the 追评 link goes only to the citizen
    assert "138****5678" in page.inner_text("main")
    _sign_out(page)

    # The text message with the 追评 link reaches the citizen's phone.
    sent = []
    messages.set_sender(sent.append)
    try:
        live_db.session.rollback()
        messages.deliver_due()
    finally:
        messages.set_sender(None)
    # (the rating's confirmation with its status link went first; the 追评 link is the /rate/ one)
    [message] = [m for m in sent if "/rate/" in m.body]
    assert message.phone == "13812345678"
    follow_up = re.search(r"https?://\S+/rate/\S+", message.body).group(0)

    page.goto(f"{base}/feedback")
    board = page.inner_text("main")
    assert "海口市测试审批局" in board and "已约谈窗口人员，增设导办岗" in board
    assert "张**" in board and "138****5678" in board
    assert "张三丰" not in board and "13812345678" not in board

    # The citizen's one follow-up rating (追评) through the link.
    page.goto(follow_up)
    page.get_by_label("满意", exact=True).check()
    page.fill("#comment", "整改后好多了")
    page.click("#submit-rating")
    page.wait_for_url(f"{base}/rate/thanks")
    live_db.session.rollback()
    case = live_db.session.get(RectificationCase, case_id)
    assert case.status.value == "published"
