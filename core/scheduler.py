"""The scheduler: APScheduler gives the clock, the database holds the truth.

Each package declares its periodic jobs in one list, `JOBS` in its jobs module (core.jobs,
hotline.jobs, ...), and its init_app hands that list to `add_jobs`; a job is named
`<package>.<job-name>` and runs every `interval` seconds, read from the setting it names.
`flask scheduler run` is the single scheduler process: any number may run, one is the leader
(a PostgreSQL session-level advisory lock held on a dedicated connection, or a file lock on
SQLite); the others wait and take over when the leader dies. Each tick is recorded in
`job_runs`, unique per job and scheduled time, so a tick runs once even if two leaders overlap.
"""

import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import click
from apscheduler.schedulers.background import BackgroundScheduler
from filelock import FileLock, Timeout
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from core.db import db, utcnow
from core.models import JobRun

log = logging.getLogger("haocha.scheduler")

ADVISORY_LOCK_KEY = 0x4841_4F43  # "HAOC"
LEADER_POLL_SECONDS = 5.0
JOB_RUNS_PRUNE_SECONDS = 3600
JOB_RUNS_PRUNE_BATCH = 5000


# `<package>.<job-name>`: a domain package, then the job's name in lower case with hyphens.
JOB_NAME_PATTERN = re.compile(r"[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*")
JOBS_KEY = "haocha.jobs"


@dataclass(frozen=True)
class Job:
    """A periodic job: it runs inside an app context and commits its own units of work.

    `interval` is the setting holding the seconds between ticks, or the seconds themselves for
    a job whose interval is not configurable."""

    name: str
    func: Callable[[], str | None]
    interval: str | int

    def seconds(self, config: Mapping[str, Any]) -> int:
        """The seconds between ticks under this configuration."""
        return int(config[self.interval]) if isinstance(self.interval, str) else self.interval


def add_jobs(app: Flask, jobs: Iterable[Job]) -> None:
    """Schedule a package's jobs (its `JOBS` list) in this app."""
    registered: list[Job] = app.extensions.setdefault(JOBS_KEY, [])
    for job in jobs:
        if not JOB_NAME_PATTERN.fullmatch(job.name):
            raise ValueError(f"job name {job.name!r} is not <package>.<job-name>")
        if any(existing.name == job.name for existing in registered):
            raise ValueError(f"job {job.name!r} is scheduled twice")
        if isinstance(job.interval, str) and job.interval not in app.config:
            raise ValueError(f"job {job.name!r}: no setting {job.interval!r}")
        registered.append(job)


def scheduled_jobs(app: Flask | None = None) -> list[Job]:
    """The jobs scheduled in this app (the current one by default)."""
    app = app or current_app
    return list(app.extensions.get(JOBS_KEY, []))


def tick_time(seconds: int, now: datetime | None = None) -> datetime:
    """The scheduled time of the current tick: now rounded down to the job's interval."""
    now = now or utcnow()
    stamp = int(now.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(stamp, UTC)


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_tick(job: Job, scheduled_for: datetime) -> bool:
    """Claim the tick in job_runs and run it; False when another process already ran it."""
    run = JobRun(job=job.name, scheduled_for=scheduled_for, node=node_name())
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("tick %s@%s already claimed", job.name, scheduled_for.isoformat())
        return False
    try:
        detail = job.func()
        run.status, run.detail = "ok", detail or ""
    except Exception as exc:  # a failing job must not stop the scheduler
        db.session.rollback()
        log.exception("job %s failed", job.name)
        run = db.session.merge(run)
        run.status, run.detail = "failed", repr(exc)[:1000]
    run.finished_at = utcnow()
    db.session.commit()
    return True


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


class PostgresLeaderLock:
    """A session-level advisory lock on a dedicated connection: it dies with the process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.conn: Any = None

    def try_acquire(self) -> bool:
        with self.app.app_context():
            self.conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar())
        if not got:
            self.conn.close()
            self.conn = None
        return got

    def still_held(self) -> bool:
        try:
            self.conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            finally:
                self.conn.close()
                self.conn = None


class FileLeaderLock:
    """An exclusive file lock for SQLite deployments (one machine)."""

    def __init__(self, path: str) -> None:
        self.lock = FileLock(path)

    def try_acquire(self) -> bool:
        try:
            self.lock.acquire(timeout=0)
            return True
        except Timeout:
            return False

    def still_held(self) -> bool:
        return bool(self.lock.is_locked)

    def release(self) -> None:
        self.lock.release(force=True)


def leader_lock(app: Flask) -> LeaderLock:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            return PostgresLeaderLock(app)
    return FileLeaderLock(app.config["SCHEDULER_LOCK_FILE"])


def _job_runner(app: Flask, job: Job) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            run_tick(job, tick_time(job.seconds(app.config)))

    return run


def lead(app: Flask, lock: LeaderLock, stop: threading.Event) -> None:
    """Run every job on its interval while this process holds the lock."""
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs = scheduled_jobs(app)
    for job in jobs:
        scheduler.add_job(
            _job_runner(app, job),
            "interval",
            seconds=job.seconds(app.config),
            id=job.name,
            name=job.name,  # APScheduler's own log lines then say which job
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    log.info("leader: running %d jobs", len(jobs))
    try:
        while not stop.wait(LEADER_POLL_SECONDS):
            if not lock.still_held():
                log.error("leader lock lost; stepping down")
                break
    finally:
        scheduler.shutdown(wait=True)


def run_forever(app: Flask, stop: threading.Event) -> None:
    lock = leader_lock(app)
    while not stop.is_set():
        if lock.try_acquire():
            try:
                lead(app, lock, stop)
            finally:
                lock.release()
        else:
            stop.wait(LEADER_POLL_SECONDS)


def heartbeat() -> str:
    """A tick that proves a leader is alive (and which one): the last tick is a health figure."""
    return node_name()


def _prune_older(job: str | None, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` ticks scheduled before `cutoff` (of one job, or of jobs no longer registered)."""
    stmt = select(JobRun.id).where(JobRun.scheduled_for < cutoff)
    if job is None:
        stmt = stmt.where(JobRun.job.not_in([j.name for j in scheduled_jobs()]))
    else:
        stmt = stmt.where(JobRun.job == job)
    ids = list(db.session.scalars(stmt.order_by(JobRun.id).limit(batch)))
    if ids:
        db.session.execute(delete(JobRun).where(JobRun.id.in_(ids)))
    db.session.commit()
    return len(ids)


def prune_job_runs(keep_days: float, now: datetime | None = None, batch: int = JOB_RUNS_PRUNE_BATCH) -> int:
    """Delete ticks older than `keep_days`, in batches, committing each. A tick is kept for at least
    two of its job's intervals, so the row that stops a second run of the current tick is never
    deleted (a new leader runs every job's current tick at once unless job_runs already has it)."""
    now = now or utcnow()
    deleted = 0
    config = current_app.config
    targets: list[tuple[str | None, datetime]] = [
        (job.name, now - max(timedelta(days=keep_days), timedelta(seconds=2 * job.seconds(config))))
        for job in scheduled_jobs()
    ]
    targets.append((None, now - timedelta(days=keep_days)))
    for job_name, cutoff in targets:
        while (count := _prune_older(job_name, cutoff, batch)) > 0:
            deleted += count
            if count < batch:
                break
    return deleted


def prune_runs() -> str:
    """The retention job: job_runs keeps SCHEDULER_RUNS_RETENTION_DAYS of ticks, not every tick forever."""
    return f"pruned {prune_job_runs(float(current_app.config['SCHEDULER_RUNS_RETENTION_DAYS']))}"


scheduler_cli = AppGroup("scheduler", help="The scheduler process.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="Run every job's current tick once and exit.")
def scheduler_run(once: bool) -> None:
    """Run the scheduler (one leader at a time; start as many as you like)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        for job in scheduled_jobs(app):
            ran = run_tick(job, tick_time(job.seconds(app.config)))
            click.echo(f"{job.name}: {'ran' if ran else 'already ran'}")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"scheduler {node_name()}: {len(scheduled_jobs(app))} jobs; waiting for leadership")
    run_forever(app, stop)


@scheduler_cli.command("jobs")
def scheduler_jobs() -> None:
    """List the registered jobs."""
    for job in scheduled_jobs():
        click.echo(f"{job.name}\tevery {job.seconds(current_app.config)}s")
