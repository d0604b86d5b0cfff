"""Marshmallow schemas for callbacks, attempts, cases and the public board."""

from typing import Any

from marshmallow import Schema, fields, validate

from callbacks.models import AttemptResult, CallbackStatus, CaseStatus, Purpose
from core.privacy import mask_name, mask_phone
from core.schemas import EnforcedLength, InSchema


def _values(cls: Any) -> list[str]:
    return [m.value for m in cls]


class CallbackQuery(InSchema):
    status = fields.Str(validate=validate.OneOf(["pending", "done", "overdue"]))
    purpose = fields.Str(validate=validate.OneOf(_values(Purpose)))
    due = fields.Str(validate=validate.OneOf(["overdue", "today", "later"]))
    department = fields.Str(validate=validate.Length(max=128))  # a code, or a name in either language
    region = fields.Str(validate=validate.Length(max=12))
    sort = fields.Str(load_default="due", validate=validate.OneOf(["due", "-due"]))
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class AttemptOut(Schema):
    id = fields.Int()
    result = fields.Function(lambda a: a.result.value)
    note = fields.Str()
    by = fields.Function(lambda a: a.actor.username if a.actor else None)
    at = fields.DateTime(attribute="created_at")


class CallbackBase(Schema):
    id = fields.Int()
    purpose = fields.Function(lambda c: c.purpose.value)
    subject_type = fields.Str()
    subject_id = fields.Int()
    case_id = fields.Int(allow_none=True)
    due_at = fields.DateTime()
    due_estimated = fields.Bool()
    status = fields.Function(lambda c: c.status.value)
    overdue = fields.Method("get_overdue")
    outcome = fields.Str()
    department_code = fields.Function(lambda c: c.department.code if c.department else None)
    region_code = fields.Str(allow_none=True)
    assignee = fields.Function(lambda c: c.assignee.username if c.assignee else None)
    attempts_made = fields.Function(lambda c: len(c.attempts))
    on_time = fields.Bool(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    escalated = fields.Function(lambda c: c.escalated_at is not None)
    version = fields.Int()

    def get_overdue(self, callback: Any) -> bool:
        from core.db import utcnow

        return bool(callback.status == CallbackStatus.PENDING and callback.due_at < utcnow())


class CallbackOut(CallbackBase):
    """In lists the contact is masked."""

    contact_name = fields.Function(lambda c: mask_name(c.contact_name))
    contact_phone = fields.Function(lambda c: mask_phone(c.contact_phone))


class CallbackDetailOut(CallbackBase):
    """For the agent on the phone: the number to dial, in full."""

    contact_name = fields.Str()
    contact_phone = fields.Str()
    attempts = fields.List(fields.Nested(AttemptOut))


class CallbackPage(Schema):
    items = fields.List(fields.Nested(CallbackOut))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()


class AttemptIn(InSchema):
    result = fields.Str(required=True, validate=validate.OneOf(_values(AttemptResult)))
    note = fields.Str(load_default="", validate=validate.Length(max=2000))
    verified = fields.Bool(load_default=None, allow_none=True)
    problem = fields.Str(load_default="", validate=validate.Length(max=2000))
    department = fields.Str(load_default=None, allow_none=True)
    level = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1, max=5))
    comment = fields.Str(load_default="", validate=EnforcedLength(config_key="RATING_COMMENT_MAX_LENGTH"))
    version = fields.Int(load_default=None, allow_none=True)


class AssignIn(InSchema):
    assignee = fields.Str(load_default=None, allow_none=True)


class CaseQuery(InSchema):
    status = fields.Str(validate=validate.OneOf(_values(CaseStatus)))
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


def _reader() -> Any:
    from core.auth import current_staff

    return current_staff()


def _case_text(case: Any, text: str) -> str:
    from callbacks.service import case_text

    return case_text(case, text, _reader())


class CaseEventOut(Schema):
    action = fields.Str()
    from_status = fields.Str()
    to_status = fields.Str()
    note = fields.Function(
        lambda e: _case_text(e.case, e.note), metadata={"description": "Redacted as the reader may see"}
    )
    by = fields.Function(lambda e: e.actor.username if e.actor else None)
    at = fields.DateTime(attribute="created_at")


class CaseOut(Schema):
    id = fields.Int()
    rating_id = fields.Int()
    status = fields.Function(lambda c: c.status.value)
    department_code = fields.Function(lambda c: c.department.code)
    department_name = fields.Function(lambda c: c.department.name)
    region_code = fields.Str(allow_none=True)
    problem = fields.Function(lambda c: _case_text(c, c.problem))
    immediate = fields.Bool()
    action_taken = fields.Function(lambda c: _case_text(c, c.action_taken))
    manager_note = fields.Function(lambda c: _case_text(c, c.manager_note))
    due_at = fields.DateTime(allow_none=True)
    due_estimated = fields.Bool()
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    accepted_on_time = fields.Bool(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    version = fields.Int()


class CaseDetailOut(CaseOut):
    events = fields.List(fields.Nested(CaseEventOut))


class CasePage(Schema):
    items = fields.List(fields.Nested(CaseOut))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()


class VerifyIn(InSchema):
    confirmed = fields.Bool(required=True)
    note = fields.Str(load_default="", validate=validate.Length(max=2000))
    version = fields.Int(load_default=None, allow_none=True)


class ReportIn(InSchema):
    action_taken = fields.Str(required=True, validate=validate.Length(min=1, max=4000))
    immediate = fields.Bool(load_default=False)
    version = fields.Int(load_default=None, allow_none=True)


class DecisionIn(InSchema):
    note = fields.Str(load_default="", validate=validate.Length(max=2000))
    version = fields.Int(load_default=None, allow_none=True)


class PublicQuery(InSchema):
    region = fields.Str(validate=validate.Length(max=12))
    department = fields.Str(validate=validate.Length(max=32))
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=20, validate=validate.Range(min=1, max=100))


class PublicCaseOut(Schema):
    """A published case: masked and scrubbed, nothing else."""

    id = fields.Int()
    department = fields.Function(lambda c: c.department.name)
    department_code = fields.Function(lambda c: c.department.code)
    region_code = fields.Str(allow_none=True)
    review = fields.Str(attribute="public_review")
    rater = fields.Str(attribute="public_rater")
    phone = fields.Str(attribute="public_phone")
    action_taken = fields.Str(attribute="public_action")
    immediate = fields.Bool()
    reviewed_on = fields.Function(lambda c: _local_day(c.created_at))
    rectified_on = fields.Function(lambda c: _local_day(c.accepted_at))
    published_on = fields.Function(lambda c: _local_day(c.published_at))


def _local_day(moment: Any) -> str | None:
    from core.calendar import local_date

    return local_date(moment).isoformat() if moment else None


class PublicPage(Schema):
    items = fields.List(fields.Nested(PublicCaseOut))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()
