"""The citizen's form without JavaScript (as a plain HTML client sees it), its QR codes, CSRF,
and the staff pages for QR codes, rating lists and appeals."""

import re

import factories as f
import pytest
import ratings_factories as rf
from tests_support import build_app_with

from core.db import db
from core.models import Role
from ratings import links, tokens
from ratings.models import Rating, RatingStatus

LEVEL_LABELS_ZH = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]


def _no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "onclick=" not in html


def test_the_form_is_chinese_by_default_accessible_and_without_inline_code(client):
    issued = rf.event()
    response = client.get(f"/rate/{issued.token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _no_inline_code(html)
    for value, label in zip((5, 4, 3, 2, 1), LEVEL_LABELS_ZH, strict=True):
        assert re.search(rf'<label class="level" for="level-{value}">\s*<input type="radio" id="level-{value}"', html)
        assert f"<span>{label}</span>" in html
    assert 'name="csrf_token"' in html and 'lang="zh-Hans"' in html
    assert 'data-bad="1"' in html and html.count('data-bad="1"') == 2
    assert '<label for="comment">' in html and '<label for="contact_phone">' in html
    assert response.headers["Cache-Control"] == "no-store"
    english = client.get(f"/rate/{issued.token}?lang=en").get_data(as_text=True)
    assert "Very dissatisfied" in english and "Submit rating" in english


def _form(level=None, **extra):
    data = {"channel": "2", "comment": "", "contact_name": "", "contact_phone": "", **extra}
    if level is not None:
        data["level"] = str(level)
    return data


def test_submitting_the_form_thanks_and_the_link_is_then_used(client):
    issued = rf.event()
    response = client.post(
        f"/rate/{issued.token}",
        data={**_form(2, comment="等了两个小时", contact_phone="13812345678"), "reasons": ["long_wait", "slow"]},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/rate/thanks")
    rating = db.session.query(Rating).filter_by(event_id=issued.event.id).one()
    assert (rating.level, rating.reasons, rating.channel) == (2, ["long_wait", "slow"], 2)
    thanks = client.get("/rate/thanks").get_data(as_text=True)
    assert "感谢您的评价" in thanks and "不满意" in thanks and "1个工作日" in thanks
    used = client.get(f"/rate/{issued.token}")
    assert used.status_code == 409 and "已使用" in used.get_data(as_text=True)
    again = client.post(f"/rate/{issued.token}", data=_form(5))
    assert again.status_code == 409


def test_reason_tags_are_ignored_on_satisfied_levels(client):
    issued = rf.event()
    client.post(f"/rate/{issued.token}", data={**_form(4), "reasons": ["slow"]})
    rating = db.session.query(Rating).filter_by(event_id=issued.event.id).one()
    assert rating.level == 4 and rating.reasons is None


def test_form_errors_are_explained_and_keep_the_link(client):
    issued = rf.event()
    missing = client.post(f"/rate/{issued.token}", data=_form(None, comment="写了意见"))
    assert missing.status_code == 422
    html = missing.get_data(as_text=True)
    assert 'role="alert"' in html and "请选择" in html and "写了意见" in html
    bad_phone = client.post(f"/rate/{issued.token}", data=_form(3, contact_phone="12345"))
    assert bad_phone.status_code == 422 and 'id="phone-error"' in bad_phone.get_data(as_text=True)
    assert client.post(f"/rate/{issued.token}", data=_form(3)).status_code == 303


def test_dimensions_rater_type_and_anonymity_from_the_form(client):
    issued = rf.event(kind="online")
    page = client.get(f"/rate/{issued.token}").get_data(as_text=True)
    assert 'name="dim_usability"' in page and 'name="dim_attitude"' not in page
    client.post(
        f"/rate/{issued.token}",
        data=_form(5, dim_overall="5", dim_usability="4", rater_type="2", anonymous="1", contact_phone="13800000000"),
    )
    rating = db.session.query(Rating).filter_by(event_id=issued.event.id).one()
    assert rating.dimensions == {"overall": 5, "usability": 4} and rating.rater_type == 2
    assert rating.is_anonymous and rating.contact_phone == ""


@pytest.mark.parametrize(
    ("make", "status", "text"),
    [
        (lambda: "not-a-real-token-0000000000000", 404, "无效"),
        (lambda: _expired(), 410, "已过期"),
    ],
)
def test_unknown_and_expired_links_have_clear_pages(client, make, status, text):
    response = client.get(f"/rate/{make()}")
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert text in html and 'id="link-state"' in html


def _expired():
    issued = rf.event()
    rf.expire(issued.token)
    return issued.token


def test_the_qr_channel_is_recorded(client):
    issued = rf.event()
    page = client.get(f"/rate/{issued.token}?ch=3").get_data(as_text=True)
    assert 'name="channel" value="3"' in page
    client.post(f"/rate/{issued.token}", data=_form(5, channel="3"))
    assert db.session.query(Rating).filter_by(event_id=issued.event.id).one().channel == 3


def test_qr_codes_in_svg_and_png(app, client):
    issued = rf.event()
    svg = client.get(f"/rate/{issued.token}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = client.get(f"/rate/{issued.token}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    with app.test_request_context(base_url="http://localhost"):
        expected = links.qr_image(links.qr_target(issued.token, 3), "png")
    assert png.data == expected  # it encodes http://localhost/rate/<token>?ch=3
    assert client.get("/rate/not-a-real-token-0000000000000/qr.svg").status_code == 404
    assert client.get(f"/rate/{issued.token}/qr.gif").status_code == 404


def test_a_standing_qr_code_can_be_used_again_and_again(client):
    token = tokens.create_standing_code({"label": "综合窗口"}).token
    db.session.commit()
    for level in (5, 1):
        assert client.post(f"/rate/{token}", data=_form(level, channel="")).status_code == 303
    ratings = db.session.query(Rating).filter(Rating.low_trust.is_(True)).all()
    assert sorted(r.level for r in ratings) == [1, 5] and {r.channel for r in ratings} == {3}


def test_signed_in_staff_cannot_submit_a_rating(client):
    issued = rf.event()
    f.login(client, f.user(Role.AGENT))
    assert "不能代替群众评价" in client.get(f"/rate/{issued.token}").get_data(as_text=True)
    assert client.post(f"/rate/{issued.token}", data=_form(5)).status_code == 403
    assert tokens.resolve_token(issued.token) is not None


def test_the_form_needs_its_csrf_token(tmp_path):
    app = build_app_with(f"sqlite:///{tmp_path / 'csrf.db'}", create_schema=True, WTF_CSRF_ENABLED=True)
    with app.app_context():
        issued = tokens.create_service_event({})
        db.session.commit()
        client = app.test_client()
        assert client.post(f"/rate/{issued.token}", data=_form(5)).status_code == 400
        html = client.get(f"/rate/{issued.token}").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        assert client.post(f"/rate/{issued.token}", data={**_form(5), "csrf_token": csrf}).status_code == 303
        db.session.remove()
        db.engine.dispose()


def test_staff_issue_a_printable_qr_code(client):
    dept = f.department()
    f.login(client, f.user(Role.HANDLER, dept))
    form = client.get("/staff/ratings/qr").get_data(as_text=True)
    assert dept.name in form and 'name="csrf_token"' in form
    response = client.post("/staff/ratings/qr", data={"department": dept.code, "kind": "counter"})
    html = response.get_data(as_text=True)
    token = re.search(r'src="/rate/([A-Za-z0-9_-]+)/qr\.svg"', html).group(1)
    _no_inline_code(html)
    assert tokens.resolve_token(token).event.department_id == dept.id
    home = client.get("/").get_data(as_text=True)
    assert "/staff/ratings/qr" in home and "/staff/ratings/appeals" in home


def test_the_staff_list_masks_contacts_and_the_appeal_pages_work(client):
    dept = f.department()
    bad = rf.rate(rf.event(dept), 1, comment="态度很差", contact={"name": "张三丰", "phone": "13812345678"})
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    f.login(client, handler)
    listing = client.get("/staff/ratings?bad=1").get_data(as_text=True)
    assert "138****5678" in listing and "张**" in listing
    assert "13812345678" not in listing and "张三丰" not in listing
    assert f"/staff/ratings/{bad.id}/appeal" in listing
    assert client.post(f"/staff/ratings/{bad.id}/appeal", data={"kind": "x", "reason": "r"}).status_code == 422
    filed = client.post(f"/staff/ratings/{bad.id}/appeal", data={"kind": "malicious", "reason": "恶意差评"})
    assert filed.status_code == 303
    client.post("/logout")
    f.login(client, manager)
    queue = client.get("/staff/ratings/appeals").get_data(as_text=True)
    appeal_id = bad.appeal.id if bad.appeal else db.session.get(Rating, bad.id).appeal.id
    assert f"/staff/ratings/appeals/{appeal_id}" in queue and "恶意差评" in queue
    assert client.post(f"/staff/ratings/appeals/{appeal_id}", data={"decision": "uphold"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Rating, bad.id).status == RatingStatus.VOIDED
    _no_inline_code(client.get("/staff/ratings").get_data(as_text=True))


def test_a_closed_tickets_caller_is_told_their_number_is_known(client):
    issued = tokens.open_event_for_ticket(rf.FakeTicket())
    db.session.commit()
    html = client.get(f"/rate/{issued.token}").get_data(as_text=True)
    assert "拨打12345时使用的号码" in html
    assert "拨打12345时使用的号码" not in client.get(f"/rate/{rf.event().token}").get_data(as_text=True)
