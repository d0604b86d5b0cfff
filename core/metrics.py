"""`/metrics` in Prometheus format: request rate and latency per endpoint plus domain gauges that
the packages register (ratings stored, overdue callbacks, outbox backlog, the scheduler's leader and
last tick), read from the database at scrape time.

The request metrics are prometheus_client's own Histogram and Counter, observed in one
`after_request` hook that keeps each label set's child (`haocha_http_request_duration_seconds` by
method, endpoint and status; `haocha_http_request_total` and `haocha_http_request_exceptions_total`
by method and status). Every request pays for them, so they cost a dictionary lookup, not a
label resolution.

Under gunicorn set PROMETHEUS_MULTIPROC_DIR so every worker's request metrics are summed; a scrape
then reads the workers' files and, as always, the domain gauges.
If METRICS_TOKEN is set, scrapes must send `Authorization: Bearer <METRICS_TOKEN>`. In production
without METRICS_TOKEN the app still starts, and every scrape is refused (403) until it is set.
"""

import hmac
import os
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, got_request_exception, has_app_context, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.db import db
from core.errors import error_payload
from core.logs import request_seconds
from core.models import JobRun

# name -> (help text, function returning a value or {label value: value}, label name)
GaugeFn = Callable[[], float | dict[str, float]]
_gauges: dict[str, tuple[str, GaugeFn, str]] = {}


def register_gauge(name: str, help_text: str, fn: GaugeFn, label: str = "kind") -> None:
    """Expose a figure computed at scrape time as `haocha_<name>`."""
    _gauges[name] = (help_text, fn, label)


def _scheduler_last_tick() -> dict[str, float]:
    row = db.session.execute(
        select(JobRun.node, func.max(JobRun.finished_at)).where(JobRun.job == "core.heartbeat").group_by(JobRun.node)
    ).all()
    return {node: finished.timestamp() for node, finished in row if finished is not None}


register_gauge(
    "scheduler_last_heartbeat_timestamp_seconds",
    "Time of the last scheduler heartbeat, by the node that led then.",
    _scheduler_last_tick,
    "node",
)


class DomainCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        if not has_app_context():  # only a scrape, inside a request, reads the database
            return
        for name, (help_text, fn, label) in _gauges.items():
            try:
                value = fn()
            except Exception:  # a broken gauge must not break the scrape
                current_app.logger.exception("metric %s failed", name)
                db.session.rollback()
                continue
            family = GaugeMetricFamily(f"haocha_{name}", help_text, labels=[label] if isinstance(value, dict) else None)
            if isinstance(value, dict):
                for key, number in value.items():
                    family.add_metric([key], number)
            else:
                family.add_metric([], value)
            yield family


def _require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = current_app.config.get("METRICS_TOKEN", "")
        if not token and current_app.config.get("HAOCHA_ENV") == "production":
            # Production without a scrape token: the app runs, but its figures are not public.
            return error_payload(403, "Metrics are off until METRICS_TOKEN is set."), 403
        if token:
            sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent, token):
                return error_payload(401, "Metrics need the scrape token."), 401
        return view(*args, **kwargs)

    return wrapper


# Requests that are not counted: the scrape itself and static files.
UNTRACKED_PREFIXES = ("/metrics", "/static/", "/api/docs/assets/")
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class RequestMetrics:
    """Request latency and counts, by method, endpoint and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "haocha_http_request_duration_seconds",
            "HTTP request duration in seconds",
            ("method", "endpoint", "status"),
            registry=registry,
        )
        self.total = Counter(
            "haocha_http_request_total", "Total number of HTTP requests", ("method", "status"), registry=registry
        )
        self.exceptions = Counter(
            "haocha_http_request_exceptions_total",
            "HTTP requests that ended in an unhandled exception",
            ("method", "status"),
            registry=registry,
        )
        # (method, endpoint, status) -> its histogram and counter children
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        key = (method, endpoint, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.duration.labels(*key), self.total.labels(method, status))
        children[0].observe(seconds)
        children[1].inc()

    def after_request(self, response: Response) -> Response:
        if not request.path.startswith(UNTRACKED_PREFIXES):
            self.observe(request.method, str(request.endpoint), response.status_code, request_seconds())
            if g.get(_UNHANDLED):
                self.exceptions.labels(request.method, response.status_code).inc()
        return response

    @staticmethod
    def on_exception(_sender: Flask, **_extra: Any) -> None:
        """An unhandled exception (core.errors' last handler): counted with the answer it got."""
        g.setdefault(_UNHANDLED, True)


_UNHANDLED = "metrics_unhandled_exception"


def _scrape_registry(app_registry: CollectorRegistry) -> CollectorRegistry:
    """What a scrape reads: this process's registry, or under gunicorn (PROMETHEUS_MULTIPROC_DIR)
    every worker's files plus the domain gauges."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return app_registry
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(DomainCollector())
    return registry


def init_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    registry.register(DomainCollector())
    metrics = RequestMetrics(registry)
    app.after_request(metrics.after_request)
    got_request_exception.connect(metrics.on_exception, app, weak=False)
    app.extensions["metrics"] = metrics

    @_require_token
    def scrape() -> Any:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return encode(_scrape_registry(registry)), 200, {"Content-Type": content_type}

    app.add_url_rule("/metrics", "prometheus_metrics", scrape)
