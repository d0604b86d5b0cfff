"""Statistics query and response schemas."""

from marshmallow import Schema, fields, validate

from core.schemas import CODE, InSchema
from hotline.models import TicketType
from ratings.schemas import SatisfactionOut
from reports.stats.kpis import KPI_GROUP_BY
from reports.stats.service import GROUP_BY

__all__ = [
    "ExportQuery",
    "FunnelOut",
    "FunnelQuery",
    "KpiOut",
    "KpiQuery",
    "MonthlyReportQuery",
    "PublicSatisfactionOut",
    "SatisfactionOut",
    "SatisfactionQuery",
    "ThreeRatesQuery",
    "TicketExportQuery",
]


def lang_field() -> fields.Field:
    return fields.Str(
        load_default="zh",
        validate=validate.OneOf(["zh", "en"]),
        metadata={"description": "Column titles and labels in Chinese (default) or English."},
    )


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


class TicketFilterQuery(InSchema):
    department = fields.Str(validate=CODE, metadata={"description": "Department code (the lead department)."})
    region = fields.Str(validate=CODE, metadata={"description": "Region (administrative) code."})
    type = fields.Str(
        validate=validate.OneOf([t.value for t in TicketType]), metadata={"description": "Ticket type (tickets only)."}
    )
    enterprise = fields.Bool(metadata={"description": "涉企 tickets only (true) or none of them (false)."})


class KpiQuery(TicketFilterQuery):
    from_ = fields.Date(data_key="from", metadata={"description": "First Asia/Shanghai day (default: to - 29)."})
    to = fields.Date(metadata={"description": "Last Asia/Shanghai day, included (default: today)."})
    group_by = fields.Str(
        validate=validate.OneOf(KPI_GROUP_BY),
        metadata={"description": "Also give every figure per department, region or Asia/Shanghai period."},
    )


class TicketExportQuery(TicketFilterQuery):
    from_ = fields.Date(
        data_key="from", metadata={"description": "First Asia/Shanghai day of creation (default: to - 29)."}
    )
    to = fields.Date(metadata={"description": "Last Asia/Shanghai day of creation, included (default: today)."})
    format = fields.Str(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))
    lang = lang_field()


class Ratio(Schema):
    numerator = fields.Int()
    denominator = fields.Int()
    rate = fields.Float(allow_none=True)


class Overdue(Schema):
    callbacks = fields.Int()
    rectifications = fields.Int()


class HandlingHours(Schema):
    tickets = fields.Int(metadata={"description": "Tickets closed in the range."})
    total = fields.Float(metadata={"description": "Their working hours from the last dispatch to the reply."})
    average = fields.Float(allow_none=True, metadata={"description": "total / tickets (null without tickets)."})


class KpiFigures(Schema):
    bad_review_callback_timeliness = fields.Nested(Ratio, metadata={"description": "差评回访及时率"})
    rectification_on_time = fields.Nested(Ratio, metadata={"description": "整改按期率"})
    on_time_completion = fields.Nested(Ratio, metadata={"description": "按时办结率 (12345)"})
    callback_rate = fields.Nested(Ratio, metadata={"description": "回访率 (12345)"})
    resolution_rate = fields.Nested(
        Ratio,
        metadata={"description": "解决率 (12345): answered satisfaction callbacks that did not reopen the ticket"},
    )
    enterprise_share = fields.Nested(Ratio, metadata={"description": "涉企 share of tickets"})
    handling_hours = fields.Nested(HandlingHours, metadata={"description": "办理时长 in working hours (12345)"})


class KpiGroup(KpiFigures):
    key = fields.Str(metadata={"description": 'Department id, region code or period; "" for none.'})
    label = fields.Str()
    overdue = fields.Nested(Overdue, allow_none=True, metadata={"description": "null when grouped by period."})


class KpiOut(KpiFigures):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    overdue = fields.Nested(Overdue)
    groups = fields.List(
        fields.Nested(KpiGroup), metadata={"description": "Only with `group_by`: the same figures per group."}
    )


class ExportQuery(SatisfactionQuery):
    format = fields.Str(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))
    lang = lang_field()


class MonthlyReportQuery(InSchema):
    month = fields.Str(
        validate=validate.Regexp(r"^20\d\d-(0[1-9]|1[0-2])$"),
        metadata={"description": "The month, `YYYY-MM` (default: this month, Asia/Shanghai)."},
    )
    format = fields.Str(load_default="xlsx", validate=validate.OneOf(["xlsx"]))
    lang = lang_field()


class ThreeRatesQuery(InSchema):
    month = fields.Str(
        validate=validate.Regexp(r"^20\d\d-(0[1-9]|1[0-2])$"),
        metadata={"description": "The month, `YYYY-MM` (default: this month, Asia/Shanghai)."},
    )
    group_by = fields.Str(load_default="region", validate=validate.OneOf(["region", "department"]))
    region = fields.Str(validate=CODE, metadata={"description": "Region (administrative) code."})


class ResponseRate(Schema):
    numerator = fields.Int(metadata={"description": "Tickets signed for by their sign-for deadline."})
    denominator = fields.Int(metadata={"description": "Tickets whose last dispatch fell in the month."})
    rate = fields.Float(allow_none=True)


class SatisfactionRate(Schema):
    valid = fields.Int()
    rate = fields.Float(allow_none=True)


class ThreeRatesRow(Schema):
    key = fields.Str(metadata={"description": 'Region code or department id; "" for the total.'})
    label = fields.Str()
    response = fields.Nested(ResponseRate, metadata={"description": "响应率"})
    resolution = fields.Nested(Ratio, metadata={"description": "解决率"})
    satisfaction = fields.Nested(SatisfactionRate, metadata={"description": "满意率"})
    composite = fields.Float(allow_none=True, metadata={"description": "Σ weight × rate; null if a rate is null."})


class ThreeRatesWeights(Schema):
    response = fields.Float()
    resolution = fields.Float()
    satisfaction = fields.Float()


class ThreeRatesOut(Schema):
    month = fields.Str()
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    weights = fields.Nested(ThreeRatesWeights)
    total = fields.Nested(ThreeRatesRow)
    groups = fields.List(fields.Nested(ThreeRatesRow), metadata={"description": "Best composite first."})


class FunnelQuery(InSchema):
    from_ = fields.Date(data_key="from", metadata={"description": "First Asia/Shanghai day (default: to - 29)."})
    to = fields.Date(metadata={"description": "Last Asia/Shanghai day, included (default: today)."})
    department = fields.Str(validate=CODE, metadata={"description": "Department code."})
    region = fields.Str(validate=CODE, metadata={"description": "Region (administrative) code."})
    group_by = fields.Str(validate=validate.OneOf(["department", "region"]))


class FunnelStages(Schema):
    bad = fields.Int(metadata={"description": "差评: valid first bad reviews rated in the range"})
    followed_up = fields.Int(metadata={"description": "已回访: verification callback done or case verified"})
    confirmed = fields.Int(metadata={"description": "核实属实"})
    rectifying = fields.Int(metadata={"description": "整改中: a rectification case was opened"})
    accepted = fields.Int(metadata={"description": "已验收"})
    published = fields.Int(metadata={"description": "已公开"})


class FunnelGroup(Schema):
    key = fields.Str()
    label = fields.Str()
    stages = fields.Nested(FunnelStages)


class FunnelOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    stages = fields.Nested(FunnelStages)
    groups = fields.List(fields.Nested(FunnelGroup))


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
