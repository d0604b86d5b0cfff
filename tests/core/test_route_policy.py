"""Every route obeys the route × role policy in config/route_policy.toml, and a route added
without a rule fails this test."""

import tomllib
from pathlib import Path
from typing import Any

import factories as f
from werkzeug.routing import Rule

from core.models import Role

POLICY_FILE = Path(__file__).resolve().parents[2] / "config" / "route_policy.toml"
POLICY: dict[str, dict[str, Any]] = tomllib.loads(POLICY_FILE.read_text(encoding="utf-8"))
SKIP_METHODS = {"HEAD", "OPTIONS"}
ALL_ROLES = {r.value for r in Role}


def _routes(app) -> list[tuple[Rule, str]]:
    return [
        (rule, method) for rule in app.url_map.iter_rules() for method in sorted((rule.methods or set()) - SKIP_METHODS)
    ]


def _declared_roles(app, rule: Rule, method: str) -> Any:
    view = app.view_functions[rule.endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, method.lower())
    return getattr(view, "required_roles", "none")


def _rule_of(endpoint: str, method: str) -> Any:
    entry = POLICY.get(endpoint)
    if entry is None:
        return None
    return entry.get(method, entry.get("*"))


def missing_rules(app) -> list[str]:
    return [
        f"{rule.endpoint} {method} {rule.rule}"
        for rule, method in _routes(app)
        if _rule_of(rule.endpoint, method) is None
    ]


def test_every_route_has_a_rule(app):
    missing = missing_rules(app)
    assert not missing, "routes without a rule in config/route_policy.toml:\n" + "\n".join(missing)


def test_a_route_added_without_a_rule_is_caught(tmp_path):
    from tests_support import build_app_with

    other = build_app_with(f"sqlite:///{tmp_path}/policy.db")
    other.add_url_rule("/sneaky", "sneaky", lambda: "hi", methods=["GET", "POST"])
    assert missing_rules(other) == ["sneaky GET /sneaky", "sneaky POST /sneaky"]


def test_no_stale_rules(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not set(POLICY) - endpoints


def test_declared_roles_match_the_policy(app):
    wrong = []
    for rule, method in _routes(app):
        policy = _rule_of(rule.endpoint, method)
        declared = _declared_roles(app, rule, method)
        if not isinstance(policy, list):
            if isinstance(declared, tuple):
                wrong.append(f"{rule.endpoint} {method}: code requires {declared}, policy says {policy}")
            continue
        declared_set = {getattr(r, "value", r) for r in declared} if isinstance(declared, tuple) else declared
        if declared_set != set(policy):
            wrong.append(f"{rule.endpoint} {method}: code says {declared_set}, policy says {sorted(policy)}")
    assert not wrong, "\n".join(wrong)


def _url(rule: Rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 999999 if type(converter).__name__ in {"IntegerConverter"} else "x"
    return rule.build(values, append_unknown=False)[1]


def test_routes_refuse_callers_the_policy_does_not_allow(app, client):
    tokens = {role.value: f.bearer(f.user(role)) for role in Role}
    failures = []
    for rule, method in _routes(app):
        policy = _rule_of(rule.endpoint, method)
        if not isinstance(policy, list):
            continue
        url = _url(rule)
        anonymous = client.open(url, method=method)
        if anonymous.status_code not in (401, 302):
            failures.append(f"{method} {url} anonymous -> {anonymous.status_code}")
        if not url.startswith("/api/"):
            continue
        for role in ALL_ROLES - set(policy):
            response = client.open(url, method=method, headers=tokens[role], json={})
            if response.status_code != 403:
                failures.append(f"{method} {url} as {role} -> {response.status_code}")
    assert not failures, "\n".join(failures)
