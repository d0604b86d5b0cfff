"""One language per page: English messages from services, marshmallow/webargs and werkzeug,
put into the request's language at display.

Services and schemas keep English message ids (the API contract and the logs read them); what a
person reads goes through `localize`, which looks the message up in the catalogs and, in Chinese
mode, never lets an untranslated English sentence through — it falls back to a Chinese sentence
for the kind of failure (by HTTP status, or "invalid value" for a field)."""

import re
from collections.abc import Mapping
from typing import Any

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# What a reader sees when a message has no translation, by HTTP status.
FALLBACK_BY_STATUS: dict[int, Any] = {
    400: _l("The request could not be completed."),
    401: _l("Please sign in first."),
    403: _l("You may not do this."),
    404: _l("Not found: the page or record does not exist, or is not yours to see."),
    405: _l("This action is not possible here."),
    409: _l("Not possible in the record's current state; reload and try again."),
    410: _l("This link is no longer valid."),
    413: _l("The request is too large."),
    422: _l("Some values are missing or invalid; check the form."),
    429: _l("Too many requests; please wait a moment and try again."),
    500: _l("Something went wrong on our side; the error has been logged."),
    503: _l("The service is briefly unavailable; please try again shortly."),
}
FIELD_FALLBACK = _l("Invalid value.")

# marshmallow's messages with a value in them: the pattern, and the message id it reads as.
_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^Must be one of: .*\.$"), _l("Not one of the allowed values.")),
    (re.compile(r"^(Shorter|Longer) than (minimum|maximum) length \d+\.$"), _l("Wrong length.")),
    (re.compile(r"^Length must be between \d+ and \d+\.$"), _l("Wrong length.")),
    (re.compile(r"^Must be (greater|less) than or equal to .*\.$"), _l("Out of range.")),
    (re.compile(r"^Must be greater than or equal to .* and less than or equal to .*\.$"), _l("Out of range.")),
    (re.compile(r"^No active department with code .*\.?$"), _l("No such department: choose one from the list.")),
)


def chinese() -> bool:
    return has_request_context() and str(get_locale()) != "en"


def _has_latin_sentence(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{3,}", text))


def localize(message: str, status: int | None = None) -> str:
    """`message` in the request's language: its catalog translation, else (in Chinese mode) the
    fallback for `status`, else the message as it is."""
    if not message or not has_request_context():
        return message
    translated = _(message)
    if translated != message or not chinese():
        return str(translated)
    for pattern, msgid in _PATTERNS:
        if pattern.match(message):
            return str(msgid)
    if not _has_latin_sentence(message):
        return message
    fallback = FALLBACK_BY_STATUS.get(status or 0) or FALLBACK_BY_STATUS.get(500 if (status or 0) >= 500 else 400)
    return str(fallback)


def localize_errors(errors: Mapping[str, Any]) -> dict[str, Any]:
    """Field errors (`{"field": ["message", ...]}`, nested) with every message localized."""

    def one(value: Any) -> Any:
        if isinstance(value, str):
            text = localize(value)
            return str(FIELD_FALLBACK) if chinese() and text == value and _has_latin_sentence(value) else text
        if isinstance(value, Mapping):
            return {k: one(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [one(v) for v in value]
        return value

    return {key: one(value) for key, value in errors.items()}
