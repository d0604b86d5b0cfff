"""core.jobs.claim_each, on a database that commits for real (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): two sweeps never take the same row, one row's failure is rolled back
alone; and every package's jobs are scheduled under one naming scheme."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from core.db import db, is_postgresql
from core.jobs import Sweep, claim_each
from core.models import JobRun
from core.scheduler import JOB_NAME_PATTERN, Job, add_jobs, scheduled_jobs

TIMEOUT = 30
START = datetime(2026, 11, 27, tzinfo=UTC)
PENDING = select(JobRun).where(JobRun.status == "pending").order_by(JobRun.id)


def _rows(app, count: int) -> list[int]:
    """`count` pending rows to sweep (job_runs rows: any table with a primary key would do)."""
    with app.app_context():
        rows = [
            {"job": "test.row", "scheduled_for": START + timedelta(minutes=i), "status": "pending"}
            for i in range(count)
        ]
        db.session.execute(insert(JobRun), rows)
        db.session.commit()
        ids = list(db.session.scalars(select(JobRun.id).order_by(JobRun.id)))
        db.session.remove()
        return ids


def _states(app) -> dict[int, tuple[str, str]]:
    with app.app_context():
        states = {run.id: (run.status, run.node) for run in db.session.scalars(select(JobRun))}
        db.session.remove()
        return states


def test_two_sweeps_at_once_never_take_the_same_row(fresh_app):
    ids = _rows(fresh_app, 20)
    with fresh_app.app_context():
        postgresql = is_postgresql()
    # On PostgreSQL each sweep holds its first row until the other holds one too: the second
    # sweep must skip the locked row, not wait for it. (SQLite sweeps take turns: BEGIN IMMEDIATE.)
    both_hold_a_row = threading.Barrier(2, timeout=TIMEOUT)
    taken: list[tuple[str, int]] = []
    sweeps: dict[str, Sweep] = {}

    def sweep(worker: str) -> None:
        first = [True]

        def work(run: JobRun) -> None:
            if postgresql and first[0]:
                first[0] = False
                both_hold_a_row.wait()
            taken.append((worker, run.id))
            run.status, run.node = "done", worker

        with fresh_app.app_context():
            try:
                sweeps[worker] = claim_each(PENDING, work, limit=100)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert sorted(row_id for _, row_id in taken) == ids, "every row taken exactly once"
    states = _states(fresh_app)
    assert all(states[row_id] == ("done", worker) for worker, row_id in taken)
    assert sum(s.done for s in sweeps.values()) == 20
    assert not any(s.failed for s in sweeps.values())
    if postgresql:
        assert {worker for worker, _ in taken} == {"a", "b"}, "both sweeps worked at once"


def test_a_failing_row_is_rolled_back_alone_and_the_sweep_goes_on(fresh_app):
    ids = _rows(fresh_app, 5)
    bad = ids[2]

    def work(run: JobRun) -> None:
        run.status = "done"
        if run.id == bad:
            raise RuntimeError("this row cannot be done")

    with fresh_app.app_context():
        sweep = claim_each(PENDING, work, limit=100)
        db.session.remove()
    assert (sweep.done, sweep.failed, sweep.skipped) == (4, 1, 0), "the failed row is tried once, not again"
    states = _states(fresh_app)
    assert [states[i][0] for i in ids] == ["done", "done", "pending", "done", "done"]


def test_work_can_decline_a_row_and_a_sweep_stops_at_its_limit(fresh_app):
    ids = _rows(fresh_app, 6)

    def work(run: JobRun) -> bool:
        run.status = "done"
        return run.id != ids[0]  # the first: nothing to do after all, its write is discarded

    with fresh_app.app_context():
        sweep = claim_each(PENDING, work, limit=4)
        db.session.remove()
    assert (sweep.done, sweep.skipped) == (3, 1)
    states = _states(fresh_app)
    assert [states[i][0] for i in ids] == ["pending", "done", "done", "done", "pending", "pending"]


EXPECTED_JOBS = {
    "core.heartbeat",
    "core.citizen-messages",
    "core.job-runs-retention",
    "hotline.overdue-sweep",
    "callbacks.remind-due",
    "callbacks.escalate-overdue",
    "callbacks.remind-cases-due",
    "ratings.expire-tokens",
    "ratings.default-ratings",
    "reports.provincial-delivery",
    "reports.provincial-retention",
    "reports.stats-fold",
}


def test_every_package_schedules_its_jobs_under_one_naming_scheme(app):
    jobs = scheduled_jobs(app)
    assert {job.name for job in jobs} == EXPECTED_JOBS
    for job in jobs:
        assert JOB_NAME_PATTERN.fullmatch(job.name)
        assert job.seconds(app.config) > 0
    assert {job.name for job in jobs if job.interval == "FOLLOW_UP_SWEEP_SECONDS"} == {
        "callbacks.remind-due",
        "callbacks.escalate-overdue",
        "callbacks.remind-cases-due",
    }


def test_add_jobs_refuses_a_bad_name_a_second_job_of_a_name_and_an_unknown_setting(app):
    def noop() -> None:
        return None

    with pytest.raises(ValueError, match="is not <package>"):
        add_jobs(app, [Job("hotline-overdue-sweep", noop, 60)])
    with pytest.raises(ValueError, match="scheduled twice"):
        add_jobs(app, [Job("core.heartbeat", noop, 60)])
    with pytest.raises(ValueError, match="no setting"):
        add_jobs(app, [Job("core.nothing", noop, "NO_SUCH_SECONDS")])
    assert {job.name for job in scheduled_jobs(app)} == EXPECTED_JOBS


def test_the_jobs_command_lists_every_job_with_its_interval(app, runner):
    result = runner.invoke(args=["scheduler", "jobs"])
    assert result.exit_code == 0
    assert f"hotline.overdue-sweep\tevery {app.config['TICKET_OVERDUE_SWEEP_SECONDS']}s" in result.output
    assert len(result.output.splitlines()) == len(EXPECTED_JOBS)
