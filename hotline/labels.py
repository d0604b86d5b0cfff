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

# 下一步: for each status, the step that comes next and the role that takes it (None: nobody,
# the ticket's course is over).
NEXT_STEP: dict[str, tuple[Any, Any]] = {
    "accepted": (_l("Dispatch the ticket to the responsible department"), _l("Call agent")),
    "returned": (_l("Dispatch the ticket again to the right department"), _l("Call agent")),
    "dispatched": (_l("Take the ticket (sign for it)"), _l("Department handler")),
    "taken": (_l("Handle the request and reply to the citizen"), _l("Department handler")),
    "in_progress": (_l("Handle the request and reply to the citizen"), _l("Department handler")),
    "closed": (_l("Call the citizen back about the reply, then archive"), _l("Call agent")),
    "called_back": (_l("Archive the ticket"), _l("Call agent")),
    "archived": (_l("Nothing more: the ticket is archived"), None),
    "merged": (_l("Nothing more: handled with the ticket it was merged into"), None),
}


def next_step(status: Any) -> tuple[str, str]:
    """The next step of a ticket in this status and who takes it ("" when nobody does)."""
    step, role = NEXT_STEP.get(str(getattr(status, "value", status)), ("", None))
    return str(step), str(role) if role is not None else ""


def label(table: dict[str, Any], value: Any) -> str:
    """The display name of a code (an enum member or its value)."""
    key = str(getattr(value, "value", value))
    return str(table.get(key, key))
