"""Open311 GeoReport v2 conformance checker, written from the specification's text (GeoReport v2,
Service Discovery, and FixMyStreet's servicerequestupdates extension) — not from any server's
code. It needs nothing but the Python standard library.

    python bench/open311_conformance.py BASE_URL API_KEY [--jurisdiction ID] [--lat N --long N]

BASE_URL is the GeoReport v2 endpoint, e.g. http://127.0.0.1:5000/open311/v2/ (a missing trailing
slash is added: resources are BASE_URL + "services.xml", as FixMyStreet builds them). With
--jurisdiction, every call sends jurisdiction_id, as FixMyStreet does. POST bodies are
application/x-www-form-urlencoded. Every check runs in XML (the required format) and JSON.

It files two requests (one per format) with a Chinese description and made-up personal data, then
checks: discovery; services; service definitions; POST then GET by id and by token; the filters
of GET requests; the error cases (no key or a wrong key → 403, unknown or missing service_code →
400, no location → 400, a missing required attribute → 400, unknown request id, token or service
definition → 404, malformed date → 400); that the description comes back byte for byte; that no
GET response contains the submitter's name, phone or e-mail; and the servicerequestupdates
extension. It prints PASS, FAIL or SKIP per check and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

FORMATS = ("xml", "json")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# W3C-DTF with the time zone the spec makes mandatory ("Z" or an HH:MM offset).
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
# Element names whose children are the items of a list (the Spark convention's arrays).
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
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
DESCRIPTION = "市民反映：小区自昨晚起停水，已超过十二小时。\r\n请尽快派人检修！附注：A&B <楼> “三单元” 😀"
SUBMITTER = {"first_name": "小明", "last_name": "王", "phone": "13912345678", "email": "wang.xiaoming@example.com"}
PERSONAL = ("王小明", "小明", "13912345678", "139****5678", "wang.xiaoming@example.com", "wang.xiaoming")


class Failure(Exception):
    """A check found the server wrong."""


class Skip(Exception):
    """A check cannot run against this server (said why)."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Document:
    """A response read in either format: `root` is the XML root's name (None for JSON) and
    `data` the content as lists, dicts and scalars (all strings, or None, in XML)."""

    fmt: str
    reply: Reply
    root: str | None
    data: Any


def w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_w3c(text: str) -> datetime:
    expect(bool(W3C.match(text or "")), f"{text!r} is not a W3C datetime with a time zone")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- reading XML by the Spark convention -------------------------------------------------------


def element_data(element: ET.Element) -> Any:
    children = list(element)
    if element.tag in LISTS:
        item = LISTS[element.tag]
        expect(all(c.tag == item for c in children), f"<{element.tag}> may only hold <{item}> elements")
        return [element_data(c) for c in children]
    if not children:
        return element.text if element.text else None
    data: dict[str, Any] = {}
    for child in children:
        expect(child.tag not in data, f"<{element.tag}> repeats <{child.tag}>")
        data[child.tag] = element_data(child)
    return data


def same(value: Any, other: Any) -> bool:
    """Equal as the two formats write them: XML text against JSON scalars."""
    if value is None or other is None:
        return value in (None, "") and other in (None, "")
    if isinstance(value, bool) or isinstance(other, bool):
        return str(value).lower() == str(other).lower()
    if isinstance(value, float) or isinstance(other, float):
        return abs(float(value) - float(other)) < 1e-9
    return str(value) == str(other)


# -- the HTTP client ---------------------------------------------------------------------------


class Client:
    def __init__(self, base_url: str, jurisdiction: str | None) -> None:
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self.jurisdiction = jurisdiction
        self.seen: list[Reply] = []  # every GET answer after the requests were filed

    def _params(self, params: dict[str, Any] | None) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        if self.jurisdiction:
            pairs.append(("jurisdiction_id", self.jurisdiction))
        for key, value in (params or {}).items():
            for one in value if isinstance(value, list) else [value]:
                pairs.append((key, str(one)))
        return pairs

    def call(self, method: str, resource: str, params: dict[str, Any] | None = None) -> Reply:
        url = self.base + resource
        data = None
        encoded = urllib.parse.urlencode(self._params(params))
        if method == "GET":
            url += "?" + encoded if encoded else ""
        else:
            data = encoded.encode("utf-8")
        for attempt in range(3):
            request = urllib.request.Request(url, data=data, method=method)
            if data is not None:
                request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    reply = Reply(response.status, response.headers.get("Content-Type", ""), response.read(), url)
                    reply.headers = dict(response.headers.items())
            except urllib.error.HTTPError as error:
                reply = Reply(error.code, error.headers.get("Content-Type", ""), error.read(), url)
                reply.headers = dict(error.headers.items())
            if reply.status == 429 and attempt < 2:  # a polite client waits as it is told
                time.sleep(min(float(reply.headers.get("Retry-After", "5") or 5), 65))
                continue
            break
        if method == "GET":
            self.seen.append(reply)
        return reply

    def document(self, method: str, resource: str, fmt: str, params: dict[str, Any] | None = None) -> Document:
        reply = self.call(method, f"{resource}.{fmt}", params)
        return read(reply, fmt)


def read(reply: Reply, fmt: str) -> Document:
    """Check the encoding and content type the spec requires, then parse the body."""
    kind, _, rest = reply.content_type.partition(";")
    charset = re.search(r"charset=([\w-]+)", rest, re.IGNORECASE)
    expect(
        charset is not None and charset.group(1).lower() == "utf-8", f"{reply.url}: no charset=utf-8 in Content-Type"
    )
    try:
        text = reply.text
    except UnicodeDecodeError as exc:
        raise Failure(f"{reply.url}: body is not UTF-8") from exc
    if fmt == "xml":
        expect(kind.strip().lower() == "text/xml", f"{reply.url}: Content-Type {reply.content_type!r}, not text/xml")
        declaration = re.match(r"^<\?xml[^>]*encoding=[\"']utf-8[\"'][^>]*\?>", text.lstrip("\ufeff"), re.IGNORECASE)
        expect(declaration is not None, f"{reply.url}: no XML declaration with encoding UTF-8")
        try:
            root = ET.fromstring(reply.body)
        except ET.ParseError as exc:
            raise Failure(f"{reply.url}: not well-formed XML ({exc})") from exc
        return Document(fmt, reply, root.tag, element_data(root))
    expect(kind.strip().lower() == "application/json", f"{reply.url}: Content-Type {reply.content_type!r}")
    try:
        return Document(fmt, reply, None, json.loads(text))
    except json.JSONDecodeError as exc:
        raise Failure(f"{reply.url}: not JSON ({exc})") from exc


def expect_list(doc: Document, root: str) -> list[Any]:
    if doc.fmt == "xml":
        expect(doc.root == root, f"root element <{doc.root}>, expected <{root}>")
    expect(isinstance(doc.data, list), f"{doc.reply.url}: expected a list of {LISTS[root]}")
    expect(all(isinstance(item, dict) for item in doc.data), f"{doc.reply.url}: list items must be objects")
    return list(doc.data)


def expect_errors(doc: Document, status: int) -> None:
    """The spec's error document, with the HTTP status it names."""
    expect(doc.reply.status == status, f"{doc.reply.url}: HTTP {doc.reply.status}, expected {status}")
    errors = expect_list(doc, "errors")
    expect(len(errors) >= 1, "an error document needs at least one error")
    for error in errors:
        expect(error.get("code") not in (None, ""), "each error needs a code")
        expect(
            isinstance(error.get("description"), str) and bool(error["description"]), "each error needs a description"
        )


def expect_string_ids(item: dict[str, Any], *names: str) -> None:
    for name in names:
        if item.get(name) is not None:
            expect(isinstance(item[name], str), f"{name} must be a JSON string, got {item[name]!r}")


# -- the checks --------------------------------------------------------------------------------


@dataclass
class Filed:
    """A request this checker filed."""

    fmt: str
    service_code: str
    service_request_id: str | None = None
    token: str | None = None


class Checker:
    def __init__(self, client: Client, api_key: str, lat: float, long: float) -> None:
        self.client = client
        self.api_key = api_key
        self.lat, self.long = lat, long
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        self.services: dict[str, list[dict[str, Any]]] = {}
        self.definitions: dict[str, dict[str, Any]] = {}
        self.filed: dict[str, Filed] = {}
        self.started = datetime.now(UTC) - timedelta(minutes=5)

    def check(self, name: str, step: Callable[[str], None], fmt: str) -> None:
        try:
            step(fmt)
        except Skip as why:
            self._say("SKIP", name, str(why))
        except Failure as why:
            self._say("FAIL", name, str(why))
        except Exception as exc:  # a crash in a check is the server's answer being unusable
            self._say("FAIL", name, f"{type(exc).__name__}: {exc}")
        else:
            self._say("PASS", name, "")

    def _say(self, outcome: str, name: str, detail: str) -> None:
        self.counts[outcome] += 1
        print(f"{outcome} {name}{': ' + detail if detail else ''}", flush=True)

    # discovery, services, definitions

    def discovery(self, fmt: str) -> None:
        doc = self.client.document("GET", "discovery", fmt)
        expect(doc.reply.status == 200, f"HTTP {doc.reply.status}")
        if fmt == "xml":
            expect(doc.root == "discovery", f"root <{doc.root}>, expected <discovery>")
        data = doc.data
        expect(isinstance(data, dict), "discovery must be an object")
        for name in ("changeset", "contact", "key_service", "endpoints"):
            expect(data.get(name) not in (None, ""), f"discovery lacks {name}")
        endpoints = data["endpoints"]
        expect(isinstance(endpoints, list) and len(endpoints) > 0, "endpoints must list at least one endpoint")
        v2 = [e for e in endpoints if isinstance(e, dict) and e.get("specification") == SPECIFICATION]
        expect(bool(v2), f"no endpoint with specification {SPECIFICATION}")
        for endpoint in v2:
            for name in ("url", "changeset", "type", "formats"):
                expect(endpoint.get(name) not in (None, ""), f"endpoint lacks {name}")
            expect(endpoint["type"] in ("production", "test"), f"endpoint type {endpoint['type']!r}")
            formats = endpoint["formats"]
            expect(isinstance(formats, list) and "text/xml" in formats, "formats must include text/xml")
            if fmt == "json":
                expect("application/json" in formats, "JSON is served but not listed in formats")

    def service_list(self, fmt: str) -> None:
        doc = self.client.document("GET", "services", fmt)
        expect(doc.reply.status == 200, f"HTTP {doc.reply.status}")
        services = expect_list(doc, "services")
        expect(len(services) >= 1, "no services")
        for service in services:
            for name in ("service_code", "service_name", "metadata", "type"):
                expect(service.get(name) not in (None, ""), f"a service lacks {name}")
            for name in ("description", "keywords", "group"):
                expect(name in service, f"service {service['service_code']} lacks {name}")
            expect(str(service["metadata"]).lower() in ("true", "false"), "metadata must be true or false")
            expect(service["type"] in ("realtime", "batch", "blackbox"), f"type {service['type']!r}")
            if fmt == "json":
                expect_string_ids(service, "service_code")
                expect(isinstance(service["metadata"], bool), "metadata must be a JSON boolean")
        self.services[fmt] = services
        other = self.services.get("xml")
        if fmt == "json" and other is not None:
            expect([s["service_code"] for s in other] == [s["service_code"] for s in services], "XML and JSON differ")

    def _with_metadata(self, fmt: str) -> list[dict[str, Any]]:
        services = self.services.get(fmt) or []
        return [s for s in services if str(s["metadata"]).lower() == "true"]

    def definitions_check(self, fmt: str) -> None:
        chosen = self._with_metadata(fmt)
        if not chosen:
            raise Skip("no service has metadata=true")
        # Every definition this run may use, plus a few more; a client reads them before posting.
        for service in chosen[:6]:
            code = service["service_code"]
            doc = self.client.document("GET", f"services/{urllib.parse.quote(code, safe='')}", fmt)
            expect(doc.reply.status == 200, f"services/{code}: HTTP {doc.reply.status}")
            if fmt == "xml":
                expect(doc.root == "service_definition", f"root <{doc.root}>, expected <service_definition>")
            data = doc.data
            expect(isinstance(data, dict), "a service definition is an object")
            expect(data.get("service_code") == code, f"definition of {code} names {data.get('service_code')!r}")
            attributes = data.get("attributes")
            expect(isinstance(attributes, list), "attributes must be a list")
            orders = []
            for attr in attributes:
                for name in ("variable", "code", "datatype", "required", "order"):
                    expect(attr.get(name) not in (None, ""), f"{code}: an attribute lacks {name}")
                for name in ("variable", "required"):
                    expect(str(attr[name]).lower() in ("true", "false"), f"{name} must be true or false")
                kinds = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
                expect(attr["datatype"] in kinds, f"datatype {attr['datatype']!r}")
                expect(str(attr["order"]).isdigit() and int(attr["order"]) >= 1, "order must be a positive integer")
                orders.append(int(attr["order"]))
                if attr["datatype"] in ("singlevaluelist", "multivaluelist"):
                    values = attr.get("values")
                    has_values = isinstance(values, list) and len(values) > 0
                    expect(has_values, f"{attr['code']}: a list attribute needs values")
                    for value in values:
                        expect(value.get("key") not in (None, "") and value.get("name") not in (None, ""), "key, name")
                if fmt == "json":
                    expect_string_ids(attr, "code")
                    expect(isinstance(attr["variable"], bool) and isinstance(attr["required"], bool), "booleans")
                    expect(isinstance(attr["order"], int), "order must be a JSON integer")
                    for value in attr.get("values") or []:
                        expect_string_ids(value, "key")
            expect(len(orders) == len(set(orders)), f"{code}: order values repeat")
            self.definitions[code] = data

    # filing requests

    def _target(self) -> tuple[str, dict[str, Any] | None]:
        """A service to post to: one with a required attribute when there is one."""
        for code, definition in self.definitions.items():
            if any(str(a["required"]).lower() == "true" for a in definition["attributes"]):
                return code, definition
        services = self.services.get("xml") or self.services.get("json") or []
        expect(bool(services), "no services to post to")
        plain = [s for s in services if str(s["metadata"]).lower() == "false"]
        code = (plain or services)[0]["service_code"]
        return code, self.definitions.get(code)

    @staticmethod
    def _attribute_values(definition: dict[str, Any] | None, skip: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for attr in (definition or {}).get("attributes", []):
            if str(attr["variable"]).lower() != "true" or str(attr["required"]).lower() != "true":
                continue
            if attr["code"] == skip:
                continue
            kind, code = attr["datatype"], attr["code"]
            if kind in ("singlevaluelist", "multivaluelist"):
                key = attr["values"][0]["key"]
                params[f"attribute[{code}][]" if kind == "multivaluelist" else f"attribute[{code}]"] = str(key)
            elif kind == "number":
                params[f"attribute[{code}]"] = "3"
            elif kind == "datetime":
                params[f"attribute[{code}]"] = w3c(datetime.now(UTC))
            else:
                params[f"attribute[{code}]"] = "测试"
        return params

    def _request_params(self, code: str, definition: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "service_code": code,
            "lat": f"{self.lat}",
            "long": f"{self.long}",
            "address_string": "人民大道58号",
            "description": DESCRIPTION,
            "device_id": "conformance-checker",
            **SUBMITTER,
            **self._attribute_values(definition),
        }

    def post_request(self, fmt: str) -> None:
        code, definition = self._target()
        doc = self.client.document("POST", "requests", fmt, self._request_params(code, definition))
        expect(doc.reply.status in (200, 201), f"HTTP {doc.reply.status}: {doc.reply.text[:300]}")
        items = expect_list(doc, "service_requests")
        expect(len(items) == 1, f"expected one request, got {len(items)}")
        item = items[0]
        request_id, token = item.get("service_request_id"), item.get("token")
        expect(bool(request_id) or bool(token), "neither service_request_id nor token returned")
        expect(not (request_id and token), "service_request_id and token must not both be returned")
        if fmt == "json":
            expect_string_ids(item, "service_request_id", "token")
        self.filed[fmt] = Filed(fmt, code, request_id or None, token or None)

    def by_token(self, fmt: str) -> None:
        filed = self._filed(fmt)
        if filed.token is None:
            raise Skip("the server returned service_request_id (realtime), so there is no token to follow")
        doc = None
        for _ in range(10):  # a batch server may need a moment before the token resolves
            doc = self.client.document("GET", f"tokens/{urllib.parse.quote(filed.token, safe='')}", fmt)
            if doc.reply.status != 404:
                break
            time.sleep(1)
        assert doc is not None
        expect(doc.reply.status == 200, f"HTTP {doc.reply.status}")
        items = expect_list(doc, "service_requests")
        expect(len(items) == 1, "expected one request for the token")
        expect(same(items[0].get("token"), filed.token), "the token is not echoed")
        expect(items[0].get("service_request_id") not in (None, ""), "no service_request_id for the token")
        if fmt == "json":
            expect_string_ids(items[0], "service_request_id", "token")
        filed.service_request_id = str(items[0]["service_request_id"])

    def _filed(self, fmt: str) -> Filed:
        if fmt not in self.filed:
            raise Skip("the POST of this format failed")
        return self.filed[fmt]

    def _filed_id(self, fmt: str) -> str:
        filed = self._filed(fmt)
        if filed.service_request_id is None:
            raise Skip("no service_request_id was obtained")
        return filed.service_request_id

    def _check_request(self, item: dict[str, Any], fmt: str) -> None:
        for name in ("service_request_id", "status", "requested_datetime"):
            expect(item.get(name) not in (None, ""), f"a request lacks {name}")
        unknown = set(item) - set(REQUEST_FIELDS)
        expect(not unknown, f"fields outside the spec: {', '.join(sorted(unknown))}")
        expect(item["status"] in ("open", "closed"), f"status {item['status']!r}")
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            if item.get(name):
                parse_w3c(item[name])
        if fmt == "json":
            expect_string_ids(item, "service_request_id", "service_code", "address_id", "zipcode")
            for name in ("lat", "long"):
                if item.get(name) is not None:
                    expect(isinstance(item[name], (int, float)), f"{name} must be a JSON number")

    def by_id(self, fmt: str) -> None:
        for source in FORMATS:  # read each filed request in this format
            filed = self._filed(source)
            request_id = self._filed_id(source)
            doc = self.client.document("GET", f"requests/{urllib.parse.quote(request_id, safe='')}", fmt)
            expect(doc.reply.status == 200, f"requests/{request_id}: HTTP {doc.reply.status}")
            items = expect_list(doc, "service_requests")
            expect(len(items) == 1, f"expected one request, got {len(items)}")
            item = items[0]
            self._check_request(item, fmt)
            expect(same(item["service_request_id"], request_id), "a different request came back")
            expect(same(item.get("service_code"), filed.service_code), "service_code differs from the one posted")
            expect(item["status"] == "open", "a request just filed should be open")

    def description_round_trip(self, fmt: str) -> None:
        for source in FORMATS:
            request_id = self._filed_id(source)
            doc = self.client.document("GET", f"requests/{urllib.parse.quote(request_id, safe='')}", fmt)
            items = expect_list(doc, "service_requests")
            got = items[0].get("description")
            expect(isinstance(got, str), "no description")
            expect(got.encode("utf-8") == DESCRIPTION.encode("utf-8"), f"description changed: {got!r}")

    # GET requests and its filters

    def _list(self, fmt: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        doc = self.client.document("GET", "requests", fmt, params)
        expect(doc.reply.status == 200, f"HTTP {doc.reply.status}: {doc.reply.text[:200]}")
        items = expect_list(doc, "service_requests")
        expect(len(items) <= 1000, f"{len(items)} rows: the spec's limit is 1000")
        for item in items:
            self._check_request(item, fmt)
        return items

    def _ids(self, items: list[dict[str, Any]]) -> set[str]:
        return {str(item["service_request_id"]) for item in items}

    def list_default(self, fmt: str) -> None:
        items = self._list(fmt, {})
        ours = {self._filed_id(f) for f in FORMATS}
        expect(ours <= self._ids(items), "the requests just filed are not in the default list")
        oldest = datetime.now(UTC) - timedelta(days=90, hours=1)
        for item in items:
            expect(parse_w3c(item["requested_datetime"]) >= oldest, "a request older than 90 days in the default list")

    def list_by_ids(self, fmt: str) -> None:
        ours = [self._filed_id(f) for f in FORMATS]
        # service_request_id overrides the other arguments: a status that excludes ours is ignored
        items = self._list(fmt, {"service_request_id": ",".join(ours), "status": "closed"})
        expect(self._ids(items) == set(ours), f"expected exactly {ours}, got {sorted(self._ids(items))}")

    def list_by_service_code(self, fmt: str) -> None:
        code = self._filed(fmt).service_code
        items = self._list(fmt, {"service_code": code})
        expect(self._filed_id(fmt) in self._ids(items), "our request is missing")
        expect(all(same(i.get("service_code"), code) for i in items), "another service_code in the list")
        others = [s["service_code"] for s in self.services.get(fmt, []) if s["service_code"] != code][:1]
        both = self._list(fmt, {"service_code": ",".join([code, *others])})
        expect(self._filed_id(fmt) in self._ids(both), "comma-delimited service_code lost our request")

    def list_by_status(self, fmt: str) -> None:
        mine = self._filed_id(fmt)
        opened = self._list(fmt, {"status": "open"})
        expect(mine in self._ids(opened), "status=open lacks our open request")
        expect(all(i["status"] == "open" for i in opened), "status=open returned a closed request")
        closed = self._list(fmt, {"status": "closed"})
        expect(mine not in self._ids(closed), "status=closed returned our open request")
        expect(all(i["status"] == "closed" for i in closed), "status=closed returned an open request")
        both = self._list(fmt, {"status": "open,closed"})
        expect(mine in self._ids(both), "status=open,closed lacks our request")

    def list_by_dates(self, fmt: str) -> None:
        mine = self._filed_id(fmt)
        start, end = self.started, datetime.now(UTC) + timedelta(minutes=5)
        items = self._list(fmt, {"start_date": w3c(start), "end_date": w3c(end)})
        expect(mine in self._ids(items), "our request is missing from a window around now")
        for item in items:
            moment = parse_w3c(item["requested_datetime"])
            expect(start <= moment <= end, f"requested_datetime {item['requested_datetime']} outside the window")
        # The same window written with a +08:00 offset (its "+" must survive URL encoding).
        east = timezone(timedelta(hours=8))
        shifted = {
            "start_date": start.astimezone(east).isoformat(timespec="seconds"),
            "end_date": end.astimezone(east).isoformat(timespec="seconds"),
        }
        expect(mine in self._ids(self._list(fmt, shifted)), "a window with a +08:00 offset lost our request")
        past = self._list(fmt, {"start_date": "2010-01-01T00:00:00Z", "end_date": "2010-01-31T00:00:00-05:00"})
        expect(mine not in self._ids(past), "a 2010 window returned our request")

    def list_too_long(self, fmt: str) -> None:
        doc = self.client.document(
            "GET", "requests", fmt, {"start_date": "2010-01-01T00:00:00Z", "end_date": "2010-06-01T00:00:00Z"}
        )
        expect_errors(doc, 400)

    # the error cases

    def error_no_key(self, fmt: str) -> None:
        code, definition = self._target()
        params = self._request_params(code, definition)
        del params["api_key"]
        expect_errors(self.client.document("POST", "requests", fmt, params), 403)

    def error_bad_key(self, fmt: str) -> None:
        code, definition = self._target()
        params = {**self._request_params(code, definition), "api_key": "not-a-key-" + uuid.uuid4().hex}
        expect_errors(self.client.document("POST", "requests", fmt, params), 403)

    def error_missing_service_code(self, fmt: str) -> None:
        code, definition = self._target()
        params = self._request_params(code, definition)
        del params["service_code"]
        expect_errors(self.client.document("POST", "requests", fmt, params), 400)

    def error_unknown_service_code(self, fmt: str) -> None:
        code, definition = self._target()
        params = {**self._request_params(code, definition), "service_code": "no-such-service-" + uuid.uuid4().hex[:8]}
        expect_errors(self.client.document("POST", "requests", fmt, params), 400)

    def error_no_location(self, fmt: str) -> None:
        code, definition = self._target()
        params = self._request_params(code, definition)
        for name in ("lat", "long", "address_string", "address_id"):
            params.pop(name, None)
        expect_errors(self.client.document("POST", "requests", fmt, params), 400)

    def error_missing_attribute(self, fmt: str) -> None:
        code, definition = self._target()
        required = [a for a in (definition or {}).get("attributes", []) if str(a["required"]).lower() == "true"]
        if not required:
            raise Skip("no service has a required attribute")
        params = self._request_params(code, definition)
        for key in [k for k in params if k.startswith(f"attribute[{required[0]['code']}]")]:
            del params[key]
        expect_errors(self.client.document("POST", "requests", fmt, params), 400)

    def error_unknown_request(self, fmt: str) -> None:
        expect_errors(self.client.document("GET", f"requests/no-such-request-{uuid.uuid4().hex[:8]}", fmt), 404)

    def error_unknown_token(self, fmt: str) -> None:
        expect_errors(self.client.document("GET", f"tokens/no-such-token-{uuid.uuid4().hex[:8]}", fmt), 404)

    def error_unknown_definition(self, fmt: str) -> None:
        expect_errors(self.client.document("GET", f"services/no-such-service-{uuid.uuid4().hex[:8]}", fmt), 404)

    def error_bad_date(self, fmt: str) -> None:
        for bad in ("yesterday", "2010-13-45T00:00:00Z", "2010-01-01T00:00:00"):  # the last has no zone
            doc = self.client.document("GET", "requests", fmt, {"start_date": bad})
            expect_errors(doc, 400)

    # personal data

    def no_personal_data(self, fmt: str) -> None:
        expect(bool(self.client.seen), "no GET responses were read")
        for reply in self.client.seen:
            text = reply.body.decode("utf-8", errors="replace")
            for secret in PERSONAL:
                expect(secret not in text, f"{reply.url} shows the submitter's {secret!r}")

    # FixMyStreet's servicerequestupdates extension

    def updates_get(self, fmt: str) -> None:
        start, end = self.started, datetime.now(UTC) + timedelta(minutes=5)
        doc = self.client.document(
            "GET", "servicerequestupdates", fmt, {"start_date": w3c(start), "end_date": w3c(end)}
        )
        expect(doc.reply.status == 200, f"HTTP {doc.reply.status}")
        updates = expect_list(doc, "service_request_updates")
        for update in updates:
            for name in ("update_id", "service_request_id", "status", "updated_datetime"):
                expect(update.get(name) not in (None, ""), f"an update lacks {name}")
            parse_w3c(update["updated_datetime"])
            expect(start <= parse_w3c(update["updated_datetime"]) <= end, "an update outside the window")

    def updates_post(self, fmt: str) -> None:
        params = {
            "api_key": self.api_key,
            "service_request_id": self._filed_id(fmt),
            "update_id": uuid.uuid4().hex[:12],
            "updated_datetime": w3c(datetime.now(UTC)),
            "status": "OPEN",
            "description": "仍未恢复供水，请跟进。",
            **SUBMITTER,
        }
        doc = self.client.document("POST", "servicerequestupdates", fmt, params)
        expect(doc.reply.status in (200, 201), f"HTTP {doc.reply.status}: {doc.reply.text[:200]}")
        updates = expect_list(doc, "service_request_updates")
        expect(len(updates) == 1 and updates[0].get("update_id") not in (None, ""), "no update_id returned")
        del params["api_key"]
        expect_errors(self.client.document("POST", "servicerequestupdates", fmt, params), 403)

    def run(self) -> int:
        for fmt in FORMATS:
            self.check(f"[{fmt}] discovery", self.discovery, fmt)
            self.check(f"[{fmt}] services", self.service_list, fmt)
            self.check(f"[{fmt}] service definitions", self.definitions_check, fmt)
        for fmt in FORMATS:
            self.check(f"[{fmt}] POST requests", self.post_request, fmt)
            self.check(f"[{fmt}] GET tokens/{{token}}", self.by_token, fmt)
        self.client.seen.clear()  # from here on, no GET may show the submitter
        for fmt in FORMATS:
            steps: list[tuple[str, Callable[[str], None]]] = [
                ("GET requests/{id}", self.by_id),
                ("description byte for byte", self.description_round_trip),
                ("GET requests (default window)", self.list_default),
                ("filter service_request_id", self.list_by_ids),
                ("filter service_code", self.list_by_service_code),
                ("filter status", self.list_by_status),
                ("filter start_date/end_date", self.list_by_dates),
                ("more than 90 days → 400", self.list_too_long),
                ("no api_key → 403", self.error_no_key),
                ("wrong api_key → 403", self.error_bad_key),
                ("missing service_code → 400", self.error_missing_service_code),
                ("unknown service_code → 400", self.error_unknown_service_code),
                ("no location → 400", self.error_no_location),
                ("missing required attribute → 400", self.error_missing_attribute),
                ("unknown request id → 404", self.error_unknown_request),
                ("unknown token → 404", self.error_unknown_token),
                ("unknown service definition → 404", self.error_unknown_definition),
                ("malformed date → 400", self.error_bad_date),
                ("extension: GET servicerequestupdates", self.updates_get),
                ("extension: POST servicerequestupdates", self.updates_post),
            ]
            for name, step in steps:
                self.check(f"[{fmt}] {name}", step, fmt)
        self.check("no GET response shows the submitter's name, phone or e-mail", self.no_personal_data, "both")
        passed, failed, skipped = self.counts["PASS"], self.counts["FAIL"], self.counts["SKIP"]
        print(f"Open311 conformance summary — {passed} checks passed, {failed} failed, {skipped} skipped")
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url", help="the GeoReport v2 endpoint, e.g. http://127.0.0.1:5000/open311/v2/")
    parser.add_argument("api_key", help="a valid API key for POST")
    parser.add_argument("--jurisdiction", default=None, help="send this jurisdiction_id with every call")
    parser.add_argument("--lat", type=float, default=20.0442, help="latitude of the requests filed")
    parser.add_argument("--long", type=float, default=110.1990, help="longitude of the requests filed")
    args = parser.parse_args(argv)
    client = Client(args.base_url, args.jurisdiction)
    return Checker(client, args.api_key, args.lat, args.long).run()


if __name__ == "__main__":
    sys.exit(main())
