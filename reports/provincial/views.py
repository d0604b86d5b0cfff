"""The API: the outbox's figures and retrying dead letters, for admins and managers."""

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from core.api import api_blueprint, guard
from core.db import utcnow
from core.models import Role
from reports.provincial import delivery, service

blp = api_blueprint("reporting", __name__, "/reporting", "Real-time reporting to the provincial platform (实时上报)")

VIEWERS = (Role.ADMIN, Role.MANAGER)


class ReportingStatusOut(Schema):
    receiver = fields.Str(metadata={"description": "Where reports go; empty when REPORTING_URL is not set."})
    backlog = fields.Int(metadata={"description": "Reports owed to the province (pending)."})
    oldest_pending_at = fields.DateTime(allow_none=True)
    oldest_pending_age_seconds = fields.Float(allow_none=True)
    lag_seconds = fields.Float(metadata={"description": "The delivery lag: the oldest pending report's age (0: none)."})
    lagging = fields.Bool(metadata={"description": "The lag is over REPORTING_LAG_WARNING_SECONDS."})
    dead = fields.Int(metadata={"description": "Dead letters: gave up after REPORTING_MAX_ATTEMPTS tries."})
    blocked = fields.Int(metadata={"description": "Pending reports held back by an earlier dead letter."})
    sent = fields.Int()
    last_sent_at = fields.DateTime(allow_none=True)


class RetryIn(Schema):
    class Meta:
        unknown = RAISE

    ids = fields.List(fields.Int(validate=validate.Range(min=1)), load_default=None, validate=validate.Length(max=1000))
    waiting = fields.Bool(load_default=False, metadata={"description": "Also send rows that are backing off now."})


class RetryOut(Schema):
    changed = fields.Int()


@blp.route("/status")
class Status(MethodView):
    @guard(blp, *VIEWERS)
    @blp.response(200, ReportingStatusOut)
    def get(self) -> Any:
        """The outbox: backlog, oldest pending report, dead letters."""
        figures = service.status()
        age = figures.oldest_pending_age_seconds(utcnow())
        return {
            "receiver": delivery.receiver_label(),
            "backlog": figures.backlog,
            "oldest_pending_at": figures.oldest_pending_at,
            "oldest_pending_age_seconds": age,
            "lag_seconds": round(age or 0.0, 1),
            "lagging": (age or 0.0) > float(current_app.config["REPORTING_LAG_WARNING_SECONDS"]),
            "dead": figures.dead,
            "blocked": figures.blocked,
            "sent": figures.sent,
            "last_sent_at": figures.last_sent_at,
        }


@blp.route("/retry")
class Retry(MethodView):
    @guard(blp, *VIEWERS)
    @blp.arguments(RetryIn)
    @blp.response(200, RetryOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Send dead letters again (all, or `ids`), with a fresh count of tries."""
        changed = service.retry(data.get("ids") or None, waiting=data["waiting"])
        return {"changed": changed}
