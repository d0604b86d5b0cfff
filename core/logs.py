"""Structured logs: one JSON line per request (request id, method, path, status, duration),
with phone and ID numbers scrubbed from every record, whatever logger wrote it."""

import json
import logging
import re
import secrets
import sys
import time
from typing import Any

from flask import Flask, Response, g, request

from core.privacy import scrub_text

REQUEST_ID_HEADER = "X-Request-ID"
# Rating tokens and similar secrets travel in paths (/rate/<token>); keep them out of logs.
# (A run of 20+ URL-safe characters with a digit in it; plain words like
# `servicerequestupdates` stay readable.)
_SECRET_SEGMENT = re.compile(r"(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}")


class ScrubFilter(logging.Filter):
    """Render the message, then scrub personal numbers from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub_text(record.getMessage())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    _stamped: tuple[int, str] = (-1, "")  # (second, its text): one tuple, swapped whole

    def _ts(self, record: logging.LogRecord) -> str:
        """The record's time to the second, formatted once per second (strftime per line shows)."""
        second = int(record.created)
        stamped = self._stamped
        if stamped[0] != second:
            stamped = self._stamped = (second, time.strftime("%Y-%m-%dT%H:%M:%S%z", self.converter(second)))
        return stamped[1]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._ts(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            # The request id is ours (hex), not personal data: scrubbing would mangle its digit runs.
            entry.update(
                {k: scrub_text(v) if isinstance(v, str) and k != "request_id" else v for k, v in extra.items()}
            )
        if record.exc_info:
            entry["exc"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


QUIET_LIBRARIES = ("apscheduler",)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ScrubFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # The JSON lines carry no caller, thread or process fields: skip gathering them for every
    # record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # APScheduler logs every job run at INFO; its warnings still show, LOG_LEVEL=DEBUG shows all.
    if logging.getLevelName(level) != logging.DEBUG:
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)


request_log = logging.getLogger("haocha.request")


def _start() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else secrets.token_hex(16)
    g.started = time.perf_counter()


def request_seconds() -> float:
    """How long this request has taken so far (from its first before_request hook)."""
    return time.perf_counter() - g.get("started", time.perf_counter())


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
    duration_ms = request_seconds() * 1000
    request_log.info(
        "request",
        extra={
            "fields": {
                "request_id": g.get("request_id", "-"),
                "method": request.method,
                "path": _SECRET_SEGMENT.sub("…", request.path),
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
            }
        },
    )
    return response


def init_request_logging(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start)
    app.after_request(_finish)
