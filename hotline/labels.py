"""Display names of ticket codes (English msgids; Chinese from the catalog)."""

from typing import Any

from flask_babel import lazy_gettext as _l

STATUS = {
    "accepted": _l("Accepted"),
    "dispatched": _l("Dispatched"),
    "taken": _l("Taken"),
    "in_progress": _l("In progress"),
    "closed": _l("Replied"),
    "called_back": _l("Called back"),
    "archived": _l("Archived"),
    "returned": _l("Returned"),
    "merged": _l("Merged"),
}
TYPE = {
    "consultation": _l("Consultation"),
    "help": _l("Request for help"),
    "complaint": _l("Complaint"),
    "report": _l("Report"),
    "suggestion": _l("Suggestion"),
    "praise": _l("Praise"),
}
URGENCY = {
    "normal": _l("Normal"),
    "utilities": _l("Utilities outage"),
    "emergency": _l("Emergency"),
}
CHANNEL = {
    "phone": _l("Phone"),
    "web": _l("Website"),
    "app": _l("Mobile app"),
    "sms": _l("SMS"),
    "open311": _l("Open311"),
    "leader_day": _l("Leader answering day"),
}
MOVE = {
    "create": _l("Accept"),
    "dispatch": _l("Dispatch"),
    "take": _l("Take"),
    "handle": _l("Handle"),
    "reply": _l("Reply and close"),
    "return": _l("Return"),
    "request_extension": _l("Request extension"),
    "approve_extension": _l("Approve extension"),
    "reject_extension": _l("Reject extension"),
    "supervise": _l("Supervise"),
    "reopen": _l("Reopen"),
    "callback": _l("Call back"),
    "archive": _l("Archive"),
    "merge": _l("Merge"),
    "citizen_update": _l("Citizen update"),
}


def label(table: dict[str, Any], value: Any) -> str:
    """The display name of a code (an enum member or its value)."""
    key = str(getattr(value, "value", value))
    return str(table.get(key, key))
