"""Statistics query and response schemas."""

from marshmallow import Schema, fields, validate

from core.schemas import CODE, InSchema
from hotline.models import TicketType
from ratings.schemas import SatisfactionOut
from reports.stats.service import GROUP_BY

__all__ = ["ExportQuery", "KpiOut", "KpiQuery", "PublicSatisfactionOut", "SatisfactionOut", "SatisfactionQuery"]


class SatisfactionQuery(InSchema):
    from_ = fields.Date(data_key="from", metadata={"description": "First Asia/Shanghai day (default: to - 29)."})
    to = fields.Date(metadata={"description": "Last Asia/Shanghai day, included (default: today)."})
    group_by = fields.Str(validate=validate.OneOf(GROUP_BY))
    department = fields.Str(validate=CODE, metadata={"description": "Department code."})
    region = fields.Str(validate=CODE, metadata={"description": "Region (administrative) code."})
    service = fields.Str(validate=validate.Length(min=1, max=64), metadata={"description": "Service item code."})
    channel = fields.Int(validate=validate.Range(min=1, max=99))
    rater_type = fields.Int(validate=validate.OneOf([1, 2]), metadata={"description": "1 individual, 2 enterprise."})
    include_default = fields.Bool(load_default=False, metadata={"description": "Count system default ratings."})


class KpiQuery(InSchema):
    from_ = fields.Date(data_key="from", required=True, metadata={"description": "First Asia/Shanghai day."})
    to = fields.Date(required=True, metadata={"description": "Last Asia/Shanghai day, included."})
    department = fields.Str(validate=CODE, metadata={"description": "Department code."})
    region = fields.Str(validate=CODE, metadata={"description": "Region (administrative) code."})
    type = fields.Str(
        validate=validate.OneOf([t.value for t in TicketType]), metadata={"description": "Ticket type (tickets only)."}
    )
    enterprise = fields.Bool(metadata={"description": "涉企 tickets only (true) or none of them (false)."})


class Ratio(Schema):
    numerator = fields.Int()
    denominator = fields.Int()
    rate = fields.Float(allow_none=True)


class Overdue(Schema):
    callbacks = fields.Int()
    rectifications = fields.Int()


class KpiOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    bad_review_callback_timeliness = fields.Nested(Ratio, metadata={"description": "差评回访及时率"})
    rectification_on_time = fields.Nested(Ratio, metadata={"description": "整改按期率"})
    on_time_completion = fields.Nested(Ratio, metadata={"description": "按时办结率 (12345)"})
    callback_rate = fields.Nested(Ratio, metadata={"description": "回访率 (12345)"})
    enterprise_share = fields.Nested(Ratio, metadata={"description": "涉企 share of tickets"})
    overdue = fields.Nested(Overdue)


class ExportQuery(SatisfactionQuery):
    format = fields.Str(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))


class PublicDepartment(Schema):
    name = fields.Str()
    valid = fields.Int(metadata={"description": "Valid first ratings."})
    satisfaction_rate = fields.Float(allow_none=True)


class PublicSatisfactionOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    days = fields.Int()
    target = fields.Float()
    departments = fields.List(fields.Nested(PublicDepartment))
