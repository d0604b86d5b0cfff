"""The agent's callback workbench: what an agent needs on screen before dialling — the rating
(level, reasons, comment), the ticket and its history or the case and what the department did,
the number as the reader may see it, and the call script (话术) for the kind of callback.

Read-only: nothing here writes. Every piece of a person's data passes through core.disclosure."""

import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from callbacks.models import Callback, CallbackStatus, Purpose, RectificationCase
from core.db import db, utcnow
from core.disclosure import Sight, person_sight, text_for
from core.models import Department, User
from core.privacy import mask_name, mask_phone
from core.templating import local_name
from ratings.models import Rating

SCRIPTS_FILE = Path(__file__).resolve().parents[1] / "config" / "call_scripts.toml"

PURPOSE_LABELS: dict[str, Any] = {
    Purpose.VERIFY_BAD_REVIEW.value: _l("Verify a bad review"),
    Purpose.TICKET_SATISFACTION.value: _l("Ticket satisfaction"),
    Purpose.RECTIFICATION_REPORT.value: _l("Report the rectification back"),
}
STATUS_LABELS: dict[str, Any] = {
    CallbackStatus.PENDING.value: _l("To call"),
    CallbackStatus.DONE.value: _l("Done"),
    CallbackStatus.UNREACHABLE.value: _l("Unreachable"),
    CallbackStatus.CANCELLED.value: _l("Cancelled"),
}
RESULT_LABELS: dict[str, Any] = {
    "reached": _l("Reached"),
    "no_answer": _l("Not answered"),
    "refused": _l("Refused"),
    "wrong_number": _l("Wrong number"),
}


@dataclass(frozen=True)
class Outcome:
    """One choice of the outcome form: a number key picks it; it stands for a call result and,
    when the citizen was reached, their answer."""

    key: int
    value: str
    label: Any
    result: str
    verified: bool | None = None
    level: int | None = None


_FAILED = (
    ("no_answer", _l("Not answered")),
    ("refused", _l("Refused")),
    ("wrong_number", _l("Wrong number")),
)


def outcomes(purpose: Purpose) -> list[Outcome]:
    """The outcome choices for a kind of callback, in key order."""
    from ratings.labels import LEVEL_LABELS

    if purpose == Purpose.VERIFY_BAD_REVIEW:
        reached = [
            Outcome(1, "verified", _l("Reached: problem confirmed"), "reached", verified=True),
            Outcome(2, "not_verified", _l("Reached: not a real problem"), "reached", verified=False),
        ]
    elif purpose == Purpose.TICKET_SATISFACTION:
        # The key is the level the citizen names (1 very dissatisfied … 5 very satisfied).
        reached = [Outcome(lv, f"level_{lv}", LEVEL_LABELS[lv], "reached", level=lv) for lv in range(1, 6)]
    else:
        reached = [Outcome(1, "reported", _l("Reached: told what was done"), "reached")]
    start = len(reached) + 1
    failed = [Outcome(start + i, value, label, value) for i, (value, label) in enumerate(_FAILED)]
    return reached + failed


def outcome_by_value(purpose: Purpose, value: str) -> Outcome | None:
    return next((o for o in outcomes(purpose) if o.value == value), None)


@cache
def _scripts() -> dict[str, dict[str, str]]:
    with SCRIPTS_FILE.open("rb") as fh:
        return tomllib.load(fh)


@dataclass
class Context:
    """Everything shown about one callback."""

    callback: Callback
    kind: str
    overdue: bool
    phone: str
    name: str
    service: str = ""
    rating: Rating | None = None
    level_label: str = ""
    reasons: list[str] = field(default_factory=list)
    comment: str = ""
    hidden_bad: bool = False
    ticket: Any = None
    ticket_summary: str = ""
    ticket_events: list[dict[str, str]] = field(default_factory=list)
    case: RectificationCase | None = None
    case_text: dict[str, str] = field(default_factory=dict)
    script: str = ""

    @property
    def summary(self) -> str:
        """One line for the worklist: the rating, else the ticket, else the case's report."""
        if self.case is not None and self.callback.purpose == Purpose.RECTIFICATION_REPORT:
            return self.case_text.get("action_taken", "")
        if self.rating is not None:
            return f"{self.level_label}：{self.comment}" if self.comment else self.level_label
        return self.ticket_summary


def _subjects(callback: Callback) -> tuple[Rating | None, Any, RectificationCase | None]:
    from hotline.models import Ticket

    rating = callback.rating
    ticket = db.session.get(Ticket, callback.subject_id) if callback.subject_type == "ticket" else None
    case = callback.case
    if case is None and rating is not None:
        case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    return rating, ticket, case


def describe(callback: Callback, reader: User, detail: bool = False) -> Context:
    """The callback as `reader` may see it; `detail` adds the histories and the call script and
    shows the number in full where core.disclosure allows it."""
    from hotline import labels as ticket_labels
    from ratings.labels import LEVEL_LABELS, REASON_LABELS

    rating, ticket, case = _subjects(callback)
    confidential = bool((rating is not None and rating.is_confidential) or (ticket is not None and ticket.confidential))
    names = [callback.contact_name] + (rating.person_names if rating is not None else [])
    sight = person_sight(reader, confidential=confidential, department_id=callback.department_id, detail=detail)
    phone = {Sight.FULL: callback.contact_phone, Sight.MASKED: mask_phone(callback.contact_phone)}.get(sight, "")
    name = {Sight.FULL: callback.contact_name, Sight.MASKED: mask_name(callback.contact_name)}.get(sight, "")
    ctx = Context(
        callback=callback,
        kind=str(PURPOSE_LABELS[callback.purpose.value]),
        overdue=callback.status == CallbackStatus.PENDING and callback.due_at < utcnow(),
        phone=phone,
        name=name,
        case=case,
    )
    item = (rating.service_item if rating is not None else None) or (ticket.service_item if ticket else None)
    ctx.service = local_name(item)
    if rating is not None:
        ctx.rating = rating
        ctx.level_label = str(LEVEL_LABELS.get(rating.level, rating.level))
        ctx.reasons = [str(REASON_LABELS.get(r, r)) for r in rating.reasons or []]
        ctx.comment = text_for(rating.comment, reader, confidential=confidential, names=names)
        ctx.hidden_bad = bool(rating.hidden_bad)
    if ticket is not None:
        ctx.ticket = ticket
        ctx.ticket_summary = text_for(ticket.content, reader, confidential=confidential, names=names)
    if case is not None:
        ctx.case_text = {
            key: text_for(getattr(case, key) or "", reader, confidential=confidential, names=names)
            for key in ("problem", "action_taken", "manager_note")
        }
    if detail:
        if ticket is not None:
            ctx.ticket_events = [
                {
                    "at": e.created_at,
                    "move": ticket_labels.label(ticket_labels.MOVE, e.move),
                    "status": ticket_labels.label(ticket_labels.STATUS, e.to_status),
                    "department": local_name(e.department),
                    "note": text_for(e.note, reader, confidential=confidential, names=names),
                }
                for e in ticket.events
            ]
        ctx.script = call_script(ctx)
    return ctx


def call_script(ctx: Context) -> str:
    """The 话术 for this callback in the page's language, filled in with what is known."""
    lang = "en" if str(get_locale()) == "en" else "zh"
    template = _scripts().get(ctx.callback.purpose.value, {}).get(lang, "")
    surname = ctx.name[:1]
    honorific = (f"{surname}先生/女士，" if lang == "zh" else "") if surname else ""
    values: dict[str, str] = defaultdict(
        str,
        name=honorific,
        department=local_name(ctx.callback.department) or ("相关单位" if lang == "zh" else "the department"),
        time=ctx.rating.local_day.isoformat() if ctx.rating is not None else "",
        number=ctx.ticket.number if ctx.ticket is not None else "",
        action=ctx.case_text.get("action_taken", ""),
    )
    return template.format_map(values)


def find_department(text: str) -> Department | None:
    """An active department picked by code, Chinese name or English name (pickers accept each)."""
    text = (text or "").strip()
    if not text:
        return None
    match = (Department.code == text) | (Department.name == text) | (func.lower(Department.name_en) == text.lower())
    return db.session.scalar(select(Department).where(Department.active.is_(True), match).order_by(Department.code))
