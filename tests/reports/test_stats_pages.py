"""The dashboard page: every chart drawn as SVG with marks and the 95% line, no inline styles or
scripts; a handler sees their own department's figures and no ranking."""

import re

import factories as f
import ratings_factories as rf

from core.models import Role


def test_the_manager_dashboard_draws_every_chart(client):
    dept = f.department(name="海口市仪表盘局")
    for level in (1, 4, 5, 5):
        rf.rate(rf.event(dept), level)
    f.login(client, f.user(Role.MANAGER))
    response = client.get("/stats?trend=week")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 5
    assert all('class="mark"' in svg for svg in svgs)
    assert sum('class="target"' in svg for svg in svgs) == 3  # trend, departments, regions
    assert "海口市仪表盘局" in html and "75.0%" in html
    assert " style=" not in html and "<script" not in html.split("</header>")[-1]


def test_a_handler_sees_their_own_department(client):
    dept, other = f.department(), f.department(name="别的部门")
    rf.rate(rf.event(dept), 5)
    rf.rate(rf.event(other), 1)
    f.login(client, f.user(Role.HANDLER, dept))
    html = client.get("/stats").get_data(as_text=True)
    assert "100.0%" in html and "别的部门" not in html
    f.login(client, f.user(Role.AGENT))
    assert client.get("/stats").status_code == 403


def test_the_public_board_shows_satisfaction_by_department(client):
    dept = f.department(name="海口市公开测试局")
    for level in (2, 5, 5, 5):
        rf.rate(rf.event(dept), level, contact={"name": "张三丰", "phone": "13812345678"})
    html = client.get("/feedback").get_data(as_text=True)
    assert 'id="satisfaction-by-department"' in html and "海口市公开测试局" in html and "75.0%" in html
    body = client.get("/api/v1/public/satisfaction").json
    row = next(d for d in body["departments"] if d["name"] == "海口市公开测试局")
    assert row == {"name": "海口市公开测试局", "valid": 4, "satisfaction_rate": 0.75}
    assert body["days"] == 30 and body["target"] == 0.95
    assert "张" not in str(body) and "138" not in str(body)
