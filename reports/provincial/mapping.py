"""Our fields → the provincial 好差评 interface's names, in one place (docs/reporting.md has the table).

Each function takes the changed object (duck-typed: the ratings and callbacks models, or any
object with the same attribute names) and returns the JSON record reported for it. Free text is
scrubbed of phone and ID numbers here, before it is stored in the outbox, so personal data never
leaves the staff area. Times are `yyyy-MM-dd HH:mm:ss` in the local time zone (Asia/Shanghai).
"""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from core.privacy import scrub_text

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Our report kinds → the interface's report type (`reportType`). A 追评 is an `assess` record
# with assessNumber 2, as the interface counts ratings of one event.
REPORT_TYPES = {
    "rating": "assess",
    "follow_up": "assess",
    "callback": "visit",
    "rectification": "rectify",
    "appeal": "appeal",
}

# Provincial channel codes (`pf`): 1 PC web, 2 mobile, 3 QR code, 4 counter pad, 5 other hall
# terminal, 6 SMS, 7 system default. Our 8 (12345 hotline callback) has no code of its own; it is
# reported as REPORTING_HOTLINE_PF (default 6: like SMS, the citizen answers remotely on a phone).
PROVINCIAL_CHANNELS = frozenset(range(1, 8))
HOTLINE_CALLBACK_CHANNEL = 8
FALLBACK_PF = 7  # a channel we do not know is reported as "system default"

# Callback purpose → `visitType`; callback status → `visitResult`.
VISIT_TYPES = {"verify_bad_review": 1, "rectification_report": 2, "ticket_satisfaction": 3}
VISIT_RESULTS = {"done": 1, "unreachable": 2, "cancelled": 3}
# Appeal decision → `appealResult`.
APPEAL_RESULTS = {"upheld": 1, "rejected": 2}

# A service event without a business-system number is reported as HC + its id, zero-padded.
PROJECT_PREFIX = "HC"


def _config(key: str, default: Any) -> Any:
    return current_app.config.get(key, default) if has_app_context() else default


def enum_value(obj: Any) -> Any:
    """An enum member's value, or the thing itself."""
    return getattr(obj, "value", obj)


def _code(obj: Any) -> str:
    return str(getattr(obj, "code", "") or "") if obj is not None else ""


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def provincial_time(moment: datetime | None) -> str:
    """An aware (or naive UTC) datetime as local wall-clock `yyyy-MM-dd HH:mm:ss`; empty for None."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    tz = ZoneInfo(_config("LOCAL_TIMEZONE", "Asia/Shanghai"))
    return moment.astimezone(tz).strftime(TIME_FORMAT)


def provincial_pf(channel: Any) -> int:
    """Our channel → the interface's `pf` (1-7)."""
    try:
        code = int(enum_value(channel))
    except (TypeError, ValueError):
        return FALLBACK_PF
    if code == HOTLINE_CALLBACK_CHANNEL:
        return int(_config("REPORTING_HOTLINE_PF", 6))
    return code if code in PROVINCIAL_CHANNELS else FALLBACK_PF


def project_no(event: Any, event_id: int | None = None) -> str:
    """`projectNo`: the business system's 办件 number, else the 12345 ticket number, else HC + id."""
    if event is not None:
        for attr in ("external_ref", "ticket_number"):
            number = str(getattr(event, attr, "") or "").strip()
            if number:
                return number
        event_id = getattr(event, "id", event_id)
    return f"{PROJECT_PREFIX}{int(event_id or 0):010d}"


def rating_record(rating: Any, event: Any, department: Any, service_item: Any) -> dict[str, Any]:
    """评价 / 追评: one rating of a service event."""
    return {
        "reportType": REPORT_TYPES["rating"],
        "projectNo": project_no(event, getattr(rating, "event_id", None)),
        "taskCode": _code(service_item),
        "deptCode": _code(department),
        "areaCode": str(getattr(rating, "region_code", "") or ""),
        "pf": provincial_pf(getattr(rating, "channel", None)),
        "satisfaction": int(rating.level),
        "writingEvaluation": scrub_text(
            getattr(rating, "comment", "") or "", names=(getattr(rating, "contact_name", None),)
        ),
        "assessTime": provincial_time(getattr(rating, "created_at", None)),
        "assessNumber": int(getattr(rating, "assess_number", 1) or 1),
        "userProp": int(enum_value(getattr(rating, "rater_type", 1)) or 1),
    }


def callback_record(callback: Any, project: str, assess_number: int, department: Any) -> dict[str, Any]:
    """回访: the outcome of a callback (verification, rectification report-back, ticket satisfaction)."""
    status = str(enum_value(getattr(callback, "status", "")) or "")
    return {
        "reportType": REPORT_TYPES["callback"],
        "projectNo": project,
        "assessNumber": assess_number,
        "deptCode": _code(department),
        "areaCode": str(getattr(callback, "region_code", "") or ""),
        "visitType": VISIT_TYPES.get(str(enum_value(getattr(callback, "purpose", ""))), 0),
        "visitResult": VISIT_RESULTS.get(status, 0),
        "visitOutcome": str(getattr(callback, "outcome", "") or ""),
        "visitTime": provincial_time(getattr(callback, "completed_at", None)),
        "visitOnTime": _flag(getattr(callback, "on_time", None)),
    }


def rectification_record(case: Any, project: str, department: Any) -> dict[str, Any]:
    """整改: a rectification accepted by a manager."""
    return {
        "reportType": REPORT_TYPES["rectification"],
        "projectNo": project,
        "assessNumber": 1,
        "deptCode": _code(department),
        "areaCode": str(getattr(case, "region_code", "") or ""),
        "rectifyContent": scrub_text(getattr(case, "action_taken", "") or ""),
        "rectifyTime": provincial_time(getattr(case, "accepted_at", None)),
        "rectifyOnTime": _flag(getattr(case, "accepted_on_time", None)),
        "rectifyImmediate": _flag(getattr(case, "immediate", False)),
    }


def appeal_record(appeal: Any, project: str, assess_number: int, department: Any) -> dict[str, Any]:
    """申诉复核: a manager's decision on a department's appeal of a bad review."""
    return {
        "reportType": REPORT_TYPES["appeal"],
        "projectNo": project,
        "assessNumber": assess_number,
        "deptCode": _code(department),
        "appealType": str(enum_value(getattr(appeal, "kind", "")) or ""),
        "appealResult": APPEAL_RESULTS.get(str(enum_value(getattr(appeal, "status", ""))), 0),
        "appealOpinion": scrub_text(getattr(appeal, "decision_note", "") or ""),
        "appealTime": provincial_time(getattr(appeal, "decided_at", None)),
    }
