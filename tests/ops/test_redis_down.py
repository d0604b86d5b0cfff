"""With REDIS_URL pointing at a closed port, the service keeps working: limits fall back to
memory with a logged warning, and /healthz says Redis is down (degraded, still 200)."""

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import factories as f
import pytest
from flask import Flask
from tests_support import app_with_limits

from core.db import db
from core.models import Role
from ratings.tokens import create_service_event


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def redis_down_app(tmp_path: Path) -> Iterator[Flask]:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    with app_with_limits(
        f"sqlite:///{tmp_path / 'redis-down.db'}",
        REDIS_URL=url,
        RATELIMIT_STORAGE_URI=url,
        RATING_RATE_LIMIT="3 per minute",
    ) as app:
        yield app


def test_everything_works_and_limits_hold_when_redis_is_down(redis_down_app, caplog):
    app = redis_down_app
    with app.app_context():
        tokens = [create_service_event({}).token for _ in range(4)]
        staff = f.user(Role.MANAGER)
        db.session.commit()
        username = staff.username
        db.session.remove()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.50"
    with caplog.at_level(logging.WARNING):
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json == {**health.json, "status": "degraded", "database": "ok", "redis": "down"}
        staff_client = app.test_client()
        signed_in = staff_client.post("/login", data={"username": username, "password": f.PASSWORD})
        assert signed_in.status_code == 302 and staff_client.get("/api/v1/me").status_code == 200
        answers = [client.post("/api/v1/ratings", json={"token": t, "level": 5}).status_code for t in tokens]
        assert answers == [201, 201, 201, 429]  # the limit still applies, counted in memory
        assert client.get("/open311/v2/services.json").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("fall" in w.lower() and "memory" in w.lower() for w in warnings), warnings


def test_healthz_reports_redis_ok_when_it_is_up(app, client, monkeypatch):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.3).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:6379/0")
    body = client.get("/healthz").json
    assert body["status"] == "ok" and body["redis"] == "ok"
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    assert "redis" not in client.get("/healthz").json
