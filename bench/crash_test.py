"""Crash safety: the product under gunicorn (2 workers) takes rating POSTs from several threads,
its master and workers are killed with SIGKILL mid-run, it is restarted, and every token is sent
again until it has an answer. Then every rating answered 201 must be stored exactly once, none
twice, every 409 must name a stored rating, and SQLite's `PRAGMA integrity_check` must say ok.

    .venv/bin/python bench/crash_test.py                    # N=5000 on a temp SQLite database
    .venv/bin/python bench/crash_test.py --db postgresql -n 500

Also a module: tests/ops/test_crash.py calls `run_crash_test(url, n, workdir)`.
"""

import argparse
import contextlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("CRASH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
THREADS = 8
KILL_AFTER = 0.4  # share of the tokens answered 201 before the kill


@dataclass
class CrashReport:
    n: int
    answered_before_kill: dict[str, int] = field(default_factory=dict)
    answered_after_restart: dict[str, int] = field(default_factory=dict)
    killed_pids: list[int] = field(default_factory=list)
    stored: int = 0
    problems: list[str] = field(default_factory=list)
    integrity: str = "n/a"

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"N={self.n}: before kill {dict(sorted(self.answered_before_kill.items()))}, killed pids {self.killed_pids}, "
            f"after restart {dict(sorted(self.answered_after_restart.items()))}; {self.stored} ratings stored; "
            f"integrity_check {self.integrity}; {'OK' if self.ok else 'FAILED: ' + '; '.join(self.problems[:10])}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(url: str, n: int) -> dict[str, int]:
    """A fresh schema and N service events; returns token → event id."""
    from sqlalchemy import text

    from core.app import create_app
    from core.db import Base, db
    from core.refdata import load_regions
    from ratings.tokens import create_service_event

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "RATELIMIT_ENABLED": False})
    tokens: dict[str, int] = {}
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        load_regions()
        for start in range(0, n, 500):
            for _ in range(min(500, n - start)):
                issued = create_service_event({})
                tokens[issued.token] = issued.event.id
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return tokens


def _start(url: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HAOCHA_INSTANCE_PATH": str(workdir),
        "RATELIMIT_ENABLED": "0",  # every request comes from 127.0.0.1
        "SECRET_KEY": "crash-test-secret",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    with (workdir / "gunicorn.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {workdir / 'gunicorn.log'}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process, port
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start in time")


def _children(pid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def _kill_all(process: subprocess.Popen) -> list[int]:
    """SIGKILL the master and each of its workers, with no chance to finish anything."""
    pids = [process.pid, *_children(process.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)
    for pid in pids[1:]:  # workers are reparented; wait until they are gone
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            stat = Path(f"/proc/{pid}/stat")
            try:
                if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.05)
    return pids


def _post(port: int, token: str) -> int | None:
    """One rating on a new connection; None when the answer never came."""
    body = json.dumps({"token": token, "level": 1 + hash(token) % 5, "comment": "办事效率高"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/v1/ratings", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def _send(
    port: int, tokens: list[str], answers: dict[str, int | None], stop_at: int | None = None
) -> list[threading.Thread]:
    """Send each token from THREADS threads; with `stop_at`, return (threads still running) once
    that many were answered 201, so the caller can kill the server mid-run."""
    work: queue.Queue[str] = queue.Queue()
    for token in tokens:
        work.put(token)
    lock = threading.Lock()
    created = [0]
    kill = threading.Event()

    def worker() -> None:
        while True:
            try:
                token = work.get_nowait()
            except queue.Empty:
                return
            status = _post(port, token)
            with lock:
                answers[token] = status
                if status == 201:
                    created[0] += 1
                    if stop_at is not None and created[0] >= stop_at:
                        kill.set()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    if stop_at is not None:
        kill.wait(timeout=600)
        return threads
    for thread in threads:
        thread.join()
    return threads


def _tally(statuses: list[int | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status or "no answer")] = counts.get(str(status or "no answer"), 0) + 1
    return counts


def _check(
    url: str, tokens: dict[str, int], first: dict[str, int | None], second: dict[str, int | None], report: CrashReport
) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, COUNT(*) FROM ratings GROUP BY event_id")).all()
        used = conn.execute(text("SELECT COUNT(*) FROM rating_tokens WHERE used_at IS NOT NULL")).scalar_one()
        if engine.dialect.name == "sqlite":
            report.integrity = str(conn.execute(text("PRAGMA integrity_check")).scalar_one())
            if report.integrity != "ok":
                report.problems.append(f"integrity_check: {report.integrity}")
    engine.dispose()
    per_event = {int(event_id): int(count) for event_id, count in rows}
    report.stored = sum(per_event.values())
    twice = [e for e, c in per_event.items() if c > 1]
    if twice:
        report.problems.append(f"{len(twice)} events rated more than once: {twice[:5]}")
    for token, event_id in tokens.items():
        answer = second.get(token, first.get(token))
        if first.get(token) == 201 and per_event.get(event_id) != 1:
            report.problems.append(
                f"event {event_id} answered 201 before the kill but has {per_event.get(event_id, 0)}"
            )
        elif answer == 201 and per_event.get(event_id) != 1:
            report.problems.append(f"event {event_id} answered 201 but has {per_event.get(event_id, 0)} ratings")
        elif answer == 409 and per_event.get(event_id) != 1:
            report.problems.append(f"event {event_id} answered 409 (already rated) but has no rating")
        elif answer not in (201, 409):
            report.problems.append(f"event {event_id}: unexpected answer {answer}")
    if used != report.stored:
        report.problems.append(f"{used} tokens used but {report.stored} ratings stored")


def run_crash_test(url: str, n: int, workdir: Path, log: bool = False) -> CrashReport:
    """The whole crash test on a database URL whose schema it may drop and create."""
    tokens = _prepare(url, n)
    report = CrashReport(n)
    order = list(tokens)
    first: dict[str, int | None] = {}
    process, port = _start(url, workdir)
    try:
        senders = _send(port, order, first, stop_at=max(1, int(n * KILL_AFTER)))
        report.killed_pids = _kill_all(process)
    finally:
        if process.poll() is None:
            process.kill()
    for sender in senders:  # they see the dead server and drain the queue
        sender.join(timeout=120)
    report.answered_before_kill = _tally([first.get(t) for t in order])
    if log:
        print(f"killed {report.killed_pids} after {report.answered_before_kill}", flush=True)
    retry = [t for t in order if first.get(t) != 201]
    second: dict[str, int | None] = {}
    process, port = _start(url, workdir)
    try:
        _send(port, retry, second)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    report.answered_after_restart = _tally(list(second.values()))
    _check(url, tokens, first, second, report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="service events and rating POSTs (default 5000)")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="haocha-crash-") as tmp:
        workdir = Path(tmp)
        if opts.db == "sqlite":
            report = run_crash_test(f"sqlite:///{workdir / 'crash.db'}", opts.n, workdir, log=True)
        else:
            from sqlalchemy import create_engine, text

            name = f"haocha_crash_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                report = run_crash_test(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", opts.n, workdir, log=True)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    print(f"{opts.db}: {report.summary()}")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
