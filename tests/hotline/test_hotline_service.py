"""The ticket rules, tested without HTTP: deadlines, numbers, every move, who may make it."""

from datetime import UTC, date, datetime, timedelta

import factories as f
import hotline_factories as hf
import pytest
from sqlalchemy import func, select

from core.calendar import local_date
from core.db import AppendOnlyError, db
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Notification, Role
from core.signals import ticket_closed
from hotline import service
from hotline.models import TicketEvent, TicketStatus


def events_of(ticket):
    return list(
        db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
    )


def test_complaint_on_thursday_before_the_holidays_is_due_13_working_days_later(database):
    """Acceptance 1: 2026-09-24 10:00 → 2026-10-20, over Mid-Autumn and National Day, counting
    the make-up workday Saturday 2026-10-10."""
    ticket = hf.ticket(type="complaint", now=hf.THURSDAY)
    assert local_date(ticket.handle_due_at) == date(2026, 10, 20)
    assert ticket.handle_due_at == datetime(2026, 10, 20, 15, 59, 59, tzinfo=UTC)  # 23:59:59 +08:00
    assert local_date(ticket.take_due_at) == date(2026, 9, 28)  # next working day after the holiday
    assert ticket.deadline_estimated is False


@pytest.mark.parametrize(
    ("ticket_type", "urgency", "take", "handle"),
    [
        ("consultation", "normal", date(2026, 9, 28), date(2026, 9, 30)),
        ("suggestion", "normal", date(2026, 9, 28), date(2026, 10, 9)),
        ("help", "utilities", None, date(2026, 9, 30)),
    ],
)
def test_time_limits_by_type_and_urgency(database, ticket_type, urgency, take, handle):
    ticket = hf.ticket(type=ticket_type, urgency=urgency, now=hf.THURSDAY)
    assert local_date(ticket.handle_due_at) == handle
    if take is None:
        assert ticket.take_due_at == hf.THURSDAY + timedelta(minutes=30)
    else:
        assert local_date(ticket.take_due_at) == take


def test_emergency_is_taken_in_minutes_and_handled_within_hours(app, database):
    ticket = hf.ticket(type="help", urgency="emergency", now=hf.THURSDAY)
    assert ticket.take_due_at == hf.THURSDAY + timedelta(minutes=app.config["TICKET_TAKE_MINUTES_EMERGENCY"])
    assert ticket.handle_due_at == hf.THURSDAY + timedelta(hours=app.config["TICKET_HANDLE_HOURS_EMERGENCY"])


def test_deadline_in_a_year_without_official_schedule_is_flagged(database):
    ticket = hf.ticket(now=datetime(2027, 12, 27, 2, tzinfo=UTC))
    assert ticket.deadline_estimated is True


def test_numbers_are_readable_and_count_per_local_day(database):
    first = hf.ticket(now=hf.THURSDAY)
    second = hf.ticket(now=hf.THURSDAY + timedelta(minutes=5))
    late_evening_utc = datetime(2026, 9, 24, 17, 0, tzinfo=UTC)  # 01:00 on the 25th in Shanghai
    next_day = hf.ticket(now=late_evening_utc)
    assert first.number == "HN20260924000001"
    assert second.number == "HN20260924000002"
    assert next_day.number == "HN20260925000001"


def test_caller_phone_is_validated_and_stored_as_digits(database):
    with pytest.raises(ValidationFailed) as excinfo:
        hf.ticket(caller_phone="12345")
    assert "caller_phone" in excinfo.value.errors
    ticket = hf.ticket(caller_phone="+86 138-1234-5678")
    assert ticket.caller_phone == "13812345678"


def test_create_with_department_dispatches_in_the_same_step(database):
    dept = f.department()
    helper = f.department()
    ticket = hf.ticket(dept=dept, assisting_departments=[helper.code, dept.code])
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.lead_department_id == dept.id
    assert [d.id for d in ticket.assisting_departments] == [helper.id]
    assert [e.move for e in events_of(ticket)] == ["create", "dispatch"]


def test_the_closed_loop_writes_one_event_per_move(database):
    agent = f.user(Role.AGENT)
    dept = f.department()
    handler = hf.handler_of(dept)
    ticket = hf.ticket(agent)
    service.make_move("dispatch", ticket, agent, {"department": dept.code})
    service.make_move("take", ticket, handler)
    service.make_move("handle", ticket, handler, {"note": "已联系施工单位"})
    service.make_move("reply", ticket, handler, {"reply": "已责令施工单位停止夜间施工。"})
    assert ticket.closed_at is not None
    service.make_move("callback", ticket, agent, {"note": "市民满意"})
    service.make_move("archive", ticket, agent)
    rows = events_of(ticket)
    assert [e.move for e in rows] == ["create", "dispatch", "take", "handle", "reply", "callback", "archive"]
    assert [e.to_status.value for e in rows] == [
        "accepted", "dispatched", "taken", "in_progress", "closed", "called_back", "archived",
    ]  # fmt: skip
    assert rows[2].actor_id == handler.id and rows[3].note == "已联系施工单位"
    assert service.replay(rows) == ticket.status == TicketStatus.ARCHIVED


def test_an_illegal_move_is_a_conflict_naming_the_allowed_moves(database):
    ticket, _handler = hf.taken()
    agent = f.user(Role.AGENT)
    with pytest.raises(Conflict) as excinfo:
        service.make_move("archive", ticket, agent)
    assert excinfo.value.status == 409
    allowed = excinfo.value.errors["allowed"]
    assert set(allowed) == {"merge", "handle", "reply", "return", "request_extension"}
    assert "handle" in excinfo.value.message and "taken" in excinfo.value.message
    assert len(events_of(ticket)) == 3  # nothing written


def test_roles_and_departments(database):
    dept, other = f.department(), f.department()
    ticket = hf.ticket(dept=dept)
    with pytest.raises(Forbidden):
        service.make_move("take", ticket, f.user(Role.AGENT))
    with pytest.raises(NotFound):
        service.make_move("take", ticket, hf.handler_of(other))
    with pytest.raises(Forbidden):
        service.make_move("dispatch", ticket, hf.handler_of(dept), {"department": other.code})
    with pytest.raises(Forbidden):
        service.create_ticket({"type": "help", "content": "求助", "region_code": "460100"}, hf.handler_of(dept))


def test_assisting_department_sees_but_may_not_handle(database):
    dept, helper = f.department(), f.department()
    ticket = hf.ticket(dept=dept, assisting_departments=[helper.code])
    assistant = hf.handler_of(helper)
    assert service.get_ticket(ticket.number, assistant) is ticket
    with pytest.raises(Forbidden):
        service.make_move("take", ticket, assistant)


def test_return_needs_a_reason_and_goes_back_to_dispatch(database):
    ticket, handler = hf.taken()
    dept_id = ticket.lead_department_id
    with pytest.raises(ValidationFailed):
        service.make_move("return", ticket, handler, {"reason": "  "})
    service.make_move("return", ticket, handler, {"reason": "不属于本单位职责"})
    assert ticket.status == TicketStatus.RETURNED and ticket.lead_department_id is None
    last = events_of(ticket)[-1]
    assert last.move == "return" and last.department_id == dept_id and last.note == "不属于本单位职责"
    with pytest.raises(NotFound):
        service.get_ticket(ticket.number, handler)  # no longer theirs
    other = f.department()
    old_take_due = ticket.take_due_at
    service.make_move(
        "dispatch", ticket, f.user(Role.AGENT), {"department": other.code}, now=ticket.created_at + timedelta(days=3)
    )
    assert ticket.lead_department_id == other.id and ticket.take_due_at > old_take_due


def test_extension_is_requested_and_approved_once(database):
    ticket, handler = hf.taken()
    manager = f.user(Role.MANAGER)
    due = ticket.handle_due_at
    with pytest.raises(ValidationFailed):
        service.make_move("request_extension", ticket, handler, {"working_days": 99, "reason": "太长"})
    service.make_move("request_extension", ticket, handler, {"working_days": 5, "reason": "需要现场勘查"})
    assert ticket.extension_pending
    assert db.session.scalar(select(func.count()).where(Notification.user_id == manager.id)) == 1
    with pytest.raises(Conflict):
        # one pending at a time
        service.make_move("request_extension", ticket, handler, {"working_days": 3, "reason": "再申请"})
    service.make_move("approve_extension", ticket, manager)
    assert ticket.handle_due_at > due and ticket.extension_count == 1 and not ticket.extension_pending
    with pytest.raises(Conflict) as excinfo:
        service.make_move("request_extension", ticket, handler, {"working_days": 3, "reason": "再次延期"})
    assert "request_extension" not in excinfo.value.errors["allowed"]


def test_rejected_extension_keeps_the_deadline(database):
    ticket, handler = hf.taken()
    due = ticket.handle_due_at
    service.make_move("request_extension", ticket, handler, {"working_days": 2, "reason": "材料未齐"})
    service.make_move("reject_extension", ticket, f.user(Role.MANAGER), {"note": "请按期办结"})
    assert ticket.handle_due_at == due and not ticket.extension_pending


def test_supervision_needs_an_overdue_ticket_and_happens_once(database):
    dept = f.department()
    ticket = hf.ticket(dept=dept, now=hf.THURSDAY)
    handler = hf.handler_of(dept)
    manager = f.user(Role.MANAGER)
    with pytest.raises(Conflict):
        service.make_move("supervise", ticket, manager, now=hf.THURSDAY + timedelta(hours=1))
    late = ticket.take_due_at + timedelta(minutes=1)
    service.make_move("supervise", ticket, manager, {"note": "请立即签收"}, now=late)
    assert ticket.supervised_at == late
    assert [n.kind for n in db.session.scalars(select(Notification).where(Notification.user_id == handler.id))] == [
        "ticket_supervised"
    ]
    with pytest.raises(Conflict):
        service.make_move("supervise", ticket, manager, now=late)


def test_reply_sends_ticket_closed_inside_the_transaction(app, database):
    received = []

    def listener(sender, ticket):
        received.append((sender, ticket.number, ticket.status, ticket.closed_at is not None))

    ticket, handler = hf.taken()
    with ticket_closed.connected_to(listener):
        service.make_move("reply", ticket, handler, {"reply": "已答复"})
    assert received == [(app, ticket.number, TicketStatus.CLOSED, True)]
    with pytest.raises(ValidationFailed):
        service.make_move("reply", hf.taken()[0], handler, {"reply": ""})


def test_reopen_sends_the_ticket_back_with_fresh_deadlines(database):
    ticket, handler = hf.closed()
    later = ticket.created_at + timedelta(days=20)
    service.make_move("reopen", ticket, None, {"note": "市民不满意"}, now=later)
    assert ticket.status == TicketStatus.DISPATCHED and ticket.reopen_count == 1
    assert ticket.closed_at is None and ticket.handle_due_at > later
    last = events_of(ticket)[-1]
    assert last.move == "reopen" and last.actor_id is None
    service.make_move("take", ticket, handler)  # the same department takes it again


def test_archive_waits_for_the_callback_unless_there_is_no_phone(database):
    ticket, _ = hf.closed()
    agent = f.user(Role.AGENT)
    with pytest.raises(Conflict) as excinfo:
        service.make_move("archive", ticket, agent)
    assert excinfo.value.errors["allowed"] == ["reopen", "callback"]
    anonymous, _ = hf.closed(caller_phone="", caller_name="")
    service.make_move("archive", anonymous, agent)
    assert anonymous.status == TicketStatus.ARCHIVED


def test_merge_a_duplicate_into_its_original(database):
    agent = f.user(Role.AGENT)
    original = hf.ticket(agent)
    duplicate = hf.ticket(agent)
    with pytest.raises(ValidationFailed):
        service.make_move("merge", duplicate, agent, {"into": duplicate.number})
    service.make_move("merge", duplicate, agent, {"into": original.number})
    assert duplicate.status == TicketStatus.MERGED and duplicate.merged_into_id == original.id
    with pytest.raises(ValidationFailed):
        service.make_move("merge", hf.ticket(agent), agent, {"into": duplicate.number})  # not into a merged ticket


def test_stale_version_is_refused(database):
    ticket, handler = hf.taken()
    seen = ticket.version
    service.make_move("handle", ticket, handler, {"note": "第一次", "version": seen})
    with pytest.raises(Conflict) as excinfo:
        service.make_move("handle", ticket, handler, {"note": "基于旧版本", "version": seen})
    assert "version" in excinfo.value.errors


def test_events_are_append_only(database):
    ticket = hf.ticket()
    row = events_of(ticket)[0]
    row.note = "篡改"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    row = db.session.get(TicketEvent, row.id)
    db.session.delete(row)
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_caller_view_by_role(database):
    dept = f.department()
    ticket = hf.ticket(dept=dept, caller_name="李四光", caller_phone="13912345678")
    secret = hf.ticket(dept=dept, confidential=True, caller_name="王五", caller_phone="13700001111")
    agent, handler = f.user(Role.AGENT), hf.handler_of(dept)
    assert service.caller_view(ticket, agent, detail=True) == service.CallerView("李四光", "13912345678", False)
    assert service.caller_view(ticket, agent) == service.CallerView("李**", "139****5678", False)
    # The lead department reaches the caller from the ticket's page; lists stay masked.
    assert service.caller_view(ticket, handler, detail=True) == service.CallerView("李四光", "13912345678", False)
    assert service.caller_view(ticket, handler) == service.CallerView("李**", "139****5678", False)
    assisting = hf.handler_of(f.department())
    assert service.caller_view(ticket, assisting, detail=True) == service.CallerView("李**", "139****5678", False)
    assert service.caller_view(secret, handler, detail=True) == service.CallerView(None, None, True)
    assert service.caller_view(secret, agent, detail=True).phone == "13700001111"


def test_a_ticket_answer_is_written_for_whoever_is_signed_in_now(app, database):
    """The answer's reader is worked out once per request, but a sign-in within the request is a
    new reader: a confidential caller shown to an agent is not then shown to a handler."""
    from flask_login import login_user

    from hotline.schemas import TicketOut

    dept = f.department()
    secret = hf.ticket(dept=dept, confidential=True, caller_name="王五", caller_phone="13700001111")
    agent, handler = f.user(Role.AGENT), hf.handler_of(dept)
    with app.test_request_context("/tickets"):
        login_user(agent)
        assert TicketOut().dump(secret)["caller_phone"] == "13700001111"
        login_user(handler)
        shown = TicketOut().dump(secret)
        assert shown["caller_phone"] is None and shown["caller_hidden"] is True
