"""Appeals (申诉复核) and the satisfaction figures: an upheld appeal takes a rating out of the
statistics while it stays in the database with the decision and who made it."""

from datetime import UTC, datetime, timedelta

import factories as f
import pytest
import ratings_counts as rc
import ratings_factories as rf
from sqlalchemy import select

from core.calendar import local_date
from core.db import db, utcnow
from core.errors import Conflict, Forbidden, NotFound
from core.models import Notification, Role
from core.signals import appeal_decided
from ratings import appeals, audit, recording
from ratings.models import AppealStatus, Rating, RatingStatus


def _today():
    return local_date(utcnow())


def _rated(dept, levels):
    return [rf.rate(rf.event(dept), level) for level in levels]


def test_an_upheld_appeal_voids_the_rating_for_statistics_only(database):
    dept = f.department()
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    bad, *_ = _rated(dept, [1, 5, 5, 4, 3])
    before = rc.satisfaction_summary(_today(), _today(), department_id=dept.id)
    assert (before["total"], before["valid"], before["satisfaction_rate"], before["bad_rate"]) == (5, 5, 0.8, 0.2)

    appeal = appeals.file_appeal(bad, handler, "malicious", "同一号码一小时内差评20次,系恶意差评")
    db.session.commit()
    assert any(n.user_id == manager.id for n in db.session.scalars(select(Notification)))
    decided = []
    appeal_decided.connect(listener := lambda _s, appeal, rating, **_k: decided.append((appeal.id, rating.id)))
    try:
        appeals.decide_appeal(appeal, manager, uphold=True, note="核实为恶意差评")
    finally:
        appeal_decided.disconnect(listener)
    db.session.commit()
    assert decided == [(appeal.id, bad.id)]

    after = rc.satisfaction_summary(_today(), _today(), department_id=dept.id)
    assert (after["total"], after["valid"], after["levels"]["1"]) == (5, 4, 0)
    assert (after["satisfaction_rate"], after["bad_rate"]) == (1.0, 0.0)

    db.session.expire_all()
    stored = db.session.get(Rating, bad.id)
    assert stored is not None and stored.level == 1 and stored.status == RatingStatus.VOIDED
    assert stored.voided_at is not None
    assert stored.appeal.status == AppealStatus.UPHELD
    assert stored.appeal.decided_by_id == manager.id and stored.appeal.decided_at is not None
    assert stored.appeal.decision_note == "核实为恶意差评" and stored.appeal.filed_by_id == handler.id
    trail = [(a.action, a.actor_id) for a in audit.trail(stored)]
    assert trail == [("rating.recorded", None), ("appeal.filed", handler.id), ("appeal.upheld", manager.id)]


def test_a_rejected_appeal_leaves_the_rating_counted(database):
    dept = f.department()
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    (bad,) = _rated(dept, [2])
    appeal = appeals.file_appeal(bad, handler, "misdirected", "不是本部门的事项")
    appeals.decide_appeal(appeal, manager, uphold=False, note="属本部门职责")
    db.session.commit()
    assert bad.status == RatingStatus.VALID and appeal.status == AppealStatus.REJECTED
    summary = rc.satisfaction_summary(_today(), _today(), department_id=dept.id)
    assert summary["valid"] == 1 and summary["bad_rate"] == 1.0
    with pytest.raises(Conflict):
        appeals.decide_appeal(appeal, manager, uphold=True)
    with pytest.raises(Conflict):
        appeals.file_appeal(bad, handler, "other", "再申诉一次")


def test_an_appeal_is_filed_and_decided_at_the_moment_given(database):
    dept = f.department()
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    (bad,) = _rated(dept, [1])
    filed_at = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    appeal = appeals.file_appeal(bad, handler, "malicious", "恶意差评", now=filed_at)
    decided_at = filed_at + timedelta(days=2)
    appeals.decide_appeal(appeal, manager, uphold=True, now=decided_at)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Rating, bad.id)
    assert stored.appeal.filed_at == filed_at and stored.appeal.decided_at == decided_at
    assert stored.voided_at == decided_at


def test_who_may_appeal_what(database):
    dept = f.department()
    (bad, good) = _rated(dept, [1, 5])
    with pytest.raises(Forbidden):
        appeals.file_appeal(bad, f.user(Role.MANAGER), "other", "理由")
    with pytest.raises(NotFound):
        appeals.file_appeal(bad, f.user(Role.HANDLER, f.department()), "other", "理由")
    handler = f.user(Role.HANDLER, dept)
    with pytest.raises(Conflict):
        appeals.file_appeal(good, handler, "other", "理由")
    appeal = appeals.file_appeal(bad, handler, "other", "理由")
    with pytest.raises(Forbidden):
        appeals.decide_appeal(appeal, f.user(Role.AGENT), uphold=True)


def test_defaults_and_voided_ratings_are_counted_apart(database):
    dept = f.department()
    _rated(dept, [5, 5])
    issued = rf.event(dept)
    recording.record_rating(issued.event, 3, 7, anonymous=True, is_default=True)
    db.session.commit()
    plain = rc.satisfaction_summary(_today(), _today(), department_id=dept.id)
    with_defaults = rc.satisfaction_summary(_today(), _today(), department_id=dept.id, include_default=True)
    assert plain["valid"] == 2 and with_defaults["valid"] == 3 and with_defaults["levels"]["3"] == 1
    empty = rc.satisfaction_summary(_today() - timedelta(days=400), _today() - timedelta(days=399))
    assert empty["valid"] == 0 and empty["satisfaction_rate"] is None


def test_appeals_and_statistics_over_the_api(client):
    dept = f.department()
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    bad, *_ = _rated(dept, [1, 5, 4])
    filed = client.post(
        f"/api/v1/ratings/{bad.id}/appeal",
        json={"kind": "malicious", "reason": "恶意差评"},
        headers=f.bearer(handler),
    )
    assert filed.status_code == 201 and filed.json["status"] == "pending"
    pending = client.get("/api/v1/rating-appeals?status=pending", headers=f.bearer(manager)).json
    assert [a["id"] for a in pending] == [filed.json["id"]]
    forbidden = client.post(
        f"/api/v1/rating-appeals/{filed.json['id']}/decision", json={"decision": "uphold"}, headers=f.bearer(handler)
    )
    assert forbidden.status_code == 403
    decided = client.post(
        f"/api/v1/rating-appeals/{filed.json['id']}/decision",
        json={"decision": "uphold", "note": "同意"},
        headers=f.bearer(manager),
    )
    assert decided.status_code == 200
    assert decided.json["decided_by"] == manager.username and decided.json["rating_status"] == "voided"

    day = _today().isoformat()
    stats = client.get(
        f"/api/v1/stats/satisfaction?from={day}&to={day}&department={dept.code}", headers=f.bearer(manager)
    )
    assert stats.status_code == 200
    body = stats.json
    assert body["from"] == day and body["to"] == day and body["target"] == 0.95
    assert (body["total"], body["valid"], body["satisfaction_rate"]) == (3, 2, 1.0)
    assert body["levels"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1} and body["groups"] == []
    grouped = client.get(
        f"/api/v1/stats/satisfaction?from={day}&to={day}&group_by=department", headers=f.bearer(manager)
    ).json
    group = next(g for g in grouped["groups"] if g["key"] == str(dept.id))
    assert group["label"] == dept.name and group["valid"] == 2
    monthly = client.get(f"/api/v1/stats/satisfaction?group_by=month&department={dept.code}", headers=f.bearer(manager))
    assert [g["key"] for g in monthly.json["groups"]] == [day[:7]]
    assert client.get("/api/v1/stats/satisfaction", headers=f.bearer(handler)).status_code == 403
