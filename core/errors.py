"""Uniform errors: domain exceptions, JSON on the API, a friendly bilingual page elsewhere.

Services raise `DomainError` subclasses; they never touch HTTP. The handlers here turn any
error into the contract's JSON payload (`code`, `status`, `message`, `errors`) for API paths,
and into an HTML page in Chinese and English for pages. A 500 is logged with the request id
and never shows a stack trace.
"""

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, current_app, g, got_request_exception, render_template, request
from flask.globals import request_ctx
from markupsafe import escape
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, SecurityError

from core.db import db

log = logging.getLogger("haocha.errors")

JSON_PREFIXES = ("/api/", "/healthz", "/metrics")


class DomainError(Exception):
    """A rule was broken; `status` is the HTTP status the view layer answers with."""

    status = 400

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Gone(DomainError):
    status = 410


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


def wants_json() -> bool:
    """API callers get JSON; browsers get pages."""
    return request.path.startswith(JSON_PREFIXES)


def error_payload(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON error body of the API contract."""
    payload: dict[str, Any] = {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message,
    }
    if errors:
        payload["errors"] = errors
    return payload


# When the request names a host outside TRUSTED_HOSTS no URL can be built, so no template that
# links anywhere can be rendered: a bare page says the same in both languages.
BARE_PAGE = (
    '<!doctype html><html lang="zh-Hans"><meta charset="utf-8"><title>{code}</title>'
    '<h1>{code}</h1><p>请求未能完成。</p><p lang="en">The request could not be completed: {message}</p></html>'
)


def _asks_for_a_language() -> bool:
    """An API caller that named a language (?lang=, Accept-Language) reads messages in it; one
    that did not keeps the contract's English."""
    return bool(request.args.get("lang") or request.headers.get("Accept-Language"))


def _respond(code: int, message: str, errors: dict[str, Any] | None = None) -> Any:
    from core.localize import localize, localize_errors

    if wants_json():
        if _asks_for_a_language():
            message, errors = localize(message, code), localize_errors(errors) if errors else errors
        return error_payload(code, message, errors), code
    if request_ctx.url_adapter is None:
        return BARE_PAGE.format(code=code, message=escape(message)), code
    return render_template("error.html", code=code, message=localize(message, code)), code


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - a broken connection must not hide the first error
        log.exception("rollback failed")


def handle_domain_error(error: DomainError) -> Any:
    _rollback()
    return _respond(error.status, error.message, error.errors)


def handle_http_exception(error: HTTPException) -> Any:
    _rollback()
    code = error.code or 500
    errors: dict[str, Any] | None = None
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # webargs/flask-smorest validation errors: {"json": {"field": ["msg"]}}
        messages = data["messages"]
        errors = {}
        for location_errors in messages.values():
            if isinstance(location_errors, dict):
                errors.update(location_errors)
    message = error.description if isinstance(error.description, str) else ""
    if isinstance(error, SecurityError):
        message = "This host name is not trusted."  # not echoed back
    if code == 422 and errors:
        message = "Invalid input."
    response = _respond(code, message or HTTPStatus(code).phrase, errors)
    headers = error.get_headers() if code in (401, 405, 429) else []
    extra = {k: v for k, v in headers if k.lower() != "content-type"}
    if extra:
        return (*response, extra)
    return response


def handle_stale(error: StaleDataError) -> Any:
    _rollback()
    return _respond(409, "The record was changed by someone else; reload and try again.")


def handle_out_of_range(error: Exception) -> Any:
    """A number that passed validation but does not fit the column (SQLite's OverflowError,
    PostgreSQL's numeric_value_out_of_range): the client's input, so 422, not 500."""
    _rollback()
    return _respond(422, "A number is out of range.")


def handle_unexpected(error: Exception) -> Any:
    _rollback()
    log.exception("unhandled error request_id=%s", getattr(g, "request_id", "-"))
    # Flask sends this only for exceptions no handler takes; this handler takes them all, so it
    # tells the listeners (the request metrics, an error tracker) itself.
    got_request_exception.send(current_app._get_current_object(), exception=error)  # type: ignore[attr-defined]
    if isinstance(error, OperationalError):
        return _respond(503, "The database is unavailable; please try again shortly.")
    return _respond(500, "Something went wrong on our side; the error has been logged.")


def init_errors(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StaleDataError, handle_stale)
    app.register_error_handler(OverflowError, handle_out_of_range)
    app.register_error_handler(DataError, handle_out_of_range)
    app.register_error_handler(Exception, handle_unexpected)
