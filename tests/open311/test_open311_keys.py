"""API keys: `flask apikeys create|list|revoke`, stored hashed, revocable; and the per-key rate limit."""

import hashlib

import open311_support as osup
import pytest
from open311_support import schema_checked  # noqa: F401 - a fixture: every answer is checked
from sqlalchemy import select

from core.db import db
from hotline.open311.models import ApiKey

pytestmark = pytest.mark.usefixtures("schema_checked")


def test_create_list_and_revoke_keys(runner, client):
    item = osup.water_service()
    created = runner.invoke(args=["apikeys", "create", "fixmystreet"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("o311_") and len(key) >= 45 and " " not in key
    row = db.session.scalar(select(ApiKey).where(ApiKey.name == "fixmystreet"))
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() and key not in row.key_hash
    assert row.last_used_at is None

    form = {"api_key": key, "service_code": item.code, "address_string": "三亚市", "attribute[scope]": "home"}
    assert client.post("/open311/v2/requests.json", data=form).status_code == 200
    db.session.refresh(row)
    assert row.last_used_at is not None

    again = runner.invoke(args=["apikeys", "create", "fixmystreet"])
    assert again.exit_code != 0 and "revoke it first" in again.output
    assert runner.invoke(args=["apikeys", "create", "bad name!"]).exit_code != 0
    listed = runner.invoke(args=["apikeys", "list"]).output
    assert "fixmystreet\t" in listed and listed.strip().endswith("active")

    revoked = runner.invoke(args=["apikeys", "revoke", "fixmystreet"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    refused = client.post("/open311/v2/requests.xml", data=form)
    assert refused.status_code == 403 and b"<code>403</code>" in refused.data
    assert "revoked" in runner.invoke(args=["apikeys", "list"]).output
    assert runner.invoke(args=["apikeys", "revoke", "fixmystreet"]).exit_code != 0

    # the name is free again; the new key works and the old one stays refused
    fresh = runner.invoke(args=["apikeys", "create", "fixmystreet"]).output.strip().splitlines()[-1]
    assert client.post("/open311/v2/requests.json", data={**form, "api_key": fresh}).status_code == 200
    assert client.post("/open311/v2/requests.json", data=form).status_code == 403


def test_requests_are_limited_per_key(app, tmp_path):
    overrides = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "OPEN311_RATE_LIMIT": "3 per minute"}
    with osup.own_app(app, tmp_path, **overrides) as limited:
        with limited.app_context():
            first, second = osup.new_key("first"), osup.new_key("second")
            db.session.remove()
        client = limited.test_client()

        def services(key: str = "", ip: str = "127.0.0.1", fmt: str = "json"):
            query = {"api_key": key} if key else {}
            return client.get(f"/open311/v2/services.{fmt}", query_string=query, environ_base={"REMOTE_ADDR": ip})

        assert [services(first).status_code for _ in range(3)] == [200, 200, 200]
        limited_answer = services(first, fmt="xml")
        assert limited_answer.status_code == 429 and "Retry-After" in limited_answer.headers
        assert b"<code>429</code>" in limited_answer.data
        # POSTs share the key's budget (a refused one counts too)
        assert client.post("/open311/v2/requests.json", data={"api_key": first}).status_code == 429
        assert services(second).status_code == 200  # another key has its own budget
        assert services().status_code == 200  # without a key: counted per address
        assert services("not-a-key").status_code == 200  # an unknown key counts as no key
        assert services(ip="10.1.2.3").status_code == 200
        assert [services().status_code for _ in range(2)] == [200, 429]
