"""The REST API: flask-smorest with OpenAPI 3 at /api/openapi.json and Swagger UI at /api/docs,
whose assets the app serves itself (government networks are often closed to CDNs)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import swagger_ui_bundle
from flask import Blueprint as FlaskBlueprint
from flask import Flask, current_app, send_from_directory
from flask_smorest import Api, Blueprint
from marshmallow import Schema
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.wrappers import Response

from core import input_guard

F = TypeVar("F", bound=Callable[..., Any])

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
PUBLIC: list[dict[str, list[str]]] = []


class HaochaApi(Api):
    """flask-smorest's Api, leaving error handling to core.errors (one payload for all)."""

    def _register_error_handlers(self) -> None:
        return None


def make_api(app: Flask) -> HaochaApi:
    api = HaochaApi(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "12345 hotline tickets and 好差评 service ratings. Staff endpoints need "
                    "`Authorization: Bearer TOKEN` (`flask tokens create USERNAME`); errors are "
                    "JSON `{code, status, message, errors}`; datetimes are ISO 8601 with an "
                    "offset; days are YYYY-MM-DD in Asia/Shanghai. Limits on every request: a body "
                    "over MAX_CONTENT_LENGTH (1 MiB by default) is 413; JSON nested deeper than 32 "
                    "levels, a number longer than 40 characters, NaN or Infinity is 422; control "
                    "characters (other than tab, LF, CR) in any text, query or path are 422 "
                    "`Control characters are not allowed.`; a list cursor the list did not make is 400. "
                    "Bearer tokens may expire (`flask tokens create USERNAME --expires-days N`) and are "
                    "refused (401) once revoked, expired, or their user deactivated."
                )
            }
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Staff API token"}
    )
    api.spec.components.security_scheme(
        "issuerKey",
        {
            "type": "apiKey",
            "in": "header",
            "name": "X-Issuer-Key",
            "description": "Issuer key of a business system or counter device (`flask issuers create`)",
        },
    )
    assets = FlaskBlueprint("swagger_assets", __name__)

    @assets.route("/api/docs/assets/<path:filename>")
    def swagger_asset(filename: str) -> Response:
        return send_from_directory(SWAGGER_DIR, filename, max_age=86400)

    app.register_blueprint(assets)
    return api


class QueryArgs(dict[str, str]):
    """A query string as webargs reads it: each name's first value, and `getlist` for the names
    a schema takes as lists. werkzeug's MultiDict answers a missing name by building a
    BadRequestKeyError (an HTTP exception) inside `get`: a schema of ten optional arguments
    built ten of them per request."""

    def __init__(self, args: Any) -> None:
        lists = dict(args.lists())
        super().__init__((name, values[0]) for name, values in lists.items() if values)
        self.lists = lists

    def getlist(self, name: str) -> list[str]:
        return list(self.lists.get(name, ()))


class GuardedParser(FlaskParser):
    """webargs' parser reading JSON bodies within core.input_guard's limits (depth, numbers)."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return webargs_core.missing
        return input_guard.loads(req.get_data(cache=True))

    def load_querystring(self, req: Any, schema: Any) -> Any:
        return self._makeproxy(QueryArgs(req.args), schema)

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        """As webargs', with the arguments of a query string the process has parsed before
        remembered (a dashboard asks the same question again and again): loading a query schema
        depends on the query string alone, and a refused one is never remembered."""
        if location not in ("query", "querystring") or kwargs.get("validate") or not isinstance(argmap, Schema):
            return super().parse(argmap, req, location=location, **kwargs)
        req = req if req is not None else self.get_default_request()
        key = (id(argmap), id(current_app._get_current_object()), kwargs.get("unknown"), req.query_string)  # type: ignore[attr-defined]
        found = _parsed_queries.get(key)
        if found is None:
            found = super().parse(argmap, req, location=location, **kwargs)
            if len(_parsed_queries) >= PARSED_QUERIES_KEPT:
                _parsed_queries.clear()
            _parsed_queries[key] = found
        return {name: list(value) if isinstance(value, list) else value for name, value in found.items()}


PARSED_QUERIES_KEPT = 1024
_parsed_queries: dict[tuple[Any, ...], dict[str, Any]] = {}


class GuardedBlueprint(Blueprint):
    ARGUMENTS_PARSER = GuardedParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, with one schema instance for every request: given a class, webargs
        builds a new instance per request (a quarter of a small GET's work)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A flask-smorest Blueprint under /api/v1."""
    return GuardedBlueprint(name, import_name, url_prefix=f"/api/v1{url_prefix}", description=description)


def doc_security(roles: tuple[str, ...] | None) -> dict[str, Any]:
    """OpenAPI operation extras: who may call it."""
    if roles is None:
        return {"security": PUBLIC}
    return {"security": BEARER, "x-roles": list(roles)}


def guard(blp: Blueprint, *roles: Any) -> Any:
    """Document who may call an operation and enforce it (auth runs before input parsing)."""
    from core.auth import roles_required

    names = tuple(getattr(r, "value", r) for r in roles)

    def decorator(view: Any) -> Any:
        view = blp.doc(**doc_security(names))(view)
        return roles_required(*roles)(view)

    return decorator


def documented(doc: str) -> Callable[[F], F]:
    """Give a view built in a loop the docstring flask-smorest documents its operation with."""

    def decorator(view: F) -> F:
        view.__doc__ = doc
        return view

    return decorator


def public(blp: Blueprint) -> Any:
    """Mark an operation as public (no sign-in) in the OpenAPI document."""

    def decorator(view: Any) -> Any:
        view = blp.doc(**doc_security(None))(view)
        view.required_roles = None
        return view

    return decorator
