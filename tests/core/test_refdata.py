"""Reference data: regions, departments and service items through the API and the CLI."""

import factories as f

from core.db import db
from core.models import Department, Role


def test_regions_are_hainans_nineteen(client):
    staff = f.user(Role.AGENT)
    regions = client.get("/api/v1/regions", headers=f.bearer(staff)).json
    assert len(regions) == 19
    assert {"code": "460100", "name": "海口市", "name_en": "Haikou"} in regions


def test_admin_creates_and_changes_a_department(client):
    admin = f.user(Role.ADMIN)
    headers = f.bearer(admin)
    parent = client.post(
        "/api/v1/departments",
        json={"code": "HK-GOV", "name": "海口市人民政府", "region_code": "460100"},
        headers=headers,
    )
    assert parent.status_code == 201
    child = client.post(
        "/api/v1/departments",
        json={"code": "HK-SCJG", "name": "海口市市场监督管理局", "region_code": "460100", "parent_code": "HK-GOV"},
        headers=headers,
    )
    assert child.status_code == 201
    assert child.json["parent_code"] == "HK-GOV"
    assert child.json["region_name"] == "海口市"
    patched = client.patch("/api/v1/departments/HK-SCJG", json={"name_en": "Haikou AMR"}, headers=headers)
    assert patched.json["name_en"] == "Haikou AMR"
    listed = client.get("/api/v1/departments?region=460100&q=市场", headers=headers).json
    assert [d["code"] for d in listed] == ["HK-SCJG"]


def test_department_rules(client):
    admin = f.user(Role.ADMIN)
    headers = f.bearer(admin)
    body = {"code": "DUP", "name": "x", "region_code": "460100"}
    assert client.post("/api/v1/departments", json=body, headers=headers).status_code == 201
    assert client.post("/api/v1/departments", json=body, headers=headers).status_code == 409
    bad_region = client.post(
        "/api/v1/departments", json={**body, "code": "R1", "region_code": "999999"}, headers=headers
    )
    assert bad_region.status_code == 422 and "region_code" in bad_region.json["errors"]
    cycle = client.patch("/api/v1/departments/DUP", json={"parent_code": "DUP"}, headers=headers)
    assert cycle.status_code == 422
    assert client.get("/api/v1/departments/NOPE", headers=headers).status_code == 404


def test_service_items(client):
    admin = f.user(Role.ADMIN)
    headers = f.bearer(admin)
    dept = f.department("SI-D")
    created = client.post(
        "/api/v1/service-items",
        json={"code": "SCJG-001", "name": "营业执照变更登记", "department_code": dept.code, "keywords": "执照"},
        headers=headers,
    )
    assert created.status_code == 201
    assert created.json["department_code"] == "SI-D"
    assert client.get("/api/v1/service-items?q=执照", headers=headers).json[0]["code"] == "SCJG-001"
    missing_dept = client.post(
        "/api/v1/service-items", json={"code": "X", "name": "x", "department_code": "NOPE"}, headers=headers
    )
    assert missing_dept.status_code == 422


def test_cli_manages_departments_and_services(runner):
    result = runner.invoke(args=["departments", "create", "CLI-D", "测试局", "--region", "460200"])
    assert result.exit_code == 0, result.output
    assert db.session.query(Department).filter_by(code="CLI-D").one().region_code == "460200"
    result = runner.invoke(args=["services", "create", "CLI-S", "测试事项", "--department", "CLI-D"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["services", "list", "--department", "CLI-D"])
    assert "CLI-S" in listed.output
    bad = runner.invoke(args=["departments", "create", "CLI-X", "x", "--region", "000000"])
    assert bad.exit_code != 0 and "region" in bad.output.lower()
