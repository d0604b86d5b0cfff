"""The input schemas of the moves (unknown=RAISE). They stand apart from hotline.schemas, whose
dump schemas ask hotline.service who may see what, so that the service's move table can name
them."""

from marshmallow import fields, validate

from core.schemas import InSchema

VERSION = fields.Int(
    load_default=None,
    validate=validate.Range(min=1),
    metadata={"description": "The version you saw; a stale one is refused with 409."},
)
NOTE = fields.Str(load_default="", validate=validate.Length(max=2000))
CODE_LIST = fields.List(fields.Str(validate=validate.Length(min=1, max=32)), load_default=list)


class MoveIn(InSchema):
    note = NOTE
    version = VERSION


class DispatchIn(MoveIn):
    department = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    assisting_departments = CODE_LIST


class ReplyIn(MoveIn):
    reply = fields.Str(required=True, validate=validate.Length(min=1, max=4000))


class ReturnIn(InSchema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=2000))
    version = VERSION


class ExtensionRequestIn(InSchema):
    working_days = fields.Int(required=True, validate=validate.Range(min=1))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=2000))
    version = VERSION


class ExtensionApproveIn(MoveIn):
    working_days = fields.Int(load_default=None, validate=validate.Range(min=1))


class MergeIn(MoveIn):
    into = fields.Str(required=True, validate=validate.Length(min=4, max=32), metadata={"description": "Original"})
