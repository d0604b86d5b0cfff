"""Whether a reader may see a person's data: the one place every view asks.

DOMAIN.md ("Publishing personal data", 保密件): a caller who asked for confidentiality is known
to the agents who took the call and to managers only; everything derived from their ticket —
search hits, callbacks and their notes, cases and their events, the satisfaction rating and its
comment, exports, notifications — inherits that. Otherwise agents and managers see a person in
full on a record's own page, the responsible department's handlers see its caller in full there
too (they must reach them), and everyone else sees them masked.
"""

import enum
import re
from collections.abc import Iterable

from core.models import Role, User
from core.privacy import scrub_text

CONFIDENTIAL_MARK = "[保密]"
# What scrub_text leaves of a phone number (138****5678) still narrows down a person.
_MASKED_NUMBER = re.compile(r"\d{2,4}[-\s]?\*{3,}\d{2,4}")
TRUSTED = (Role.AGENT, Role.MANAGER)


class Sight(enum.Enum):
    FULL = "full"
    MASKED = "masked"
    HIDDEN = "hidden"


def sees_confidential(reader: User | None) -> bool:
    """Agents (who take the calls) and managers know a confidential caller; nobody else does."""
    return reader is not None and reader.role in TRUSTED


def person_sight(
    reader: User | None, *, confidential: bool, department_id: int | None = None, detail: bool = False
) -> Sight:
    """How `reader` may see the person behind a record (None: the public).

    `department_id` is the department responsible for the record; `detail` is the record's own
    page (lists and exports mask even for trusted readers)."""
    if confidential and not sees_confidential(reader):
        return Sight.HIDDEN
    if reader is None or not detail:
        return Sight.MASKED
    if reader.role in TRUSTED:
        return Sight.FULL
    if reader.role == Role.HANDLER and department_id is not None and reader.department_id == department_id:
        return Sight.FULL
    return Sight.MASKED


def hidden_for(reader: User | None, confidential: bool) -> bool:
    return confidential and not sees_confidential(reader)


def redact_person(text: str, names: Iterable[str | None] = ()) -> str:
    """Free text about a hidden person: numbers scrubbed, and no trace of them left — no masked
    number, none of their known names."""
    text = _MASKED_NUMBER.sub(CONFIDENTIAL_MARK, scrub_text(text or ""))
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, CONFIDENTIAL_MARK)
    return text


def text_for(text: str, reader: User | None, *, confidential: bool, names: Iterable[str | None] = ()) -> str:
    """Free text derived from a person's record, as `reader` may read it: redacted when the person
    is hidden from them, numbers scrubbed otherwise."""
    if hidden_for(reader, confidential):
        return redact_person(text, names)
    return scrub_text(text or "")
