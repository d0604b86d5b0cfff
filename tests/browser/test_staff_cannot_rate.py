"""Staff never rate (评价精准): a staff member signed in in Chromium opens a citizen's rating link,
is told so on the form, and is refused (403) both when submitting the form and when the page
posts to the rating API with the session cookie. The link stays unused for the citizen."""

import os
from pathlib import Path

import factories as f
import pytest
from sqlalchemy import select

from core.models import Role
from ratings import tokens
from ratings.models import Rating

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/haocha-screenshots"))


def test_a_signed_in_staff_member_cannot_rate(live_server, live_db, page):
    staff = f.user(Role.HANDLER, f.department())
    issued = tokens.create_service_event({})
    token, event_id = issued.token, issued.event.id
    live_db.session.commit()

    page.goto(f"{live_server.url}/login")
    page.fill("#username", staff.username)
    page.fill("#password", f.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/rate/{token}")
    assert "工作人员不得代替群众评价" in page.inner_text("main") or "工作人员" in page.inner_text("[role=alert]")
    # The API, called from this page with the browser's session cookie.
    status = page.evaluate(
        """async (token) => {
            const r = await fetch('/api/v1/ratings', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token, level: 5})});
            return r.status;
        }""",
        token,
    )
    assert status == 403
    page.get_by_label("非常满意", exact=True).check()
    with page.expect_response(lambda r: r.request.method == "POST" and "/rate/" in r.url) as posted:
        page.click("#submit-rating")
    assert posted.value.status == 403
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "staff-cannot-rate.png"), full_page=True)

    live_db.session.rollback()
    assert live_db.session.scalar(select(Rating).where(Rating.event_id == event_id)) is None
    assert tokens.resolve_token(token).token is not None  # still usable by the citizen
