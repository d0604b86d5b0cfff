"""A citizen rates a service on a phone (Chromium at 390×844): picks 不满意, ticks a reason,
writes a comment, submits, sees the thank-you page, and the same link then says it was used.
And the same form without JavaScript."""

import pytest
from sqlalchemy import select

from ratings import tokens
from ratings.models import Rating

pytestmark = pytest.mark.browser


def _issue(live_db) -> tuple[str, int]:
    issued = tokens.create_service_event({})
    token, event_id = issued.token, issued.event.id
    live_db.session.commit()
    return token, event_id


def _stored(live_db, event_id: int) -> Rating:
    live_db.session.rollback()  # a fresh snapshot: the server committed in another thread
    return live_db.session.scalar(select(Rating).where(Rating.event_id == event_id))


def test_a_citizen_rates_a_service_on_a_phone(live_server, live_db, page):
    token, event_id = _issue(live_db)
    blocked = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    url = f"{live_server.url}/rate/{token}"
    page.goto(url)
    assert page.inner_text("h1") == "您对本次服务满意吗？"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    for label in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        choice = page.get_by_label(label, exact=True)
        assert choice.is_visible()
        box = page.locator(f"label.level:has(#{choice.get_attribute('id')})").bounding_box()
        assert box["height"] >= 48 and box["width"] >= 300  # large tap targets
    assert not page.is_visible("#reasons")  # reason tags only for bad levels

    page.get_by_label("不满意", exact=True).check()
    assert page.is_visible("#reasons")
    page.get_by_label("等候时间长").check()
    page.fill("#comment", "等了两个小时才轮到我")
    page.click("#submit-rating")
    page.wait_for_url(f"{live_server.url}/rate/thanks")
    assert "感谢您的评价" in page.inner_text("main") and "不满意" in page.inner_text("main")

    again = page.goto(url)
    assert again.status == 409
    assert "该评价链接已使用" in page.inner_text("#link-state")
    assert blocked == []

    rating = _stored(live_db, event_id)
    assert (rating.level, rating.reasons, rating.comment) == (2, ["long_wait"], "等了两个小时才轮到我")
    assert rating.is_bad_review and rating.channel in (1, 2)  # PC web or mobile, by the browser's User-Agent


def test_the_keyboard_reaches_the_choices_in_order(live_server, live_db, page):
    token, _event_id = _issue(live_db)
    page.goto(f"{live_server.url}/rate/{token}")
    page.focus("#level-5")
    page.keyboard.press("ArrowDown")  # radio group: arrows move and choose
    assert page.evaluate("document.activeElement.id") == "level-4"
    assert page.is_checked("#level-4")
    outline = page.evaluate("getComputedStyle(document.querySelector('label.level:has(#level-4)')).outlineStyle")
    assert outline == "solid"  # visible focus


def test_the_form_works_without_javascript(live_server, live_db, browser):
    token, event_id = _issue(live_db)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/rate/{token}?ch=3")
        page.get_by_label("非常满意", exact=True).check()
        page.fill("#comment", "工作人员很热情,一次就办好了")
        page.click("#submit-rating")
        page.wait_for_url(f"{live_server.url}/rate/thanks")
        assert "感谢您的评价" in page.inner_text("main")
        page.goto(f"{live_server.url}/rate/{token}?lang=en")
        assert "already been used" in page.inner_text("#link-state")
    finally:
        context.close()
    rating = _stored(live_db, event_id)
    assert (rating.level, rating.channel, rating.hidden_bad) == (5, 3, False)
