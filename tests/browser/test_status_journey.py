"""Acceptance 1 of issue 18 at 390×844: a 非常不满意 rating → the thanks page gives a reference
number and a status link → the status page shows the callback scheduled → once the case is
published it shows the department's report and opens the 追评, which leads to the follow-up form."""

from pathlib import Path

import factories as f
import pytest
from sqlalchemy import select

from callbacks import service as callbacks
from callbacks.models import AttemptResult, Callback, Purpose, RectificationCase
from core.models import Role
from ratings import tokens
from ratings.models import Rating

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/haocha-screenshots")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"status-{name}.png"), full_page=True)


def test_a_bad_rating_is_followed_to_the_published_report_and_the_follow_up(live_server, live_db, page):
    base = live_server.url
    dept = f.department(name="海口市市场监督管理局")
    item = f.service_item(dept)
    agent, handler, manager = f.user(Role.AGENT), f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    issued = tokens.create_service_event({"department": dept.code, "service_item": item.code})
    live_db.session.commit()

    page.goto(f"{base}/rate/{issued.token}")
    what = page.inner_text("#rated-what")
    assert "海口市市场监督管理局" in what and item.name in what and "办理日期" in what
    _shot(page, "1-form")
    page.get_by_label("非常不满意", exact=True).check()
    page.fill("#comment", "营业执照变更跑了三趟")
    page.fill("#contact_phone", "13812340000")
    page.click("#submit-rating")
    page.wait_for_url(f"{base}/rate/thanks")
    reference = page.inner_text("#status-ref .reference")
    assert reference.startswith("HC") and page.locator("#status-link").is_visible()
    _shot(page, "2-thanks")

    page.click("#status-link")
    page.wait_for_url(f"{base}/status/**")
    status_url = page.url
    assert page.inner_text("#reference") == reference
    timeline = page.inner_text("#timeline")
    assert "已安排回访" in timeline and "等待回访" in timeline
    _shot(page, "3-callback-scheduled")

    # Staff work the case (their own pages are tested elsewhere): verified, reported, accepted,
    # reported back, published.
    live_db.session.rollback()
    rating_id = live_db.session.scalar(select(Rating.id).where(Rating.event_id == issued.event.id))
    verify = live_db.session.scalar(
        select(Callback).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW, Callback.rating_id == rating_id)
    )
    callbacks.record_attempt(verify, agent, AttemptResult.REACHED, answer=callbacks.Answer(verified=True, problem="x"))
    live_db.session.commit()
    case = live_db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == verify.rating_id))
    callbacks.submit_report(case, handler, "已优化变更登记流程，实行一次告知")
    callbacks.accept_case(case, manager)
    live_db.session.commit()
    back = live_db.session.scalar(
        select(Callback).where(Callback.purpose == Purpose.RECTIFICATION_REPORT, Callback.case_id == case.id)
    )
    callbacks.record_attempt(back, agent, AttemptResult.REACHED, "已告知")
    live_db.session.commit()

    page.goto(status_url)
    main = page.inner_text("#status")
    assert "整改情况已在公示栏公开" in main and "已优化变更登记流程，实行一次告知" in main
    assert agent.username not in main and handler.username not in main
    button = page.get_by_role("button", name="对整改结果追评")
    assert button.is_visible()
    _shot(page, "4-published")
    button.click()
    page.wait_for_url(f"{base}/rate/**")
    assert "追加评价" in page.inner_text("h1")
    _shot(page, "5-follow-up-form")


def test_a_callers_ticket_status_page_on_a_phone(live_server, live_db, page):
    import hotline_factories as hf

    from core import messages

    dept = f.department(name="海口市水务局")
    ticket, _ = hf.closed(dept)
    sent = []
    messages.set_sender(sent.append)
    try:
        live_db.session.rollback()
        messages.deliver_due()
    finally:
        messages.set_sender(None)
    [message] = [m for m in sent if "/status/" in m.body and ticket.number in m.body]
    page.goto(live_server.url + "/status/" + message.body.rsplit("/status/", 1)[1])
    timeline = page.inner_text("#timeline")
    assert "已派单至海口市水务局办理" in timeline and "已答复办结" in timeline
    assert page.inner_text("#reference") == ticket.number
    _shot(page, "6-ticket")
