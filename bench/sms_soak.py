"""Soak of citizen messages through the HTTP SMS-gateway sender (issue #18, acceptance 2), full size.

Run from the project root with the project's virtualenv::

    .venv/bin/python bench/sms_soak.py                            # 200 events, 10 s outage, SQLite
    .venv/bin/python bench/sms_soak.py --events 50 --outage 3
    .venv/bin/python bench/sms_soak.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/soak

A stand-in gateway on 127.0.0.1 (tests/sms_gateway_support.py) verifies the HMAC signature of every
request and dedupes by idempotency key. Half the tickets close (each sending its caller the
satisfaction link through the outbox), the gateway goes down (connection refused) for `--outage`
seconds, the other half close while it is down, and the delivery job (core.messages.deliver_due)
runs until every message is through. It prints the counts and exits 0 only when the gateway
accepted exactly one correctly signed message per event, to the right number, and no message was
sent twice or given up on.

The PostgreSQL database named by --database-url is wiped (its schema is dropped and recreated).
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sms_gateway_support import SmsGateway, soak  # noqa: E402
from tests_support import build_app_with  # noqa: E402

from core import messages  # noqa: E402
from core.db import db  # noqa: E402

SECRET = "soak-sms-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the gateway is down, mid-run")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="haocha-sms-soak-"))
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(work / "instance"))
    url = args.database_url or f"sqlite:///{work / 'soak.db'}"
    gateway = SmsGateway(SECRET).start()
    app = build_app_with(
        url,
        create_schema=True,
        SMS_SENDER="http",
        SMS_GATEWAY_URL=gateway.url,
        SMS_GATEWAY_SECRET=SECRET,
        SMS_GATEWAY_TIMEOUT_SECONDS=5.0,
        CITIZEN_MESSAGE_RETRY_SECONDS=0.25,
        CITIZEN_MESSAGE_MAX_ATTEMPTS=1000,
    )
    messages.set_sender(None)
    try:
        with app.app_context():
            result = soak(gateway, args.events, args.outage, args.timeout)
            db.session.remove()
            db.engine.dispose()
    finally:
        gateway.stop()
    print(json.dumps(result, indent=2))
    ok = (
        result["accepted"] == args.events
        and result["right_number"] == args.events
        and result["outbox"] == {"sent": args.events}
        and result["duplicates"] == 0
        and result["rejected_signatures"] == 0
    )
    print("OK: exactly one signed message per event" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
