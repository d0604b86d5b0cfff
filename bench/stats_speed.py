"""Self-check: a statistics request against /healthz, in process, at a million ratings. Not a test.

Run from the project root::

    .venv/bin/python bench/stats_speed.py [--ratings 1000000] [--requests 300] [--database-url URL]

It makes a temporary SQLite database (or uses --database-url), creates the schema, times
`flask demo load --ratings N` (which also rebuilds the rollups; `--ratings 0` with
`--database-url` measures a database loaded before, e.g. the 10,000,000 of the scale check,
without loading more), then times requests through the
Flask test client: `GET /healthz` and, as a manager with a bearer token, the 90-day
`GET /api/v1/stats/satisfaction` with each `group_by`. Acceptance asks the department view for
at least half the request rate of /healthz (ratio <= 2.0). `make bench` measures the same under
gunicorn with wrk.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "ratings"))

VIEWS = ("department", "", "region", "channel", "service", "rater_type", "day", "week", "month", "quarter")


def _per_request(client: Any, url: str, headers: dict[str, str], count: int) -> float:
    """Median milliseconds per request over `count` requests (after one warm-up)."""
    assert client.get(url, headers=headers).status_code == 200, url
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


TAIL = 1000


def _folded(fold: Any, client: Any, url: str, headers: dict[str, str], count: int) -> float:
    from core.db import db

    fold.fold()
    db.session.commit()
    return _per_request(client, url, headers, count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000, help="0: use --database-url's data as it is")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="haocha-stats-"))
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(workdir))
    url = args.database_url or f"sqlite:///{workdir / 'stats.db'}"

    import factories as f
    import ratings_factories as rf
    from sqlalchemy import func, select
    from tests_support import build_app_with

    from core.calendar import local_date
    from core.db import db, utcnow
    from core.models import Department, User
    from ratings.models import Rating
    from reports.stats.models import ChannelDayRollup, DepartmentDayRollup, RatingDayRollup

    app = build_app_with(url, create_schema=bool(args.ratings))  # --ratings 0 keeps what is there
    logging.getLogger("haocha").setLevel(logging.WARNING)  # no request log lines in the timings
    if args.ratings:
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["demo", "load", "--ratings", str(args.ratings)])
        print(result.output.strip().splitlines()[-1] if result.exit_code == 0 else result.output)
        print(
            f"demo load --ratings {args.ratings} (with rollup rebuild): {time.perf_counter() - started:.1f} s ({url})"
        )
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Rating))
        fine = db.session.scalar(select(func.count()).select_from(RatingDayRollup))
        coarse = db.session.scalar(select(func.count()).select_from(DepartmentDayRollup))
        channel = db.session.scalar(select(func.count()).select_from(ChannelDayRollup))
        print(f"{count} ratings; rollup rows: {fine} fine, {coarse} day x department, {channel} day x channel\n")
        manager = db.session.scalar(select(User).where(User.username == "demo_manager"))
        headers = f.bearer(manager)
        today = local_date(utcnow())
        start = today - timedelta(days=89)
    client = app.test_client()
    health = _per_request(client, "/healthz", {}, args.requests)
    print(f"{'GET /healthz':52} {health:7.2f} ms")
    ratios = {}
    for group_by in VIEWS:
        query = f"from={start}&to={today}" + (f"&group_by={group_by}" if group_by else "")
        ms = _per_request(client, f"/api/v1/stats/satisfaction?{query}", headers, args.requests)
        ratios[group_by] = ms / health
        print(f"{'90 days, group_by=' + (group_by or '(none)'):52} {ms:7.2f} ms  {ms / health:5.2f} x healthz")
    with app.test_request_context():
        from reports.stats import service

        filters = service.Filters(start, today)
        for group_by in ("department", "region", "channel", "rater_type", "service", "day"):
            times = []
            for _ in range(5):
                service.clear_caches()
                began = time.perf_counter()
                service.satisfaction(filters, group_by)
                times.append((time.perf_counter() - began) * 1000)
            print(f"{'uncached rollup query, group_by=' + group_by:52} {statistics.median(times):7.2f} ms")
        # Ratings not folded yet (no scheduler here): the tail every request reads live.
        from reports.stats import fold

        dept = db.session.scalar(select(Department).where(Department.id.in_(select(Rating.department_id))))
        for level in range(TAIL):
            rf.rate(rf.event(dept), 1 + level % 5)
        url = f"/api/v1/stats/satisfaction?from={start}&to={today}&group_by=department"
        with_tail = _per_request(client, url, headers, args.requests)
        print(f"{f'90 days, group_by=department, {TAIL} ratings not folded':52} {with_tail:7.2f} ms")
        print(f"{'  ... after the fold job':52} {_folded(fold, client, url, headers, args.requests):7.2f} ms")
    verdict = "OK" if ratios["department"] <= 2.0 else "TOO SLOW"
    print(f"\ngroup_by=department costs {ratios['department']:.2f} x /healthz (target <= 2.0): {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
