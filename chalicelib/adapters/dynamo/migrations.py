"""Reading rows written before nested values were stored as maps.

Until 2026-12 an outsourcing's terms, ticket snapshot and history, a partner mapping, a tenant's
agreement acceptance and settings, and a stored idempotent response were JSON strings
(``{"S": "{...}"}``), and an item's destination was four flat ``share_*`` attributes. They are
now typed maps. Nothing rewrites the old rows: each raw item is upgraded here, in memory, as it is
read (GetItem, Query, update return values, stream images), and the next write of an attribute
stores it in the new form.

* A map attribute (``DomainMap``, or a list of them) whose raw value is a string is parsed as
  JSON and re-encoded with the map's own attribute types (ISO timestamps become PynamoDB's
  timestamp format, decimal strings numbers, renamed keys their new names).
* A record class may add its own step in ``legacy_upgrade`` (items fold ``share_*`` there).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import JSONAttribute, ListAttribute
from pynamodb.constants import LIST, MAP, STRING

from chalicelib.adapters.dynamo.attributes import DomainMap, json_value

if TYPE_CHECKING:
    from pynamodb.models import Model


def upgrade(record_class: type[Model], raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with every legacy attribute of ``record_class`` in its current encoding."""
    upgraded: dict[str, Any] | None = None
    for attribute in record_class.get_attributes().values():
        value = raw.get(attribute.attr_name)
        if not value or STRING not in value or isinstance(attribute, JSONAttribute):
            continue
        encoded = _encode_legacy(attribute, value[STRING])
        if encoded is not None:
            upgraded = upgraded if upgraded is not None else dict(raw)
            upgraded[attribute.attr_name] = encoded
    result = upgraded if upgraded is not None else raw
    hook = getattr(record_class, "legacy_upgrade", None)
    return hook(result) if hook is not None else result


def _encode_legacy(attribute: Any, text: str) -> dict[str, Any] | None:
    if isinstance(attribute, DomainMap):
        return {MAP: _map_values(type(attribute), json.loads(text))}
    element = attribute.element_type if isinstance(attribute, ListAttribute) else None
    if isinstance(element, type) and issubclass(element, DomainMap):
        return {LIST: [{MAP: _map_values(element, v)} for v in json.loads(text)]}
    return None


def _map_values(map_class: type[DomainMap[Any]], data: dict[str, Any]) -> dict[str, Any]:
    """A legacy JSON object as the raw typed values of ``map_class``."""
    values: dict[str, Any] = {}
    for name, attribute in map_class.get_attributes().items():
        found = data.get(map_class.legacy_names.get(name, name))
        if found is not None:
            values[name] = json_value(attribute, found)
    serialized: dict[str, Any] = map_class().serialize(values)
    return serialized
