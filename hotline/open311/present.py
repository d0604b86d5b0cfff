"""What an Open311 client sees of a ticket, a service and a definition: the bodies `render` writes.

Status is `open` until the ticket is answered (办结), called back, archived or merged, then
`closed`. `status_notes` say what the latest public move of the ticket was (internal moves —
extension requests, supervision — are not public). Nothing here shows the submitter: the text
is scrubbed of phone and ID numbers, e-mail addresses, person names and of the submitter's own
name, phone and e-mail, the
address stops at the district and coordinates are rounded (DOMAIN.md, "Publishing personal data").
"""

import re
from datetime import datetime
from typing import Any

from core.calendar import local_tz
from core.models import ServiceItem
from core.privacy import mask_address, scrub_text
from hotline.models import Ticket, TicketEvent, TicketStatus
from hotline.open311.models import Open311Request, ServiceAttribute

S = TicketStatus
CLOSED_STATUSES = (S.CLOSED, S.CALLED_BACK, S.ARCHIVED, S.MERGED)
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
COORDINATE_DECIMALS = 2  # about 1 km: enough for a map, not enough to find a home
REDACTED = "[已隐去]"

# The public moves of a ticket and how a citizen reads them (the department is the lead after
# the move). Moves not listed here are internal and never shown.
PUBLIC_NOTES = {
    "create": "已受理 / Accepted",
    "dispatch": "已派交{department}办理 / Sent to {department}",
    "take": "{department}已签收 / Taken by {department}",
    "handle": "{department}正在办理 / In progress at {department}",
    "return": "重新派单中 / Being sent to the right department",
    "reply": "已办结 / Answered: {reply}",
    "reopen": "重新办理 / Reopened",
    "callback": "已回访 / Called back",
    "archive": "已归档 / Filed",
    "merge": "已与工单 {merged_into} 合并办理 / Handled with request {merged_into}",
}
PUBLIC_MOVES = tuple(PUBLIC_NOTES)


def w3c(moment: datetime | None) -> str | None:
    """A W3C datetime in Asia/Shanghai with its offset, to the second: 2026-09-24T10:00:00+08:00."""
    if moment is None:
        return None
    return moment.astimezone(local_tz()).replace(microsecond=0).isoformat()


def open_or_closed(status: TicketStatus) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def _personal(req: Open311Request) -> list[str]:
    """The submitter's own details as they may appear in free text, longest first."""
    ticket = req.ticket
    found = {ticket.caller_name.strip(), req.email.strip(), ticket.caller_phone}
    found.update(part for part in re.split(r"\s+", ticket.caller_name) if len(part) >= 2)
    return sorted((s for s in found if len(s) >= 2), key=len, reverse=True)


def redact(text: str, req: Open311Request) -> str:
    """Free text for a public answer: the submitter's name, phone and e-mail removed, then phone
    and ID numbers, e-mail addresses and person names (a third party named in a handler's reply)
    scrubbed (core.privacy). Text without any comes back unchanged."""
    for secret in _personal(req):
        text = text.replace(secret, REDACTED)
    return scrub_text(text, names=(req.ticket.caller_name,), people=True)


def status_note(event: TicketEvent | None, req: Open311Request) -> str | None:
    if event is None:
        return None
    ticket = req.ticket
    department = event.department.name if event.department else "承办单位"
    merged_into = ticket.merged_into.number if ticket.merged_into else ""
    text = PUBLIC_NOTES[event.move].format(department=department, reply=ticket.reply, merged_into=merged_into)
    return redact(text, req)


def updated_datetime(ticket: Ticket) -> str | None:
    """The last change; for a closed request, when it was closed (the spec's rule)."""
    if ticket.status in CLOSED_STATUSES and ticket.status != S.MERGED and ticket.closed_at is not None:
        return w3c(ticket.closed_at)
    return w3c(ticket.updated_at)


def service_notice(ticket: Ticket) -> str:
    due = ticket.handle_due_at.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")
    return f"12345热线已受理，预计 {due} 前办结 / Accepted by the 12345 hotline; to be handled by {due}"


def _coordinate(value: float | None) -> float | None:
    return None if value is None else round(value, COORDINATE_DECIMALS)


def request_body(req: Open311Request, latest: TicketEvent | None) -> dict[str, Any]:
    """One request of GET requests and GET requests/{id}, fields in the spec's order."""
    ticket = req.ticket
    item = ticket.service_item
    return {
        "service_request_id": ticket.number,
        "status": open_or_closed(ticket.status),
        "status_notes": status_note(latest, req),
        "service_name": item.name if item else None,
        "service_code": item.code if item else None,
        "description": redact(req.description, req) or None,
        "agency_responsible": ticket.lead_department.name if ticket.lead_department else None,
        "service_notice": service_notice(ticket),
        "requested_datetime": w3c(ticket.created_at),
        "updated_datetime": updated_datetime(ticket),
        "expected_datetime": w3c(ticket.handle_due_at),
        "address": mask_address(ticket.address) or None,
        "address_id": None,  # like the address itself, not published
        "zipcode": None,
        "lat": _coordinate(ticket.latitude),
        "long": _coordinate(ticket.longitude),
        "media_url": req.media_url or None,
    }


def service_body(item: ServiceItem, has_definition: bool, service_type: str) -> dict[str, Any]:
    """One service of GET services."""
    return {
        "service_code": item.code,
        "service_name": item.name,
        "description": f"{item.name}（{item.department.name}）",
        "metadata": has_definition,
        "type": service_type,
        "keywords": item.keywords or None,
        "group": item.category or None,
    }


def attribute_body(attr: ServiceAttribute) -> dict[str, Any]:
    body: dict[str, Any] = {
        "variable": attr.variable,
        "code": attr.code,
        "datatype": attr.datatype,
        "required": attr.required,
        "datatype_description": attr.datatype_description or None,
        "order": attr.order,
        "description": attr.description or None,
    }
    if attr.values:
        body["values"] = [{"key": v["key"], "name": v["name"]} for v in attr.values]
    return body


def definition_body(item: ServiceItem, attributes: list[ServiceAttribute]) -> dict[str, Any]:
    """GET services/{code}: a JSON object (not an array), as in the spec's example."""
    return {"service_code": item.code, "attributes": [attribute_body(a) for a in attributes]}


def discovery_body(url: str, changeset: str, contact: str, key_service: str, production: bool) -> dict[str, Any]:
    return {
        "changeset": changeset,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": changeset,
                "type": "production" if production else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def update_body(event: TicketEvent, req: Open311Request) -> dict[str, Any]:
    """One hotline-side update of GET servicerequestupdates (FixMyStreet's extension)."""
    return {
        "update_id": f"E{event.id}",
        "service_request_id": req.ticket.number,
        "status": open_or_closed(event.to_status),
        "updated_datetime": w3c(event.created_at),
        "description": status_note(event, req),
        "media_url": None,
    }
