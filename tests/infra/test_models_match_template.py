"""The PynamoDB models and the table definition in ``infra/aws/resources.json`` agree.

The models describe the keys and indexes the code queries; the template creates the table in AWS
(and, through ``infra/local``, in the local stack and the tests). A key, index or TTL attribute
renamed on one side only would break every query that uses it, so both sides are read here.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamo import (
    changes,
    fees,
    idempotency,
    items,
    networks,
    notifications,
    outsourcings,
    partners,
    portal,
    tenants,
    tickets,
)
from chalicelib.adapters.dynamo.table import Record

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "aws" / "resources.json"


def _table() -> dict[str, Any]:
    props: dict[str, Any] = json.loads(TEMPLATE.read_text())["Resources"]["MainTable"]["Properties"]
    return props


def _keys(key_schema: list[dict[str, str]]) -> dict[str, str]:
    """``{"HASH": name, "RANGE": name}`` from a key schema in either spelling order."""
    return {key["KeyType"]: key["AttributeName"] for key in key_schema}


RECORD_MODULES = (
    tenants,
    tickets,
    items,
    partners,
    outsourcings,
    idempotency,
    portal,
    fees,
    notifications,
    changes,
    networks,
)


def _model_classes() -> list[type[Model]]:
    return [
        cls
        for module in RECORD_MODULES
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Model) and cls is not Model
    ]


def test_every_record_class_lives_in_an_aggregate_module() -> None:
    """Every record class of the table is found (so the checks below cover them all)."""
    import chalicelib.container  # noqa: F401 - imports every adapter, so every record class

    def subclasses(cls: type[Model]) -> set[type[Model]]:
        found = set(cls.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    assert subclasses(Record) <= set(_model_classes())


def test_table_key_schema_matches_record() -> None:
    schema = Record._get_schema()
    assert _keys(_table()["KeySchema"]) == _keys(schema["key_schema"])
    assert _keys(_table()["KeySchema"]) == {"HASH": "pk", "RANGE": "sk"}


def test_global_secondary_indexes_match_record() -> None:
    schema = Record._get_schema()
    in_models = {
        index["index_name"]: (_keys(index["key_schema"]), index["projection"]["ProjectionType"])
        for index in schema["global_secondary_indexes"]
    }
    in_template = {
        index["IndexName"]: (_keys(index["KeySchema"]), index["Projection"]["ProjectionType"])
        for index in _table()["GlobalSecondaryIndexes"]
    }
    assert in_models == in_template
    assert set(in_models) == set(Record.all_indexes) == {"gsi1", "gsi2", "gsi3"}
    for name, (keys, _) in in_models.items():
        assert keys == {"HASH": f"{name}pk", "RANGE": f"{name}sk"}
    assert not schema["local_secondary_indexes"]
    assert "LocalSecondaryIndexes" not in _table()


def test_attribute_definitions_match_key_attributes() -> None:
    schema = Record._get_schema()
    in_models = {
        (attribute["AttributeName"], attribute["AttributeType"])
        for attribute in schema["attribute_definitions"]
    }
    for index in schema["global_secondary_indexes"]:
        in_models |= {
            (attribute["AttributeName"], attribute["AttributeType"])
            for attribute in index["attribute_definitions"]
        }
    in_template = {
        (attribute["AttributeName"], attribute["AttributeType"])
        for attribute in _table()["AttributeDefinitions"]
    }
    assert in_models == in_template


def test_ttl_attribute_matches_the_models() -> None:
    ttl_names = {
        attribute.attr_name
        for cls in _model_classes()
        for attribute in cls.get_attributes().values()
        if isinstance(attribute, TTLAttribute)
    }
    spec = _table()["TimeToLiveSpecification"]
    assert spec["Enabled"] is True
    assert ttl_names == {spec["AttributeName"]}
    assert idempotency.IdempotencyRecord.expires_at.attr_name == spec["AttributeName"]


def test_stream_carries_old_and_new_images() -> None:
    """The stream reactions compare an item before and after a change."""
    assert _table()["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
