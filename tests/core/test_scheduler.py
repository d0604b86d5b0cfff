"""The scheduler: ticks recorded once, failures recorded, one leader."""

from datetime import UTC, datetime

from sqlalchemy import select

from core.db import db
from core.models import JobRun
from core.scheduler import FileLeaderLock, Job, run_tick, tick_time


def test_tick_time_rounds_down_to_the_interval():
    moment = datetime(2026, 11, 27, 9, 7, 41, tzinfo=UTC)
    assert tick_time(60, moment) == datetime(2026, 11, 27, 9, 7, tzinfo=UTC)
    assert tick_time(300, moment) == datetime(2026, 11, 27, 9, 5, tzinfo=UTC)


def test_a_tick_runs_once_however_often_it_is_claimed(database):
    calls = []
    job = Job("test-job", lambda: calls.append(1) or "did it", 60)
    when = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert run_tick(job, when) is True
    assert run_tick(job, when) is False
    assert calls == [1]
    run = db.session.scalar(select(JobRun).where(JobRun.job == "test-job"))
    assert run.status == "ok" and run.detail == "did it" and run.finished_at is not None


def test_a_failing_job_is_recorded_and_does_not_raise(database):
    def broken() -> str:
        raise RuntimeError("boom")

    when = datetime(2026, 11, 27, 9, 1, tzinfo=UTC)
    assert run_tick(Job("broken-job", broken, 60), when) is True
    run = db.session.scalar(select(JobRun).where(JobRun.job == "broken-job"))
    assert run.status == "failed" and "boom" in run.detail


def test_file_lock_admits_one_leader(tmp_path):
    path = str(tmp_path / "scheduler.lock")
    first, second = FileLeaderLock(path), FileLeaderLock(path)
    assert first.try_acquire()
    assert first.still_held()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_notify_writes_in_app_rows_and_calls_the_sender(database):
    import factories as f

    from core.models import Role
    from core.notify import notify, set_sender, staff_with_role, unread_for

    manager = f.user(Role.MANAGER)
    sent = []
    set_sender(lambda user, note: sent.append((user.username, note.kind)))
    try:
        notify(staff_with_role(Role.MANAGER), "escalation", "工单超期", "ticket", 7)
    finally:
        from core.notify import _log_sender

        set_sender(_log_sender)
    assert (manager.username, "escalation") in sent
    assert [n.message for n in unread_for(manager)] == ["工单超期"]


def test_fresh_app_commits_for_real(fresh_app):
    from core.models import Region

    with fresh_app.app_context():
        assert db.session.query(Region).count() == 19
