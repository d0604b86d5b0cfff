"""Signing in and out in a real browser, for every demo role."""

import factories as f
import pytest

from core.models import Role

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", list(Role))
def test_sign_in_and_out(live_server, live_db, page, role):
    dept = f.department() if role == Role.HANDLER else None
    staff = f.user(role, dept)
    page.goto(f"{live_server.url}/login")
    page.fill("#username", staff.username)
    page.fill("#password", f.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    assert "欢迎" in page.inner_text("main")
    assert page.is_visible("text=退出登录")
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")

    page.click("text=退出登录")
    page.wait_for_url(f"{live_server.url}/login")

    # Replaying the old cookie after sign-out is refused.
    page.context.add_cookies([cookie])
    response = page.goto(f"{live_server.url}/api/v1/me")
    assert response.status == 401


def test_wrong_password_shows_an_error(live_server, live_db, page):
    staff = f.user(Role.AGENT)
    page.goto(f"{live_server.url}/login?lang=en")
    page.fill("#username", staff.username)
    page.fill("#password", "definitely wrong")
    page.click("button[type=submit]")
    assert page.is_visible("#login-error")
    assert "Wrong username or password" in page.inner_text("#login-error")
