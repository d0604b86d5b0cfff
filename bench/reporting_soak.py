"""Soak of real-time reporting (issue #20, acceptance 1), full size; exits 1 when a threshold fails.

Run from the project root with the project's virtualenv::

    .venv/bin/python bench/reporting_soak.py                       # 10,000 ratings at 50/s, SQLite
    .venv/bin/python bench/reporting_soak.py --ratings 2000 --outage 5
    .venv/bin/python bench/reporting_soak.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/soak

A receiver on 127.0.0.1 (tests/reports/reporting_support.py) verifies the HMAC signature of every
request, dedupes by idempotency key, answers 500 to every third request, answers 15 % of requests
0.2-2 s late, and goes down (connection refused, kept connections dropped) for `--outage` seconds
halfway through the writing. Real ratings are recorded through ratings.recording at `--rate` a second
(so the outbox fills by the signal; about one in four events also gets a 追评) while a real
`flask scheduler run` process delivers with the production settings (override with --concurrency
or --interval).

It prints delivered per second and the lag of each report (acknowledged − written): p50/p99/max
overall, for the reports written after the receiver came back, and how long the backlog of the
outage took to drain. It exits 0 only when every rating was accepted exactly once, each service
event's reports in order, nothing is dead, and the p99 lag of reports written after the receiver
came back is under --max-p99-lag.

The PostgreSQL database named by --database-url is wiped (its schema is dropped and recreated).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests", ROOT / "tests" / "reports"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from reporting_support import Receiver, record_ratings  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from tests_support import build_app_with  # noqa: E402

from core.db import db  # noqa: E402
from core.models import JobRun  # noqa: E402
from reports.provincial.models import OutboxRow  # noqa: E402

SECRET = "soak-secret"


def _scheduler(url: str, instance: Path, receiver: Receiver, log: Path, args: argparse.Namespace) -> Any:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HAOCHA_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "soak",
        "REPORTING_URL": receiver.url,
        "REPORTING_SECRET": SECRET,
        # A receiver failing every third request can fail one report many times in a row; with the
        # production cap (an hour) its last retry could fall after the soak ends. Capped here so
        # every report's retries fall within the run; lag is measured all the same.
        "REPORTING_BACKOFF_CAP_SECONDS": str(args.backoff_cap),
    }
    if args.concurrency:
        env["REPORTING_CONCURRENCY"] = str(args.concurrency)
    if args.interval:
        env["REPORTING_INTERVAL_SECONDS"] = str(args.interval)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(int(share * len(ordered)), len(ordered) - 1)], 2)


def _peak_rate(times: list[float], window: float = 5.0) -> float:
    """The most reports acknowledged in any `window` seconds, per second."""
    ordered, best, start = sorted(times), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return round(best / window, 1)


def _figures(receiver: Receiver, written: dict[int, datetime], down_at: float, back_at: float) -> dict[str, Any]:
    created = {str(i): at.timestamp() for i, at in written.items()}
    lag = {k: receiver.accepted_at[k] - created[k] for k in receiver.accepted_at if k in created}
    after = [v for k, v in lag.items() if created[k] >= back_at]
    outage_backlog = [k for k in lag if created[k] < back_at and receiver.accepted_at[k] >= down_at]
    acks = list(receiver.accepted_at.values())
    first, last_write = min(created.values(), default=0.0), max(created.values(), default=0.0)
    during = [t for t in acks if t <= last_write]
    return {
        # Acknowledged while ratings were being written, per second of writing: keeping up means ~ --rate.
        "delivered_per_second": round(len(during) / (last_write - first), 1) if last_write > first else 0.0,
        "peak_delivered_per_second_5s": _peak_rate(acks),
        "lag_p50_seconds": _percentile(list(lag.values()), 0.50),
        "lag_p99_seconds": _percentile(list(lag.values()), 0.99),
        "lag_max_seconds": _percentile(list(lag.values()), 1.0),
        "after_back_reports": len(after),
        "after_back_lag_p50_seconds": _percentile(after, 0.50),
        "after_back_lag_p99_seconds": _percentile(after, 0.99),
        "after_back_lag_max_seconds": _percentile(after, 1.0),
        "outage_backlog_reports": len(outage_backlog),
        "outage_backlog_drained_seconds_after_back": round(
            max((receiver.accepted_at[k] for k in outage_backlog), default=back_at) - back_at, 1
        ),
        "mean_lag_seconds": round(statistics.fmean(lag.values()), 2) if lag else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="ratings written per second")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the receiver is down, mid-run")
    parser.add_argument("--fail-every", type=int, default=3, help="the receiver answers 500 to every n-th request")
    parser.add_argument("--slow-share", type=float, default=0.15, help="share of answers sent late")
    parser.add_argument("--slow-min", type=float, default=0.2)
    parser.add_argument("--slow-max", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=0, help="REPORTING_CONCURRENCY (default: the app's)")
    parser.add_argument("--interval", type=int, default=0, help="REPORTING_INTERVAL_SECONDS (default: the app's)")
    parser.add_argument("--max-p99-lag", type=float, default=30.0, help="fail above this p99 lag after the outage")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--backoff-cap", type=float, default=30.0, help="REPORTING_BACKOFF_CAP_SECONDS for the run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="haocha-soak-"))
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(work / "instance"))
    url = args.database_url or f"sqlite:///{work / 'soak.db'}"
    app = build_app_with(url, create_schema=True)
    instance = work / "scheduler-instance"
    instance.mkdir()
    log = work / "scheduler.log"

    receiver = Receiver(
        SECRET, fail_every=args.fail_every, slow_share=args.slow_share, slow_seconds=(args.slow_min, args.slow_max)
    ).start()
    outage: dict[str, float] = {}

    def take_down_halfway() -> None:
        time.sleep(args.ratings / args.rate / 2)
        outage["down_at"] = time.time()
        print(f"receiver down for {args.outage:.0f}s after {len(receiver.accepted)} reports", flush=True)
        receiver.stop()
        time.sleep(args.outage)
        receiver.start()
        outage["back_at"] = time.time()
        print("receiver back", flush=True)

    scheduler = _scheduler(url, instance, receiver, log, args)
    with app.app_context():
        # Lag is measured from a running scheduler, not from its start-up.
        deadline = time.monotonic() + 120
        while not db.session.scalar(select(func.count()).select_from(JobRun)) and time.monotonic() < deadline:
            db.session.remove()
            time.sleep(0.2)
        db.session.remove()
    started = time.monotonic()
    outage_thread = threading.Thread(target=take_down_halfway, daemon=True)
    outage_thread.start()
    try:
        with app.app_context():
            made = record_ratings(args.ratings, rate=args.rate)
            print(f"{made} ratings recorded in {time.monotonic() - started:.1f}s", flush=True)
            while time.monotonic() - started < args.timeout:
                pending = db.session.scalar(select(func.count()).where(OutboxRow.status != "sent"))
                db.session.remove()
                if pending == 0 and len(receiver.accepted) >= made and not outage_thread.is_alive():
                    break
                if scheduler.poll() is not None:
                    print(log.read_text()[-3000:], file=sys.stderr)
                    return 2
                time.sleep(0.5)
            counts = dict(db.session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
            max_attempts = db.session.scalar(select(func.max(OutboxRow.attempts)))
            written = dict(db.session.execute(select(OutboxRow.id, OutboxRow.created_at)).all())
            db.session.remove()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            scheduler.kill()
        receiver.stop()
    elapsed = time.monotonic() - started
    figures = _figures(receiver, written, outage.get("down_at", 0.0), outage.get("back_at", 0.0))
    timeline = {str(i): [at.timestamp(), receiver.accepted_at.get(str(i))] for i, at in written.items()}
    (work / "timeline.json").write_text(json.dumps({"outage": outage, "reports": timeline}))
    print(f"per-report timeline and the scheduler's log: {work}", flush=True)
    result = {
        "database": url.split(":", 1)[0],
        "ratings": made,
        "rate_per_second": args.rate,
        "outbox": {str(k): v for k, v in counts.items()},
        "accepted": len(receiver.accepted),
        "duplicates_deduped": len(receiver.duplicates),
        "rejected_signatures": receiver.rejected,
        "requests": receiver.requests,
        "failed_on_purpose": receiver.failed_on_purpose,
        "answered_late": receiver.slowed,
        "connections": receiver.connections,
        "outage_seconds": args.outage if "back_at" in outage else 0,
        "subjects_out_of_order": len(receiver.out_of_order()),
        "most_tries_of_one_report": max_attempts,
        **figures,
        "elapsed_seconds": round(elapsed, 1),
    }
    print(json.dumps(result, indent=2))
    checks = {
        "every rating accepted once": len(receiver.accepted) == made and counts == {"sent": made},
        "no bad signature": receiver.rejected == 0,
        "in order per service event": not receiver.out_of_order(),
        "the outage happened": "back_at" in outage,
        f"p99 lag after the outage < {args.max_p99_lag:g}s": figures["after_back_lag_p99_seconds"] < args.max_p99_lag,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
    ok = all(checks.values())
    print("OK: every rating reported exactly once, in order, in time" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
