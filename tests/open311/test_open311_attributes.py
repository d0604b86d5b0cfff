"""Service definitions: loading them (file, patterns, checks, CLI) and the demo seeds."""

import json

import factories as f
import open311_support as osup
import pytest
from open311_support import schema_checked  # noqa: F401 - a fixture: every answer is checked
from sqlalchemy import func, select

from core.db import db
from core.demo import load_reference_data
from core.errors import ValidationFailed
from hotline.open311.attributes import load_definitions, seed_demo_definitions
from hotline.open311.models import ServiceAttribute

pytestmark = pytest.mark.usefixtures("schema_checked")

ONE = [{"code": "community", "datatype": "string", "required": True, "description": "小区名称"}]


@pytest.mark.parametrize(
    ("specs", "problem"),
    [
        ("not a list", "A list of attributes is expected."),
        ([{"code": "a b", "datatype": "string"}], "code must be"),
        ([{"code": "a", "datatype": "colour"}], "datatype must be one of"),
        ([{"code": "a", "datatype": "singlevaluelist"}], "a list needs values"),
        ([{"code": "a", "datatype": "singlevaluelist", "values": [{"key": "k", "name": "n"}] * 2}], "unique keys"),
        ([{"code": "a", "datatype": "string", "values": [{"key": "k", "name": "n"}]}], "only lists have values"),
        ([{"code": "a", "datatype": "string", "order": 0}], "order must be a positive integer"),
        ([{"code": "a", "datatype": "string"}, {"code": "a", "datatype": "text"}], "its own code"),
        ([{"code": "a", "datatype": "string", "order": 2}, {"code": "b", "datatype": "text"}], "its own order"),
    ],
)
def test_bad_definitions_are_refused(database, specs, problem):
    item = osup.plain_service()
    with pytest.raises(ValidationFailed) as refused:
        load_definitions({item.code: specs})
    assert any(problem in p for p in refused.value.errors[item.code])


def test_patterns_replace_definitions(database):
    dept = f.department()
    a, b = f.service_item(dept, code="WY-001-460100"), f.service_item(dept, code="WY-001-460200")
    other = f.service_item(dept, code="WY-002-460100")
    result = load_definitions({"WY-001-*": ONE, "NOTHING-*": ONE})
    assert (result.items, result.attributes, result.unmatched) == (2, 2, ["NOTHING-*"])
    load_definitions({"WY-001-460100": [{"code": "x", "datatype": "number"}, {"code": "y", "datatype": "text"}]})
    codes = dict(
        database.session.execute(
            select(ServiceAttribute.service_item_id, func.count()).group_by(ServiceAttribute.service_item_id)
        ).all()
    )
    assert codes == {a.id: 2, b.id: 1} and other.id not in codes
    informational = load_definitions(
        {other.code: [{"code": "n", "datatype": "text", "variable": False, "required": True}]}
    )
    assert informational.items == 1
    # a non-variable attribute is never required (there is nothing to enter)
    assert database.session.scalar(select(ServiceAttribute.required).where(ServiceAttribute.code == "n")) is False


def test_cli_loads_a_file_and_the_demo(runner, tmp_path, client):
    item = osup.plain_service()
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps({item.code: ONE, "NONE-*": ONE}, ensure_ascii=False), encoding="utf-8")
    loaded = runner.invoke(args=["open311", "load-attributes", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "1 service items, 1 attributes" in loaded.output and "NONE-* matches no service item" in loaded.output
    assert client.get(f"/open311/v2/services/{item.code}.json").json["attributes"][0]["code"] == "community"
    path.write_text("{not json", encoding="utf-8")
    assert runner.invoke(args=["open311", "load-attributes", str(path)]).exit_code != 0

    load_reference_data()
    db.session.commit()
    demo = runner.invoke(args=["open311", "demo-attributes"])
    assert demo.exit_code == 0 and "57 service items, 171 attributes" in demo.output
    services = {s["service_code"]: s for s in client.get("/open311/v2/services.json").json}
    assert services["SWJ-001-460200"]["metadata"] is True and services["ZWFW-001-460200"]["metadata"] is False
    assert seed_demo_definitions().items == 57  # idempotent: replaced, not added
    assert database_count() == 171 + 1  # the demo items, and the item loaded from the file


def database_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ServiceAttribute))
