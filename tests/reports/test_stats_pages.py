"""The dashboard page: headline tiles against the target with the previous period, every chart's
container with its plain table beside it, the ECharts scripts from our own static folder, no inline
styles or scripts; a region filter; a handler sees their own department's figures and no ranking."""

import re
from datetime import date

import factories as f
import ratings_factories as rf

from core.models import Role


def test_the_manager_dashboard_has_tiles_charts_and_tables(client):
    dept = f.department(name="海口市仪表盘局")
    for level in (1, 4, 5, 5):
        rf.rate(rf.event(dept), level)
    f.login(client, f.user(Role.MANAGER))
    response = client.get("/stats?trend=week")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    tiles = re.findall(r'<li class="tile (\w+)" data-key="(\w+)">', html)
    assert [key for _, key in tiles] == [
        "satisfaction",
        "good",
        "bad",
        "bad_review_callback_timeliness",
        "rectification_on_time",
        "on_time_completion",
        "resolution_rate",
    ]
    assert {k: c for c, k in tiles}["satisfaction"] == "poor"  # 75% is below 95%
    for chart in ("map-chart", "rank-chart", "trend-chart", "channel-chart", "funnel-chart"):
        assert f'id="{chart}"' in html
    assert "海口市仪表盘局" in html and "75.00%" in html
    assert len(re.findall(r'<tr data-region="\d+">', html)) == 19
    assert '<script src="/static/stats/vendor/echarts-5.6.0/echarts.min.js" defer></script>' in html
    assert '<script src="/static/stats/dashboard.js" defer></script>' in html
    assert " style=" not in html and "<script>" not in html
    assert re.findall(r"<script(?![^>]*src=)", html) == []
    assert client.get("/static/stats/vendor/echarts-4.9.0/map/json/province/hainan.json").status_code == 200
    assert client.get("/static/stats/vendor/echarts-5.6.0/LICENSE").status_code == 200


def test_the_region_filter_narrows_the_whole_page(client):
    haikou, sanya = f.department(name="海口市筛选局"), f.department(region="460200", name="三亚市筛选局")
    rf.rate(rf.event(haikou), 5)
    rf.rate(rf.event(sanya), 1)
    f.login(client, f.user(Role.MANAGER))
    everything = client.get("/stats").get_data(as_text=True)
    assert "海口市筛选局" in everything and "三亚市筛选局" in everything
    html = client.get("/stats?region=460100").get_data(as_text=True)
    ranking = html.split('id="department-table"')[1].split("</table>")[0]
    assert "海口市筛选局" in ranking and "三亚市筛选局" not in ranking
    tile = html.split('data-key="satisfaction"')[1].split("</li>")[0]
    assert "100.00%" in tile
    assert 'id="region-note"' in html


def test_one_colour_rule_at_the_target(client):
    """Issue 19: 定安县 at "95.0 %" was red while 琼中 at "95.0 %" was green. Rates show two decimals
    and a rate at or above the target is good, in the tiles and in every table."""
    dingan, qiongzhong = f.department(region="469021"), f.department(region="469030")
    for level in [5] * 19 + [1]:  # 95.00%: exactly the target
        rf.rate(rf.event(dingan), level)
    for level in [5] * 18 + [1]:  # 94.74%
        rf.rate(rf.event(qiongzhong), level)
    f.login(client, f.user(Role.MANAGER))
    html = client.get("/stats").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-region="(\d+)">[^\n]*?<span class="badge ?(\w*)">', html))
    assert rows["469021"] == "ok" and rows["469030"] == "bad"
    assert '<span class="badge ok">95.00%</span>' in html and '<span class="badge bad">94.74%</span>' in html
    dingan_only = client.get("/stats?region=469021").get_data(as_text=True)
    assert '<li class="tile good" data-key="satisfaction">' in dingan_only


def test_a_handler_sees_their_own_department(client):
    dept, other = f.department(), f.department(name="别的部门")
    rf.rate(rf.event(dept), 5)
    rf.rate(rf.event(other), 1)
    f.login(client, f.user(Role.HANDLER, dept))
    html = client.get("/stats").get_data(as_text=True)
    assert "100.00%" in html and "别的部门" not in html
    f.login(client, f.user(Role.AGENT))
    assert client.get("/stats").status_code == 403


def test_the_public_board_shows_satisfaction_by_department(client):
    dept = f.department(name="海口市公开测试局")
    for level in (2, 5, 5, 5):
        rf.rate(rf.event(dept), level, contact={"name": "张三丰", "phone": "13812345678"})
    # On the board's own tab (the board opens with the published rectifications).
    html = client.get("/feedback?view=satisfaction").get_data(as_text=True)
    assert 'id="satisfaction-by-department"' in html and "海口市公开测试局" in html and "75.0%" in html
    body = client.get("/api/v1/public/satisfaction").json
    row = next(d for d in body["departments"] if d["name"] == "海口市公开测试局")
    assert row == {"name": "海口市公开测试局", "valid": 4, "satisfaction_rate": 0.75}
    assert body["days"] == 30 and body["target"] == 0.95
    assert "张" not in str(body) and "138" not in str(body)


def _overdue_work(dept, hours_late):
    """A pending verification callback and an open case, both `hours_late` hours past due."""
    from datetime import timedelta

    from stats_support import callback_row, rating

    from callbacks.models import CaseStatus, RectificationCase
    from core.db import db, utcnow

    due = utcnow() - timedelta(hours=hours_late)
    callback = callback_row(dept, due)
    bad = rating(due, 1, dept)
    db.session.flush()
    case = RectificationCase(
        rating_id=bad.id, department_id=dept.id, region_code=dept.region_code, status=CaseStatus.OPEN, due_at=due
    )
    db.session.add(case)
    db.session.commit()
    return callback, case


def test_the_dashboard_lists_what_is_overdue_worst_first(client):
    dept, other = f.department(name="海口市逾期测试局"), f.department(name="三亚市逾期测试局")
    recent_callback, recent_case = _overdue_work(dept, 3)
    old_callback, old_case = _overdue_work(other, 24 * 3 + 5)
    f.login(client, f.user(Role.MANAGER))
    html = client.get("/stats?lang=en").get_data(as_text=True)
    section = html.split('id="overdue"')[1].split("</section>")[0]
    rows = re.findall(r"<tr>.*?</tr>", section.split("<tbody>")[1], re.S)
    assert len(rows) == 4
    assert "三亚市逾期测试局" in rows[0] and "海口市逾期测试局" in rows[-1]
    assert f'href="/cases/{old_case.id}"' in section
    assert f'href="/callbacks#callback-{old_callback.id}"' in section
    assert "3 d 5 h" in rows[0] and re.search(r"[23] h \d+ min", rows[-1])
    assert " style=" not in html

    f.login(client, f.user(Role.HANDLER, dept))
    section = client.get("/stats?lang=en").get_data(as_text=True).split('id="overdue"')[1].split("</section>")[0]
    assert "三亚市逾期测试局" not in section and f"/cases/{recent_case.id}" in section
    assert "/callbacks#" not in section and f"#{recent_callback.id}" in section  # no worklist for handlers


def test_the_overdue_list_is_capped_with_the_total(client):
    from reports.stats import kpis

    dept = f.department()
    for hours in range(1, 13):
        _overdue_work(dept, hours)
    today = date.today()  # the range does not matter: overdue is "now"
    items, total = kpis.overdue_list(kpis.KpiFilters(today, today, department_id=dept.id))
    assert total == 24 and len(items) == kpis.OVERDUE_LIST
    assert [i.due_at for i in items] == sorted(i.due_at for i in items)
    f.login(client, f.user(Role.MANAGER))
    html = client.get("/stats?lang=en").get_data(as_text=True)
    assert "The 20 longest overdue of 24." in html
    html = client.get("/stats?lang=zh").get_data(as_text=True)
    assert "超期最久的 20 项，共 24 项。" in html
