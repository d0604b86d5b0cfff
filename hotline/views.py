"""The tickets API: create, read, list (filters and a keyset cursor), the duplicate hint, and one
endpoint per move of the state machine. Parse, call the service; the request commits once (core.unit_of_work)."""

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask.views import MethodView

from core.api import api_blueprint, guard
from core.auth import require_staff
from core.models import User
from hotline import queries, service
from hotline.models import Ticket
from hotline.schemas import (
    DispatchIn,
    DuplicateOut,
    DuplicateQuery,
    ExtensionApproveIn,
    ExtensionRequestIn,
    MergeIn,
    MoveIn,
    ReplyIn,
    ReturnIn,
    TicketIn,
    TicketOut,
    TicketPageOut,
    TicketQuery,
)

blp = api_blueprint(
    "tickets",
    __name__,
    "/tickets",
    "12345 tickets (工单): intake, dispatch, handling, the closed loop. Moves answer 409 when illegal "
    "(`errors.allowed` lists the legal ones) or when `version` is stale.",
)

CONFLICT = "Illegal move (errors.allowed lists the legal moves now) or a stale version."


def roles(move: str) -> tuple[Any, ...]:
    return service.MOVES[move].roles


def _apply(number: str, make: Callable[[Ticket, User], Any]) -> Ticket:
    """Load the ticket the actor may see (else 404), make the move (the request commits it)."""
    actor = require_staff()
    ticket = service.get_ticket(number, actor)
    make(ticket, actor)
    return ticket


@blp.route("")
class Tickets(MethodView):
    @guard(blp, *service.READERS)
    @blp.arguments(TicketQuery, location="query")
    @blp.response(200, TicketPageOut)
    def get(self, args: dict[str, Any]) -> Any:
        """List tickets, newest first (`sort=due`: soonest due first); follow `next_cursor`.

        A handler sees only tickets their department leads or assists."""
        limit = args.pop("limit", current_app.config["TICKET_PAGE_SIZE"])
        cursor = args.pop("cursor", None)
        return queries.list_tickets(require_staff(), queries.TicketFilters(**args), limit, cursor)

    @guard(blp, *service.AGENTS)
    @blp.arguments(TicketIn)
    @blp.response(201, TicketOut)
    def post(self, data: dict[str, Any]) -> Any:
        """受理: log a ticket (with `lead_department`, dispatched at once). Deadlines are computed
        in working days; `deadline_warning` says when they are estimates."""
        ticket = service.create_ticket(data, require_staff())
        return ticket


@blp.route("/duplicates")
class Duplicates(MethodView):
    @guard(blp, *service.AGENTS)
    @blp.arguments(DuplicateQuery, location="query")
    @blp.response(200, DuplicateOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Recent unfiled tickets from the same phone or with similar text (the intake hint)."""
        exclude = service.get_by_number(args["exclude_number"]).id if args.get("exclude_number") else None
        return queries.duplicate_hints(args["phone"], args["text"], args.get("region"), exclude)


@blp.route("/<number>")
class TicketDetail(MethodView):
    @guard(blp, *service.READERS)
    @blp.response(200, TicketOut)
    def get(self, number: str) -> Any:
        """One ticket with its timeline and the moves you may make now."""
        return service.get_ticket(number, require_staff())


@blp.route("/<number>/dispatch")
class Dispatch(MethodView):
    @guard(blp, *roles("dispatch"))
    @blp.arguments(DispatchIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """派单: send to a lead department, with optional assisting departments."""
        return _apply(
            number,
            lambda t, u: service.dispatch(
                t, u, data["department"], data["assisting_departments"], data["note"], expected_version=data["version"]
            ),
        )


@blp.route("/<number>/take")
class Take(MethodView):
    @guard(blp, *roles("take"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """签收: the lead department takes the ticket."""
        return _apply(number, lambda t, u: service.take(t, u, data["note"], expected_version=data["version"]))


@blp.route("/<number>/handle")
class Handle(MethodView):
    @guard(blp, *roles("handle"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """办理: start handling or record progress."""
        return _apply(number, lambda t, u: service.handle(t, u, data["note"], expected_version=data["version"]))


@blp.route("/<number>/reply")
class Reply(MethodView):
    @guard(blp, *roles("reply"))
    @blp.arguments(ReplyIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """答复/办结: answer the citizen and close the ticket."""
        return _apply(
            number, lambda t, u: service.reply(t, u, data["reply"], data["note"], expected_version=data["version"])
        )


@blp.route("/<number>/return")
class Return(MethodView):
    @guard(blp, *roles("return"))
    @blp.arguments(ReturnIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """退单: send the ticket back to dispatch, with the reason."""
        return _apply(
            number, lambda t, u: service.return_ticket(t, u, data["reason"], expected_version=data["version"])
        )


@blp.route("/<number>/extension")
class ExtensionRequest(MethodView):
    @guard(blp, *roles("request_extension"))
    @blp.arguments(ExtensionRequestIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """延期: ask a manager for more working days (approved at most once per ticket)."""
        return _apply(
            number,
            lambda t, u: service.request_extension(
                t, u, data["working_days"], data["reason"], expected_version=data["version"]
            ),
        )


@blp.route("/<number>/extension/approve")
class ExtensionApprove(MethodView):
    @guard(blp, *roles("approve_extension"))
    @blp.arguments(ExtensionApproveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """Approve the pending extension: the handling deadline moves by working days."""
        return _apply(
            number,
            lambda t, u: service.approve_extension(
                t, u, data["working_days"], data["note"], expected_version=data["version"]
            ),
        )


@blp.route("/<number>/extension/reject")
class ExtensionReject(MethodView):
    @guard(blp, *roles("reject_extension"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """Refuse the pending extension; the deadline stays."""
        return _apply(
            number, lambda t, u: service.reject_extension(t, u, data["note"], expected_version=data["version"])
        )


@blp.route("/<number>/supervise")
class Supervise(MethodView):
    @guard(blp, *roles("supervise"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """督办: supervise an overdue ticket (once per handling round)."""
        return _apply(number, lambda t, u: service.supervise(t, u, data["note"], expected_version=data["version"]))


@blp.route("/<number>/callback")
class Callback(MethodView):
    @guard(blp, *roles("callback"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """回访: record that the citizen was called back."""
        return _apply(
            number, lambda t, u: service.record_callback_done(t, u, data["note"], expected_version=data["version"])
        )


@blp.route("/<number>/reopen")
class Reopen(MethodView):
    @guard(blp, *roles("reopen"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """重办: the citizen is not satisfied; back to the lead department with fresh deadlines."""
        return _apply(number, lambda t, u: service.reopen(t, u, data["note"], expected_version=data["version"]))


@blp.route("/<number>/archive")
class Archive(MethodView):
    @guard(blp, *roles("archive"))
    @blp.arguments(MoveIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """归档: file the ticket after its callback."""
        return _apply(number, lambda t, u: service.archive(t, u, data["note"], expected_version=data["version"]))


@blp.route("/<number>/merge")
class Merge(MethodView):
    @guard(blp, *roles("merge"))
    @blp.arguments(MergeIn)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    def post(self, data: dict[str, Any], number: str) -> Any:
        """并单: merge this duplicate into its original ticket (`into`: the original's number)."""
        return _apply(
            number, lambda t, u: service.merge(t, u, data["into"], data["note"], expected_version=data["version"])
        )
