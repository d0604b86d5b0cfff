"""`GET /api/v1/stats/satisfaction` (API.md) equals an independent SQL computation over the raw
rows of a fresh demo database, for several date ranges and every group_by."""

import json
from datetime import timedelta

import factories as f
import pytest
import ratings_factories as rf
from flask import current_app
from sqlalchemy import event
from stats_support import api_figures, every_raw, every_rollup, sql_figures

from core.calendar import local_date
from core.db import db, read_only, utcnow
from core.models import Role
from ratings import appeals
from reports.stats import fold, service
from reports.stats.service import GROUP_BY


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["demo", "load", "--ratings", "1500", "--seed", "7"])
    assert result.exit_code == 0, result.output
    return runner


def test_figures_equal_plain_sql_over_the_demo_data(demo, client):
    manager = f.user(Role.MANAGER)
    assert every_rollup() == every_raw()
    today = local_date(utcnow())
    ranges = [
        (today - timedelta(days=89), today),
        (today - timedelta(days=6), today),
        (today - timedelta(40), today - timedelta(20)),
    ]
    for start, end in ranges:
        for group_by in GROUP_BY:
            url = f"/api/v1/stats/satisfaction?from={start}&to={end}&group_by={group_by}"
            response = client.get(url, headers=f.bearer(manager))
            assert response.status_code == 200, response.json
            body = response.json
            assert api_figures(body) == sql_figures(start, end, group_by), (start, end, group_by)
            total, valid, satisfied, bad = sql_figures(start, end)["all"]
            assert (body["total"], body["valid"]) == (total, valid)
            assert body["satisfaction_rate"] == round(satisfied / valid, 4)
            assert body["bad_rate"] == round(bad / valid, 4)
            assert (body["from"], body["to"], body["target"]) == (start.isoformat(), end.isoformat(), 0.95)


def test_the_contract_and_the_filters(client):
    dept, other = f.department(), f.department(region="460200")
    item = f.service_item(dept)
    manager, admin, handler = f.user(Role.MANAGER), f.user(Role.ADMIN), f.user(Role.HANDLER, dept)
    rf.rate(rf.event(dept, service_item=item.code), 5, channel=3)
    rf.rate(rf.event(dept), 2, channel=2)
    rf.rate(rf.event(other), 4, channel=3)
    day = local_date(utcnow()).isoformat()
    base = f"/api/v1/stats/satisfaction?from={day}&to={day}"
    body = client.get(f"{base}&department={dept.code}", headers=f.bearer(manager)).json
    assert set(body) == {
        "from",
        "to",
        "target",
        "total",
        "valid",
        "levels",
        "satisfaction_rate",
        "good_rate",
        "bad_rate",
        "pending_review",
        "groups",
    }
    assert (body["total"], body["levels"], body["bad_rate"]) == (2, {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}, 0.5)
    assert body["pending_review"] == 0
    by_channel = client.get(f"{base}&channel=3&group_by=department", headers=f.bearer(admin)).json
    assert {g["key"]: g["valid"] for g in by_channel["groups"]} == {str(dept.id): 1, str(other.id): 1}
    by_item = client.get(f"{base}&service={item.code}&group_by=service", headers=f.bearer(manager)).json
    assert [(g["label"], g["valid"]) for g in by_item["groups"]] == [(item.name, 1)]
    by_region = client.get(f"{base}&region=460200&group_by=region", headers=f.bearer(manager)).json
    assert [g["key"] for g in by_region["groups"]] == ["460200"] and by_region["valid"] == 1
    assert client.get(base, headers=f.bearer(handler)).status_code == 403
    assert client.get(base).status_code == 401
    assert client.get(f"{base}&department=NOPE", headers=f.bearer(manager)).status_code == 404
    backwards = "/api/v1/stats/satisfaction?from=2026-05-02&to=2026-05-01"
    assert client.get(backwards, headers=f.bearer(manager)).status_code == 422
    assert client.get(f"{base}&group_by=colour", headers=f.bearer(manager)).status_code == 422


def test_the_rebuild_command(demo):
    result = demo.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0 and "rollup rows" in result.output
    assert every_rollup() == every_raw()


def test_a_voided_rating_leaves_the_served_figures_at_once(client):
    dept = f.department()
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    bad = rf.rate(rf.event(dept), 1)
    rf.rate(rf.event(dept), 5)
    day = local_date(utcnow()).isoformat()
    url = f"/api/v1/stats/satisfaction?from={day}&to={day}&department={dept.code}&group_by=department"
    assert client.get(url, headers=f.bearer(manager)).json["bad_rate"] == 0.5
    assert client.get(url, headers=f.bearer(manager)).json["bad_rate"] == 0.5  # served again
    appeal = appeals.file_appeal(bad, handler, "malicious", "恶意差评")
    appeals.decide_appeal(appeal, manager, True)
    db.session.commit()
    after = client.get(url, headers=f.bearer(manager)).json
    assert (after["total"], after["valid"], after["bad_rate"]) == (2, 1, 0.0)
    assert after["groups"][0]["valid"] == 1


def test_cached_answers_follow_the_readers_language_where_labels_are_translated(client):
    manager = f.user(Role.MANAGER)
    dept = f.department()
    rf.rate(rf.event(dept), 5, channel=3)
    fold.fold()  # a watermark: answers are cached from now on
    db.session.commit()
    day = local_date(utcnow()).isoformat()
    base = f"/api/v1/stats/satisfaction?from={day}&to={day}"

    def labels(group_by, lang):
        body = client.get(f"{base}&group_by={group_by}&lang={lang}", headers=f.bearer(manager)).json
        return [g["label"] for g in body["groups"]]

    # Asked twice in each language: the second answer of each comes from the cache.
    chinese = [labels("channel", "zh"), labels("channel", "zh")]
    english = [labels("channel", "en"), labels("channel", "en")]
    assert chinese[0] == chinese[1] and english[0] == english[1] and chinese[0] != english[0]
    assert labels("department", "zh") == labels("department", "en") == [dept.name]


def test_an_answer_is_kept_while_nothing_changed_and_a_new_rating_shows_at_once(fresh_app):
    """An answer is served again without a table read while the data version stands
    (core.db.data_version: SQLite's data_version, PostgreSQL's snapshot); a rating committed in
    between moves it and is counted at once."""
    with fresh_app.app_context():
        code = f.department().code
        rf.rate(rf.event(department=code), 5)
        fold.fold()
        db.session.commit()
        today = local_date(utcnow())
    question = service.Filters(today, today)

    def total() -> tuple[int, list[str]]:
        with fresh_app.test_request_context(), read_only():  # a GET reads outside a transaction
            statements: list[str] = []
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                answer = json.loads(service.satisfaction_json(question, "department"))
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            db.session.rollback()  # the request ends, and its read snapshot with it
            return int(answer["total"]), [s for s in statements if s.lstrip().upper().startswith("SELECT")]

    assert total()[0] == 1
    again, reads = total()
    assert again == 1 and reads == []
    with fresh_app.app_context():
        rf.rate(rf.event(department=code), 1)
    assert total()[0] == 2


def test_the_json_answer_is_the_dumped_body_character_for_character(demo, ctx):
    """satisfaction_json splices remembered group texts into the body: the result must be exactly
    what dumping `satisfaction` gives, for every grouping, before and after a new rating."""
    today = local_date(utcnow())
    question = service.Filters(today - timedelta(days=89), today)

    def same() -> bool:
        return all(
            service.satisfaction_json(question, group_by)
            == (current_app.json.dumps(service.satisfaction(question, group_by)) + "\n").encode()
            for group_by in (None, *GROUP_BY)
        )

    assert same()
    rf.rate(rf.event(f.department()), 1)
    assert same()


def test_a_renamed_department_or_service_shows_its_new_name_in_the_next_answer(client):
    """Answers and group names are remembered under the watermark token; a rename gives it a new
    token (reports.stats.listeners), so a cached answer never shows the old name."""
    admin, manager = f.user(Role.ADMIN), f.user(Role.MANAGER)
    dept = f.department()
    item = f.service_item(dept)
    rf.rate(rf.event(dept, service_item=item.code), 5)
    fold.fold()
    db.session.commit()
    day = local_date(utcnow()).isoformat()

    def names(group_by: str) -> list[str]:
        url = f"/api/v1/stats/satisfaction?from={day}&to={day}&group_by={group_by}"
        return [g["label"] for g in client.get(url, headers=f.bearer(manager)).json["groups"]]

    assert names("department") == names("department") == [dept.name]  # the second one cached
    assert names("service") == [item.name]
    renamed = client.patch(f"/api/v1/departments/{dept.code}", json={"name": "新名称局"}, headers=f.bearer(admin))
    assert renamed.status_code == 200, renamed.json
    assert names("department") == ["新名称局"]
    renamed = client.patch(f"/api/v1/service-items/{item.code}", json={"name": "新事项"}, headers=f.bearer(admin))
    assert renamed.status_code == 200, renamed.json
    assert names("service") == ["新事项"]


def test_a_new_rating_reads_no_group_name_again(client):
    """After a rating, the answer is recomputed from the rollups remembered and the tail; the
    group names remembered under the same token are not read again."""
    manager = f.user(Role.MANAGER)
    dept, other = f.department(), f.department()
    rf.rate(rf.event(dept), 5)
    fold.fold()
    db.session.commit()
    day = local_date(utcnow()).isoformat()
    url = f"/api/v1/stats/satisfaction?from={day}&to={day}&group_by=department"
    assert [g["label"] for g in client.get(url, headers=f.bearer(manager)).json["groups"]] == [dept.name]
    rf.rate(rf.event(dept), 1)
    rf.rate(rf.event(other), 4)  # a department the remembered names do not hold yet
    db.session.commit()
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        body = client.get(url, headers=f.bearer(manager)).json
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert [(g["label"], g["total"]) for g in body["groups"]] == [(dept.name, 2), (other.name, 1)]
    named = [s for s in statements if "FROM departments" in s and "users" not in s]
    assert len(named) == 1 and "departments.id IN" in named[0]  # the new department's name only
    statements.clear()
    rf.rate(rf.event(other), 3)
    db.session.commit()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert client.get(url, headers=f.bearer(manager)).json["total"] == 4
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert not [s for s in statements if "FROM departments" in s and "users" not in s]
