"""Marshmallow schemas for reference data and staff: separate load and dump, unknown=RAISE."""

from typing import Any

from flask import current_app, has_app_context
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from config.domain import DOMAIN_DEFAULTS
from core.input_guard import control_errors

CODE = validate.Regexp(r"^[A-Za-z0-9_.-]{1,32}$", error="Letters, digits, . _ - (1-32).")


class EnforcedLength(validate.Length):
    """The length limit a service enforces, as it counts: without the surrounding
    whitespace, and up to the app's `config[config_key]` when one is named (the OpenAPI document
    shows that key's domain default)."""

    def __init__(self, max: int | None = None, config_key: str | None = None) -> None:
        super().__init__(max=int(DOMAIN_DEFAULTS[config_key]) if config_key else max)
        self.config_key = config_key

    def limit(self) -> int | None:
        if self.config_key and has_app_context():
            return int(current_app.config[self.config_key])
        return self.max

    def __call__(self, value: Any) -> Any:
        limit = self.limit()
        if limit is not None and len(value.strip()) > limit:
            raise ValidationError(self.message_max.format(input=value, min=self.min, max=limit))
        return value


class InSchema(Schema):
    """Every input schema: unknown fields refused, and no control characters in any text (the
    same check core.input_guard makes on every request, for loads outside one)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _no_control_characters(self, data: Any, **_kwargs: Any) -> Any:
        errors = control_errors(data) if isinstance(data, dict) else {}
        if errors:
            raise ValidationError({key.split(".")[0]: msgs for key, msgs in errors.items()})
        return data


class RegionOut(Schema):
    code = fields.Str()
    name = fields.Str()
    name_en = fields.Str()


class DepartmentIn(InSchema):
    code = fields.Str(required=True, validate=CODE)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    name_en = fields.Str(load_default="", validate=validate.Length(max=128))
    region_code = fields.Str(required=True, validate=validate.Length(min=6, max=12))
    parent_code = fields.Str(load_default=None, allow_none=True, validate=CODE)


class DepartmentPatch(InSchema):
    name = fields.Str(validate=validate.Length(min=1, max=128))
    name_en = fields.Str(validate=validate.Length(max=128))
    region_code = fields.Str(validate=validate.Length(min=6, max=12))
    parent_code = fields.Str(allow_none=True, validate=CODE)
    active = fields.Bool()


class DepartmentOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    name_en = fields.Str()
    region_code = fields.Str()
    region_name = fields.Function(lambda d: d.region.name)
    parent_code = fields.Function(lambda d: d.parent.code if d.parent else None)
    active = fields.Bool()


class DepartmentQuery(InSchema):
    region = fields.Str()
    q = fields.Str(validate=validate.Length(max=64))


class ServiceItemIn(InSchema):
    code = fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$"))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    name_en = fields.Str(load_default="", validate=validate.Length(max=200))
    category = fields.Str(load_default="", validate=validate.Length(max=64))
    keywords = fields.Str(load_default="", validate=validate.Length(max=400))
    department_code = fields.Str(required=True, validate=CODE)
    is_public = fields.Bool(load_default=True)


class ServiceItemPatch(InSchema):
    name = fields.Str(validate=validate.Length(min=1, max=200))
    name_en = fields.Str(validate=validate.Length(max=200))
    category = fields.Str(validate=validate.Length(max=64))
    keywords = fields.Str(validate=validate.Length(max=400))
    department_code = fields.Str(validate=CODE)
    is_public = fields.Bool()
    active = fields.Bool()


class ServiceItemOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    name_en = fields.Str()
    category = fields.Str()
    keywords = fields.Str()
    department_code = fields.Function(lambda s: s.department.code)
    department_name = fields.Function(lambda s: s.department.name)
    is_public = fields.Bool()
    active = fields.Bool()


class ServiceItemQuery(InSchema):
    department = fields.Str()
    q = fields.Str(validate=validate.Length(max=64))


class UserOut(Schema):
    id = fields.Int()
    username = fields.Str()
    display_name = fields.Str()
    role = fields.Function(lambda u: str(u.role.value if hasattr(u.role, "value") else u.role))
    department_code = fields.Function(lambda u: u.department.code if u.department else None)
    active = fields.Bool()


class TokenOut(Schema):
    """A bearer token as admins see it: never its value (only its hash is stored)."""

    id = fields.Int()
    name = fields.Str()
    state = fields.Function(lambda t: _token_state(t), metadata={"description": "active, revoked or expired"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    username = fields.Function(lambda t: t.user.username)


def _token_state(token: Any) -> str:
    from core.users import token_state

    return token_state(token)


class NotificationQuery(InSchema):
    unread = fields.Bool(load_default=False)
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class NotificationOut(Schema):
    id = fields.Int()
    kind = fields.Str()
    message = fields.Str()
    subject_type = fields.Str()
    subject_id = fields.Int(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    total = fields.Int()
    unread = fields.Int()
    page = fields.Int()
    per_page = fields.Int()


class ReadAllOut(Schema):
    marked = fields.Int()
