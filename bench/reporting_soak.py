"""Soak of real-time reporting (issue #7, acceptance 1), full size.

Run from the project root with the project's virtualenv::

    .venv/bin/python bench/reporting_soak.py                       # 10,000 ratings, 60 s outage, SQLite
    .venv/bin/python bench/reporting_soak.py --ratings 2000 --outage 5
    .venv/bin/python bench/reporting_soak.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/soak

A receiver on 127.0.0.1 (tests/reports/reporting_support.py) verifies the HMAC signature of every
request, dedupes by idempotency key, answers 500 to every third request, and goes down (connection
refused) for `--outage` seconds once half the reports are in. Real ratings are recorded through
ratings.service (so the outbox fills by the signal, about one in four events also gets a 追评)
while a real `flask scheduler run` process delivers. It prints the counts and exits 0 only when
every rating was accepted exactly once, each service event's reports in order, and nothing is dead.

The PostgreSQL database named by --database-url is wiped (its schema is dropped and recreated).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests", ROOT / "tests" / "reports"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from reporting_support import Receiver, record_ratings  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from tests_support import build_app_with  # noqa: E402

from core.db import db  # noqa: E402
from reports.provincial.models import OutboxRow  # noqa: E402

SECRET = "soak-secret"


def _scheduler(url: str, instance: Path, receiver: Receiver, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HAOCHA_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "soak",
        "REPORTING_URL": receiver.url,
        "REPORTING_SECRET": SECRET,
        "REPORTING_INTERVAL_SECONDS": "1",
        "REPORTING_TIMEOUT_SECONDS": "5",
        "REPORTING_BACKOFF_BASE_SECONDS": "0.5",
        "REPORTING_BACKOFF_CAP_SECONDS": "10",
        "REPORTING_MAX_ATTEMPTS": "1000",
        "REPORTING_BATCH_SIZE": "50",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receiver is down, mid-run")
    parser.add_argument("--fail-every", type=int, default=3, help="the receiver answers 500 to every n-th request")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="haocha-soak-"))
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(work / "instance"))
    url = args.database_url or f"sqlite:///{work / 'soak.db'}"
    app = build_app_with(url, create_schema=True)
    instance = work / "scheduler-instance"
    instance.mkdir()
    log = work / "scheduler.log"

    receiver = Receiver(SECRET, fail_every=args.fail_every).start()
    outage: list[threading.Thread] = []

    def take_down_halfway(_key: str) -> None:
        if len(receiver.accepted) >= args.ratings // 2 and not outage:
            outage.append(receiver.down_for(args.outage))
            print(f"receiver down for {args.outage:.0f}s after {len(receiver.accepted)} reports", flush=True)

    receiver.on_accept = take_down_halfway
    started = time.monotonic()
    scheduler = _scheduler(url, instance, receiver, log)
    try:
        with app.app_context():
            made = record_ratings(args.ratings)
            produced_in = time.monotonic() - started
            print(f"{made} ratings recorded in {produced_in:.1f}s", flush=True)
            while time.monotonic() - started < args.timeout:
                pending = db.session.scalar(select(func.count()).where(OutboxRow.status != "sent"))
                db.session.remove()
                if pending == 0 and len(receiver.accepted) >= made and (not outage or not outage[0].is_alive()):
                    break
                if scheduler.poll() is not None:
                    print(log.read_text()[-3000:], file=sys.stderr)
                    return 2
                time.sleep(1)
            counts = dict(db.session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
            max_attempts = db.session.scalar(select(func.max(OutboxRow.attempts)))
            db.session.remove()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            scheduler.kill()
        receiver.stop()
    elapsed = time.monotonic() - started
    result = {
        "ratings": made,
        "outbox": {str(k): v for k, v in counts.items()},
        "accepted": len(receiver.accepted),
        "duplicates_deduped": len(receiver.duplicates),
        "rejected_signatures": receiver.rejected,
        "requests": receiver.requests,
        "failed_on_purpose": receiver.failed_on_purpose,
        "outage_seconds": args.outage if outage else 0,
        "subjects_out_of_order": len(receiver.out_of_order()),
        "most_tries_of_one_report": max_attempts,
        "elapsed_seconds": round(elapsed, 1),
    }
    print(json.dumps(result, indent=2))
    ok = (
        len(receiver.accepted) == made
        and counts == {"sent": made}
        and receiver.rejected == 0
        and not receiver.out_of_order()
        and bool(outage)
    )
    print("OK: every rating reported exactly once, in order" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
