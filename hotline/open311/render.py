"""GeoReport v2 output: the same body as XML (the spec's required format) or JSON (the Spark
convention: a list of items becomes an array, an element with fields an object).

A body is plain data: dicts of fields in the spec's order, lists of dicts, strings, numbers,
booleans and None. In XML, None is an empty element and a list takes the element name of its
items from ITEM_TAGS; in JSON, None is null. Text is escaped for XML, including carriage returns
(`&#13;`), so a description comes back byte for byte after an XML parser reads it; characters XML
1.0 forbids (control characters, lone surrogates) are left out.
"""

import json
import re
from typing import Any

from flask import Response

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
FORMATS = ("xml", "json")

# The element name of each item of a list, by the list's element name.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
# What XML 1.0 cannot carry at all, not even as a character reference (its `Char` production):
# C0 controls but tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. Stored text holding one
# (written before input was checked) must not make the document unreadable for every client.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_escape(text: str) -> str:
    """Escape text content (quotes need no escaping outside attributes); drop what XML forbids."""
    return "".join(_ESCAPES.get(char, char) for char in _NOT_XML.sub("", text))


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(tag: str, value: Any, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if isinstance(value, dict):
        out.append(f"{pad}<{tag}>")
        for name, child in value.items():
            _element(name, child, depth + 1, out)
        out.append(f"{pad}</{tag}>")
    elif isinstance(value, list):
        item_tag = ITEM_TAGS[tag]
        out.append(f"{pad}<{tag}>")
        for child in value:
            _element(item_tag, child, depth + 1, out)
        out.append(f"{pad}</{tag}>")
    else:
        out.append(f"{pad}<{tag}>{xml_escape(_scalar(value))}</{tag}>")


def to_xml(root: str, body: Any) -> str:
    """The XML document: the declaration the spec requires, then `root` holding `body`."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    _element(root, body, 0, lines)
    return "\n".join(lines) + "\n"


def to_json(body: Any) -> str:
    """UTF-8 JSON with the characters themselves (no \\u escapes needed by any client)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def render(fmt: str, root: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The response in `fmt` ("xml" or "json") with the spec's content type."""
    if fmt == "json":
        response = Response(to_json(body).encode("utf-8"), status=status, content_type=JSON_TYPE)
    else:
        response = Response(to_xml(root, body).encode("utf-8"), status=status, content_type=XML_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_errors(fmt: str, status: int, descriptions: list[str], headers: dict[str, str] | None = None) -> Response:
    """`<errors><error><code/><description/></error></errors>` or `[{"code", "description"}]`.

    The code is the HTTP status, as a string like every code of this API."""
    body = [{"code": str(status), "description": text} for text in descriptions]
    return render(fmt, "errors", body, status, headers)
