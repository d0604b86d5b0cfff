"""`/metrics` in Prometheus format: request rate and latency per endpoint (prometheus-flask-exporter)
plus domain gauges that the packages register (ratings stored, overdue callbacks, outbox backlog,
the scheduler's leader and last tick), read from the database at scrape time.

Under gunicorn set PROMETHEUS_MULTIPROC_DIR so every worker's request metrics are summed.
If METRICS_TOKEN is set, scrapes must send `Authorization: Bearer <METRICS_TOKEN>`. In production
without METRICS_TOKEN the app still starts, and every scrape is refused (403) until it is set.
"""

import hmac
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from flask import Flask, current_app, has_app_context, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_flask_exporter import PrometheusMetrics
from sqlalchemy import func, select

from core.db import db
from core.errors import error_payload
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


def init_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    registry.register(DomainCollector())
    metrics = PrometheusMetrics(
        app,
        registry=registry,
        group_by="endpoint",
        defaults_prefix="haocha",
        excluded_paths=["^/metrics$", "^/static/", "^/api/docs/assets/"],
        metrics_decorator=_require_token,
    )
    app.extensions["prometheus"] = metrics
