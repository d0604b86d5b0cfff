"""The manager dashboard in Chromium: every chart drawn, and no request leaves the machine."""

import factories as f
import pytest
import ratings_factories as rf

from core.models import Role

pytestmark = pytest.mark.browser


def test_the_dashboard_draws_every_chart_offline(live_server, live_db, page):
    base = live_server.url
    dept = f.department(name="海口市图表测试局")
    for level in (1, 2, 4, 5, 5, 5):
        rf.rate(rf.event(dept), level)
    manager = f.user(Role.MANAGER)
    live_db.session.commit()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{base}/login")
    page.fill("#username", manager.username)
    page.fill("#password", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/stats?trend=day")
    page.wait_for_load_state("networkidle")

    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for i in range(charts.count()):
        marks = charts.nth(i).locator(".mark")
        assert marks.count() > 0, f"chart {i} has no marks"
        box = marks.first.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, f"chart {i} drew nothing"
    assert page.get_by_text("海口市图表测试局").count() >= 1
    assert requested and all(url.startswith(base + "/") for url in requested), requested
