"""Benchmark: paging through 100,000 tickets with filters on SQLite. Not a test.

Run from the project root::

    .venv/bin/python bench/tickets_list.py [--tickets 100000] [--pages 5] [--database-url URL]

It makes a temporary SQLite database (or uses --database-url), creates the schema, times
`flask demo load --tickets N`, then, for several filter combinations, follows the keyset cursor
of `GET /api/v1/tickets` for a few pages and prints milliseconds per page: the whole request
(auth, query, JSON) as an API client sees it, and the service call alone (query and ORM loading). Each combination is
warmed up with one request first. The target is under 100 ms per page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import func, select  # noqa: E402

COMBOS: list[tuple[str, str, dict[str, Any]]] = [
    ("agent", "newest first, no filter", {}),
    ("agent", "open (3 statuses)", {"status": ["dispatched", "taken", "in_progress"]}),
    ("agent", "overdue", {"overdue": "true"}),
    ("agent", "department 460100-SCJG", {"department": "460100-SCJG"}),
    ("agent", "region 460200 + complaint", {"region": "460200", "type": "complaint"}),
    ("agent", "涉企 + 30-day range", {"enterprise": "true", "created_from": "FROM30", "created_to": "TODAY"}),
    (
        "agent",
        "region+status+type+涉企",
        {"region": "460100", "status": "archived", "type": "complaint", "enterprise": "true"},
    ),
    ("agent", "text 噪音", {"q": "噪音"}),
    ("agent", "text 停水 in region 460100", {"q": "停水", "region": "460100"}),
    ("agent", "caller phone", {"q": "PHONE"}),
    ("agent", "open, soonest due first", {"status": ["dispatched", "taken", "in_progress"], "sort": "due"}),
    ("agent", "7-day range, soonest due", {"created_from": "FROM7", "created_to": "TODAY", "sort": "due"}),
    ("handler", "handler's department (lead or assist)", {}),
    ("handler", "handler, open only", {"status": ["dispatched", "taken", "in_progress"]}),
]


def _resolve(params: dict[str, Any], today: Any, phone: str) -> dict[str, Any]:
    from datetime import timedelta

    values = {
        "TODAY": today.isoformat(),
        "FROM30": (today - timedelta(days=30)).isoformat(),
        "FROM7": (today - timedelta(days=7)).isoformat(),
        "PHONE": phone,
    }
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in params.items()}


def _page_times(client: Any, headers: dict[str, str], params: dict[str, Any], pages: int) -> tuple[list[float], int]:
    times, cursor, rows = [], None, 0
    for _ in range(pages):
        query = dict(params, limit=50, **({"cursor": cursor} if cursor else {}))
        started = time.perf_counter()
        response = client.get("/api/v1/tickets", query_string=query, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.json
        rows += len(response.json["items"])
        cursor = response.json["next_cursor"]
        if not cursor:
            break
    return times, rows


def _query_times(viewer_id: int, params: dict[str, Any], pages: int) -> list[float]:
    from core.db import db
    from core.models import User
    from hotline import queries
    from hotline.schemas import TicketQuery

    lists = ("status", "type")
    parsed = TicketQuery().load({k: [v] if k in lists and isinstance(v, str) else v for k, v in params.items()})
    times, cursor = [], None
    for _ in range(pages):
        db.session.expunge_all()
        viewer = db.session.get(User, viewer_id)
        started = time.perf_counter()
        page = queries.list_tickets(viewer, queries.TicketFilters(**parsed), 50, cursor)
        times.append((time.perf_counter() - started) * 1000)
        cursor = page.next_cursor
        if not cursor:
            break
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="haocha-bench-"))
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(workdir))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"

    import factories as f
    from tests_support import build_app_with

    from core.db import db
    from core.models import Role, User
    from hotline.models import Ticket

    app = build_app_with(url, create_schema=True)
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["demo", "load", "--tickets", str(args.tickets)])
    load_seconds = time.perf_counter() - started
    print(result.output.strip().splitlines()[-1] if result.exit_code == 0 else result.output)
    print(f"demo load --tickets {args.tickets}: {load_seconds:.1f} s  ({url})\n")

    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Ticket))
        agent = db.session.scalar(select(User).where(User.username == "demo_agent"))
        handler = db.session.scalar(select(User).where(User.username == "demo_handler"))
        phone = db.session.scalar(select(Ticket.caller_phone).where(Ticket.caller_phone != "").limit(1))
        today = db.session.scalar(select(func.max(Ticket.created_at))).date()
        headers = {"agent": f.bearer(agent), "handler": f.bearer(handler)}
        viewers = {"agent": agent.id, "handler": handler.id}
        print(f"{total} tickets; {args.pages} pages of 50 per combination (ms per page)\n")
        print(f"{'combination':42} {'rows':>5} {'API median':>10} {'API max':>8} {'svc median':>10} {'svc max':>8}")
        client = app.test_client()
        worst = 0.0
        for who, label, raw in COMBOS:
            params = _resolve(raw, today, phone or "")
            _page_times(client, headers[who], params, 1)  # warm up: the first request compiles the SQL
            api, rows = _page_times(client, headers[who], params, args.pages)
            sql = _query_times(viewers[who], params, args.pages)
            worst = max(worst, statistics.median(api))
            print(
                f"{label:42} {rows:5d} {statistics.median(api):10.1f} {max(api):8.1f} "
                f"{statistics.median(sql):10.1f} {max(sql):8.1f}"
            )
        print(f"\nslowest median page through the API: {worst:.1f} ms (target < 100 ms)")
    _ = Role
    return 0


if __name__ == "__main__":
    sys.exit(main())
