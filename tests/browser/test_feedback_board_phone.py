"""Acceptance 3 of issue 18 at 390×844: /feedback shows a rectification in the first screen, page 2
is reached by a link, and the region filter changes every section (the list and the satisfaction
summary, and the satisfaction tab)."""

from datetime import timedelta
from pathlib import Path

import factories as f
import pytest
from sqlalchemy import select

from callbacks.models import CaseStatus, RectificationCase
from core.db import utcnow
from ratings import recording, tokens

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/haocha-screenshots")
REGION = "469001"  # 五指山市: only this test publishes there


def _publish(db, dept, n: int) -> None:
    issued = tokens.create_service_event({"department": dept.code})
    rating = recording.rate_with_token(issued.token, 1, None, comment=f"看板差评{n}")
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    when = utcnow() - timedelta(minutes=n)
    case.status, case.published_at, case.accepted_at = CaseStatus.PUBLISHED, when, when
    case.public_review, case.public_action = f"看板差评{n}", f"看板整改{n:02d}"
    db.session.commit()


def test_the_board_reads_on_a_phone(live_server, live_db, page):
    base = live_server.url
    here = f.department(region=REGION, name="五指山市看板局")
    elsewhere = f.department(name="海口市看板局")
    for n in range(22):
        _publish(live_db, elsewhere, n)
    for n in range(2):
        _publish(live_db, here, 100 + n)

    page.goto(f"{base}/feedback")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "feedback-1-first-screen.png"))
    first = page.locator("article.case").first.bounding_box()
    assert first is not None and first["y"] + 80 < 844  # a rectification in the first screen
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    assert page.locator("article.case").count() >= 1 and page.locator("a[rel=prev]").count() == 1
    page.screenshot(path=str(SHOTS / "feedback-2-page-two.png"), full_page=True)

    page.goto(f"{base}/feedback")
    summary_before = page.inner_text("#satisfaction-summary")
    page.click("summary")
    page.select_option("#region", REGION)
    page.click("#board-filters button[type=submit]")
    page.wait_for_url(f"**region={REGION}**")
    actions = page.locator("article.case").all_inner_texts()
    assert len(actions) == 2 and all("五指山市看板局" in a for a in actions)
    assert page.inner_text("#satisfaction-summary") != summary_before
    assert page.locator("a[rel=next]").count() == 0
    page.screenshot(path=str(SHOTS / "feedback-3-region.png"), full_page=True)
    page.click("#tab-satisfaction")
    page.wait_for_url("**view=satisfaction**")
    table = page.inner_text("#satisfaction-by-department")
    assert "五指山市看板局" in table and "海口市看板局" not in table
    page.screenshot(path=str(SHOTS / "feedback-4-satisfaction-tab.png"), full_page=True)
