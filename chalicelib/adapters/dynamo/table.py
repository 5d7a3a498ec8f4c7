"""The one table: the base record, its key and index attributes, and how old rows are read.

Every record class (one per aggregate module: ``tenants``, ``tickets``, ``items``, ``partners``,
``outsourcings``, ``idempotency``) extends :class:`Record`; the ``type`` attribute says which
subclass a row is. Key strings are built in ``keys``.

Rows written before nested values became maps are upgraded as they are read (``migrations``),
on every path: GetItem, Query, an update's returned values and stream images.

The table definition itself (keys, indexes, stream, TTL) lives in ``infra/aws/resources.json``;
``tests/infra`` checks that the records and that template agree.
"""

from __future__ import annotations

import builtins
from typing import Any, ClassVar, Self

from pynamodb.attributes import DiscriminatorAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.dynamo import migrations


class Gsi1(GlobalSecondaryIndex["Record"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["Record"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex["Record"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Record(Model):
    """Base of every record in the main table; ``type`` says which subclass a row is."""

    class Meta:
        # Bound at first use from Settings (see connection.bind); never read from env at import.
        table_name = "unbound"
        region = "us-east-1"
        host = None
        max_retry_attempts = 3

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type = DiscriminatorAttribute()
    tenant_id = UnicodeAttribute()
    version = VersionAttribute()

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()

    all_indexes: ClassVar[tuple[str, ...]] = ("gsi1", "gsi2", "gsi3")

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """Every record class shares the base's connection (one botocore client for all),
        including the classes imported after :func:`connection.bind` (the container imports
        an adapter's module when a use case first needs it)."""
        if cls is not Record and cls._connection is None:
            cls._connection = Record._get_connection()
        return super()._get_connection()

    @classmethod
    def from_raw_data(cls, data: dict[str, Any]) -> Self:
        """A record from a raw item (GetItem, Query, stream image), old rows upgraded first."""
        return super().from_raw_data(migrations.upgrade(cls._stored_class(data), data))

    def deserialize(self, attribute_values: dict[str, dict[str, Any]]) -> None:
        """Values an update returned, old rows upgraded first."""
        super().deserialize(migrations.upgrade(type(self), attribute_values))

    @classmethod
    def _stored_class(cls, data: dict[str, Any]) -> builtins.type[Model]:
        found = cls._get_discriminator_class(data)  # type: ignore[attr-defined]
        return found if isinstance(found, type) else cls

    @classmethod
    def legacy_upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Record-specific upgrade of an old row (beyond JSON strings becoming maps)."""
        return data
