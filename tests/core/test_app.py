"""The app shell: health, OpenAPI, errors, languages, request logs."""

import json
import logging

import factories as f
from openapi_spec_validator import validate
from tests_support import build_app_with

from core.logs import JsonFormatter
from core.models import Role


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    # Packages may add figures (e.g. "reporting_backlog"); the two keys of the contract stay.
    assert {"status": "ok", "database": "ok"}.items() <= response.json.items()


def test_healthz_503_when_database_is_down(tmp_path):
    app = build_app_with(f"sqlite:///{tmp_path}/missing/dir/none.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unavailable"


def test_openapi_document_is_valid_and_declares_bearer_auth(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert spec["paths"]["/api/v1/departments"]["post"]["security"] == [{"bearerAuth": []}]


def test_swagger_ui_and_its_assets_are_served_locally(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert "<script>" not in html  # no inline script
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert client.get(f"/api/docs/assets/{asset}").status_code == 200
    assert client.get("/static/swagger-init.js").status_code == 200


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["status"] == "Not Found"


def test_unknown_page_is_an_html_404_in_one_language(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "页面不存在" in html and "请求未能完成" in html
    assert "The request could not be completed." not in html and "requested URL" not in html
    english = client.get("/nothing-here?lang=en").get_data(as_text=True)
    assert "Page not found" in english and "The request could not be completed." in english
    assert "请求未能完成" not in english


def test_validation_errors_use_the_contract_payload(client):
    admin = f.user(Role.ADMIN)
    response = client.post("/api/v1/departments", json={"code": "bad code!", "name": ""}, headers=f.bearer(admin))
    assert response.status_code == 422
    body = response.json
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert set(body["errors"]) >= {"code", "name", "region_code"}


def test_unknown_fields_are_rejected(client):
    admin = f.user(Role.ADMIN)
    response = client.post(
        "/api/v1/departments",
        json={"code": "OK1", "name": "x", "region_code": "460100", "surprise": 1},
        headers=f.bearer(admin),
    )
    assert response.status_code == 422
    assert "surprise" in response.json["errors"]


def test_500_is_logged_with_request_id_and_shows_no_trace(tmp_path, caplog):
    app = build_app_with(f"sqlite:///{tmp_path}/boom.db")
    client = app.test_client()

    @app.route("/boom-test")
    def boom() -> str:
        raise RuntimeError("secret internals 13812345678")

    with caplog.at_level(logging.ERROR):
        response = client.get("/boom-test", headers={"X-Request-ID": "abc123"})
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "secret internals" not in html and "Traceback" not in html
    assert "abc123" in html
    assert response.headers["X-Request-ID"] == "abc123"
    assert any("abc123" in r.getMessage() for r in caplog.records)


def test_language_follows_param_then_cookie_then_browser(client):
    assert "工作人员登录" in client.get("/login").get_data(as_text=True)
    assert "Staff sign-in" in client.get("/login", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    assert "Staff sign-in" in client.get("/login?lang=en").get_data(as_text=True)
    # the choice is remembered in a cookie
    assert "Staff sign-in" in client.get("/login").get_data(as_text=True)
    assert "工作人员登录" in client.get("/login?lang=zh").get_data(as_text=True)


def test_request_log_is_one_json_line_without_personal_numbers(client, caplog):
    root_handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert root_handlers, "configure_logging installs the JSON handler"
    handler = root_handlers[0]
    with caplog.at_level(logging.INFO):
        client.get("/healthz?phone=13812345678")
        client.get("/login/13812345678")
        logging.getLogger("haocha.test").info("caller 13812345678 id 46010019900101123X")
    lines = []
    for record in caplog.records:
        assert all(flt.filter(record) for flt in handler.filters)
        lines.append(json.loads(handler.format(record)))
    requests = [entry for entry in lines if entry.get("msg") == "request"]
    assert len(requests) == 2
    assert {"request_id", "method", "path", "status", "duration_ms"} <= set(requests[0])
    assert requests[1]["status"] == 404
    dumped = json.dumps(lines, ensure_ascii=False)
    assert "13812345678" not in dumped and "46010019900101123X" not in dumped
    assert "138****5678" in dumped


def test_csrf_is_enforced_on_pages_but_not_the_token_api(tmp_path):
    app = build_app_with(f"sqlite:///{tmp_path}/csrf.db", WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    assert client.post("/api/v1/departments", json={}).status_code == 401  # not a CSRF 400


def test_a_query_string_parsed_before_gives_the_same_arguments_and_a_bad_one_is_refused_each_time(client):
    """core.api remembers the arguments of query strings it has parsed: asking again must answer
    the same, lists included, and a refused query string is refused again (never remembered)."""
    agent = f.user(Role.AGENT)
    url = "/api/v1/tickets?status=accepted&status=dispatched&limit=5"
    first = client.get(url, headers=f.bearer(agent))
    again = client.get(url, headers=f.bearer(agent))
    assert first.status_code == again.status_code == 200 and first.json == again.json
    for _ in range(2):
        refused = client.get("/api/v1/tickets?status=nonsense", headers=f.bearer(agent))
        assert refused.status_code == 422 and "status" in json.dumps(refused.json)
    for _ in range(2):
        assert client.get("/api/v1/tickets?limit=0", headers=f.bearer(agent)).status_code == 422


def test_ensure_sync_remembers_coroutine_functions_and_wraps_only_those(app, client, monkeypatch):
    """Flask asks `inspect` whether each hook and view is a coroutine on every request; the app
    remembers the answer per function. An `async def` is still handed to `async_to_sync`, a
    plain function is returned as it is, and a view's bound method (a new one per request) is
    remembered by its function, so the memory does not grow request by request."""
    from core import unit_of_work

    wrapped: list[object] = []
    monkeypatch.setattr(app, "async_to_sync", lambda func: wrapped.append(func) or "wrapped")

    async def coroutine() -> None:
        return None

    def plain() -> None:
        return None

    class Holder:
        async def method(self) -> None:
            return None

    assert app.ensure_sync(coroutine) == "wrapped" and app.ensure_sync(coroutine) == "wrapped"
    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    first, second = Holder().method, Holder().method
    assert app.ensure_sync(first) == "wrapped" and app.ensure_sync(second) == "wrapped"
    assert wrapped == [coroutine, coroutine, first, second]
    assert unit_of_work._COROUTINES[coroutine] is True and unit_of_work._COROUTINES[plain] is False
    assert Holder.method in unit_of_work._COROUTINES

    staff = f.user(Role.MANAGER)
    headers = f.bearer(staff)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    remembered = len(unit_of_work._COROUTINES)
    for _ in range(5):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(unit_of_work._COROUTINES) == remembered
