"""Marshmallow schemas for the 好差评 API: separate load (unknown=RAISE) and dump schemas.
Contacts leave the API masked, always; comments in staff lists are scrubbed of numbers."""

from typing import Any

from marshmallow import Schema, fields, validate

from core.auth import current_staff
from core.privacy import mask_name, mask_phone, scrub_known_names
from core.schemas import EnforcedLength, InSchema
from ratings import reading
from ratings.labels import DIMENSIONS
from ratings.models import AppealKind, AppealStatus, EventKind, RatingStatus
from ratings.recording import CONTACT_NAME_MAX_LENGTH

STAFF_KINDS = [EventKind.COUNTER.value, EventKind.ONLINE.value, EventKind.HOTLINE.value]
CODE = validate.Length(min=1, max=64)


class ServiceEventIn(InSchema):
    department = fields.Str(validate=CODE, metadata={"description": "Department code"})
    service_item = fields.Str(validate=CODE, metadata={"description": "Service item code"})
    region = fields.Str(validate=validate.Length(min=6, max=12), metadata={"description": "Region code"})
    kind = fields.Str(
        validate=validate.OneOf(STAFF_KINDS), metadata={"description": "counter (default), online, hotline"}
    )
    external_ref = fields.Str(validate=validate.Length(max=64), metadata={"description": "办件编号 in another system"})
    staff = fields.Str(validate=validate.Length(max=64), metadata={"description": "Who served (工号 or name)"})


class IssuedTokenOut(Schema):
    """A new rating token: shown once, never stored in plain text."""

    id = fields.Int(attribute="event.id")
    token = fields.Str()
    rate_url = fields.Str()
    qr_url = fields.Str(metadata={"description": "QR code as SVG; the same path ending .png gives PNG"})
    expires_at = fields.DateTime()


class ServiceEventOut(Schema):
    """A service event and the state of its rating (the token itself is never shown again)."""

    id = fields.Int()
    kind = fields.Str()
    department = fields.Str(allow_none=True)
    service_item = fields.Str(allow_none=True)
    region = fields.Str(allow_none=True)
    external_ref = fields.Str()
    staff = fields.Str()
    ticket_number = fields.Str()
    created_at = fields.DateTime()
    token_status = fields.Str(allow_none=True, metadata={"description": "active, used, expired or revoked"})
    expires_at = fields.DateTime(allow_none=True)
    rating_id = fields.Int(allow_none=True)


class ContactIn(InSchema):
    name = fields.Str(validate=EnforcedLength(CONTACT_NAME_MAX_LENGTH))
    phone = fields.Str(validate=validate.Length(max=32))


class RatingIn(InSchema):
    token = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    level = fields.Int(required=True, strict=True, validate=validate.Range(1, 5))
    comment = fields.Str(load_default="", validate=EnforcedLength(config_key="RATING_COMMENT_MAX_LENGTH"))
    channel = fields.Int(
        strict=True, validate=validate.Range(1, 6), metadata={"description": "1 PC web … 6 SMS (7, 8: system only)"}
    )
    dimensions = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(DIMENSIONS)),
        values=fields.Int(strict=True, validate=validate.Range(1, 5)),
    )
    reasons = fields.List(fields.Str(validate=validate.Length(max=32)), validate=validate.Length(max=20))
    contact = fields.Nested(ContactIn)
    rater_type = fields.Int(strict=True, validate=validate.OneOf([1, 2]), metadata={"description": "1 个人, 2 法人"})
    anonymous = fields.Bool(load_default=False)


def _masked_contact(rating: Any) -> dict[str, str]:
    return {"name": mask_name(rating.contact_name), "phone": mask_phone(rating.contact_phone)}


class RatingOut(Schema):
    id = fields.Int()
    event_id = fields.Int()
    assess_number = fields.Int()
    level = fields.Int()
    channel = fields.Int()
    rater_type = fields.Int()
    anonymous = fields.Bool(attribute="is_anonymous")
    # Public (the 201 of the rating API): no phone or ID number, nor the rater's own full name.
    comment: fields.Field = fields.Function(lambda r: scrub_known_names(r.comment, r.contact_name))
    dimensions = fields.Dict(allow_none=True)
    reasons = fields.List(fields.Str(), allow_none=True)
    contact = fields.Function(_masked_contact, metadata={"description": "Masked: 张**, 138****5678"})
    sentiment = fields.Float(allow_none=True)
    is_bad_review = fields.Bool()
    hidden_bad = fields.Bool()
    is_default = fields.Bool()
    low_trust = fields.Bool()
    status = fields.Function(
        lambda r: r.status.value, metadata={"description": "valid, voided, or pending (held for review)"}
    )
    local_day = fields.Date()
    created_at = fields.DateTime()


class AppealBrief(Schema):
    id = fields.Int()
    status = fields.Function(lambda a: a.status.value)


class RatingStaffOut(RatingOut):
    comment = fields.Function(lambda r: reading.comment_for(r, current_staff()))
    contact = fields.Function(
        lambda r: reading.contact_for(r, current_staff()),
        metadata={"description": "Masked (张**, 138****5678); nothing of a confidential caller"},
    )
    department = fields.Function(lambda r: r.department.code if r.department else None)
    region_code = fields.Str(allow_none=True)
    service_item = fields.Function(lambda r: r.service_item.code if r.service_item else None)
    ticket_number = fields.Function(lambda r: reading.ticket_number_for(r, current_staff()))
    voided_at = fields.DateTime(allow_none=True)
    appeal = fields.Nested(AppealBrief, allow_none=True)
    review_reasons = fields.List(fields.Str(), allow_none=True, metadata={"description": "Why it is held"})
    reviewed_at = fields.DateTime(allow_none=True)


class ReviewQuery(InSchema):
    department = fields.Str(validate=CODE)
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=50, validate=validate.Range(1, 200))


class ReviewDecisionIn(InSchema):
    decision = fields.Str(required=True, validate=validate.OneOf(["confirm", "reject"]))
    note = fields.Str(load_default="", validate=validate.Length(max=2000))


class RatingQuery(InSchema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    department = fields.Str(validate=CODE)
    level = fields.Int(validate=validate.Range(1, 5))
    bad = fields.Bool(metadata={"description": "Only bad and hidden bad reviews"})
    status = fields.Str(validate=validate.OneOf([s.value for s in RatingStatus]))
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=50, validate=validate.Range(1, 200))


class RatingPage(Schema):
    items = fields.List(fields.Nested(RatingStaffOut))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()


class AppealIn(InSchema):
    kind = fields.Str(required=True, validate=validate.OneOf([k.value for k in AppealKind]))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


class AppealDecisionIn(InSchema):
    decision = fields.Str(required=True, validate=validate.OneOf(["uphold", "reject"]))
    note = fields.Str(load_default="", validate=validate.Length(max=2000))


class AppealOut(Schema):
    id = fields.Int()
    rating_id = fields.Int()
    department = fields.Function(lambda a: a.department.code if a.department else None)
    kind = fields.Function(lambda a: a.kind.value)
    reason = fields.Str()
    status = fields.Function(lambda a: a.status.value)
    filed_by = fields.Function(lambda a: a.filed_by.username)
    filed_at = fields.DateTime()
    decided_by = fields.Function(lambda a: a.decided_by.username if a.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.Str()
    rating_status = fields.Function(lambda a: a.rating.status.value)


class AppealQuery(InSchema):
    status = fields.Str(validate=validate.OneOf([s.value for s in AppealStatus]))


class StandingCodeIn(InSchema):
    label = fields.Str(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "e.g. 3号窗口"})
    department = fields.Str(validate=CODE)
    service_item = fields.Str(validate=CODE)
    region = fields.Str(validate=validate.Length(min=6, max=12))


class StandingCodeOut(Schema):
    id = fields.Int()
    label = fields.Str()
    department = fields.Function(lambda c: c.department.code if c.department else None)
    active = fields.Bool()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class StandingCodeCreated(Schema):
    """A new standing code with its token, shown once."""

    id = fields.Int(attribute="code.id")
    label = fields.Str(attribute="code.label")
    department = fields.Function(lambda i: i.code.department.code if i.code.department else None)
    active = fields.Bool(attribute="code.active")
    created_at = fields.DateTime(attribute="code.created_at")
    token = fields.Str()
    rate_url = fields.Str()
    qr_url = fields.Str()


class SatisfactionFigures(Schema):
    total = fields.Int()
    valid = fields.Int()
    levels = fields.Dict(keys=fields.Str(), values=fields.Int())
    satisfaction_rate = fields.Float(allow_none=True)
    good_rate = fields.Float(allow_none=True)
    bad_rate = fields.Float(allow_none=True)


class SatisfactionGroup(SatisfactionFigures):
    key = fields.Str()
    label = fields.Str()


class SatisfactionOut(SatisfactionFigures):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    target = fields.Float()
    pending_review = fields.Int(metadata={"description": "Ratings held for review: in none of these figures"})
    groups = fields.List(fields.Nested(SatisfactionGroup))
