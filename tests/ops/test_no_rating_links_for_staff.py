"""A citizen's link goes only to the citizen: through a bad review's whole life (rating →
callback → case → report → accept → report-back → published → 追评), no staff page and no
staff API response contains a /rate/ or /status/ link, a rating token or a status token. Every staff page reachable by links
from the home page, and every GET of the API with the ids of this case, is crawled at each stage
as each role; then the 追评 arrives through the SMS sender and works exactly once."""

import re
from collections import deque
from typing import Any

import factories as f
import pytest
from sqlalchemy import select

from callbacks import service as callbacks
from callbacks.models import AttemptResult, Callback, Purpose, RectificationCase
from core.db import db
from core.models import Role
from ratings import recording, tokens
from ratings.models import Rating

HREF = re.compile(r'href="([^"#]+)"')
SKIP = ("/static", "/logout", "/api/docs", "/rate/", "/status/", "/feedback", "/open311", "/metrics")
CITIZEN = {"environ_base": {"REMOTE_ADDR": "203.0.113.77"}}


def _leaks(body: str, secrets: list[str]) -> list[str]:
    found = [f"{path} link" for path in ("/rate/", "/status/") if path in body]
    return found + [f"token {s[:6]}…" for s in secrets if s in body]


def _crawl_pages(client: Any, secrets: list[str], visited: set[str], limit: int = 120) -> dict[str, list[str]]:
    seen, queue, leaks = {"/"}, deque(["/"]), {}
    while queue and len(seen) <= limit:
        url = queue.popleft()
        response = client.get(url)
        body = response.data.decode("utf-8", "replace")
        if _leaks(body, secrets):
            leaks[url] = _leaks(body, secrets)
        if "html" not in (response.content_type or ""):
            continue
        for link in HREF.findall(body):
            link = link.replace("&amp;", "&")
            if link.startswith("/") and not link.startswith("//") and not link.startswith(SKIP) and link not in seen:
                seen.add(link)
                queue.append(link)
    assert len(seen) > 5, "the crawl found almost nothing: is the user signed in?"
    visited.update(seen)
    return leaks


def _api_urls(app: Any, ids: dict[str, list[int]]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or "GET" not in (rule.methods or set()):
            continue
        names = list(rule.arguments)
        if not names:
            urls.append(rule.rule)
            continue
        for value in ids.get(names[0], ids["any"]):
            try:
                urls.append(rule.build({names[0]: value, **dict.fromkeys(names[1:], 1)}, append_unknown=False)[1])
            except Exception:  # a converter that does not take ints (codes): not about this case
                break
    return urls


def _crawl_api(client: Any, headers: dict[str, str], urls: list[str], secrets: list[str]) -> dict[str, list[str]]:
    leaks = {}
    for url in urls:
        body = client.get(url, headers=headers).data.decode("utf-8", "replace")
        if _leaks(body, secrets):
            leaks[url] = _leaks(body, secrets)
    return leaks


@pytest.mark.slow  # visits every staff page and API answer: .ci/run runs it
def test_no_staff_page_or_api_response_ever_shows_a_citizens_link(app, client, sms):
    dept = f.department()
    people = {
        "agent": f.user(Role.AGENT),
        "handler": f.user(Role.HANDLER, dept),
        "manager": f.user(Role.MANAGER),
        "admin": f.user(Role.ADMIN),
    }
    browsers = {}
    for role, user in people.items():
        browsers[role] = app.test_client()
        assert f.login(browsers[role], user).status_code == 302
    bearers = {role: f.bearer(user) for role, user in people.items()}

    issued = tokens.create_service_event({"department": dept.code})
    db.session.commit()
    secrets = [issued.token]
    # Through the citizen's form: the thanks page gives the status link, and the confirmation
    # message carries it to the rater's number.
    form = {"level": "1", "comment": "窗口让我跑了三趟", "contact_phone": "13912345678"}
    assert client.post(f"/rate/{issued.token}", data=form, **CITIZEN).status_code == 303
    thanks = client.get("/rate/thanks", **CITIZEN).get_data(as_text=True)
    status_token = re.search(r'href="/status/([^"]+)"', thanks).group(1)
    secrets.append(status_token)
    rating = db.session.scalar(select(Rating).where(Rating.event_id == issued.event.id))
    assert rating.status.value == "valid"
    [confirmation] = sms.deliver()
    assert confirmation.phone == "13912345678" and status_token in confirmation.body
    visited: set[str] = set()

    def crawl(stage: str) -> None:
        ids = {
            "rating_id": [rating.id],
            "event_id": [rating.event_id],
            "case_id": list(db.session.scalars(select(RectificationCase.id))),
            "callback_id": list(db.session.scalars(select(Callback.id))),
        }
        ids["any"] = sorted({i for values in ids.values() for i in values})
        urls = _api_urls(app, ids)
        problems = {}
        for role in people:
            for url, what in _crawl_pages(browsers[role], secrets, visited).items():
                problems[f"{stage} {role} page {url}"] = what
            for url, what in _crawl_api(client, bearers[role], urls, secrets).items():
                problems[f"{stage} {role} api {url}"] = what
        assert not problems, problems

    crawl("rated")
    verify = db.session.scalar(select(Callback).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW))
    answer = callbacks.Answer(verified=True, problem="窗口推诿，让群众多次往返")
    callbacks.record_attempt(verify, people["agent"], AttemptResult.REACHED, answer=answer)
    db.session.commit()
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    crawl("case opened")
    callbacks.submit_report(case, people["handler"], "已约谈窗口人员，实行首问负责制")
    db.session.commit()
    crawl("reported")
    callbacks.accept_case(case, people["manager"])
    db.session.commit()
    crawl("accepted")
    report_back = db.session.scalar(select(Callback).where(Callback.purpose == Purpose.RECTIFICATION_REPORT))
    callbacks.record_attempt(report_back, people["agent"], AttemptResult.REACHED, "已告知整改情况")
    db.session.commit()
    assert case.status.value == "published"
    crawl("published, message waiting")

    [message] = sms.deliver()
    assert message.phone == "13912345678"
    [link] = sms.links()
    token = link.rsplit("/rate/", 1)[1]
    secrets.append(token)
    crawl("追评 link delivered")
    case_page = browsers["manager"].get(f"/cases/{case.id}").get_data(as_text=True)
    assert "139****5678" in case_page and "已送达" in case_page

    first = client.post("/api/v1/ratings", json={"token": token, "level": 4, "comment": "整改后满意"}, **CITIZEN)
    assert first.status_code == 201 and first.json["assess_number"] == 2
    second = client.post("/api/v1/ratings", json={"token": token, "level": 5}, **CITIZEN)
    assert second.status_code == 409
    crawl("追评 given")
    # The crawl did reach the pages that matter (found by following links, not typed in).
    assert f"/cases/{case.id}" in visited and any(u.startswith("/callbacks") for u in visited)


def test_a_resent_follow_up_goes_to_the_same_number_and_replaces_the_link(app, client, sms):
    dept = f.department()
    manager = f.user(Role.MANAGER)
    issued = tokens.create_service_event({"department": dept.code})
    rating = recording.rate_with_token(issued.token, 2, None, contact={"phone": "13700002222"})
    recording.send_follow_up(rating)
    db.session.commit()
    sms.deliver()
    old_token = sms.links()[0].rsplit("/rate/", 1)[1]
    again = recording.resend_follow_up(rating, manager)
    db.session.commit()
    assert again.phone == "13700002222"
    [resent] = sms.deliver()
    assert resent.phone == "13700002222"
    new_token = sms.links()[-1].rsplit("/rate/", 1)[1]
    assert new_token != old_token
    assert client.post("/api/v1/ratings", json={"token": old_token, "level": 5}, **CITIZEN).status_code == 410
    assert client.post("/api/v1/ratings", json={"token": new_token, "level": 5}, **CITIZEN).status_code == 201
