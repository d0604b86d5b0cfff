"""Retention and lag: acknowledged outbox rows are pruned in batches into the acknowledgement log,
job_runs keeps a few days of ticks, both stay bounded over a simulated month (acceptance 3); the
delivery lag is a figure in /healthz, /metrics and the page, and a logged warning past a threshold."""

import logging
import re
from datetime import UTC, datetime, timedelta

import factories as f
import pytest
from sqlalchemy import func, insert, select, update

from core import scheduler
from core.db import db, utcnow
from core.models import JobRun, Role
from reports.provincial import delivery, jobs, service
from reports.provincial.models import AckDay, OutboxRow, OutboxStatus

MONTH_START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _sent_row(subject_id: int, sent_at: datetime, kind: str = "rating") -> OutboxRow:
    row = service.enqueue(kind, "event", subject_id, {"projectNo": f"P{subject_id}"})
    service.mark_sent(row.id, now=sent_at)
    return row


def _count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_outbox_stays_bounded_over_a_simulated_month(database, app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORTING_RETENTION_DAYS", 7)
    monkeypatch.setattr(jobs, "PRUNE_BATCH_SIZE", 7)  # several batches a day
    per_day, days = 20, 30
    owed = service.enqueue("rating", "event", 9999, {"projectNo": "P9999"})  # never acknowledged
    dead = service.enqueue("rating", "event", 9998, {"projectNo": "P9998"})
    db.session.execute(update(OutboxRow).where(OutboxRow.id == dead.id).values(status=OutboxStatus.DEAD))
    sizes = []
    for day in range(days):
        moment = MONTH_START + timedelta(days=day)
        for n in range(per_day):
            _sent_row(n, moment + timedelta(minutes=n), kind="rating" if n % 4 else "callback")
        assert jobs.prune_reports(now=moment + timedelta(hours=1)).startswith("pruned ")
        sizes.append(_count(OutboxRow))
    # Never more than the retention window's rows (plus today's, the owed and the dead).
    assert max(sizes) <= (7 + 1) * per_day + 2
    assert sizes[-1] == sizes[10], "steady state: as many pruned as written each day"
    remaining = set(db.session.scalars(select(OutboxRow.id)))
    assert {owed.id, dead.id} <= remaining, "owed reports and dead letters are never pruned"
    pruned = (days - 7) * per_day
    assert _count(OutboxRow) == days * per_day + 2 - pruned
    log = service.acknowledgement_log(100)
    assert sum(entry.acknowledged for entry in log) == pruned
    assert {entry.kind for entry in log} == {"rating", "callback"}
    assert _count(AckDay) == 2 * (days - 7), "two lines a day: compact"
    first_day = min(log, key=lambda entry: (entry.local_day, entry.kind))
    assert first_day.local_day.isoformat() == "2026-11-01"
    assert first_day.first_id <= first_day.last_id


def test_the_newest_row_is_never_pruned_so_its_id_is_never_reused(database):
    old = utcnow() - timedelta(days=90)
    rows = [_sent_row(n, old) for n in range(3)]
    assert service.prune_sent(utcnow(), 100) == 2
    assert list(db.session.scalars(select(OutboxRow.id))) == [rows[-1].id]
    assert service.enqueue("rating", "event", 7, {}).id > rows[-1].id


def test_retention_zero_keeps_everything(database, app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORTING_RETENTION_DAYS", 0)
    for n in range(3):
        _sent_row(n, utcnow() - timedelta(days=400))
    assert jobs.prune_reports() == "kept: REPORTING_RETENTION_DAYS is 0"
    assert _count(OutboxRow) == 3


def _ticks(job: str, seconds: int, start: datetime, end: datetime) -> list[dict]:
    ticks, moment = [], start
    while moment < end:
        ticks.append({"job": job, "scheduled_for": moment, "started_at": moment, "status": "ok", "node": "n"})
        moment += timedelta(seconds=seconds)
    return ticks


def test_job_runs_stay_bounded_over_a_simulated_month_and_the_current_tick_stays(app, database, monkeypatch):
    noop = lambda: None  # noqa: E731
    frequent = scheduler.Job("reports.provincial-delivery", noop, 600)  # 144 ticks a day
    monthly = scheduler.Job("reports.monthly", noop, 31 * 86400)
    monkeypatch.setitem(app.extensions, scheduler.JOBS_KEY, [frequent, monthly])
    db.session.execute(
        insert(JobRun),
        [{**t, "job": "retired.job"} for t in _ticks("x", 86400, MONTH_START, MONTH_START + timedelta(days=5))],
    )
    db.session.execute(
        insert(JobRun), _ticks(monthly.name, monthly.seconds({}), MONTH_START, MONTH_START + timedelta(days=1))
    )
    sizes = []
    for day in range(30):
        start = MONTH_START + timedelta(days=day)
        db.session.execute(
            insert(JobRun), _ticks(frequent.name, frequent.seconds({}), start, start + timedelta(days=1))
        )
        scheduler.prune_job_runs(keep_days=3, now=start + timedelta(days=1), batch=500)
        sizes.append(_count(JobRun))
    assert max(sizes) <= 3 * 144 + 1 + 5
    assert sizes[-1] == 3 * 144 + 1, "three days of the frequent job's ticks and the monthly tick"
    kept = db.session.scalars(select(JobRun.scheduled_for).where(JobRun.job == monthly.name)).all()
    assert len(kept) == 1, "a tick whose period is not over is kept: it stops a second run"
    assert not db.session.scalar(select(func.count()).where(JobRun.job == "retired.job"))


def test_the_retention_jobs_are_registered(app):
    names = {job.name: job.seconds(app.config) for job in scheduler.scheduled_jobs(app)}
    assert names[jobs.RETENTION_JOB_NAME] == jobs.RETENTION_INTERVAL_SECONDS
    assert names["core.job-runs-retention"] == scheduler.JOB_RUNS_PRUNE_SECONDS


def test_lag_is_the_age_of_the_oldest_owed_report(database):
    assert service.lag_seconds() == 0.0
    first = service.enqueue("rating", "event", 1, {})
    service.enqueue("rating", "event", 2, {})
    assert service.lag_seconds(first.created_at + timedelta(seconds=90)) == 90.0
    db.session.execute(update(OutboxRow).where(OutboxRow.id == first.id).values(status=OutboxStatus.DEAD))
    second_age = service.lag_seconds(first.created_at + timedelta(seconds=90))
    assert second_age <= 90.0, "dead letters have their own count, not the lag"


def test_metrics_expose_the_lag(client):
    row = service.enqueue("rating", "event", 1, {})
    db.session.execute(
        update(OutboxRow).where(OutboxRow.id == row.id).values(created_at=utcnow() - timedelta(seconds=600))
    )
    db.session.commit()
    body = client.get("/metrics").get_data(as_text=True)
    [line] = [ln for ln in body.splitlines() if ln.startswith("haocha_outbox_lag_seconds ")]
    assert 600 <= float(line.split()[1]) < 700
    assert client.get("/healthz").json["reporting_lag_seconds"] >= 600


def test_the_delivery_job_warns_past_the_lag_threshold(database, app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "REPORTING_URL", "http://127.0.0.1:9/report")  # nothing listens
    monkeypatch.setitem(app.config, "REPORTING_SECRET", "s")
    monkeypatch.setitem(app.config, "REPORTING_LAG_WARNING_SECONDS", 300.0)
    monkeypatch.setattr(delivery, "TICK_BUDGET_SECONDS", 0.3)
    row = service.enqueue("rating", "event", 1, {})
    with caplog.at_level(logging.WARNING, logger="haocha.reporting"):
        fresh = re.search(r"lag (\d+)s$", jobs.deliver_reports())
        assert fresh is not None and int(fresh.group(1)) < 300  # a second or two on a busy machine
        assert not [r for r in caplog.records if "behind" in r.getMessage()]
        db.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id)
            .values(created_at=utcnow() - timedelta(seconds=400), next_attempt_at=utcnow())
        )
        summary = jobs.deliver_reports()
    assert "failed 1" in summary
    [warning] = [r for r in caplog.records if "behind" in r.getMessage()]
    assert "over 300 s" in warning.getMessage() and "backlog 1" in warning.getMessage()


@pytest.mark.parametrize("lag, flagged", [(30, False), (900, True)])
def test_the_page_shows_the_lag_and_flags_it_past_the_threshold(client, app, monkeypatch, lag, flagged):
    monkeypatch.setitem(app.config, "REPORTING_LAG_WARNING_SECONDS", 300.0)
    row = service.enqueue("rating", "event", 1, {"projectNo": "P1"})
    db.session.execute(
        update(OutboxRow).where(OutboxRow.id == row.id).values(created_at=utcnow() - timedelta(seconds=lag))
    )
    pruned = _sent_row(2, utcnow() - timedelta(days=40))
    _sent_row(3, utcnow() - timedelta(days=40))  # the newest row: kept
    assert service.prune_sent(utcnow() - timedelta(days=30), 10) == 1
    db.session.commit()
    f.login(client, f.user(Role.MANAGER))
    html = client.get("/reporting?lang=en").get_data(as_text=True)
    assert "Delivery lag" in html
    assert ("over the warning threshold" in html) is flagged
    assert "Acknowledgement log" in html and f"{pruned.id}–{pruned.id}" in html


def test_skipped_ticks_of_the_lingering_delivery_run_are_not_warned_about(app):
    def record(job: str) -> logging.LogRecord:
        message = f'Execution of job "{job} (trigger: interval[0:00:05])" skipped: maximum number of running instances reached (1)'
        return logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1, message, None, None)

    logger = logging.getLogger("apscheduler.scheduler")
    assert not logger.filter(record(jobs.JOB_NAME))
    assert logger.filter(record("callbacks.remind-due")), "other jobs' overruns are still warned about"
