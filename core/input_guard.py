"""Limits on what a request may carry, checked once for every route before any view runs.

- Size: `MAX_CONTENT_LENGTH` (413).
- JSON: parsed by one loader that refuses nesting deeper than `JSON_MAX_DEPTH` and numbers longer
  than `JSON_MAX_NUMBER_CHARS` (422) instead of recursing or converting without end; the API's
  argument parser and `request.get_json` both use it.
- Query and form values that are numbers longer than that, or digits int() cannot read (²), are
  refused (422): pages read `page=` by hand, and one such value must not cost a 500.
- Text: control characters (NUL, ESC, DEL, ...; tab, line feed and carriage return are text) are
  refused with one message in any query string, form field, JSON string or URL path (422), so
  nothing reaches either database, and SQLite and PostgreSQL answer alike. The input schemas
  (core.schemas.InSchema) apply the same check for loads outside a request.

Each refusal is the API's JSON error on /api/ and a bilingual page elsewhere (core.errors).
"""

import json
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from core.errors import DomainError

CONTROL_MESSAGE = "Control characters are not allowed."
# Query parameters whose route checks them itself: the sign-in page's `next` (400, core.pages).
OWN_CHECKS = frozenset({"next"})
ALLOWED_CONTROLS = frozenset("\t\n\r")


class InputRefused(DomainError):
    status = 422


def is_control(char: str) -> bool:
    return char not in ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cs")


def has_control(text: str) -> bool:
    """True when `text` holds a character no form or JSON field should carry."""
    if text.isprintable():
        return False
    return any(is_control(char) for char in text)


def _walk(value: Any, path: str) -> Iterator[str]:
    """The paths of the strings (and keys) in `value` that hold control characters, iteratively."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if has_control(item):
                yield where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and has_control(key):
                    yield where or "body"
                stack.append((child, name))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}.{index}" if where else str(index)) for index, child in enumerate(item))


def control_errors(value: Any, path: str = "") -> dict[str, list[str]]:
    """{field: [message]} for each field of `value` holding a control character."""
    return {where: [CONTROL_MESSAGE] for where in _walk(value, path)}


# -- JSON -----------------------------------------------------------------------------------------

JSON_MAX_DEPTH = 32
JSON_MAX_NUMBER_CHARS = 40


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text) if len(text) <= JSON_MAX_NUMBER_CHARS else None
        if value is None or (kind is float and not math.isfinite(value)):  # 1e999 is inf
            raise InputRefused("A number in the body is too long.", {"body": ["Numbers have at most 40 characters."]})
        return value

    return parse


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _depth_ok(text: str) -> bool:
    """Nesting depth of a JSON text without parsing it: brackets outside strings."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > JSON_MAX_DEPTH:
            return False
    return True


def loads(data: str | bytes) -> Any:
    """json.loads within limits: nesting (checked before parsing, so the parser never recurses
    deeply) and number length; anything else malformed raises json.JSONDecodeError as usual."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if text.count("[") + text.count("{") > JSON_MAX_DEPTH and not _depth_ok(text):
        raise InputRefused("The body is nested too deeply.", {"body": [f"At most {JSON_MAX_DEPTH} levels."]})
    return json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise InputRefused("NaN and Infinity are not JSON.", {"body": [f"{name} is not allowed."]})


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, reading with `loads` and writing compact UTF-8 (no spaces after
    separators, Chinese as itself rather than \\u escapes): a province-wide statistics answer is
    a quarter smaller, and every client reads it the same (RFC 8259 JSON is UTF-8)."""

    ensure_ascii = False
    compact = True

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("separators", (",", ":"))
        text = super().dumps(obj, **kwargs)
        if not text.isascii() and not _utf8(text):
            # A lone surrogate (a test sending one, say) has no UTF-8 form: escape it, as before.
            return super().dumps(obj, **{**kwargs, "ensure_ascii": True})
        return text

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


# -- the request check ----------------------------------------------------------------------------


def _json_body() -> Any:
    if not request.is_json:
        return None
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # malformed JSON is the parser's to report (400), as before


NUMBER_MESSAGE = f"Numbers have at most {JSON_MAX_NUMBER_CHARS} digits."


def _bad_number(value: str) -> bool:
    """A query or form value that looks like a number no route can take: more digits than any
    number we use (int() refuses 4,300 and is slow before), or digits int() cannot read (²)."""
    digits = value.strip().lstrip("+-")
    return digits.isdigit() and (len(digits) > JSON_MAX_NUMBER_CHARS or not digits.isdecimal())


def check_request() -> None:
    """Refuse control characters anywhere in the request's text, numbers no route can read in
    its query or form, and JSON beyond the limits."""
    errors: dict[str, list[str]] = {}
    if has_control(request.path):
        errors["path"] = [CONTROL_MESSAGE]
    for source in (request.args, request.form if request.method not in ("GET", "HEAD") else None):
        if source:
            errors.update(control_errors({k: source.getlist(k) for k in source if k not in OWN_CHECKS}))
            errors.update({k: [NUMBER_MESSAGE] for k in source if any(_bad_number(v) for v in source.getlist(k))})
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        errors.update(control_errors(_json_body()))
    if errors:
        # list positions of query/form values say nothing to a caller
        message = CONTROL_MESSAGE if any(CONTROL_MESSAGE in m for m in errors.values()) else NUMBER_MESSAGE
        raise InputRefused(message, {key.split(".")[0]: msgs for key, msgs in errors.items()})


def init_input_guard(app: Flask) -> None:
    app.json = GuardedJSONProvider(app)
    app.before_request(check_request)
