"""好差评 API: service events (办件) and their rating tokens, the public rating endpoint, staff
lists of ratings, appeals (申诉) and standing QR codes (statistics: reports.stats)."""

import hashlib
from functools import wraps
from typing import Any

from flask import Response, current_app, jsonify, request
from flask.views import MethodView

from core.api import BEARER, api_blueprint, guard, public
from core.auth import Unauthorized, carries_staff_credentials, current_staff, require_staff, roles_required
from core.db import db
from core.errors import Conflict, Forbidden
from core.extensions import client_ip, limiter
from core.models import Role
from core.pagination import paginate
from core.unit_of_work import discard
from ratings import appeals, idempotency, issuers, reading, recording, review, tokens
from ratings.issuers import IssuingParty
from ratings.limits import submission_limits
from ratings.review import Client
from ratings.schemas import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AppealQuery,
    IssuedTokenOut,
    RatingIn,
    RatingOut,
    RatingPage,
    RatingQuery,
    RatingStaffOut,
    ReviewDecisionIn,
    ReviewQuery,
    ServiceEventIn,
    ServiceEventOut,
    StandingCodeCreated,
    StandingCodeIn,
    StandingCodeOut,
)

ISSUERS = (Role.AGENT, Role.HANDLER, Role.MANAGER)
READERS = (Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)

events_blp = api_blueprint("service_events", __name__, "/service-events", "Service events (办件) and rating tokens")
ratings_blp = api_blueprint("ratings", __name__, "/ratings", "Ratings (好差评)")
reviews_blp = api_blueprint(
    "rating_reviews", __name__, "/rating-reviews", "Ratings held for review (评价精准: fraud signals)"
)
appeals_blp = api_blueprint("rating_appeals", __name__, "/rating-appeals", "Appeals of bad reviews (申诉复核)")
standing_blp = api_blueprint("standing_codes", __name__, "/standing-codes", "Standing QR codes on counters")

IDEMPOTENCY_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": 128},
            "description": "Retry safely: the same key and body replay the first 201; another body is 422.",
        }
    ]
}


def issuing_party() -> IssuingParty:
    """Who is asking for a rating token: an issuer key (`X-Issuer-Key`), else the signed-in staff
    member; 401 for an unknown or revoked key."""
    key = request.headers.get(issuers.HEADER)
    if key:
        issuer = issuers.authenticate_issuer(key)
        if issuer is None:
            raise Unauthorized()
        return IssuingParty.key(issuer, client_ip())
    return IssuingParty.staff(require_staff(), client_ip())


def issuer_or_staff(*roles: Role) -> Any:
    """Staff with one of `roles`, or any valid issuer key (documented for both)."""

    def decorator(view: Any) -> Any:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.headers.get(issuers.HEADER):
                return view(*args, **kwargs)  # issuing_party() authenticates the key
            return roles_required(*roles)(view)(*args, **kwargs)

        wrapper.required_roles = tuple(roles)  # type: ignore[attr-defined]
        names = [r.value for r in roles]
        return events_blp.doc(security=[*BEARER, {"issuerKey": []}], **{"x-roles": names})(wrapper)

    return decorator


def _issue_limit_key() -> str:
    key = request.headers.get(issuers.HEADER)
    if key:
        return "issuer:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    user = current_staff()
    return f"user:{user.id}" if user is not None else client_ip()


def _issue_limit_value() -> str:
    name = "ISSUER_RATE_LIMIT" if request.headers.get(issuers.HEADER) else "STAFF_ISSUE_RATE_LIMIT"
    return str(current_app.config[name])


issue_limit = limiter.limit(_issue_limit_value, key_func=_issue_limit_key, scope="rating-issue")


@events_blp.route("")
class ServiceEvents(MethodView):
    @issuer_or_staff(*ISSUERS)
    @issue_limit
    @events_blp.arguments(ServiceEventIn)
    @events_blp.response(201, IssuedTokenOut)
    @events_blp.alt_response(403, description="Another department's service, item or region")
    @events_blp.alt_response(429, description="Too many tokens from this issuer")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a rateable service event with a single-use rating token, its link and QR code.

        Staff issue for their own department only; business systems and counter devices send
        `X-Issuer-Key` (`flask issuers create`) and issue for the key's departments. The token
        is returned once, to be handed to the citizen (a QR on the counter screen), and stored
        only as a hash. `qr_url` is an SVG; the same path ending in `.png` gives a PNG.
        """
        issued = tokens.create_service_event(data, issuing_party())
        return issued


@events_blp.route("/<int:event_id>")
class ServiceEventDetail(MethodView):
    @guard(events_blp, *READERS)
    @events_blp.response(200, ServiceEventOut)
    def get(self, event_id: int) -> Any:
        """A service event and whether it has been rated (a handler sees their department's only)."""
        return tokens.describe_event(tokens.get_event(event_id, require_staff()))


def _refuse_staff() -> None:
    """No staff role may rate in a citizen's place (DOMAIN.md: staff must not interfere): any
    request carrying a staff session cookie or a bearer token is refused."""
    if carries_staff_credentials():
        raise Forbidden("Staff may not submit a citizen's rating. Sign out first.")


RATING_OUT = RatingOut()  # one instance: schemas are stateless once built, and building costs


def _created(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


def _rate(data: dict[str, Any]) -> dict[str, Any]:
    """Rate, and the 201's body: dumped from the rating as built, before its first write (the
    comment's scrubbing runs a name tagger), and given the id the insert returned, so the write
    transaction holds only the writes."""
    fields = {k: v for k, v in data.items() if k not in ("token", "level", "channel")}
    client = Client(client_ip())
    prepared = recording.prepare_with_token(data["token"], data["level"], data.get("channel"), client, **fields)
    body: dict[str, Any] = RATING_OUT.dump(prepared.rating)
    body["id"] = recording.store(prepared).id
    return body


@ratings_blp.route("")
class Ratings(MethodView):
    @public(ratings_blp)
    @submission_limits
    @ratings_blp.doc(**IDEMPOTENCY_DOC)
    @ratings_blp.arguments(RatingIn)
    @ratings_blp.response(201, RatingOut)
    @ratings_blp.alt_response(404, description="Unknown token")
    @ratings_blp.alt_response(409, description="Already rated with this token")
    @ratings_blp.alt_response(410, description="Expired token")
    @ratings_blp.alt_response(429, description="Too many ratings from this address")
    def post(self, data: dict[str, Any]) -> Any:
        """Rate a service with its token (public, no sign-in).

        `is_bad_review` is level 1-2; `hidden_bad` a satisfied level whose comment reads clearly
        negative. The contact comes back masked.
        """
        _refuse_staff()
        key = idempotency.key_from(request.headers.get(idempotency.HEADER))
        if key is None:
            return _created(_rate(data))  # dumped before the commit point: no re-read of the row
        fingerprint = idempotency.fingerprint(data)
        replay = idempotency.replay(idempotency.RATINGS, key, fingerprint)
        if replay is not None:
            return replay
        try:
            body = _rate(data)
        except Conflict:
            discard()  # a concurrent request with the same key may have won
            replay = idempotency.replay(idempotency.RATINGS, key, fingerprint)
            if replay is not None:
                return replay
            raise
        response = _created(body)
        idempotency.remember(idempotency.RATINGS, key, fingerprint, response)
        return response

    @guard(ratings_blp, *READERS)
    @ratings_blp.arguments(RatingQuery, location="query")
    @ratings_blp.response(200, RatingPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Ratings, newest first; contacts masked, comments scrubbed; a handler sees their department's."""
        filters = {**args, "from": args.get("from_")}
        stmt = reading.ratings_query(require_staff(), filters)
        return paginate(stmt, args["page"], args["per_page"])


@ratings_blp.route("/<int:rating_id>")
class RatingDetail(MethodView):
    @guard(ratings_blp, *READERS)
    @ratings_blp.response(200, RatingStaffOut)
    def get(self, rating_id: int) -> Any:
        """One rating, with its appeal if any."""
        return reading.get_rating(rating_id, require_staff())


@ratings_blp.route("/<int:rating_id>/appeal")
class RatingAppealCreate(MethodView):
    @guard(ratings_blp, Role.HANDLER)
    @ratings_blp.arguments(AppealIn)
    @ratings_blp.response(201, AppealOut)
    def post(self, data: dict[str, Any], rating_id: int) -> Any:
        """Appeal a bad review of your department (malicious or misdirected), with a reason."""
        user = require_staff()
        appeal = appeals.file_appeal(reading.get_rating(rating_id, user), user, data["kind"], data["reason"])
        return appeal


@reviews_blp.route("")
class RatingReviews(MethodView):
    @guard(reviews_blp, Role.MANAGER)
    @reviews_blp.arguments(ReviewQuery, location="query")
    @reviews_blp.response(200, RatingPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Ratings held for review (pending), oldest first, with the signals that held them."""
        dept = reading.department_by_code(args.get("department"))
        stmt = review.pending_query({"department_id": dept.id if dept else None})
        return paginate(stmt, args["page"], args["per_page"])


@reviews_blp.route("/<int:rating_id>")
class RatingReviewDecision(MethodView):
    @guard(reviews_blp, Role.MANAGER)
    @reviews_blp.arguments(ReviewDecisionIn)
    @reviews_blp.response(200, RatingStaffOut)
    @reviews_blp.alt_response(409, description="Not waiting for review")
    def post(self, data: dict[str, Any], rating_id: int) -> Any:
        """Confirm a held rating (it counts from now on) or reject it (voided, audited)."""
        manager = require_staff()
        rating = reading.get_rating(rating_id, manager)
        decide = review.confirm if data["decision"] == "confirm" else review.reject
        decide(rating, manager, data["note"])
        return rating


@appeals_blp.route("")
class Appeals(MethodView):
    @guard(appeals_blp, Role.MANAGER, Role.HANDLER)
    @appeals_blp.arguments(AppealQuery, location="query")
    @appeals_blp.response(200, AppealOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Appeals, oldest first (a handler sees their department's)."""
        return list(db.session.scalars(appeals.appeals_query(require_staff(), args.get("status"))))


@appeals_blp.route("/<int:appeal_id>/decision")
class AppealDecision(MethodView):
    @guard(appeals_blp, Role.MANAGER)
    @appeals_blp.arguments(AppealDecisionIn)
    @appeals_blp.response(200, AppealOut)
    def post(self, data: dict[str, Any], appeal_id: int) -> Any:
        """Uphold (the rating is voided for statistics, never deleted) or reject an appeal."""
        manager = require_staff()
        appeal = appeals.decide_appeal(
            appeals.get_appeal(appeal_id), manager, data["decision"] == "uphold", data["note"]
        )
        return appeal


@standing_blp.route("")
class StandingCodes(MethodView):
    @guard(standing_blp, Role.MANAGER, Role.HANDLER)
    @standing_blp.arguments(StandingCodeIn)
    @standing_blp.response(201, StandingCodeCreated)
    def post(self, data: dict[str, Any]) -> Any:
        """A reusable QR code for a counter; its ratings are low-trust and limited harder."""
        return tokens.create_standing_code(data, require_staff())

    @guard(standing_blp, Role.MANAGER, Role.HANDLER)
    @standing_blp.response(200, StandingCodeOut(many=True))
    def get(self) -> Any:
        """Standing QR codes (a handler sees their department's)."""
        return list(db.session.scalars(tokens.standing_codes_query(require_staff())))


@standing_blp.route("/<int:code_id>/revoke")
class StandingCodeRevoke(MethodView):
    @guard(standing_blp, Role.MANAGER, Role.HANDLER)
    @standing_blp.response(200, StandingCodeOut)
    def post(self, code_id: int) -> Any:
        """Withdraw a standing QR code: its link then answers 410."""
        user = require_staff()
        code = tokens.revoke_standing_code(tokens.get_standing_code(code_id, user), user)
        return code
