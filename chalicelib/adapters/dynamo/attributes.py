"""Attribute types the records share: exact decimals, enums, and nested domain values as maps.

A nested value object (an outsourcing's terms, a partner mapping, a history entry) is a
:class:`DomainMap`: a PynamoDB ``MapAttribute`` whose attributes are named like the fields of the
frozen dataclass it stores, so ``TermsMap.of(terms)`` and ``terms_map.to_domain()`` need no
hand-written field lists, and PynamoDB serializes every field with its own attribute type.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from pynamodb.attributes import Attribute, MapAttribute, UTCDateTimeAttribute
from pynamodb.constants import LIST, MAP, NUMBER, STRING

E = TypeVar("E", bound=enum.Enum)
D = TypeVar("D")
K = TypeVar("K", bound=enum.Enum)
V = TypeVar("V", bound=enum.Enum)


class DecimalAttribute(Attribute[Decimal]):
    """An exact decimal stored as a DynamoDB number (never through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)

    def from_json(self, value: Any) -> Decimal:
        """A value of a record written before nested values were maps (a JSON string)."""
        return Decimal(str(value))


class EnumAttribute(Attribute[E]):
    """A string enum stored as its value; conditions may compare it with enums or strings."""

    attr_type = STRING

    def __init__(self, enum_type: type[E], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enum_type = enum_type

    def serialize(self, value: E | str) -> str:
        return str(value.value) if isinstance(value, enum.Enum) else str(value)

    def deserialize(self, value: str) -> E:
        return self.enum_type(value)

    def from_json(self, value: Any) -> E:
        return self.enum_type(value)


class EnumMapAttribute(Attribute[dict[K, V]], Generic[K, V]):
    """A mapping from one string enum to another, stored as a DynamoDB map of strings."""

    attr_type = MAP

    def __init__(self, key_type: type[K], value_type: type[V], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_type = key_type
        self.value_type = value_type

    def serialize(self, value: Mapping[K, V]) -> dict[str, dict[str, str]]:
        return {str(k.value): {STRING: str(v.value)} for k, v in value.items()}

    def deserialize(self, value: dict[str, dict[str, str]]) -> dict[K, V]:
        return {self.key_type(k): self.value_type(v[STRING]) for k, v in value.items()}

    def from_json(self, value: Any) -> dict[K, V]:
        return {self.key_type(k): self.value_type(v) for k, v in (value or {}).items()}


class AddressBookAttribute(Attribute[dict[Any, tuple[str, ...]]]):
    """Email addresses per notification event: a map of (possibly empty) lists of strings.

    Keys come back as plain strings; the domain (``OutsourcingSettings``) reads them as its
    event names. An empty list is kept: it means "nobody", unlike a missing event.
    """

    attr_type = MAP

    def serialize(self, value: Mapping[Any, tuple[str, ...]]) -> dict[str, Any]:
        return {
            str(getattr(event, "value", event)): {LIST: [{STRING: a} for a in addresses]}
            for event, addresses in value.items()
        }

    def deserialize(self, value: dict[str, Any]) -> dict[Any, tuple[str, ...]]:
        return {event: tuple(a[STRING] for a in v[LIST]) for event, v in value.items()}


class DomainMap(MapAttribute[str, Any], Generic[D]):
    """A nested domain value object stored as a typed map, field by field.

    Subclasses set ``domain`` to the frozen dataclass they hold and declare one attribute per
    field, with the field's name. ``legacy_names`` maps a field to the key it had in the JSON
    string records carried before nested values were maps (read by ``migrations``).
    """

    domain: ClassVar[type[Any]]
    legacy_names: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    @classmethod
    def of(cls, value: D) -> Any:
        """The map for a domain value (attributes left None are not stored)."""
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
        return cls(**{name: v for name, v in fields.items() if v is not None})

    def to_domain(self) -> D:
        """The domain value; fields missing from the map take the dataclass defaults (None
        where the field has no default: a null attribute is not stored)."""
        values = dict(self.attribute_values)
        for f in dataclasses.fields(self.domain):
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and f.name not in values:
                values[f.name] = None
        return self.domain(**values)  # type: ignore[no-any-return]


def json_value(attribute: Attribute[Any], value: Any) -> Any:
    """A field of a legacy JSON string converted to what ``attribute`` holds (``migrations``)."""
    converter = getattr(attribute, "from_json", None)
    if converter is not None:
        return converter(value)
    if isinstance(attribute, UTCDateTimeAttribute):
        return datetime.fromisoformat(value)
    return value
