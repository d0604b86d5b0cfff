"""Staff sign-in, server-side session revocation, bearer tokens, roles and department scope."""

import factories as f
from argon2 import PasswordHasher

from core.auth import authenticate, token_digest
from core.db import db
from core.models import ApiToken, Role, StaffSession


def test_password_is_stored_as_argon2id_with_asvs_parameters(database):
    staff = f.user(Role.AGENT)
    assert staff.password_hash.startswith("$argon2id$")
    params = PasswordHasher().check_needs_rehash  # noqa: F841 - parameters read from the hash below
    memory = int(staff.password_hash.split("$")[3].split(",")[0].split("=")[1])
    time_cost = int(staff.password_hash.split("$")[3].split(",")[1].split("=")[1])
    assert memory >= 19456 and time_cost >= 2
    assert f.PASSWORD not in staff.password_hash


def test_authenticate(app, database):
    staff = f.user(Role.MANAGER)
    with app.test_request_context():
        assert authenticate(staff.username, f.PASSWORD) is staff
        assert authenticate(staff.username, "wrong password!!") is None
        assert authenticate("nobody", f.PASSWORD) is None
        staff.active = False
        assert authenticate(staff.username, f.PASSWORD) is None


def test_sign_in_and_out_revokes_the_session_server_side(app, client):
    staff = f.user(Role.MANAGER)
    response = f.login(client, staff)
    assert response.status_code == 302
    assert client.get("/api/v1/me").json["username"] == staff.username
    cookie = client.get_cookie("session")
    assert cookie is not None
    stolen = cookie.value

    response = client.post("/logout")
    assert response.status_code == 302
    row = db.session.query(StaffSession).one()
    assert row.revoked_at is not None

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/api/v1/me").status_code == 401
    page = replay.get("/")
    assert b"Sign out" not in page.data and "退出登录".encode() not in page.data


def test_wrong_password_is_refused_with_message(client):
    staff = f.user(Role.AGENT)
    response = client.post("/login", data={"username": staff.username, "password": "not the password"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_sign_in_redirect_stays_on_site(client):
    staff = f.user(Role.AGENT)
    response = client.post("/login?next=//evil.example/", data={"username": staff.username, "password": f.PASSWORD})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post("/login?next=/api/docs", data={"username": staff.username, "password": f.PASSWORD})
    assert response.headers["Location"] == "/api/docs"


def test_staff_endpoint_without_token_is_401_json(client):
    response = client.get("/api/v1/departments")
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert response.json["status"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_401(client):
    response = client.get("/api/v1/departments", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_wrong_role_is_403(client):
    agent = f.user(Role.AGENT)
    response = client.post(
        "/api/v1/departments",
        json={"code": "X1", "name": "x", "region_code": "460100"},
        headers=f.bearer(agent),
    )
    assert response.status_code == 403
    assert response.json["message"]


def test_handler_gets_404_for_another_departments_object(client):
    own, other = f.department(), f.department()
    handler = f.user(Role.HANDLER, own)
    f.user(Role.HANDLER, other)
    headers = f.bearer(handler)
    assert client.get(f"/api/v1/departments/{own.code}/staff", headers=headers).status_code == 200
    response = client.get(f"/api/v1/departments/{other.code}/staff", headers=headers)
    assert response.status_code == 404
    assert response.json["code"] == 404
    manager = f.user(Role.MANAGER)
    assert client.get(f"/api/v1/departments/{other.code}/staff", headers=f.bearer(manager)).status_code == 200


def test_tokens_are_stored_only_as_hashes(database):
    staff = f.user(Role.AGENT)
    header = f.bearer(staff)
    token = header["Authorization"].split()[1]
    row = db.session.query(ApiToken).one()
    assert row.token_hash == token_digest(token)
    assert token not in row.token_hash


def test_revoked_token_is_refused(client):
    staff = f.user(Role.AGENT)
    headers = f.bearer(staff)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    row = db.session.query(ApiToken).one()
    from core.db import utcnow

    row.revoked_at = utcnow()
    db.session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_browser_session_cannot_write_through_the_api(client):
    """Cookie auth is honoured for safe methods only, so the API needs no CSRF token."""
    admin = f.user(Role.ADMIN)
    f.login(client, admin)
    assert client.get("/api/v1/departments").status_code == 200
    response = client.post("/api/v1/departments", json={"code": "C1", "name": "c", "region_code": "460100"})
    assert response.status_code == 401


def test_disabled_user_session_stops_working(client):
    staff = f.user(Role.AGENT)
    f.login(client, staff)
    assert client.get("/api/v1/me").status_code == 200
    staff.active = False
    db.session.flush()
    assert client.get("/api/v1/me").status_code == 401


def test_a_request_without_session_cookie_builds_no_session_signer(app, client, monkeypatch):
    """The cookie session is opened (and its signer built) only for requests that carry one; a
    bearer call gets no cookie, and signing in still sets one."""
    staff = f.user(Role.MANAGER)
    headers = f.bearer(staff)
    interface = app.session_interface
    original = interface.get_signing_serializer
    calls: list[str] = []

    def counted(application):
        calls.append("signer")
        return original(application)

    monkeypatch.setattr(interface, "get_signing_serializer", counted)
    answer = client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 200 and calls == []
    assert "Set-Cookie" not in answer.headers and "Cookie" in answer.headers.get("Vary", "")
    assert f.login(client, staff).status_code == 302 and calls
    assert client.get_cookie("session") is not None
    assert client.get("/api/v1/me").json["username"] == staff.username


def test_an_empty_session_is_saved_without_working_out_its_cookie_and_an_emptied_one_deletes_it(app):
    """Saving an empty, unchanged session reads no cookie setting (every bearer call and citizen's
    page); one emptied in this request still deletes the browser's cookie; one with data is
    signed and set as before."""
    from flask.sessions import SecureCookieSession

    interface = app.session_interface
    looked: list[str] = []
    original = interface.get_cookie_domain

    def counted(application):
        looked.append("domain")
        return original(application)

    with app.test_request_context("/"):
        interface.get_cookie_domain = counted
        try:
            untouched = app.response_class()
            interface.save_session(app, SecureCookieSession(), untouched)
            assert looked == [] and "Set-Cookie" not in untouched.headers and "Vary" not in untouched.headers

            read = SecureCookieSession()
            read.accessed = True  # as the request context marks a session read through `session`
            answer = app.response_class()
            interface.save_session(app, read, answer)
            assert looked == [] and "Set-Cookie" not in answer.headers and answer.headers["Vary"] == "Cookie"

            emptied = SecureCookieSession({"locale": "en"})
            emptied.pop("locale")
            cleared = app.response_class()
            interface.save_session(app, emptied, cleared)
            assert looked == ["domain"]
            assert (
                cleared.headers["Set-Cookie"].startswith("session=;")
                and "Expires=Thu, 01 Jan 1970" in cleared.headers["Set-Cookie"]
            )

            kept, chosen = app.response_class(), SecureCookieSession()
            chosen["locale"] = "en"
            interface.save_session(app, chosen, kept)
            assert kept.headers["Set-Cookie"].startswith("session=") and not kept.headers["Set-Cookie"].startswith(
                "session=;"
            )
        finally:
            del interface.get_cookie_domain


def test_the_session_cookie_holds_no_hash_of_the_callers_address(app, client):
    """Session protection is off (the server-side session row protects), so Flask-Login's
    identifier, a hash of the address and user agent, is neither stored nor computed per request."""
    staff = f.user(Role.MANAGER)
    assert f.login(client, staff).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    stored = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert stored.get("_id", "") == ""
    assert client.get("/api/v1/me").json["username"] == staff.username
