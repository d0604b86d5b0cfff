"""The tickets API: create, read, list (filters and a keyset cursor), the duplicate hint, and one
endpoint per move of the state machine, made from its row of service.MOVES. Parse, call the
service; the request commits once (core.unit_of_work)."""

from typing import Any

from flask import current_app
from flask.views import MethodView

from core.api import api_blueprint, documented, guard
from core.auth import require_staff
from hotline import queries, service
from hotline.schemas import DuplicateOut, DuplicateQuery, TicketIn, TicketOut, TicketPageOut, TicketQuery

blp = api_blueprint(
    "tickets",
    __name__,
    "/tickets",
    "12345 tickets (工单): intake, dispatch, handling, the closed loop. Moves answer 409 when illegal "
    "(`errors.allowed` lists the legal ones) or when `version` is stale.",
)

CONFLICT = "Illegal move (errors.allowed lists the legal moves now) or a stale version."


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


def _register_move(move: service.Move) -> None:
    """POST /tickets/<number>/<path>: the move, as its row of service.MOVES describes it."""

    @guard(blp, *move.roles)
    @blp.arguments(move.schema)
    @blp.response(200, TicketOut)
    @blp.alt_response(409, description=CONFLICT)
    @documented(move.doc)
    def post(_view: MethodView, data: dict[str, Any], number: str) -> Any:
        actor = require_staff()
        return service.make_move(move.name, service.get_ticket(number, actor), actor, data)

    view_name = "".join(part.title() for part in move.name.split("_"))
    blp.route(f"/<number>/{move.api_path}")(type(view_name, (MethodView,), {"post": post}))


for _move in service.MOVES.values():
    _register_move(_move)
