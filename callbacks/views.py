"""API: callbacks and their attempts, rectification cases, and the public feedback board."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask.views import MethodView
from marshmallow import Schema

from callbacks import service, workbench
from callbacks.models import AttemptResult, RectificationCase
from callbacks.schemas import (
    AssignIn,
    AttemptIn,
    CallbackDetailOut,
    CallbackPage,
    CallbackQuery,
    CaseDetailOut,
    CaseOut,
    CasePage,
    CaseQuery,
    DecisionIn,
    PublicPage,
    PublicQuery,
    ReportIn,
    VerifyIn,
)
from core import refdata
from core.api import api_blueprint, documented, guard, public
from core.auth import require_staff
from core.errors import ValidationFailed
from core.models import Role, User
from core.pagination import paginate

blp = api_blueprint("callbacks", __name__, "", "回访 callbacks and 整改 rectification cases")
public_blp = api_blueprint("public_board", __name__, "/public", "The public feedback board (no sign-in)")

CALLERS = service.CALLERS
CASE_READERS = service.CASE_READERS
NOT_YOURS = "Not your step: your role may not take it."


def roles(move: str) -> tuple[Role, ...]:
    """Who may take a case move (the service's move table says)."""
    return service.CASE_MOVES[move].roles


@blp.route("/callbacks")
class Callbacks(MethodView):
    @guard(blp, *CALLERS)
    @blp.arguments(CallbackQuery, location="query")
    @blp.response(200, CallbackPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Callbacks, soonest due first (`sort=-due`: latest first), filtered by status
        (`overdue`: pending and past due), purpose, due window (`overdue`, `today`, `later`),
        department (code or name) and region."""
        department_id = None
        if args.get("department"):
            department = workbench.find_department(args["department"])
            if department is None:
                raise ValidationFailed("No such department.", {"department": ["Unknown code or name."]})
            department_id = department.id
        stmt = service.callbacks_query(
            require_staff(),
            args.get("status"),
            args.get("purpose"),
            due=args.get("due"),
            department_id=department_id,
            region_code=args.get("region"),
            newest_due_first=args["sort"] == "-due",
        )
        return paginate(stmt, args["page"], args["per_page"])


@blp.route("/callbacks/<int:callback_id>")
class CallbackDetail(MethodView):
    @guard(blp, *CALLERS)
    @blp.response(200, CallbackDetailOut)
    def get(self, callback_id: int) -> Any:
        """One callback with the number to dial and its attempts."""
        return service.get_callback(callback_id, require_staff())


@blp.route("/callbacks/<int:callback_id>/attempts")
class Attempts(MethodView):
    @guard(blp, *CALLERS)
    @blp.arguments(AttemptIn)
    @blp.response(201, CallbackDetailOut)
    def post(self, data: dict[str, Any], callback_id: int) -> Any:
        """Record a call attempt; when reached, the citizen's answer."""
        user = require_staff()
        callback = service.get_callback(callback_id, user)
        answer = service.Answer(
            verified=data["verified"],
            problem=data["problem"],
            department_id=refdata.get_department(data["department"]).id if data["department"] else None,
            level=data["level"],
            comment=data["comment"],
        )
        service.record_attempt(callback, user, AttemptResult(data["result"]), data["note"], answer, data["version"])
        return callback


@blp.route("/callbacks/<int:callback_id>/assign")
class Assign(MethodView):
    @guard(blp, *CALLERS)
    @blp.arguments(AssignIn)
    @blp.response(200, CallbackDetailOut)
    def post(self, data: dict[str, Any], callback_id: int) -> Any:
        """Take a callback (agents take it themselves; managers assign anyone, or release it)."""
        user = require_staff()
        return service.assign_callback(service.get_callback(callback_id, user), user, data["assignee"])


@blp.route("/cases")
class Cases(MethodView):
    @guard(blp, *CASE_READERS)
    @blp.arguments(CaseQuery, location="query")
    @blp.response(200, CasePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Rectification cases, soonest due first; handlers see their department's only."""
        stmt = service.cases_query(require_staff(), args.get("status"))
        return paginate(stmt, args["page"], args["per_page"])


@blp.route("/cases/<int:case_id>")
class CaseDetail(MethodView):
    @guard(blp, *CASE_READERS)
    @blp.response(200, CaseDetailOut)
    def get(self, case_id: int) -> Any:
        """One case with its audit trail."""
        return service.get_case(case_id, require_staff())


@dataclass(frozen=True)
class CaseStep:
    """A case move as the API offers it: the row of the service's move table whose roles guard it
    (and whose name gives the path and the view's name), its input, and how the input becomes the
    service call."""

    move: str
    schema: type[Schema]
    doc: str
    take: Callable[[RectificationCase, User, dict[str, Any]], Any]

    @property
    def path(self) -> str:
        return self.move.replace("_", "-")

    @property
    def view(self) -> str:
        return "".join(part.title() for part in self.move.split("_")) + "Case"


CASE_STEPS = (
    CaseStep(
        "verify",
        VerifyIn,
        "The department verifies an anonymous bad review (confirmed opens the case).",
        lambda case, user, d: service.verify_case(case, user, d["confirmed"], d["note"], expected_version=d["version"]),
    ),
    CaseStep(
        "report",
        ReportIn,
        "The department reports what it did.",
        lambda case, user, d: service.submit_report(
            case, user, d["action_taken"], d["immediate"], expected_version=d["version"]
        ),
    ),
    CaseStep(
        "accept",
        DecisionIn,
        "A manager accepts the report; the report-back callback is scheduled.",
        lambda case, user, d: service.accept_case(case, user, d["note"], expected_version=d["version"]),
    ),
    CaseStep(
        "send_back",
        DecisionIn,
        "A manager sends the report back to the department.",
        lambda case, user, d: service.send_back(case, user, d["note"], expected_version=d["version"]),
    ),
)


def _register_case_step(step: CaseStep) -> None:
    """POST /cases/<case_id>/<path>: load the case the caller may see (else 404) and take the
    step; the service checks the actor (403), the version and the state (409)."""

    @guard(blp, *roles(step.move))
    @blp.arguments(step.schema)
    @blp.response(200, CaseOut)
    @blp.alt_response(403, description=NOT_YOURS)
    @documented(step.doc)
    def post(_view: MethodView, data: dict[str, Any], case_id: int) -> Any:
        user = require_staff()
        case = service.get_case(case_id, user)
        step.take(case, user, data)
        return case

    blp.route(f"/cases/<int:case_id>/{step.path}")(type(step.view, (MethodView,), {"post": post}))


for _step in CASE_STEPS:
    _register_case_step(_step)


@public_blp.route("/rectifications")
class PublicRectifications(MethodView):
    @public(public_blp)
    @public_blp.arguments(PublicQuery, location="query")
    @public_blp.response(200, PublicPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Published rectifications: masked review, department, what was done, dates."""
        department_id = None
        if args.get("department"):
            department_id = refdata.get_department(args["department"]).id
        stmt = service.published_cases(args.get("region"), department_id)
        return paginate(stmt, args["page"], args["per_page"])
