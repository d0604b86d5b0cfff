"""Security headers and cookie flags."""

import factories as f

from core.models import Role


def test_pages_carry_a_strict_csp_and_other_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_when_served_over_https(client):
    response = client.get("/healthz", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_inline_script_in_any_core_page(client):
    staff = f.user(Role.MANAGER)
    pages = [client.get("/login"), client.get("/")]
    f.login(client, staff)
    pages.append(client.get("/"))
    for page in pages:
        html = page.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "onclick=" not in html


def test_session_cookie_is_httponly_and_samesite(client):
    staff = f.user(Role.AGENT)
    response = f.login(client, staff)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("HAOCHA_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k3Q9-vX2pL7_mN4bR8tW1yZ6cF0hJ5sD-x")
    from config import load_settings

    settings = load_settings(tmp_path)
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_production_requires_a_secret_key(monkeypatch, tmp_path):
    import pytest

    monkeypatch.setenv("HAOCHA_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    from config import load_settings

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_settings(tmp_path)
