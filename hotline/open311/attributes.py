"""Service definitions: the attributes a service item asks for (GET services/{code}), loaded from
a JSON file (`flask open311 load-attributes FILE`), and the check of the values a client posts
as `attribute[code]=value` (`attribute[code][]=v1&attribute[code][]=v2` for a multivaluelist).

The file maps service item codes — or shell patterns such as `SWJ-001-*` — to lists of
attributes; loading replaces the definitions of every item a key matches:

    {"SWJ-001-*": [{"code": "scope", "datatype": "singlevaluelist", "required": true,
                    "description": "停水范围", "values": [{"key": "home", "name": "本户"}]}]}
"""

import fnmatch
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import delete, select
from werkzeug.datastructures import MultiDict

from core.db import db, utcnow
from core.errors import ValidationFailed
from core.models import ServiceItem
from hotline.open311.models import ServiceAttribute
from hotline.open311.schemas import parse_w3c, xml_safe

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LISTS = ("singlevaluelist", "multivaluelist")
CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FORM_KEY = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
VALUE_MAX = 4000


def definition(item: ServiceItem) -> list[ServiceAttribute]:
    """The item's attributes in display order."""
    stmt = select(ServiceAttribute).where(ServiceAttribute.service_item_id == item.id)
    return list(db.session.scalars(stmt.order_by(ServiceAttribute.order, ServiceAttribute.id)))


def items_with_attributes(item_ids: list[int]) -> set[int]:
    """Which of these items have a service definition (their `metadata` is true)."""
    if not item_ids:
        return set()
    stmt = select(ServiceAttribute.service_item_id).where(ServiceAttribute.service_item_id.in_(item_ids)).distinct()
    return set(db.session.scalars(stmt))


def last_change() -> datetime | None:
    """When a definition last changed (the discovery document's changeset)."""
    rows = db.session.scalars(select(ServiceAttribute.updated_at).order_by(ServiceAttribute.updated_at.desc()))
    return rows.first()


# -- loading definitions -----------------------------------------------------------------------


def _checked(spec: Any, position: int, where: str) -> dict[str, Any]:
    """One attribute of the file, checked and with its defaults filled in."""
    if not isinstance(spec, dict):
        raise ValidationFailed("Invalid attribute.", {where: [f"Attribute {position} is not an object."]})
    code, datatype = spec.get("code", ""), spec.get("datatype", "")
    problems = []
    if not isinstance(code, str) or not CODE.match(code):
        problems.append(f"Attribute {position}: code must be letters, digits, . _ - (1-64).")
    if datatype not in DATATYPES:
        problems.append(f"Attribute {code}: datatype must be one of {', '.join(DATATYPES)}.")
    values = spec.get("values") or []
    if datatype in LISTS:
        keys = [v.get("key") for v in values if isinstance(v, dict)]
        names = [v.get("name") for v in values if isinstance(v, dict)]
        if not values or len(set(keys)) != len(values) or not all(isinstance(x, str) and x for x in keys + names):
            problems.append(f"Attribute {code}: a list needs values with unique keys and names.")
    elif values:
        problems.append(f"Attribute {code}: only lists have values.")
    order = spec.get("order", position)
    if not isinstance(order, int) or order < 1:
        problems.append(f"Attribute {code}: order must be a positive integer.")
    if problems:
        raise ValidationFailed("Invalid service definition.", {where: problems})
    return {
        "code": code,
        "variable": bool(spec.get("variable", True)),
        "datatype": datatype,
        "required": bool(spec.get("required", False)) and bool(spec.get("variable", True)),
        "datatype_description": str(spec.get("datatype_description", "")),
        "order": order,
        "description": str(spec.get("description", "")),
        "values": [{"key": v["key"], "name": v["name"]} for v in values],
    }


def _checked_list(specs: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(specs, list):
        raise ValidationFailed("Invalid service definition.", {where: ["A list of attributes is expected."]})
    attributes = [_checked(spec, n, where) for n, spec in enumerate(specs, start=1)]
    for key in ("code", "order"):
        seen = [a[key] for a in attributes]
        if len(set(seen)) != len(seen):
            raise ValidationFailed("Invalid service definition.", {where: [f"Each attribute needs its own {key}."]})
    return attributes


@dataclass
class LoadResult:
    items: int = 0
    attributes: int = 0
    unmatched: list[str] = field(default_factory=list)


def load_definitions(mapping: Any) -> LoadResult:
    """Replace the definitions of the service items each key (a code or a pattern) matches."""
    if not isinstance(mapping, dict):
        raise ValidationFailed("Invalid service definitions.", {"file": ["An object of code → attributes."]})
    checked = {pattern: _checked_list(specs, pattern) for pattern, specs in mapping.items()}
    codes = {item.code: item for item in db.session.scalars(select(ServiceItem))}
    result = LoadResult()
    now = utcnow()
    for pattern, attributes in checked.items():
        matches = [codes[c] for c in sorted(codes) if fnmatch.fnmatchcase(c, pattern)]
        if not matches:
            result.unmatched.append(pattern)
        for item in matches:
            db.session.execute(delete(ServiceAttribute).where(ServiceAttribute.service_item_id == item.id))
            for spec in attributes:
                db.session.add(ServiceAttribute(service_item_id=item.id, updated_at=now, **spec))
            result.items += 1
            result.attributes += len(attributes)
    db.session.flush()
    return result


def load_definitions_file(text: str) -> LoadResult:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed("Not JSON.", {"file": [str(exc)]}) from exc
    return load_definitions(mapping)


def seed_demo_definitions() -> LoadResult:
    """The demo service definitions (hotline/open311/demo_attributes.json) for the demo items."""
    text = resources.files("hotline.open311").joinpath("demo_attributes.json").read_text(encoding="utf-8")
    return load_definitions_file(text)


# -- checking submitted values -----------------------------------------------------------------


def submitted_values(form: MultiDict[str, str]) -> dict[str, list[str]]:
    """`attribute[code]` and `attribute[code][]` parameters as code → values (empty ones dropped)."""
    found: dict[str, list[str]] = {}
    for key in form:
        match = _FORM_KEY.match(key)
        if match:
            values = [v for v in form.getlist(key) if v.strip()]
            if values:
                found.setdefault(match.group(1), []).extend(values)
    return found


def _is_number(raw: str) -> bool:
    try:
        return math.isfinite(float(raw))
    except ValueError:
        return False


def _is_datetime(raw: str) -> bool:
    try:
        parse_w3c(raw)
        return True
    except ValueError:
        pass
    try:
        datetime.fromisoformat(raw.strip())
        return True
    except ValueError:
        return False


def _problem(attr: ServiceAttribute, values: list[str]) -> str | None:
    """What is wrong with the values given for one attribute, or None."""
    keys = {v["key"] for v in attr.values}
    if attr.datatype != "multivaluelist" and len(values) > 1:
        return "takes one value."
    if any(len(v) > VALUE_MAX or not xml_safe(v) for v in values):
        return f"at most {VALUE_MAX} characters, no control characters."
    if attr.datatype == "number" and not _is_number(values[0]):
        return "must be a number."
    if attr.datatype == "datetime" and not _is_datetime(values[0]):
        return "must be an ISO 8601 datetime, e.g. 2026-09-24T10:00:00+08:00."
    if attr.datatype in LISTS and not set(values) <= keys:
        return f"must be one of {', '.join(sorted(keys))}."
    return None


def check_values(attributes: list[ServiceAttribute], given: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """The accepted values (code → value, a list for multivaluelists) and the problems found.

    Values for codes the definition lacks, or for informational (variable=false) attributes, are
    ignored: clients such as FixMyStreet send attributes of their own."""
    accepted: dict[str, Any] = {}
    problems = []
    for attr in attributes:
        if not attr.variable:
            continue
        values = given.get(attr.code, [])
        if not values:
            if attr.required:
                problems.append(f"attribute[{attr.code}] is required: {attr.description or attr.code}")
            continue
        problem = _problem(attr, values)
        if problem:
            problems.append(f"attribute[{attr.code}] {problem}")
        elif attr.datatype == "multivaluelist":
            accepted[attr.code] = list(dict.fromkeys(values))
        else:
            accepted[attr.code] = values[0]
    return accepted, problems


def describe_values(attributes: list[ServiceAttribute], accepted: dict[str, Any]) -> list[str]:
    """One line per accepted value, for the agents reading the ticket: 停水范围：整栋楼."""
    lines = []
    for attr in attributes:
        if attr.code not in accepted:
            continue
        names: dict[str, str] = {v["key"]: v["name"] for v in attr.values}
        value = accepted[attr.code]
        chosen: list[str] = value if isinstance(value, list) else [value]
        shown = "、".join(names.get(v, v) for v in chosen)
        lines.append(f"{attr.description or attr.code}：{shown}")
    return lines
