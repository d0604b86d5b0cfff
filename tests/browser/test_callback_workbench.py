"""The agent's callback workbench at 1366×768: filters and paging on the worklist, then ten
callbacks of mixed kinds worked with the keyboard alone — each showing what it is about (the
rating's level label and comment, the ticket, or the department's report) before the outcome is
recorded — moving to the next due one each time. Screenshots go to $HAOCHA_SCREENSHOTS (default:
the test's temporary directory)."""

import os
from pathlib import Path

import factories as f
import hotline_factories as hf
import pytest
from sqlalchemy import select, update

from callbacks import service as callbacks_service
from callbacks.models import Callback, CallbackStatus, Purpose, RectificationCase
from core import messages
from core.models import Role
from ratings import recording, tokens

pytestmark = pytest.mark.browser

COMMENTS = ["窗口推诿，跑了三趟都没办好", "材料一次没讲清楚，来回补了两次", "排队两个小时没人管", "办事员态度生硬"]


def _bad_rating(dept, level: int, comment: str, phone: str):
    issued = tokens.create_service_event({"department": dept.code})
    return recording.rate_with_token(
        issued.token, level, None, comment=comment, contact={"name": "王小明", "phone": phone}, reasons=["attitude"]
    )


def _arrange(db, dept, agent, manager, handler) -> dict[int, dict[str, str]]:
    """Ten pending callbacks — 4 verifications, 3 satisfaction calls, 3 report-backs — and what
    each page must show before the call is recorded."""
    db.session.execute(
        update(Callback).where(Callback.status == CallbackStatus.PENDING).values(status=CallbackStatus.CANCELLED)
    )
    expected: dict[int, dict[str, str]] = {}
    for i, comment in enumerate(COMMENTS):
        rating = _bad_rating(dept, 1 + i % 2, comment, f"1391234000{i}")
        cb = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
        expected[cb.id] = {"kind": "差评回访核实", "level": ["非常不满意", "不满意"][i % 2], "text": comment}
    for i in range(3):
        ticket, _handler = hf.closed(
            dept, content=f"小区路灯损坏第{i + 1}处，请尽快修复", caller_phone=f"1381111000{i}"
        )
        cb = db.session.scalar(
            select(Callback).where(Callback.subject_type == "ticket", Callback.subject_id == ticket.id)
        )
        expected[cb.id] = {"kind": "工单满意度回访", "level": "", "text": f"小区路灯损坏第{i + 1}处"}
    for i in range(3):
        rating = _bad_rating(dept, 2, f"办理进度无人告知{i}", f"1370000000{i}")
        verify = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
        callbacks_service.record_attempt(
            verify, agent, callbacks_service.AttemptResult.REACHED, answer=callbacks_service.Answer(verified=True)
        )
        case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
        callbacks_service.submit_report(case, handler, f"已设专人跟踪进度并短信告知第{i}号")
        callbacks_service.accept_case(case, manager)
        cb = db.session.scalar(select(Callback).where(Callback.case_id == case.id))
        expected[cb.id] = {"kind": "整改反馈回访", "level": "不满意", "text": f"已设专人跟踪进度并短信告知第{i}号"}
    db.session.commit()
    return expected


def test_agent_works_ten_callbacks_with_the_keyboard(live_server, live_db, browser, tmp_path):
    shots = Path(os.environ.get("HAOCHA_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    dept = f.department(name="海口市测试政务服务中心")
    agent, manager, handler = f.user(Role.AGENT), f.user(Role.MANAGER), f.user(Role.HANDLER, dept)
    expected = _arrange(live_db, dept, agent, manager, handler)
    order = [cb.id for cb in live_db.session.scalars(callbacks_service.callbacks_query(agent, "pending"))]
    assert sorted(order) == sorted(expected)
    username = agent.username

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", f.PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/")

    # Filters and paging.
    page.goto(f"{base}/callbacks?per_page=5")
    assert page.locator("tr.callback-row").count() == 5
    assert "共 10 条" in page.inner_text("main")
    page.screenshot(path=str(shots / "workbench-list-1366.png"), full_page=True)
    page.click("a[rel=next]")
    assert page.locator("tr.callback-row").count() == 5
    page.goto(f"{base}/callbacks")
    page.select_option("#f-purpose", Purpose.TICKET_SATISFACTION.value)
    page.click(".wb-filters button[type=submit]")
    rows = page.locator("tr.callback-row")
    assert rows.count() == 3 and all("工单满意度回访" in t for t in rows.all_inner_texts())
    page.goto(f"{base}/callbacks?department={dept.name}&purpose={Purpose.VERIFY_BAD_REVIEW.value}")
    assert page.locator("tr.callback-row").count() == 4  # a department picked by its name
    assert "非常不满意" in page.inner_text("main") and COMMENTS[0] in page.inner_text("main")

    # The shift: N opens the next due callback; a number key picks the outcome; Enter records
    # it and opens the next one.
    page.goto(f"{base}/callbacks")
    with page.expect_navigation():
        page.keyboard.press("n")
    keys = {"差评回访核实": ["1", "2"], "工单满意度回访": ["4", "5", "8"], "整改反馈回访": ["1"]}
    visited = []
    for step in range(10):
        page.wait_for_url(f"{base}/callbacks/*")
        callback_id = int(page.url.rsplit("/", 1)[1])
        visited.append(callback_id)
        want = expected[callback_id]
        main = page.inner_text("main")
        assert want["kind"] in main and want["text"] in main, main
        if want["level"]:
            assert page.inner_text("#rating-level") == want["level"]
        if want["kind"] == "整改反馈回访":
            assert want["text"] in page.inner_text("#case-report")
        assert page.locator("#call-script").count() == 1 and "12345" in page.inner_text("#call-script")
        if step < 3:
            page.screenshot(path=str(shots / f"workbench-callback-{step + 1}-1366.png"), full_page=True)
        choices = keys[want["kind"]]
        page.keyboard.press(choices[step % len(choices)])
        assert page.locator("input[name=outcome]:checked").count() == 1
        with page.expect_navigation():
            page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/callbacks")
    assert "没有待办的回访" in page.inner_text("main")
    assert visited == order  # soonest due first, each one once

    live_db.session.rollback()
    done = live_db.session.scalars(select(Callback).where(Callback.id.in_(order)))
    assert all(not cb.is_open for cb in done)
    # The three report-backs published their cases: each citizen's 追评 link goes out by text.
    sent = []
    messages.set_sender(sent.append)
    try:
        messages.deliver_due()
    finally:
        messages.set_sender(None)
    assert {f"1370000000{i}" for i in range(3)} <= {m.phone for m in sent}

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    small = phone.new_page()
    small.goto(f"{base}/login")
    small.fill("#username", username)
    small.fill("#password", f.PASSWORD)
    small.press("#password", "Enter")
    small.wait_for_url(f"{base}/")
    small.goto(f"{base}/callbacks?status=done")
    small.screenshot(path=str(shots / "workbench-list-390.png"), full_page=True)
    small.goto(f"{base}/callbacks/{order[0]}")
    small.screenshot(path=str(shots / "workbench-callback-390.png"), full_page=True)
    phone.close()
    context.close()
