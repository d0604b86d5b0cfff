"""Acceptance 5 in a real browser: an agent logs a ticket with the keyboard alone and is warned of
the caller's earlier ticket while typing; a handler takes and answers it; the timeline shows
every step."""

import re

import factories as f
import pytest
from playwright.sync_api import expect

from core.models import Role
from hotline import service

pytestmark = pytest.mark.browser


def sign_in(page, base_url, staff):
    page.goto(f"{base_url}/login")
    page.fill("#username", staff.username)
    page.fill("#password", f.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/")


def test_agent_logs_a_ticket_by_keyboard_and_a_handler_answers_it(live_server, live_db, page):
    dept = f.department(region="460100", name="海口市测试市场监督管理局")
    agent = f.user(Role.AGENT)
    handler = f.user(Role.HANDLER, dept)
    earlier = f.saved(
        service.create_ticket(
            {"type": "complaint", "content": "上周反映的餐馆油烟扰民问题", "region_code": "460100",
             "caller_phone": "13812349999", "lead_department": dept.code},
            agent,
        )
    )  # fmt: skip
    base = live_server.url
    number = log_ticket_by_keyboard(page, base, agent, dept, earlier.number)
    answer_as_handler(page, base, handler, number)


def log_ticket_by_keyboard(page, base, agent, dept, earlier_number) -> str:
    """The agent, keyboard only; returns the new ticket's number."""
    sign_in(page, base, agent)
    page.goto(f"{base}/hotline/new")
    expect(page.locator("#caller_phone")).to_be_focused()
    page.keyboard.type("13812349999")
    hint = page.locator("#duplicate-hint")
    expect(hint).to_contain_text(earlier_number)  # while the caller is still on the line
    expect(hint).to_contain_text("同一号码")
    page.keyboard.press("Tab")
    page.keyboard.type("陈十一")
    page.keyboard.press("Tab")  # into the type radios (咨询 is checked)
    page.keyboard.press("ArrowDown")  # 求助
    page.keyboard.press("ArrowDown")  # 投诉
    page.keyboard.press("Tab")
    page.keyboard.type("餐馆油烟仍然很大，晚上无法开窗")
    page.keyboard.press("Tab")  # region: the agent's last region is already there
    expect(page.locator("#region_code")).to_have_value("460100 海口市")
    page.keyboard.press("Tab")
    page.keyboard.type("海口市龙华区金贸路1号")
    page.keyboard.press("Tab")
    page.keyboard.type(dept.code)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/hotline/tickets/HN\d{14}$"))
    number = page.url.rsplit("/", 1)[-1]
    expect(page.locator("main")).to_contain_text(f"工单 {number} 已创建")
    expect(page.locator("#ticket-status")).to_have_text("已派单")
    expect(page.locator("main")).to_contain_text("投诉")  # picked with the arrow keys
    expect(page.locator("#caller")).to_contain_text("13812349999")  # the agent sees the caller in full
    expect(page.locator("#lead-department")).to_have_text(dept.name)
    page.click("text=退出登录")
    page.wait_for_url(f"{base}/login")
    return number


def answer_as_handler(page, base, handler, number) -> None:
    """The handler takes the ticket from the department queue and answers it."""
    sign_in(page, base, handler)
    page.goto(f"{base}/hotline/department")
    page.click(f"text={number}")
    expect(page.locator("#caller")).to_contain_text("13812349999")  # the lead department can reach the caller
    page.click("#move-take button")
    expect(page.locator("#ticket-status")).to_have_text("已签收")
    page.fill("#reply-text", "已到现场检查，责令餐馆加装油烟净化设备。")
    page.click("#move-reply button")
    expect(page.locator("#ticket-status")).to_have_text("已办结")
    steps = page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.move)")
    assert steps == ["create", "dispatch", "take", "reply"]
    timeline = page.inner_text("#timeline")
    for word in ("受理", "派单", "签收", "答复办结", handler.username):
        assert word in timeline
    expect(page.locator("#ticket-reply")).to_contain_text("油烟净化设备")
