"""Peak memory of a year's XLSX (or CSV) export of raw ratings at a million rows. Not a test.

Run from the project root::

    .venv/bin/python bench/export_memory.py [--ratings 1000000] [--format xlsx] [--database-url URL]

It makes a temporary SQLite database (or uses --database-url), creates the schema, loads
`flask demo load --ratings N`, then starts a fresh Python process that builds the app and
downloads `GET /api/v1/stats/ratings/export?format=...` over 365 days as a manager through the
Flask test client, reading the streamed body chunk by chunk. That process reports its peak RSS
(getrusage); acceptance asks for under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

LIMIT_MB = 300


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def child(url: str, fmt: str) -> None:
    """Download the export in this process and print what it cost as JSON."""
    import factories as f
    from sqlalchemy import select
    from tests_support import build_app_with

    from core.calendar import local_date
    from core.db import db, utcnow
    from core.models import User

    app = build_app_with(url)
    logging.getLogger("haocha").setLevel(logging.WARNING)
    with app.app_context():
        manager = db.session.scalar(select(User).where(User.username == "demo_manager"))
        headers = f.bearer(manager)
        today = local_date(utcnow())
    before = _peak_mb()
    started = time.perf_counter()
    client = app.test_client()
    query = f"from={today - timedelta(days=364)}&to={today}&format={fmt}"
    response = client.get(f"/api/v1/stats/ratings/export?{query}", headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    size = 0
    for chunk in response.response:
        size += len(chunk)
    response.close()
    print(
        json.dumps(
            {"bytes": size, "seconds": time.perf_counter() - started, "rss_before_mb": before, "peak_mb": _peak_mb()}
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.format)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="haocha-export-"))
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(workdir))
    url = args.database_url or f"sqlite:///{workdir / 'export.db'}"
    from tests_support import build_app_with

    app = build_app_with(url, create_schema=True)
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["demo", "load", "--ratings", str(args.ratings)])
    if result.exit_code != 0:
        print(result.output)
        return 1
    print(f"demo load --ratings {args.ratings}: {time.perf_counter() - started:.1f} s ({url})")
    command = [sys.executable, __file__, "--child", url, "--format", args.format]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ, cwd=ROOT)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    verdict = "OK" if report["peak_mb"] < LIMIT_MB else "TOO MUCH"
    print(
        f"{args.format} export of 365 days: {report['bytes'] / 1e6:.1f} MB in {report['seconds']:.1f} s; "
        f"worker RSS {report['rss_before_mb']:.0f} MB before, peak {report['peak_mb']:.0f} MB "
        f"(limit {LIMIT_MB} MB): {verdict}"
    )
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
