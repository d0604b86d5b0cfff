"""Staff API for reference data and the signed-in user."""

from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from core import notify, refdata, users
from core.api import api_blueprint, guard
from core.auth import ensure_visible, require_staff
from core.db import db
from core.models import Region, Role, User
from core.pagination import paginate
from core.schemas import (
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    DepartmentQuery,
    NotificationOut,
    NotificationPage,
    NotificationQuery,
    ReadAllOut,
    RegionOut,
    ServiceItemIn,
    ServiceItemOut,
    ServiceItemPatch,
    ServiceItemQuery,
    TokenOut,
    UserOut,
)

ALL_STAFF = (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.HANDLER)
ADMIN = (Role.ADMIN,)

blp = api_blueprint("reference", __name__, "", "Reference data: regions, departments, service items")


@blp.route("/me")
class Me(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.response(200, UserOut)
    def get(self) -> Any:
        """The signed-in staff member."""
        return require_staff()


@blp.route("/regions")
class Regions(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.response(200, RegionOut(many=True))
    def get(self) -> Any:
        """Hainan's cities and counties (市县)."""
        return list(db.session.scalars(select(Region).order_by(Region.code)))


@blp.route("/departments")
class Departments(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.arguments(DepartmentQuery, location="query")
    @blp.response(200, DepartmentOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Departments (承办单位), filtered by region or text."""
        return refdata.list_departments(args.get("region"), args.get("q"))

    @guard(blp, *ADMIN)
    @blp.arguments(DepartmentIn)
    @blp.response(201, DepartmentOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a department."""
        dept = refdata.create_department(data)
        return dept


@blp.route("/departments/<code>")
class DepartmentDetail(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.response(200, DepartmentOut)
    def get(self, code: str) -> Any:
        """One department."""
        return refdata.get_department(code)

    @guard(blp, *ADMIN)
    @blp.arguments(DepartmentPatch)
    @blp.response(200, DepartmentOut)
    def patch(self, data: dict[str, Any], code: str) -> Any:
        """Change a department."""
        dept = refdata.update_department(code, data)
        return dept


@blp.route("/departments/<code>/staff")
class DepartmentStaff(MethodView):
    @guard(blp, Role.ADMIN, Role.MANAGER, Role.HANDLER)
    @blp.response(200, UserOut(many=True))
    def get(self, code: str) -> Any:
        """The staff of a department; a handler sees only their own department (else 404)."""
        dept = refdata.get_department(code)
        ensure_visible(require_staff(), dept.id, "Department")
        return refdata.department_staff(dept)


@blp.route("/service-items")
class ServiceItems(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.arguments(ServiceItemQuery, location="query")
    @blp.response(200, ServiceItemOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Service items (政务服务事项)."""
        return refdata.list_service_items(args.get("department"), args.get("q"))

    @guard(blp, *ADMIN)
    @blp.arguments(ServiceItemIn)
    @blp.response(201, ServiceItemOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a service item."""
        item = refdata.create_service_item(data)
        return item


@blp.route("/service-items/<code>")
class ServiceItemDetail(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.response(200, ServiceItemOut)
    def get(self, code: str) -> Any:
        """One service item."""
        return refdata.get_service_item(code)

    @guard(blp, *ADMIN)
    @blp.arguments(ServiceItemPatch)
    @blp.response(200, ServiceItemOut)
    def patch(self, data: dict[str, Any], code: str) -> Any:
        """Change a service item."""
        item = refdata.update_service_item(code, data)
        return item


# -- account controls (admins) ------------------------------------------------------------------


@blp.route("/users")
class Users(MethodView):
    @guard(blp, *ADMIN)
    @blp.response(200, UserOut(many=True))
    def get(self) -> Any:
        """Every staff account, by username, active or not."""
        return list(db.session.scalars(select(User).order_by(User.username)))


@blp.route("/users/<username>/deactivate")
class DeactivateUser(MethodView):
    @guard(blp, *ADMIN)
    @blp.response(200, UserOut)
    def post(self, username: str) -> Any:
        """Deactivate an account: its web sessions and bearer tokens are revoked at once, so its
        next request is refused (401). An admin cannot deactivate their own account (409)."""
        user = users.set_active(users.get_user(username), False, require_staff())
        return user


@blp.route("/users/<username>/activate")
class ActivateUser(MethodView):
    @guard(blp, *ADMIN)
    @blp.response(200, UserOut)
    def post(self, username: str) -> Any:
        """Activate an account again; tokens revoked when it was deactivated stay revoked."""
        user = users.set_active(users.get_user(username), True, require_staff())
        return user


@blp.route("/users/<username>/tokens")
class UserTokens(MethodView):
    @guard(blp, *ADMIN)
    @blp.response(200, TokenOut(many=True))
    def get(self, username: str) -> Any:
        """The account's bearer tokens, newest first, with their state (never their value)."""
        return users.list_tokens(users.get_user(username))


@blp.route("/tokens/<int:token_id>/revoke")
class RevokeToken(MethodView):
    @guard(blp, *ADMIN)
    @blp.response(200, TokenOut)
    def post(self, token_id: int) -> Any:
        """Revoke a bearer token: refused (401) from the next request on."""
        token = users.revoke_token(users.find_token(str(token_id)))
        return token


@blp.route("/notifications")
class Notifications(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.arguments(NotificationQuery, location="query")
    @blp.response(200, NotificationPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The signed-in staff member's notifications, newest first (`unread=true`: unread only)."""
        user = require_staff()
        listing = paginate(notify.notifications_query(user, args["unread"]), args["page"], args["per_page"])
        return {**listing, "unread": notify.unread_count(user)}


@blp.route("/notifications/<int:notification_id>/read")
class ReadNotification(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.response(200, NotificationOut)
    def post(self, notification_id: int) -> Any:
        """Mark one of your notifications read."""
        return notify.mark_read(require_staff(), notification_id)


@blp.route("/notifications/read-all")
class ReadAllNotifications(MethodView):
    @guard(blp, *ALL_STAFF)
    @blp.response(200, ReadAllOut)
    def post(self) -> Any:
        """Mark all your notifications read."""
        return {"marked": notify.mark_all_read(require_staff())}
