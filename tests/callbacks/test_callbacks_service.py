"""回访 and 整改 rules, tested without HTTP."""

from datetime import UTC, datetime, timedelta

import factories as f
import pytest
from callbacks_support import bad_rating, shanghai, staff
from sqlalchemy import func, select

from callbacks import jobs, service
from callbacks.models import AttemptResult, Callback, CallbackStatus, CaseStatus, Purpose, RectificationCase
from core.calendar import deadline_after
from core.db import db
from core.errors import Conflict, Forbidden, ValidationFailed
from core.models import Notification, Role
from ratings import recording


@pytest.fixture
def clock(time_machine):
    """Freeze every clock in the process at a moment: `clock(moment)` (time-machine, so no module
    needs patching)."""
    return lambda moment: time_machine.move_to(moment, tick=False)


def _verify_callback(rating) -> Callback:
    return db.session.scalar(
        select(Callback).where(Callback.rating_id == rating.id, Callback.purpose == Purpose.VERIFY_BAD_REVIEW)
    )


def test_bad_review_before_national_day_is_due_after_the_holiday(database, clock):
    dept = f.department()
    clock(shanghai(2026, 9, 30, 16, 0))
    rating = bad_rating(dept)
    callback = _verify_callback(rating)
    assert callback is not None and callback.status == CallbackStatus.PENDING
    assert callback.due_at == datetime(2026, 10, 8, 15, 59, 59, tzinfo=UTC)  # end of 10-08 in Shanghai
    assert callback.contact_phone == "13812345678"
    assert not callback.due_estimated


def test_hidden_bad_review_gets_the_same_callback(database):
    dept = f.department()
    rating = bad_rating(dept, level=4, comment="办事效率太低,态度很差,跑了三趟都没办好")
    assert rating.hidden_bad and not rating.is_bad_review
    assert _verify_callback(rating) is not None


def test_good_review_gets_no_callback(database):
    dept = f.department()
    rating = bad_rating(dept, level=5, comment="工作人员很热情,一次就办好了")
    assert _verify_callback(rating) is None


def test_anonymous_bad_review_goes_straight_to_the_department(database):
    dept = f.department()
    rating = bad_rating(dept, name="", phone="")
    assert _verify_callback(rating) is None
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    assert case.status == CaseStatus.TO_VERIFY and case.department_id == dept.id
    people = staff(dept)
    service.verify_case(case, people["handler"], True, "确有其事")
    assert case.status == CaseStatus.OPEN and case.due_at is not None


def test_failed_attempts_count_once_per_working_day_then_unreachable(database, clock):
    dept = f.department()
    people = staff(dept)
    clock(shanghai(2026, 11, 2, 9))  # Monday
    callback = _verify_callback(bad_rating(dept))
    service.record_attempt(callback, people["agent"], AttemptResult.NO_ANSWER)
    clock(shanghai(2026, 11, 2, 15))
    service.record_attempt(callback, people["agent"], AttemptResult.REFUSED)
    assert callback.status == CallbackStatus.PENDING  # same day: still one day of tries
    clock(shanghai(2026, 11, 3, 9))
    service.record_attempt(callback, people["agent"], AttemptResult.NO_ANSWER)
    clock(shanghai(2026, 11, 4, 9))
    service.record_attempt(callback, people["agent"], AttemptResult.NO_ANSWER)
    assert callback.status == CallbackStatus.UNREACHABLE
    assert callback.on_time is True  # the first try was made before the deadline
    assert len(callback.attempts) == 4
    with pytest.raises(Conflict):
        service.record_attempt(callback, people["agent"], AttemptResult.REACHED)


def test_wrong_number_ends_the_callback_at_once(database):
    dept = f.department()
    people = staff(dept)
    callback = _verify_callback(bad_rating(dept))
    service.record_attempt(callback, people["agent"], AttemptResult.WRONG_NUMBER, "空号")
    assert callback.status == CallbackStatus.UNREACHABLE


def test_reached_needs_an_answer(database):
    dept = f.department()
    people = staff(dept)
    callback = _verify_callback(bad_rating(dept))
    with pytest.raises(ValidationFailed):
        service.record_attempt(callback, people["agent"], AttemptResult.REACHED)


def test_not_verified_closes_without_a_case(database):
    dept = f.department()
    people = staff(dept)
    rating = bad_rating(dept)
    callback = _verify_callback(rating)
    service.record_attempt(callback, people["agent"], AttemptResult.REACHED, answer=service.Answer(verified=False))
    assert callback.status == CallbackStatus.DONE and callback.outcome == "not_verified"
    assert db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id)) is None


def test_the_whole_rectification_path_ends_published_and_masked(database, clock, sms):
    dept = f.department()
    people = staff(dept)
    clock(shanghai(2026, 9, 25, 10))
    rating = bad_rating(dept, comment="窗口态度差，我的电话13812345678你们打不通")
    callback = _verify_callback(rating)
    service.record_attempt(
        callback, people["agent"], AttemptResult.REACHED, answer=service.Answer(verified=True, problem="窗口推诿")
    )
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    assert case.status == CaseStatus.OPEN
    assert case.due_at == datetime(2026, 10, 22, 15, 59, 59, tzinfo=UTC)  # 15 working days after 09-25

    service.submit_report(case, people["handler"], "已约谈窗口人员并整改服务流程")
    service.send_back(case, people["manager"], "请补充整改证明")
    assert case.status == CaseStatus.OPEN
    service.submit_report(case, people["handler"], "已约谈窗口人员，增加导办员")
    clock(shanghai(2026, 10, 9, 10))
    service.accept_case(case, people["manager"])
    assert case.status == CaseStatus.ACCEPTED and case.accepted_on_time is True

    report_back = db.session.scalar(
        select(Callback).where(Callback.case_id == case.id, Callback.purpose == Purpose.RECTIFICATION_REPORT)
    )
    assert report_back is not None
    service.record_attempt(report_back, people["agent"], AttemptResult.REACHED, "已告知整改情况")
    assert case.status == CaseStatus.PUBLISHED
    assert case.public_rater == "张**"
    assert case.public_phone == "138****5678"
    assert "13812345678" not in case.public_review and "138****5678" in case.public_review
    assert [e.action for e in case.events] == ["opened", "submitted", "sent_back", "submitted", "accepted", "published"]

    [message] = service.follow_up_messages(case)
    assert message.phone == "13812345678" and message.status == "pending"
    [sent] = sms.deliver()
    assert sent.phone == "13812345678" and message.status == "sent" and message.link is None
    [url] = sms.links()
    token = url.rsplit("/rate/", 1)[1].split("?")[0]
    follow_up = recording.rate_with_token(token, 4, None, comment="整改后好多了")
    assert follow_up.assess_number == 2
    assert _verify_callback(follow_up) is None  # the 追评 does not start another round


def test_overdue_callback_is_escalated_exactly_once(database, clock):
    dept = f.department()
    people = staff(dept)
    clock(shanghai(2026, 11, 2, 9))
    callback = _verify_callback(bad_rating(dept))
    clock(shanghai(2026, 11, 5, 9))  # past the deadline (end of 11-03)
    jobs.escalate_overdue()
    jobs.escalate_overdue()
    jobs.escalate_overdue()
    notes = list(
        db.session.scalars(
            select(Notification).where(Notification.subject_id == callback.id, Notification.kind == "callback_overdue")
        )
    )
    assert [n.user_id for n in notes] == [people["manager"].id]
    assert callback.escalated_at is not None


def test_reminder_goes_out_once_before_the_deadline(database, clock):
    dept = f.department()
    people = staff(dept)
    clock(shanghai(2026, 11, 2, 9))
    _verify_callback(bad_rating(dept))
    clock(shanghai(2026, 11, 3, 22, 30))  # 1.5 hours before the end of the due day
    jobs.remind_due_callbacks()
    jobs.remind_due_callbacks()
    notes = list(db.session.scalars(select(Notification).where(Notification.kind == "callback_due")))
    assert len([n for n in notes if n.user_id == people["agent"].id]) == 1


def test_overdue_case_is_escalated_to_managers_and_department_once(database, clock):
    dept = f.department()
    people = staff(dept)
    rating = bad_rating(dept, name="", phone="")
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    clock(shanghai(2026, 11, 2, 9))
    service.verify_case(case, people["handler"], True, "属实")
    clock(shanghai(2026, 12, 31, 9))
    jobs.escalate_overdue()
    jobs.escalate_overdue()
    notes = list(db.session.scalars(select(Notification).where(Notification.kind == "case_overdue")))
    assert sorted(n.user_id for n in notes) == sorted([people["manager"].id, people["handler"].id])


def test_worklist_groups_overdue_today_upcoming(database, clock):
    dept = f.department()
    people = staff(dept)
    clock(shanghai(2026, 11, 2, 9))
    old = _verify_callback(bad_rating(dept))
    clock(shanghai(2026, 11, 4, 9))
    today = _verify_callback(bad_rating(dept, phone="13900001111"))
    clock(shanghai(2026, 11, 5, 9))
    groups = service.worklist(people["agent"])
    assert (old in groups["overdue"] and today in groups["overdue"]) or today in groups["today"]
    assert old in groups["overdue"]


def test_handler_sees_only_own_department_callbacks(database):
    dept, other = f.department(), f.department()
    mine = _verify_callback(bad_rating(dept))
    _verify_callback(bad_rating(other))
    handler = f.user("handler", dept)
    listed = list(db.session.scalars(service.callbacks_query(handler, "pending")))
    assert listed == [mine]


def _anonymous_case(dept) -> RectificationCase:
    rating = bad_rating(dept, name="", phone="")
    return db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))


def test_the_move_table_covers_every_state(database):
    """Every state but the ends has a way on; every way on is someone's to take."""
    sources = {status for move in service.CASE_MOVES.values() for status in move.sources}
    assert sources == set(CaseStatus) - {CaseStatus.DISMISSED}
    assert all(move.roles for move in service.CASE_MOVES.values())
    case = RectificationCase(status=CaseStatus.SUBMITTED)
    assert service.allowed_case_moves(case) == ["accept", "send_back"]


def test_a_step_that_is_not_yours_is_forbidden_and_changes_nothing(database):
    dept, other = f.department(), f.department()
    people = staff(dept)
    case = _anonymous_case(dept)
    outsider = f.user(Role.HANDLER, other)
    for actor in (people["manager"], people["agent"], outsider):
        with pytest.raises(Forbidden):
            service.verify_case(case, actor, True, "属实")
    assert case.status == CaseStatus.TO_VERIFY and [e.action for e in case.events] == ["opened"]
    assert service.case_moves_for(people["handler"], case) == ["verify", "dismiss"]
    assert service.case_moves_for(outsider, case) == [] == service.case_moves_for(people["manager"], case)
    service.verify_case(case, people["handler"], True, "属实")
    service.submit_report(case, people["handler"], "已整改")
    with pytest.raises(Forbidden):
        service.accept_case(case, people["handler"])
    with pytest.raises(Conflict) as stale:
        service.accept_case(case, people["manager"], expected_version=case.version - 1)
    assert "version" in stale.value.errors
    with pytest.raises(Conflict) as wrong_state:
        service.submit_report(case, people["handler"], "再次提交")
    assert wrong_state.value.errors == {"allowed": ["open"], "status": ["submitted"]}


def test_steps_happen_at_the_moment_they_are_given(database):
    dept = f.department()
    people = staff(dept)
    case = _anonymous_case(dept)
    verified = shanghai(2026, 11, 2, 9).astimezone(UTC)
    service.verify_case(case, people["handler"], True, "属实", now=verified)
    assert case.opened_at == verified and case.events[-1].created_at == verified
    assert case.due_at == deadline_after(verified, 15).due_at  # the clock starts when verified
    service.submit_report(case, people["handler"], "已整改", now=verified + timedelta(days=3))
    late = case.due_at + timedelta(hours=1)
    service.accept_case(case, people["manager"], now=late)
    assert case.accepted_at == late and case.accepted_on_time is False
    assert case.status == CaseStatus.PUBLISHED and case.published_at == late  # nobody to call back


def test_a_new_bad_review_schedules_without_a_lookup_and_a_confirmed_one_with_one(database):
    """A rating stored in this transaction cannot have a callback yet: its listener inserts one
    without reading callbacks (inside the write transaction). Scheduling again for a stored rating
    (a held one confirmed later) looks first, so it never makes a second."""
    from sqlalchemy import event

    dept = f.department()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        rating = bad_rating(dept)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    callback = _verify_callback(rating)
    assert callback is not None
    assert any(s.lstrip().startswith("INSERT INTO callbacks") for s in statements)
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM callbacks" in s]
    assert service.schedule_verification(rating) is callback
    assert db.session.scalar(select(func.count()).select_from(Callback).where(Callback.rating_id == rating.id)) == 1
