"""`/metrics`: request metrics per endpoint and domain gauges, optionally behind a token."""

from datetime import UTC, datetime

from tests_support import build_app_with

from core.db import db
from core.models import JobRun


def test_metrics_expose_request_counts_and_the_scheduler_heartbeat(client):
    db.session.add(
        JobRun(
            job="core.heartbeat",
            scheduled_for=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
            finished_at=datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC),
            status="ok",
            node="host:42",
        )
    )
    db.session.commit()
    client.get("/healthz")
    body = client.get("/metrics").get_data(as_text=True)
    assert "haocha_http_request_duration_seconds_count{" in body
    assert 'endpoint="core_pages.healthz"' in body
    assert 'haocha_scheduler_last_heartbeat_timestamp_seconds{node="host:42"}' in body


def test_metrics_token(tmp_path):
    app = build_app_with(f"sqlite:///{tmp_path}/m.db", create_schema=True, METRICS_TOKEN="s3cret")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
