"""Helpers for the Open311 tests: the Open311 project's JSON schemas (copied into
tests/open311/schemas, with their known defects worked around here, each where it applies),
reading our XML by the Spark convention to compare it with the JSON, and small factories."""

import json
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import factories as f
import pytest
import rfc3339_validator  # noqa: F401 - without it jsonschema skips `date-time` silently
from flask import Flask, request, request_finished
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from tests_support import build_app_with, postgres_scratch_database
from werkzeug.serving import make_server

from core.db import db
from core.extensions import limiter
from core.models import Department, ServiceItem
from hotline.open311.attributes import load_definitions
from hotline.open311.keys import create_key

SCHEMAS = Path(__file__).resolve().parent / "schemas"
JURISDICTION = "hainan.12345.gov.cn"


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def _object(schema: dict[str, Any]) -> dict[str, Any]:
    # Schema defect: the object schemas lack `type: object`, so a bare string would validate as a
    # service or a request. GeoReport v2's JSON is the Spark mapping of XML elements: objects.
    return {"allOf": [{"type": "object"}, schema]}


def _registry() -> Registry:
    # Schema defect: requests.json and services.json `$ref` "request.json" / "service.json" with no
    # base URI; we register the files under exactly those names (with the object fix above).
    resources = [
        (name, Resource.from_contents(_object(_schema(name)), default_specification=DRAFT7))
        for name in ("request.json", "service.json")
    ]
    return Registry().with_resources(resources)


def _validator(schema: dict[str, Any]) -> Draft7Validator:
    # Schema defect: `format: date-time` is only checked when a format checker is given (it needs
    # rfc3339-validator, installed with jsonschema's format extras); the spec requires W3C
    # datetimes with a zone, which RFC 3339 date-time enforces.
    return Draft7Validator(schema, registry=_registry(), format_checker=Draft7Validator.FORMAT_CHECKER)


# Schema defect: requests.json and services.json put `minItems: 1` inside `items`, where it
# checks nothing; had it been on the array it would be wrong anyway: the spec answers a query
# that matches nothing with an empty list, so empty lists are valid here.
SERVICES = _validator(_schema("services.json"))
REQUESTS = _validator(_schema("requests.json"))
REQUEST = _validator(_object(_schema("request.json")))

_definition = _object(_schema("service-definition.json"))
# Schema defect: `order` accepts any integer; the spec says "any positive integer not used for
# other attributes in the same service_code" (uniqueness is checked in validate()).
_definition["allOf"].append(
    {"properties": {"attributes": {"items": {"properties": {"order": {"type": "integer", "minimum": 1}}}}}}
)
DEFINITION = _validator(_definition)

_swagger = _schema("swagger.json")["definitions"]
# The POST response and the token response have no schema file of their own; swagger.json's
# definitions describe them (its paths are not used: they declare POST parameters in the query,
# where the spec has a form-encoded body, and a singular /request/{id}).
POSTED = _validator({"type": "array", "items": _object(_swagger["RequestResponse"])})
TOKEN = _validator({"type": "array", "items": _object(_swagger["TokenResponse"])})

# No schema exists for these; written from the spec's text.
ERRORS = _validator(
    {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string", "minLength": 1}},
            "additionalProperties": False,
        },
    }
)
DISCOVERY = _validator(
    {
        "type": "object",
        "required": ["changeset", "contact", "key_service", "endpoints"],
        "properties": {
            "changeset": {"type": "string"},
            "contact": {"type": "string"},
            "key_service": {"type": "string"},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["specification", "url", "changeset", "type", "formats"],
                    "properties": {
                        "specification": {"type": "string"},
                        "url": {"type": "string"},
                        "changeset": {"type": "string"},
                        "type": {"enum": ["production", "test"]},
                        "formats": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    },
                },
            },
        },
    }
)
UPDATES = _validator(
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["update_id", "service_request_id", "status", "updated_datetime"],
            "properties": {
                "update_id": {"type": "string"},
                "service_request_id": {"type": "string"},
                "status": {"enum": ["open", "closed"]},
                "updated_datetime": {"type": "string", "format": "date-time"},
                "description": {"type": ["string", "null"]},
                "media_url": {"type": ["string", "null"]},
            },
        },
    }
)
POSTED_UPDATE = _validator(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": 1,
        "items": {"type": "object", "required": ["update_id"], "properties": {"update_id": {"type": "string"}}},
    }
)
REQUEST_FIELDS = set(_schema("request.json")["properties"])


def validate(validator: Draft7Validator, body: Any) -> None:
    """Raise with every problem the schema finds (not just the first)."""
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not problems, problems
    if validator is DEFINITION:
        orders = [a["order"] for a in body["attributes"]]
        assert len(orders) == len(set(orders)), "order values repeat"
    if validator is REQUESTS:
        for item in body:
            # Stricter than the schema: nothing outside the spec's fields (no leaked columns).
            assert set(item) <= REQUEST_FIELDS, set(item) - REQUEST_FIELDS


# Which schema each JSON answer must meet, by resource (path below /open311/v2/) and method.
_RESOURCES = [
    (re.compile(r"^discovery$"), "GET", DISCOVERY),
    (re.compile(r"^services$"), "GET", SERVICES),
    (re.compile(r"^services/[^/]+$"), "GET", DEFINITION),
    (re.compile(r"^requests$"), "GET", REQUESTS),
    (re.compile(r"^requests$"), "POST", POSTED),
    (re.compile(r"^requests/[^/]+$"), "GET", REQUESTS),
    (re.compile(r"^tokens/[^/]+$"), "GET", TOKEN),
    (re.compile(r"^servicerequestupdates$"), "GET", UPDATES),
    (re.compile(r"^servicerequestupdates$"), "POST", POSTED_UPDATE),
]
_XML_ROOTS = {
    "discovery": "discovery",
    "services": "services",
    "requests": "service_requests",
    "tokens": "service_requests",
    "servicerequestupdates": "service_request_updates",
}


def check_response(path: str, method: str, response: Any) -> None:
    """Every answer under /open311/v2/: JSON against its schema (errors against ERRORS), XML
    well-formed with the declaration and the root element the spec names."""
    resource, _, fmt = path.removeprefix("/open311/v2/").rpartition(".")
    if method == "HEAD" or fmt not in ("json", "xml") or response.status_code in (301, 308):
        return
    if fmt == "json":
        body = json.loads(response.get_data(as_text=True))
        if response.status_code >= 400:
            validate(ERRORS, body)
            return
        matching = [v for pattern, verb, v in _RESOURCES if verb == method and pattern.match(resource)]
        assert matching, f"no schema for {method} {resource}"
        validate(matching[0], body)
        return
    root, _data = xml_data(response.get_data())
    first = "service_definition" if resource.startswith("services/") else resource.split("/")[0]
    expected = "errors" if response.status_code >= 400 else _XML_ROOTS.get(first, first)
    assert root == expected, (root, expected)


@pytest.fixture
def schema_checked() -> Iterator[None]:
    """Check every Open311 answer any app gives during the test (the test client's and a served
    app's alike); the problems are reported when the test ends."""
    problems: list[str] = []

    def on_finished(_sender: Any, response: Any, **_extra: Any) -> None:
        if not request.path.startswith("/open311/v2/"):
            return
        try:
            check_response(request.path, request.method, response)
        except (AssertionError, ValueError) as exc:
            problems.append(f"{request.method} {request.path} -> {response.status_code}: {exc}")

    request_finished.connect(on_finished)
    try:
        yield
    finally:
        request_finished.disconnect(on_finished)
    assert not problems, problems


# -- XML -----------------------------------------------------------------------------------------

LISTS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def _data(element: ET.Element) -> Any:
    children = list(element)
    if element.tag in LISTS:
        assert all(c.tag == LISTS[element.tag] for c in children)
        return [_data(c) for c in children]
    if not children:
        return element.text or None
    return {c.tag: _data(c) for c in children}


def xml_data(body: bytes) -> tuple[str, Any]:
    """The root element's name and its content (strings and None) by the Spark convention."""
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(body)
    return root.tag, _data(root)


def as_text(value: Any) -> Any:
    """JSON scalars as XML writes them, for comparing the two formats."""
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return None
    return str(value)


def both(client: Any, path: str, **kwargs: Any) -> tuple[Any, Any]:
    """GET `path` as .json and .xml; assert the two say the same; return the JSON and XML root."""
    method = kwargs.pop("method", "get")
    as_json = getattr(client, method)(f"/open311/v2/{path}.json", **kwargs)
    as_xml = getattr(client, method)(f"/open311/v2/{path}.xml", **kwargs)
    assert as_json.status_code == as_xml.status_code, (as_json.data, as_xml.data)
    assert as_json.content_type == "application/json; charset=utf-8"
    assert as_xml.content_type == "text/xml; charset=utf-8"
    root, data = xml_data(as_xml.data)
    if as_json.status_code < 400 and method == "get":
        assert data == as_text(as_json.json), (data, as_json.json)
    return as_json, root


# -- factories -----------------------------------------------------------------------------------

WATER = [
    {
        "code": "scope",
        "datatype": "singlevaluelist",
        "required": True,
        "description": "停水范围",
        "values": [{"key": "home", "name": "本户"}, {"key": "building", "name": "整栋楼"}],
    },
    {"code": "since", "datatype": "datetime", "description": "停水开始时间"},
    {"code": "households", "datatype": "number", "description": "涉及户数"},
    {
        "code": "issues",
        "datatype": "multivaluelist",
        "description": "问题",
        "values": [{"key": "pressure", "name": "水压低"}, {"key": "colour", "name": "水质发黄"}],
    },
    {"code": "safety", "variable": False, "datatype": "text", "description": "危及安全请拨打12345"},
]


def water_service(region: str = "460200", code: str | None = None) -> ServiceItem:
    """A public 水电气热 service item of a new department in `region`, with a definition."""
    dept: Department = f.department(region=region, name="三亚市水务局")
    item = f.service_item(dept, code=code, category="水电气热", keywords="停水,供水")
    load_definitions({item.code: WATER})
    db.session.commit()
    return item


def plain_service(region: str = "460100", **kw: Any) -> ServiceItem:
    """A public service item without a definition."""
    return f.service_item(f.department(region=region), category="市场监管", **kw)


def new_key(name: str | None = None) -> str:
    _key, raw = create_key(name or f"client-{uuid.uuid4().hex[:8]}")
    db.session.commit()
    return raw


# -- an app of its own, served on a loopback port ---------------------------------------------------


@contextmanager
def _sqlite_file(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'open311.db'}"


@contextmanager
def own_app(app: Flask, tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    """A new app on an empty database of `app`'s backend (SQLite file or PostgreSQL scratch
    database), committing for real; the shared limiter is switched back afterwards."""
    with app.app_context():
        backend = db.engine.dialect.name
    was_enabled = limiter.enabled
    urls = _sqlite_file(tmp_path) if backend == "sqlite" else contextmanager(postgres_scratch_database)()
    try:
        with urls as url:
            application = build_app_with(url, create_schema=True, **overrides)
            try:
                yield application
            finally:
                with application.app_context():
                    db.session.remove()
                    db.engine.dispose()
    finally:
        limiter.enabled = was_enabled


@contextmanager
def serving(application: Flask) -> Iterator[str]:
    """Serve the app on a free loopback port in a thread; yields the GeoReport base URL."""
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/open311/v2/"
    finally:
        server.shutdown()
        thread.join(10)
