"""Open311 input: marshmallow schemas for the form-encoded POST bodies, the query parameters of the
lists, and W3C datetimes.

Unknown fields are excluded, not refused: GeoReport clients add their own (FixMyStreet sends
`title`, `email_alerts_requested`, `attribute[...]` codes no definition has). Per the spec's
"Optional Arguments", an empty parameter counts as absent.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

# W3C-DTF (https://www.w3.org/TR/NOTE-datetime) with a time zone, which the spec makes mandatory.
_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$")
# A "+" that was not percent-encoded arrives as a space: 2026-09-24T10:00:00 08:00.
_UNENCODED_PLUS = re.compile(r" (\d{2}:\d{2})$")
# Characters XML 1.0 cannot carry: refused on input so every answer can be written as XML.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
STATUS_WORD = re.compile(r"^[A-Za-z][A-Za-z_ ]{0,31}$")


def parse_w3c(raw: str) -> datetime:
    """An aware datetime from a W3C datetime with a zone ("2010-01-01T00:00:00Z"); ValueError else."""
    text = _UNENCODED_PLUS.sub(r"+\1", raw.strip())
    if not _W3C.match(text):
        raise ValueError(f"{raw!r} is not a W3C datetime with a time zone, e.g. 2010-01-01T00:00:00Z")
    return datetime.fromisoformat(text.upper() if text.endswith("z") else text)


def xml_safe(value: str) -> bool:
    return _NOT_XML.search(value) is None


class W3CDateTime(fields.Field):
    """A W3C datetime with a time zone."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a datetime.")
        try:
            return parse_w3c(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Text(fields.Str):
    """A string XML can carry, at most `max_length` characters."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(load_default="", validate=validate.Length(max=max_length), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if not xml_safe(text):
            raise ValidationError("Contains control characters.")
        return text


class OpenSchema(Schema):
    class Meta:
        unknown = EXCLUDE


URL = fields.Url(schemes={"http", "https"}, load_default="", validate=validate.Length(max=2000))
NAME_MAX = 63  # last_name + first_name (and a space between Latin names) fit a caller's 64


def _check_name(data: dict[str, Any]) -> None:
    if len(data.get("first_name", "").strip()) + len(data.get("last_name", "").strip()) > NAME_MAX:
        raise ValidationError(f"first_name and last_name together: at most {NAME_MAX} characters.", "last_name")


class RequestIn(OpenSchema):
    """POST requests: a service request from a client."""

    service_code = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    lat = fields.Float(load_default=None, allow_nan=False, validate=validate.Range(min=-90, max=90))
    long = fields.Float(load_default=None, allow_nan=False, validate=validate.Range(min=-180, max=180))
    address_string = Text(200)
    address_id = Text(200)
    email = fields.Email(load_default="", validate=validate.Length(max=254))
    device_id = Text(200)
    account_id = Text(200)
    first_name = Text(NAME_MAX)
    last_name = Text(NAME_MAX)
    phone = fields.Str(load_default="", validate=validate.Length(max=32))
    description = Text(4000)
    media_url = URL

    @validates_schema
    def _name(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_name(data)

    @validates_schema
    def _location(self, data: dict[str, Any], **kwargs: Any) -> None:
        has_lat, has_long = data.get("lat") is not None, data.get("long") is not None
        if has_lat != has_long:
            raise ValidationError("lat and long must be sent together.", "lat" if has_long else "long")
        if not (has_lat or data.get("address_string") or data.get("address_id")):
            raise ValidationError("A location is required: lat and long, address_string or address_id.", "location")


class UpdateIn(OpenSchema):
    """POST servicerequestupdates (FixMyStreet's extension): an update from the citizen's side."""

    service_request_id = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    update_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    status = fields.Str(load_default="", validate=validate.Regexp(STATUS_WORD, error="Not a status."))
    updated_datetime = W3CDateTime(load_default=None)
    description = Text(4000)
    media_url = URL
    email = fields.Email(load_default="", validate=validate.Length(max=254))
    first_name = Text(NAME_MAX)
    last_name = Text(NAME_MAX)
    phone = fields.Str(load_default="", validate=validate.Length(max=32))

    @validates_schema
    def _name(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_name(data)

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data.get("description") or data.get("status") or data.get("media_url")):
            raise ValidationError("An update needs a description, a status or a media_url.", "description")


def comma_list(raw: str | None) -> list[str]:
    """ "a, b,,c" → ["a", "b", "c"] (the spec's comma-delimited multiple values)."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


class RangeIn(OpenSchema):
    """start_date and end_date of GET requests and GET servicerequestupdates."""

    start_date = W3CDateTime(load_default=None)
    end_date = W3CDateTime(load_default=None)


class RequestsQuery(RangeIn):
    """GET requests: the spec's filters, each comma-delimited where it may repeat."""

    service_request_id = fields.Str(load_default="")
    service_code = fields.Str(load_default="")
    status = fields.Str(load_default="")

    @validates_schema
    def _statuses(self, data: dict[str, Any], **kwargs: Any) -> None:
        wrong = [s for s in comma_list(data.get("status")) if s.lower() not in ("open", "closed")]
        if wrong:
            raise ValidationError(f"Unknown status {', '.join(wrong)}: open or closed.", "status")


def present(source: Mapping[str, str]) -> dict[str, str]:
    """The parameters that carry a value: an empty one counts as absent (the spec's "null")."""
    return {key: value for key, value in source.items() if value.strip()}


def messages(error: ValidationError) -> list[str]:
    """marshmallow's messages as one line per field, for the errors document."""
    found = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    lines = []
    for name, problems in sorted(found.items()):
        for problem in problems if isinstance(problems, list) else [problems]:
            lines.append(problem if name in ("location", "_schema") else f"{name}: {problem}")
    return lines
