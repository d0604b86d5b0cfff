"""Display labels for rating levels, channels, reason tags, dimensions and appeals (English msgids,
Chinese in ratings/translations)."""

from typing import Any

from flask_babel import lazy_gettext as _l

LEVEL_LABELS: dict[int, Any] = {
    5: _l("Very satisfied"),
    4: _l("Satisfied"),
    3: _l("Basically satisfied"),
    2: _l("Dissatisfied"),
    1: _l("Very dissatisfied"),
}

CHANNEL_LABELS: dict[int, Any] = {
    1: _l("PC web"),
    2: _l("Mobile"),
    3: _l("QR code"),
    4: _l("Counter pad"),
    5: _l("Other hall terminal"),
    6: _l("SMS"),
    7: _l("System default"),
    8: _l("12345 hotline callback"),
}

RATER_TYPE_LABELS: dict[int, Any] = {1: _l("Individual"), 2: _l("Enterprise (legal person)")}

REASON_LABELS: dict[str, Any] = {
    "slow": _l("Slow service"),
    "attitude": _l("Poor attitude"),
    "many_trips": _l("Had to come back several times"),
    "long_wait": _l("Long waiting time"),
    "unclear_guide": _l("Unclear guidance or requirements"),
    "not_resolved": _l("Problem not solved"),
    "fees": _l("Unreasonable fees"),
    "system": _l("System or equipment problems"),
    "other": _l("Other"),
}

# Dimension scores (DOMAIN.md): online and offline services are scored on different aspects.
ONLINE_DIMENSIONS = ("overall", "efficiency", "guide_accuracy", "convenience", "usability")
OFFLINE_DIMENSIONS = ("overall", "efficiency", "service_level", "attitude")
DIMENSIONS = tuple(dict.fromkeys(ONLINE_DIMENSIONS + OFFLINE_DIMENSIONS))

DIMENSION_LABELS: dict[str, Any] = {
    "overall": _l("Overall satisfaction"),
    "efficiency": _l("Efficiency"),
    "guide_accuracy": _l("Accuracy of the service guide"),
    "convenience": _l("Convenience"),
    "usability": _l("Ease of use of the platform"),
    "service_level": _l("Competence"),
    "attitude": _l("Attitude"),
}

APPEAL_KIND_LABELS: dict[str, Any] = {
    "malicious": _l("Malicious review"),
    "misdirected": _l("Not about our service"),
    "other": _l("Other"),
}

APPEAL_STATUS_LABELS: dict[str, Any] = {
    "pending": _l("Pending"),
    "upheld": _l("Upheld"),
    "rejected": _l("Rejected"),
}


REVIEW_REASON_LABELS: dict[str, Any] = {
    "issuer_address": _l("Rated from the address that issued the link"),
    "address_burst": _l("Many ratings from one address"),
    "network_burst": _l("Many ratings from one network"),
    "instant_staff_token": _l("A staff member's link used at once"),
    "department_burst": _l("Burst of one level for the department"),
}


def label(table: dict[Any, Any], key: Any) -> str:
    """The translated label of `key`, or the key itself when it has none."""
    return str(table.get(getattr(key, "value", key), key))
