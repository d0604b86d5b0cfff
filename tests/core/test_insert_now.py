"""core.db.insert_now: a new object inserted by one statement and held by the session as if a
query had loaded it, with what a flush would have stored; core.db.insert_rows: rows inserted by
one statement with no object at all; and the rating hot path built on them and on core.prepared
(the token found by one prepared statement)."""

from typing import Any

import factories as f
import pytest
from sqlalchemy import event, func, select

from core.db import db, insert_now, insert_rows
from core.models import Region
from ratings import recording, tokens
from ratings.models import Rating, RatingAuditEvent, RatingStatus, ServiceEvent
from reports.provincial.models import OutboxRow
from reports.stats.models import RatingChange


class Statements:
    """The SQL statements run on the test's connection while it is open."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement.split(None, 1)[0].upper())

    def __enter__(self) -> "Statements":
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc: Any) -> None:
        event.remove(db.engine, "before_cursor_execute", self)


def test_a_row_inserted_at_once_is_held_as_loaded_with_its_defaults(database):
    dept = f.department()
    audit = insert_now(RatingAuditEvent(action="probe", detail="{}", event_id=None))
    assert audit.id is not None and audit.created_at is not None  # the column's default, returned
    session = db.session()
    assert audit in session and not session.new and not session.dirty
    with Statements() as statements:
        db.session.flush()
        assert audit.action == "probe"  # loaded: no refresh
    assert statements.seen == []
    stored = db.session.execute(select(RatingAuditEvent.action).where(RatingAuditEvent.id == audit.id)).scalar_one()
    assert stored == "probe"
    assert dept.id is not None


def test_a_none_is_left_to_the_default_as_a_flush_would(database):
    # RatingAuditEvent.created_at has a default: None given means "not set", as in a flush.
    row = insert_now(RatingAuditEvent(action="probe", detail="{}", created_at=None))
    assert row.created_at is not None


def test_it_refuses_related_objects_and_objects_a_session_holds(database):
    region = Region(code="990101", name="测试")
    db.session.add(region)
    with pytest.raises(ValueError, match="no session holds"):
        insert_now(region)
    dept = f.department()
    with pytest.raises(ValueError, match="foreign keys as columns"):
        insert_now(ServiceEvent(kind="counter", department=dept))


def test_it_rolls_back_with_the_transaction_and_leaves_the_session(database):
    before = db.session.scalar(select(func.count()).select_from(RatingAuditEvent))
    savepoint = db.session.begin_nested()
    gone = insert_now(RatingAuditEvent(action="probe", detail="{}"))
    savepoint.rollback()
    assert db.session.scalar(select(func.count()).select_from(RatingAuditEvent)) == before
    assert gone not in db.session()  # as a flushed object: a rolled-back row leaves no ghost
    # SQLite gives the next row the same id: it goes in and is held, with no identity clash.
    again = insert_now(RatingAuditEvent(action="again", detail="{}"))
    assert again in db.session() and db.session.get(RatingAuditEvent, again.id) is again


def test_rows_inserted_without_objects_take_their_defaults_and_roll_back(database):
    count = select(func.count()).select_from(RatingAuditEvent)
    before = db.session.scalar(count)
    savepoint = db.session.begin_nested()
    with Statements() as statements:
        insert_rows(RatingAuditEvent, {"action": "probe-a", "detail": ""}, {"action": "probe-b", "detail": "{}"})
    assert [s for s in statements.seen if s != "SAVEPOINT"] == ["INSERT"]  # one statement for both rows
    assert not db.session().new and not db.session().identity_map  # no object made or held
    stored = db.session.execute(
        select(RatingAuditEvent.action, RatingAuditEvent.detail, RatingAuditEvent.created_at)
        .where(RatingAuditEvent.action.like("probe-%"))
        .order_by(RatingAuditEvent.id)
    ).all()
    assert [(a, d) for a, d, _ in stored] == [("probe-a", ""), ("probe-b", "{}")]
    assert all(created is not None for *_, created in stored)  # the column's default
    savepoint.rollback()
    assert db.session.scalar(count) == before
    insert_rows(RatingAuditEvent)  # nothing to insert: no statement
    assert db.session.scalar(count) == before


def test_a_citizens_rating_writes_its_queue_audit_and_outbox_rows(database, ctx):
    dept = f.department()
    issued = tokens.create_service_event({"department": dept.code})
    rating = recording.rate_with_token(issued.token, 4, comment="很好")
    assert rating.status == RatingStatus.VALID and rating in db.session()
    changes = db.session.scalars(select(RatingChange).where(RatingChange.rating_id == rating.id)).all()
    assert [(c.n4, c.n5, c.department_id) for c in changes] == [(1, 0, dept.id)]
    audits = db.session.scalars(select(RatingAuditEvent.action).where(RatingAuditEvent.rating_id == rating.id)).all()
    assert audits == ["rating.recorded"]
    outbox = db.session.scalars(select(OutboxRow.subject_id).where(OutboxRow.kind == "rating")).all()
    assert rating.event_id in outbox
    assert db.session.get(Rating, rating.id) is rating


def test_a_found_token_brings_its_event_department_region_and_service_item(database):
    dept = f.department()
    item = f.service_item(dept)
    issued = tokens.create_service_event({"department": dept.code, "service_item": item.code})
    db.session.expunge_all()  # what a new request starts with
    with Statements() as statements:
        target = tokens.resolve_token(issued.token)
        assert target.event is not None and target.token is not None
        assert target.token.event is target.event
        names = (target.event.department.code, target.event.department.region.name, target.event.service_item.code)
    # The lookup itself (one SELECT on the driver's cursor, core.prepared); a second statement
    # would be a lazy load of something the lookup should have brought.
    assert statements.seen == ["SELECT"]
    assert names == (dept.code, dept.region.name, item.code)
    assert target.token in db.session() and target.event in db.session()
    assert not db.session.new and not db.session.dirty


def test_a_new_ticket_starts_its_version_counter_and_has_its_first_event(database):
    from hotline import service
    from hotline.models import TicketEvent

    f.department()  # the region 460100 with it
    agent = f.user()
    ticket = service.create_ticket({"type": "consultation", "content": "咨询", "region_code": "460100"}, agent)
    assert ticket.version == 1 and ticket.region.code == "460100"  # the counter as a flush starts it
    assert ticket in db.session() and not db.session.new and not db.session.dirty
    moves = db.session.scalars(select(TicketEvent.move).where(TicketEvent.ticket_id == ticket.id)).all()
    assert moves == ["create"]
    assert [e.move for e in ticket.events] == ["create"]


def test_a_ticket_created_through_the_api_reads_nothing_after_its_first_write(client):
    """Inside the write transaction (the day's counter row locked) the answer is built from what
    the insert knew: no lazy load of the region, the creator or the events."""
    f.department()  # the region 460100 with it
    agent = f.user()
    headers = f.bearer(agent)
    body = {"type": "consultation", "content": "咨询社保卡补办需要哪些材料", "region_code": "460100"}
    with Statements() as statements:
        response = client.post("/api/v1/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.json
    first_write = statements.seen.index("INSERT")
    after = [s for s in statements.seen[first_write:] if s not in ("SAVEPOINT", "RELEASE")]  # the test's own
    assert after == ["INSERT", "INSERT", "INSERT"]  # counter, ticket, event: nothing read again
    answer = response.json
    assert answer["region_code"] == "460100" and answer["status"] == "accepted"
    shown = client.get(f"/api/v1/tickets/{answer['number']}", headers=headers).json
    assert {k: v for k, v in shown.items() if k in answer} == answer
