"""`/metrics`: request metrics per endpoint and domain gauges, optionally behind a token."""

from datetime import UTC, datetime

from tests_support import build_app_with

from core.db import db
from core.models import JobRun


def _heartbeat(node: str) -> None:
    """A finished scheduler heartbeat led by `node`."""
    db.session.add(
        JobRun(
            job="core.heartbeat",
            scheduled_for=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
            finished_at=datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC),
            status="ok",
            node=node,
        )
    )
    db.session.commit()


def test_metrics_expose_request_counts_and_the_scheduler_heartbeat(client):
    _heartbeat("host:42")
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


def _sample(body: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a text exposition, None when absent."""
    wanted = {f'{key}="{value}"' for key, value in labels.items()}
    for line in body.splitlines():
        if line.startswith(name + "{"):
            inside = set(line[len(name) + 1 : line.index("}")].split(","))
            if wanted <= inside:
                return float(line.rsplit(" ", 1)[1])
    return None


def test_each_request_is_counted_once_by_method_endpoint_and_status(client):
    duration = "haocha_http_request_duration_seconds_count"
    healthz = {"method": "GET", "endpoint": "core_pages.healthz", "status": "200"}
    before = client.get("/metrics").get_data(as_text=True)  # the app is shared with other tests
    for _ in range(3):
        client.get("/healthz")
    client.get("/no-such-page")
    client.get("/static/no-such-file.css")
    body = client.get("/metrics").get_data(as_text=True)

    def added(name: str, **labels: str) -> float:
        return (_sample(body, name, **labels) or 0.0) - (_sample(before, name, **labels) or 0.0)

    assert added(duration, **healthz) == 3.0
    assert added(duration, method="GET", endpoint="None", status="404") == 1.0
    assert added("haocha_http_request_total", method="GET", status="200") == 3.0
    assert added("haocha_http_request_total", method="GET", status="404") == 1.0
    # Static files and the scrapes themselves are not counted.
    assert _sample(body, duration, endpoint="static") is None
    assert _sample(body, duration, endpoint="prometheus_metrics") is None
    assert _sample(body, "haocha_http_request_duration_seconds_bucket", le="+Inf", **healthz) == _sample(
        body, duration, **healthz
    )


def test_an_unhandled_exception_is_counted_as_such_and_as_a_500(tmp_path):
    app = build_app_with(f"sqlite:///{tmp_path}/m.db", create_schema=True)

    def broken() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/broken", "broken", broken)
    client = app.test_client()
    assert client.get("/api/v1/broken").status_code == 500
    body = client.get("/metrics").get_data(as_text=True)
    assert _sample(body, "haocha_http_request_exceptions_total", method="GET", status="500") == 1.0
    duration = "haocha_http_request_duration_seconds_count"
    assert _sample(body, duration, method="GET", endpoint="broken", status="500") == 1.0


def test_under_gunicorn_a_scrape_reads_the_workers_files_and_the_domain_gauges(client, tmp_path, monkeypatch):
    """With PROMETHEUS_MULTIPROC_DIR the scrape reads the workers' files; the domain gauges, read
    from the database, are served with them (prometheus-flask-exporter's scrape left them out)."""
    _heartbeat("host:7")
    # A worker's file, written as prometheus_client's multiprocess mode writes it.
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    worker = MmapedDict(str(tmp_path / "counter_4242.db"))
    key = mmap_key("haocha_http_request_total", "haocha_http_request_total", ["method", "status"], ["GET", "200"], "")
    worker.write_value(key, 41.0, 0.0)
    worker.close()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body = client.get("/metrics").get_data(as_text=True)
    assert _sample(body, "haocha_http_request_total", method="GET", status="200") == 41.0
    assert _sample(body, "haocha_scheduler_last_heartbeat_timestamp_seconds", node="host:7") is not None
