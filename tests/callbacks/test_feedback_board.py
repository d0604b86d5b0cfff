"""The public feedback board reads: published rectifications first (newest first), real paging
links (rel=next/prev), region/department/month filters and a reference search applied to every
section, satisfaction by department on its own tab, and an Atom feed (all, and per region) that
validates under feedparser."""

import re
from datetime import timedelta

import factories as f
import feedparser
import ratings_factories as rf
from sqlalchemy import select

from callbacks.models import CaseStatus, RectificationCase
from core.calendar import local_tz
from core.db import db, utcnow
from ratings import status

HAIKOU, SANYA = "460100", "460200"


def _published(dept, n: int, when, action: str, level: int = 1):
    """A bad review (anonymous: straight to a case) published `when`."""
    rating = rf.rate(rf.event(dept), level, comment=f"差评{n}")
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    case.status, case.published_at, case.accepted_at = CaseStatus.PUBLISHED, when, when
    case.public_review, case.public_action = f"差评{n}", action
    db.session.commit()
    return case


def _board():
    haikou = f.department(region=HAIKOU, name="海口市看板测试局")
    sanya = f.department(region=SANYA, name="三亚市看板测试局")
    now = utcnow()
    cases = [_published(haikou, n, now - timedelta(hours=n), f"海口整改{n:02d}") for n in range(25)]
    cases += [_published(sanya, n, now - timedelta(minutes=30 + n), f"三亚整改{n:02d}") for n in range(2)]
    for _ in range(3):
        rf.rate(rf.event(sanya), 5)
    return haikou, sanya, cases


def _actions(html: str) -> list[str]:
    return re.findall(r"(?:海口|三亚)整改\d\d", html.split('id="rectifications"', 1)[1].split("</section>", 1)[0])


def test_the_board_opens_with_rectifications_newest_first_and_pages_by_links(client):
    _board()
    html = client.get("/feedback").get_data(as_text=True)
    first = _actions(html)
    assert len(first) == 20 and first[:3] == ["海口整改00", "三亚整改00", "三亚整改01"]
    assert html.index('id="rectifications"') < html.index('id="satisfaction-summary"')
    assert 'id="satisfaction-by-department"' not in html  # on its own tab
    assert 'rel="prev"' not in html
    [next_href] = re.findall(r'<a rel="next" href="([^"]+)"', html)
    assert '<link rel="next"' in html
    second = client.get(next_href.replace("&amp;", "&")).get_data(as_text=True)
    assert _actions(second) == [f"海口整改{n:02d}" for n in range(18, 25)]
    assert 'rel="prev"' in second and '<a rel="next"' not in second
    assert not set(first) & set(_actions(second))


def test_the_region_filter_changes_every_section(client):
    _board()
    everything = client.get("/feedback").get_data(as_text=True)
    html = client.get(f"/feedback?region={SANYA}").get_data(as_text=True)
    assert _actions(html) == ["三亚整改00", "三亚整改01"]
    summary = html.split('id="satisfaction-summary"', 1)[1].split("</section>", 1)[0]
    all_summary = everything.split('id="satisfaction-summary"', 1)[1].split("</section>", 1)[0]
    assert "5 " in summary and summary != all_summary  # 2 bad + 3 good ratings in Sanya
    assert f"region={SANYA}" in summary  # the link to the tab keeps the filter
    tab = client.get(f"/feedback?view=satisfaction&region={SANYA}").get_data(as_text=True)
    table = tab.split('id="satisfaction-by-department"', 1)[1]
    assert "三亚市看板测试局" in table and "海口市看板测试局" not in table and "60.0%" in table
    whole = client.get("/feedback?view=satisfaction").get_data(as_text=True)
    assert "海口市看板测试局" in whole.split('id="satisfaction-by-department"', 1)[1]
    assert f'href="/feedback/feed.atom?region={SANYA}"' in html


def test_department_month_and_reference_filters(client):
    _, sanya, cases = _board()
    old = cases[5]
    old.published_at = utcnow() - timedelta(days=70)
    db.session.commit()
    month = old.published_at.astimezone(local_tz()).strftime("%Y-%m")
    html = client.get(f"/feedback?month={month}").get_data(as_text=True)
    assert _actions(html) == ["海口整改05"]
    html = client.get(f"/feedback?department={sanya.code}").get_data(as_text=True)
    assert _actions(html) == ["三亚整改00", "三亚整改01"]
    issued = status.issue_for_rating(db.session.get(type(old.rating), old.rating_id))
    db.session.commit()
    html = client.get(f"/feedback?q={issued.reference.lower()}").get_data(as_text=True)
    assert _actions(html) == ["海口整改05"] and issued.reference in html
    assert _actions(client.get("/feedback?q=HCNOTHING").get_data(as_text=True)) == []
    assert client.get("/feedback?month=2026-13&page=abc").status_code == 200  # ignored, not an error


def test_the_atom_feed_validates_and_follows_the_region(client):
    _board()
    board = client.get("/feedback").get_data(as_text=True)
    assert '<link rel="alternate" type="application/atom+xml"' in board
    answer = client.get("/feedback/feed.atom")
    assert answer.status_code == 200 and answer.mimetype == "application/atom+xml"
    feed = feedparser.parse(answer.data)
    assert feed.bozo == 0 and feed.version == "atom10"
    assert len(feed.entries) == 27 and "海口整改00" in feed.entries[0].summary
    assert all(e.id and e.link and e.updated_parsed for e in feed.entries)
    assert len({e.id for e in feed.entries}) == 27
    regional = feedparser.parse(client.get(f"/feedback/feed.atom?region={SANYA}").data)
    assert regional.bozo == 0
    assert len(regional.entries) == 2 and all("三亚" in e.title for e in regional.entries)
