"""Property-based fuzzing of the API from its own OpenAPI description (schemathesis, through the
WSGI app, on a temp SQLite database with demo reference data and staff): no 5xx, responses that
conform to the described schemas and status codes, and bearer auth enforced where declared.

Bounded for CI: 25 examples per operation, a fixed seed (derandomized), no example database."""

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)
from tests_support import build_app_with

from core.auth import issue_api_token
from core.db import db
from core.models import User

pytestmark = pytest.mark.skipif(
    os.environ.get("TEST_SKIP_SQLITE") == "1", reason="runs on its own SQLite database, in the SQLite pass"
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """The app on its own SQLite file with `flask demo load` reference data, and a manager's token."""
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    app = build_app_with(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}", create_schema=True)
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        manager = db.session.scalar(db.select(User).where(User.username == "demo_manager"))
        token = issue_api_token(manager, "fuzz")
        db.session.commit()
        db.session.remove()
    yield app, token
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def operations(fuzz_app: tuple[Flask, str]) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app[0])
    return [result.ok() for result in schema.get_all_operations()]


def _is_public(operation: Any) -> bool:
    return not operation.definition.raw.get("security", [{"bearerAuth": []}])


def _fuzz(operation: Any, headers: dict[str, str], checks: list[Any]) -> str | None:
    """Run one operation's examples; the first failure, described, or None."""

    @FUZZ
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    try:
        run()
    except Exception as exc:  # each operation's failure is collected, then all are reported
        return f"{operation.label}: {exc}"
    return None


@pytest.mark.slow
def test_the_staff_api_as_a_manager(operations, fuzz_app):
    """Every staff operation, with a manager's bearer token (403 where a manager may not act)."""
    headers = {"Authorization": f"Bearer {fuzz_app[1]}"}
    staff = [op for op in operations if not _is_public(op)]
    assert len(staff) >= 40
    failures = [f for op in staff if (f := _fuzz(op, headers, [*CHECKS, ignored_auth])) is not None]
    assert not failures, "\n\n".join(failures)


def test_the_public_api_without_a_token(operations):
    public = [op for op in operations if _is_public(op)]
    assert {op.label for op in public} >= {"POST /api/v1/ratings", "GET /api/v1/public/rectifications"}
    failures = [f for op in public if (f := _fuzz(op, {}, CHECKS)) is not None]
    assert not failures, "\n\n".join(failures)


def test_every_operation_that_declares_bearer_auth_refuses_a_request_without_one(fuzz_app):
    app, _token = fuzz_app
    client = app.test_client()
    spec = client.get("/api/openapi.json").get_json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or not operation.get("security", spec.get("security")):
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)  # any value: auth comes before lookup
            for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
                response = client.open(url, method=method.upper(), json={}, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert response.is_json and response.get_json()["code"] == 401
            checked += 1
    assert checked >= 40


CRAFTED_BODIES = {
    "100,000 nested arrays": "[" * 100_000 + "]" * 100_000,
    "5,000 nested objects": '{"a":' * 5000 + "1" + "}" * 5000,
    "a number of 5,000 digits": '{"level": ' + "9" * 5000 + ', "token": "x", "name": "x"}',
    "NUL in a string": '{"token": "\\u0000", "name": "a\\u0000b", "content": "\\u0000", "comment": "\\u0000"}',
    "a lone surrogate": '{"token": "\\ud800", "name": "\\ud800", "content": "\\ud800"}',
    "NaN": '{"level": NaN}',
}


def test_crafted_bodies_get_a_clear_error_from_every_operation_that_takes_one(fuzz_app):
    """Issue 14: the bodies that used to raise RecursionError, ValueError or a database error
    are refused (4xx, JSON) by every operation with a request body, for a manager and for nobody."""
    app, token = fuzz_app
    client = app.test_client()
    spec = client.get("/api/openapi.json").get_json()
    failures, checked = [], 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or "requestBody" not in operation:
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            for name, body in CRAFTED_BODIES.items():
                for headers in ({"Authorization": f"Bearer {token}"}, {}):
                    response = client.open(
                        url, method=method.upper(), data=body, content_type="application/json", headers=headers
                    )
                    if response.status_code >= 500 or not response.is_json:
                        failures.append(f"{method.upper()} {path} with {name}: {response.status_code}")
            checked += 1
    assert checked >= 10
    assert not failures, "\n".join(failures)


CRAFTED_VALUES = {"5,000 digits": "9" * 5000, "NUL": "\x00", "a naive time": "2026-12-01T10:00:00", "-0": "-0"}


def test_crafted_query_values_get_a_clear_error_from_every_operation(fuzz_app):
    """Every query parameter and path parameter of every operation, given a 5,000-digit number,
    a NUL or a naive time: a 4xx (or 2xx), never a 5xx."""
    app, token = fuzz_app
    client = app.test_client()
    spec = client.get("/api/openapi.json").get_json()
    headers = {"Authorization": f"Bearer {token}"}
    failures, checked = [], 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            parameters = operation.get("parameters", []) + operations.get("parameters", [])
            for name, value in CRAFTED_VALUES.items():
                url = re.sub(r"\{[^}]+\}", "9" * 30 if name == "5,000 digits" else "x%00", path)
                query = {p["name"]: value for p in parameters if p.get("in") == "query"}
                response = client.open(url, method=method.upper(), query_string=query, headers=headers, json={})
                if response.status_code >= 500:
                    failures.append(f"{method.upper()} {path} with {name}: {response.status_code}")
                checked += 1
    assert checked >= 100
    assert not failures, "\n".join(failures)
