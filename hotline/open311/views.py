"""GeoReport v2 under /open311/v2/: discovery, services, service definitions, requests (GET and
POST), a request, tokens, and FixMyStreet's servicerequestupdates — each as .xml and .json.
A plain Flask blueprint (Open311 is not part of the OpenAPI document). Parse, call the service,
render (the request commits once, core.unit_of_work); every refusal is written in the spec's errors format.
"""

import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from core.db import db
from core.errors import DomainError
from core.extensions import client_ip, limiter
from hotline.open311 import attributes as definitions
from hotline.open311 import keys, present, service
from hotline.open311.render import FORMATS, render, render_errors
from hotline.open311.service import Open311Error

log = logging.getLogger("haocha.open311")

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(xml, json):fmt>"
FIRST_CHANGESET = "2026-01-01T00:00:00+08:00"

# Resources that exist, and the methods they answer (for 405 rather than 404 on a wrong method).
RESOURCES: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"^(discovery|services|tokens/[^/]+|services/[^/]+|requests/[^/]+)\.(xml|json)$"), ("GET",)),
    (re.compile(r"^(requests|servicerequestupdates)\.(xml|json)$"), ("GET", "POST")),
]


def rate_key() -> str:
    """Requests are counted per API key when a valid one is sent, else per client address."""
    if "open311_key_id" not in g:
        key = keys.find_active(request.values.get("api_key", "").strip())
        g.open311_key_id = key.id if key is not None else None
    if g.open311_key_id is not None:
        return f"open311-key:{g.open311_key_id}"
    return f"open311-ip:{client_ip()}"


limit = limiter.shared_limit(lambda: str(current_app.config["OPEN311_RATE_LIMIT"]), scope="open311", key_func=rate_key)


def _jurisdiction() -> None:
    service.check_jurisdiction(request.values.get("jurisdiction_id"))


def _service_type() -> str:
    kind = str(current_app.config["OPEN311_SERVICE_TYPE"])
    return kind if kind in ("realtime", "batch") else "realtime"


# -- discovery and services --------------------------------------------------------------------


def _discovery(fmt: str) -> Response:
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    changed = definitions.last_change()
    body = present.discovery_body(
        url=f"{base}{bp.url_prefix}/",
        changeset=present.w3c(changed) or FIRST_CHANGESET,
        contact=current_app.config["OPEN311_CONTACT"],
        key_service=current_app.config["OPEN311_KEY_SERVICE"],
        production=current_app.config["HAOCHA_ENV"] == "production",
    )
    return render(fmt, "discovery", body)


@bp.get("/")
@limit
def root() -> Response:
    """The base URL answers with the discovery document (XML), as Service Discovery suggests."""
    return _discovery("xml")


@bp.get(f"/discovery.{FMT}")
@limit
def discovery(fmt: str) -> Response:
    return _discovery(fmt)


@bp.get(f"/services.{FMT}")
@limit
def services(fmt: str) -> Response:
    _jurisdiction()
    kind = _service_type()
    body = [present.service_body(item, has, kind) for item, has in service.public_services()]
    return render(fmt, "services", body)


@bp.get(f"/services/<code>.{FMT}")
@limit
def service_definition(code: str, fmt: str) -> Response:
    _jurisdiction()
    item, attributes = service.service_definition(code)
    return render(fmt, "service_definition", present.definition_body(item, attributes))


# -- requests ----------------------------------------------------------------------------------


def _request_rows(found: list[Any]) -> list[dict[str, Any]]:
    latest = service.latest_public_events([req.ticket_id for req in found])
    return [present.request_body(req, latest.get(req.ticket_id)) for req in found]


def _create(fmt: str) -> Response:
    key = service.authenticate(request.values.get("api_key"))
    _jurisdiction()
    req = service.create_request(request.values, key)
    body: dict[str, Any] = (
        {"token": req.token} if _service_type() == "batch" else {"service_request_id": req.ticket.number}
    )
    body["service_notice"] = present.service_notice(req.ticket)
    if req.account_id:
        body["account_id"] = req.account_id
    return render(fmt, "service_requests", [body])


@bp.route(f"/requests.{FMT}", methods=["GET", "POST"])
@limit
def requests(fmt: str) -> Response:
    if request.method == "POST":
        return _create(fmt)
    _jurisdiction()
    found = service.find_requests(service.request_filters(request.args))
    return render(fmt, "service_requests", _request_rows(found))


@bp.get(f"/requests/<request_id>.{FMT}")
@limit
def one_request(request_id: str, fmt: str) -> Response:
    _jurisdiction()
    return render(fmt, "service_requests", _request_rows([service.get_request(request_id)]))


@bp.get(f"/tokens/<token>.{FMT}")
@limit
def token(token: str, fmt: str) -> Response:
    _jurisdiction()
    req = service.resolve_token(token)
    return render(fmt, "service_requests", [{"service_request_id": req.ticket.number, "token": req.token}])


# -- servicerequestupdates (FixMyStreet) -------------------------------------------------------


@bp.route(f"/servicerequestupdates.{FMT}", methods=["GET", "POST"])
@limit
def updates(fmt: str) -> Response:
    if request.method == "POST":
        key = service.authenticate(request.values.get("api_key"))
        _jurisdiction()
        update = service.post_update(request.values, key)
        return render(fmt, "service_request_updates", [{"update_id": f"C{update.id}"}])
    _jurisdiction()
    found = service.hotline_updates(service.update_window(request.args))
    return render(fmt, "service_request_updates", [present.update_body(event, req) for event, req in found])


# -- everything else under /open311/v2/ and errors ---------------------------------------------


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@limit
def elsewhere(rest: str) -> Response:
    for pattern, methods in RESOURCES:
        if pattern.match(rest):
            message = f"{request.method} is not allowed here; use {' or '.join(methods)}."
            return render_errors(_format(), 405, [message], {"Allow": ", ".join(methods)})
    raise Open311Error(404, f"No resource {rest}: see discovery.xml for this endpoint's resources.")


def _format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in FORMATS:
        return str(fmt)
    return "json" if request.path.endswith(".json") else "xml"


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - a broken connection must not hide the first error
        log.exception("rollback failed")


@bp.errorhandler(Open311Error)
def _refused(error: Open311Error) -> Response:
    _rollback()
    return render_errors(_format(), error.status, error.descriptions)


@bp.errorhandler(DomainError)
def _domain(error: DomainError) -> Response:
    _rollback()
    status = error.status if error.status in (403, 404) else 400
    details = [f"{name}: {'; '.join(map(str, problems))}" for name, problems in error.errors.items()]
    return render_errors(_format(), status, [error.message, *details])


@bp.errorhandler(HTTPException)
def _http(error: HTTPException) -> Response:
    _rollback()
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"} if status in (405, 429) else {}
    return render_errors(_format(), status, [str(error.description or error.name)], headers)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    _rollback()
    log.exception("open311 error request_id=%s", getattr(g, "request_id", "-"))
    if isinstance(error, OperationalError):
        return render_errors(_format(), 503, ["The database is unavailable; please try again shortly."])
    return render_errors(_format(), 500, ["Something went wrong on our side; the error has been logged."])
