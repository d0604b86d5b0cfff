"""Accounts against an outsider (issue 14): `next` stays on site, tokens can be listed, revoked
and expire, users can be deactivated (their next request is refused), the CSRF token is renewed at
sign-in, guessable passwords are refused, and production hides its API map and metrics and builds
links only from PUBLIC_BASE_URL."""

import secrets
from datetime import timedelta

import factories as f
import pytest
from sqlalchemy import func, select

from core.db import db, utcnow
from core.errors import ValidationFailed
from core.models import ApiToken, Role, StaffSession, User
from core.users import create_user

# -- next after sign-in -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/phish",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/%20/evil.example",
        "///evil.example",
    ],
)
def test_next_off_site_goes_home(client, target):
    staff = f.user(Role.AGENT)
    response = client.post(f"/login?next={target}", data={"username": staff.username, "password": f.PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target


def test_next_on_site_is_kept(client):
    staff = f.user(Role.AGENT)
    response = client.post(
        "/login?next=/hotline/tickets?q=1", data={"username": staff.username, "password": f.PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/hotline/tickets?q=1"


@pytest.mark.parametrize("target", ["/%0d%0aX-Injected:%201", "/%00", "/a%0aSet-Cookie:x=1", "/%1b[2J"])
def test_control_characters_in_next_are_refused_before_sign_in(client, target):
    staff = f.user(Role.AGENT)
    before = db.session.scalar(select(func.count()).select_from(StaffSession))
    response = client.post(f"/login?next={target}", data={"username": staff.username, "password": f.PASSWORD})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "返回地址无效" in page and "请求未能完成" in page and "could not be completed" not in page
    assert "X-Injected" not in response.headers
    assert db.session.scalar(select(func.count()).select_from(StaffSession)) == before
    assert client.get(f"/login?next={target}").status_code == 400


def test_the_csrf_token_is_renewed_at_sign_in(client):
    staff = f.user(Role.AGENT)
    with client.session_transaction() as session:
        session["csrf_token"] = "planted-before-sign-in"
    f.login(client, staff)
    with client.session_transaction() as session:
        assert session.get("csrf_token") != "planted-before-sign-in"


# -- passwords ------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", "123456789012", "qwertyuiopas"])
def test_guessable_passwords_are_refused_with_a_bilingual_message(ctx, password):
    with pytest.raises(ValidationFailed) as caught:
        create_user("weakling", "agent", password)
    message = caught.value.errors["password"][0]
    assert "密码太容易被猜到" in message and "too easy to guess" in message


def test_the_username_does_not_make_a_password(ctx):
    with pytest.raises(ValidationFailed):
        create_user("zhangsanfeng", "agent", "zhangsanfeng1")


def test_cli_refuses_a_guessable_password(runner):
    result = runner.invoke(
        args=["users", "create", "lisi", "--role", "agent", "--password-stdin"], input="aaaaaaaaaaaa\n"
    )
    assert result.exit_code != 0 and "too easy to guess" in result.output
    assert db.session.scalar(select(User).where(User.username == "lisi")) is None


# -- tokens ---------------------------------------------------------------------------------------


def _token_of(runner, username, *extra):
    result = runner.invoke(args=["tokens", "create", username, *extra])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_tokens_list_and_revoke_by_id_or_value(runner, client):
    staff = f.user(Role.AGENT)
    first, second = _token_of(runner, staff.username), _token_of(runner, staff.username, "--name", "ci")
    listed = runner.invoke(args=["tokens", "list", staff.username])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith("id\tname\tstate") and len(lines) == 3
    assert first not in listed.output and second not in listed.output  # values are never shown
    newest_id = lines[1].split("\t")[0]
    assert lines[1].split("\t")[1:3] == ["ci", "active"]

    assert client.get("/api/v1/me", headers=_auth(second)).status_code == 200
    assert runner.invoke(args=["tokens", "revoke", newest_id]).exit_code == 0
    assert client.get("/api/v1/me", headers=_auth(second)).status_code == 401
    assert client.get("/api/v1/me", headers=_auth(first)).status_code == 200
    assert runner.invoke(args=["tokens", "revoke", "--", first]).exit_code == 0
    assert client.get("/api/v1/me", headers=_auth(first)).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list", staff.username]).output
    assert runner.invoke(args=["tokens", "revoke", "999999"]).exit_code != 0
    assert runner.invoke(args=["tokens", "list", "nobody"]).exit_code != 0


def test_tokens_may_expire(runner, client):
    staff = f.user(Role.AGENT)
    token = _token_of(runner, staff.username, "--expires-days", "30")
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == staff.id))
    assert row.expires_at is not None and timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    assert client.get("/api/v1/me", headers=_auth(token)).status_code == 200
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get("/api/v1/me", headers=_auth(token))
    assert response.status_code == 401 and response.json["code"] == 401
    assert "expired" in runner.invoke(args=["tokens", "list", staff.username]).output
    assert runner.invoke(args=["tokens", "create", staff.username, "--expires-days", "0"]).exit_code != 0


# -- deactivation -------------------------------------------------------------------------------


def test_deactivation_ends_sessions_and_tokens_at_once(runner, client, app):
    staff = f.user(Role.AGENT)
    token = _token_of(runner, staff.username)
    browser = app.test_client()
    assert f.login(browser, staff).status_code == 302
    assert browser.get("/hotline/").status_code == 200
    assert client.get("/api/v1/me", headers=_auth(token)).status_code == 200

    result = runner.invoke(args=["users", "deactivate", staff.username])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/me", headers=_auth(token)).status_code == 401
    page = browser.get("/hotline/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert f.login(browser, staff).status_code == 401  # cannot sign in again either
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(StaffSession)
            .where(StaffSession.user_id == staff.id, StaffSession.revoked_at.is_(None))
        )
        == 0
    )

    assert runner.invoke(args=["users", "activate", staff.username]).exit_code == 0
    assert client.get("/api/v1/me", headers=_auth(token)).status_code == 401  # stays revoked
    assert f.login(browser, staff).status_code == 302
    assert runner.invoke(args=["users", "deactivate", "nobody"]).exit_code != 0


def test_admins_manage_accounts_over_the_api(client):
    admin, staff = f.user(Role.ADMIN), f.user(Role.HANDLER)
    admin_auth, staff_auth = f.bearer(admin), f.bearer(staff)
    listed = client.get("/api/v1/users", headers=admin_auth)
    assert listed.status_code == 200 and staff.username in {u["username"] for u in listed.json}
    tokens = client.get(f"/api/v1/users/{staff.username}/tokens", headers=admin_auth)
    assert tokens.status_code == 200 and tokens.json[0]["state"] == "active" and "token" not in tokens.json[0]

    revoked = client.post(f"/api/v1/tokens/{tokens.json[0]['id']}/revoke", headers=admin_auth)
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked"
    assert client.get("/api/v1/me", headers=staff_auth).status_code == 401

    other = f.bearer(staff)
    off = client.post(f"/api/v1/users/{staff.username}/deactivate", headers=admin_auth)
    assert off.status_code == 200 and off.json["active"] is False
    assert client.get("/api/v1/me", headers=other).status_code == 401
    on = client.post(f"/api/v1/users/{staff.username}/activate", headers=admin_auth)
    assert on.status_code == 200 and on.json["active"] is True
    assert client.post(f"/api/v1/users/{admin.username}/deactivate", headers=admin_auth).status_code == 409
    assert client.post("/api/v1/users/nobody/deactivate", headers=admin_auth).status_code == 404
    assert client.post("/api/v1/tokens/999999/revoke", headers=admin_auth).status_code == 404


def test_admins_manage_accounts_on_a_page(client, app):
    admin, staff = f.user(Role.ADMIN), f.user(Role.AGENT)
    token = f.bearer(staff)
    f.login(client, admin)
    page = client.get("/admin/users")
    assert page.status_code == 200 and staff.username in page.get_data(as_text=True)
    detail = client.get(f"/admin/users/{staff.username}")
    assert detail.status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == staff.id))
    assert client.post(f"/admin/tokens/{row.id}/revoke").status_code == 302
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401  # no admin cookie
    assert client.post(f"/admin/users/{staff.username}/deactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, staff.id).active is False
    assert client.post(f"/admin/users/{admin.username}/deactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True
    assert client.post(f"/admin/users/{staff.username}/activate").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, staff.id).active is True


# -- production ---------------------------------------------------------------------------------


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setenv("HAOCHA_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("HAOCHA_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")

    def build(**overrides):
        from tests_support import build_app_with

        return build_app_with(f"sqlite:///{tmp_path}/prod.db", create_schema=True, **overrides)

    return build


def test_production_refuses_to_start_without_public_base_url(production):
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        production(PUBLIC_BASE_URL="")


def test_production_trusts_only_its_own_host(production):
    app = production(PUBLIC_BASE_URL="https://12345.hainan.example", TRUSTED_HOSTS=["internal.lan"])
    client = app.test_client()
    assert client.get("/healthz", base_url="https://12345.hainan.example").status_code == 200
    assert client.get("/healthz", base_url="http://internal.lan").status_code == 200
    forged = client.get("/open311/v2/discovery.json", base_url="https://evil.example")
    assert forged.status_code == 400 and "evil.example" not in forged.get_data(as_text=True)
    discovery = client.get("/open311/v2/discovery.json", base_url="https://12345.hainan.example")
    assert discovery.json["endpoints"][0]["url"].startswith("https://12345.hainan.example/")


def test_production_hides_api_docs_and_metrics_from_strangers(production):
    app = production(PUBLIC_BASE_URL="http://localhost", METRICS_TOKEN="")
    client = app.test_client()
    docs = client.get("/api/docs")
    assert docs.status_code == 302 and docs.headers["Location"].startswith("/login")
    assert client.get("/api/openapi.json").status_code == 401
    assert client.get("/metrics").status_code == 403
    with app.app_context():
        staff = f.user(Role.AGENT)
        auth = f.bearer(staff)
        username = staff.username
    assert client.get("/api/openapi.json", headers=auth).status_code == 200
    client.post("/login", data={"username": username, "password": f.PASSWORD})
    assert client.get("/api/docs").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200
    secured = production(PUBLIC_BASE_URL="http://localhost", METRICS_TOKEN="scrape-secret")
    assert secured.test_client().get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200
