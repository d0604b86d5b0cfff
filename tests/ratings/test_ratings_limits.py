"""Per-IP limits on the public rating endpoints: in process (memory storage), and across two
gunicorn workers sharing Redis, where the request past the limit gets 429 whichever worker
answers."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from tests_support import build_app_with

from core.db import db
from core.extensions import limiter
from ratings import tokens

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture(params=[0, 1], ids=["direct", "behind-one-proxy"])
def limited_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app with rate limiting on (memory storage), reached directly or through one reverse
    proxy; the shared limiter is switched back afterwards."""
    was_enabled = limiter.enabled
    app = build_app_with(
        f"sqlite:///{tmp_path / 'limits.db'}",
        create_schema=True,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATING_RATE_LIMIT="4 per day",  # a fixed window: a minute could roll over mid-test
        STANDING_QR_RATE_LIMIT="2 per hour",
        PROXY_COUNT=request.param,
    )
    try:
        yield app
    finally:
        limiter.enabled = was_enabled
        with app.app_context():
            db.engine.dispose()


def _tokens(app: Flask, count: int) -> list[str]:
    with app.app_context():
        issued = [tokens.create_service_event({}).token for _ in range(count)]
        db.session.commit()
        db.session.remove()
    return issued


def _client(app: Flask, address: str = "198.51.100.7") -> Any:
    """A client at `address`: its own socket address, or what the one trusted proxy reports."""
    client = app.test_client()
    if app.config["PROXY_COUNT"]:
        # A forged first hop is ignored: only the address the trusted proxy appended counts.
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.9.9.9, {address}"
    else:
        client.environ_base["REMOTE_ADDR"] = address
    return client


def test_submissions_are_limited_per_ip_across_the_api_and_the_form(limited_app):
    client = _client(limited_app)
    tokens = _tokens(limited_app, 5)
    answers = [client.post("/api/v1/ratings", json={"token": t, "level": 5}).status_code for t in tokens[:3]]
    answers.append(client.post(f"/rate/{tokens[3]}", data={"level": "5"}).status_code)
    assert answers == [201, 201, 201, 303]
    refused = client.post("/api/v1/ratings", json={"token": tokens[4], "level": 5})
    assert refused.status_code == 429 and refused.json["code"] == 429 and "Retry-After" in refused.headers
    page = client.post(f"/rate/{tokens[4]}", data={"level": "5"})
    assert page.status_code == 429 and "请求过于频繁" in page.get_data(as_text=True)
    other = _client(limited_app, "203.0.113.9").post("/api/v1/ratings", json={"token": tokens[4], "level": 5})
    assert other.status_code == 201


def test_standing_qr_codes_are_limited_harder(limited_app):
    with limited_app.app_context():
        standing = tokens.create_standing_code({"label": "1号窗口"}).token
        db.session.commit()
        db.session.remove()
    client = _client(limited_app)
    codes = [client.post("/api/v1/ratings", json={"token": standing, "level": 5}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    (token,) = _tokens(limited_app, 1)
    assert client.post("/api/v1/ratings", json={"token": token, "level": 5}).status_code == 201


# --- two gunicorn workers, one Redis ------------------------------------------------------

WRAPPER = '''
import os
from core.app import create_app

app = create_app({"RATELIMIT_KEY_PREFIX": os.environ["TEST_LIMIT_PREFIX"]})


def application(environ, start_response):
    """The app, telling which worker answered."""
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)
    return app(environ, start)
'''


def _redis_or_skip() -> None:
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=1).ping()
    except Exception as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc.__class__.__name__}); start it to run")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    """One request on a new connection, so either worker may accept it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", "Connection": "close"}
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Worker-Pid", "")
    finally:
        conn.close()


def _wait_until_serving(port: int, process: subprocess.Popen, deadline: float) -> None:
    """Until both workers have answered a health check (or the deadline passes)."""
    seen: set[str] = set()
    while time.monotonic() < deadline and len(seen) < 2:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}")
        try:
            status, pid = _request(port, "GET", "/healthz")
            if status == 200:
                seen.add(pid)
        except OSError:
            time.sleep(0.2)
    if not seen:
        raise AssertionError("gunicorn did not start in time")


BODY = json.dumps({"token": "no-such-token-0000000000000000", "level": 5}).encode()


def _start_held_request(port: int) -> socket.socket:
    """A rating request whose body is still on its way: the sync worker that took it is busy
    until `_finish` sends the rest, so the next connection must go to the other worker."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        "POST /api/v1/ratings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + BODY[:5])
    return sock


def _finish(sock: socket.socket) -> tuple[int, str]:
    with sock:
        sock.sendall(BODY[5:])
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), headers.get("X-Worker-Pid", "")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_public_limit_holds_across_two_gunicorn_workers(tmp_path):
    _redis_or_skip()
    limit = 6
    url = f"sqlite:///{tmp_path / 'gunicorn.db'}"
    schema_app = build_app_with(url, create_schema=True)
    with schema_app.app_context():
        db.engine.dispose()
    (tmp_path / "limit_wsgi.py").write_text(WRAPPER)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "RATING_RATE_LIMIT": f"{limit} per minute",
        "HAOCHA_INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "gunicorn-test-secret",
        "TEST_LIMIT_PREFIX": f"test-{uuid.uuid4().hex}",
        "LOG_LEVEL": "WARNING",
    }
    port = _free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--pythonpath", str(tmp_path)]
    process = subprocess.Popen(
        [*gunicorn, "--graceful-timeout", "2", "limit_wsgi:application"],
        cwd=PROJECT_ROOT,  # so gunicorn.conf.py warms the sentiment analyzer up in the master
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(port, process, time.monotonic() + 40)
        held = _start_held_request(port)
        time.sleep(0.5)  # one worker has accepted it and waits for the body
        other = _request(port, "POST", "/api/v1/ratings", json.loads(BODY))
        answers = [_finish(held), other]
        answers += [_request(port, "POST", "/api/v1/ratings", json.loads(BODY)) for _ in range(limit - 1)]
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert answers[0][1] != answers[1][1], answers  # both workers counted towards the limit
    assert [status for status, _pid in answers] == [404] * limit + [429], answers
