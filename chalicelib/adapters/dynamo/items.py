"""Ticket items (notes, time entries, charges, attachments): records, codec and repository.

Items live in their ticket's partition, sorted by id (creation time). A local delete keeps the
item flagged ``deleted`` so the change travels through the stream. A replica is written only
when its origin version is newer than the one stored (see ``domain.sync``); a hidden one is a
:class:`TombstoneRecord`, which replaces the whole replica, so none of its content stays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import MAP, STRING
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import DecimalAttribute, DomainMap, EnumAttribute
from chalicelib.adapters.dynamo.operations import (
    ListQuery,
    condition_failed,
    set_actions,
    version_guard,
)
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.items import ITEM_CLASSES, Item, ItemKind, Origin
from chalicelib.domain.outsourcing import Side
from chalicelib.domain.sync import Destination, Tombstone
from chalicelib.ports import Page


class DestinationMap(DomainMap[Destination]):
    domain = Destination

    outsourcing_id = UnicodeAttribute()
    side = EnumAttribute(Side)
    peer_owner_id = UnicodeAttribute()
    peer_ticket_id = UnicodeAttribute()
    author = UnicodeAttribute(null=True)


# Before destinations were maps, they were four flat attributes (see migrations).
_LEGACY_DESTINATION = {
    "outsourcing_id": "share_outsourcing_id",
    "side": "share_side",
    "peer_owner_id": "share_peer_owner_id",
    "peer_ticket_id": "share_peer_ticket_id",
}


class ItemRecord(Record):
    """Common attributes of ticket items; each kind is a subclass with its own discriminator."""

    ticket_id = UnicodeAttribute()
    item_id = UnicodeAttribute()
    internal = BooleanAttribute(default=False)
    origin = EnumAttribute(Origin, default=Origin.LOCAL)
    origin_tenant = UnicodeAttribute(null=True)
    origin_ticket_id = UnicodeAttribute(null=True)
    origin_item_id = UnicodeAttribute(null=True)
    origin_version = NumberAttribute(null=True)
    outsourcing_id = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    deleted = BooleanAttribute(default=False)
    destination = DestinationMap(null=True)

    kind: ClassVar[ItemKind]

    @classmethod
    def legacy_upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Fold the flat ``share_*`` attributes of an old row into ``destination``."""
        if "destination" in data or not all(
            STRING in (data.get(old) or {}) for old in _LEGACY_DESTINATION.values()
        ):
            return data
        folded = {new: data[old] for new, old in _LEGACY_DESTINATION.items()}
        return {**data, "destination": {MAP: folded}}


class NoteRecord(ItemRecord, discriminator="note"):
    kind = ItemKind.NOTE
    text = UnicodeAttribute()


class TimeEntryRecord(ItemRecord, discriminator="time_entry"):
    kind = ItemKind.TIME_ENTRY
    date = UnicodeAttribute()
    hours_worked = DecimalAttribute()
    hours_billable = DecimalAttribute()
    work_type = UnicodeAttribute(null=True)
    summary = UnicodeAttribute(default="")


class ChargeRecord(ItemRecord, discriminator="charge"):
    kind = ItemKind.CHARGE
    name = UnicodeAttribute()
    quantity = DecimalAttribute()
    unit_cost = DecimalAttribute()
    unit_price = DecimalAttribute()
    billable = BooleanAttribute(default=True)
    currency = UnicodeAttribute()


class AttachmentRecord(ItemRecord, discriminator="attachment"):
    kind = ItemKind.ATTACHMENT
    file_name = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    object_key = UnicodeAttribute()


class TombstoneRecord(Record, discriminator="tombstone"):
    """A replica the other side may not see: ids, kind, origin version, the hidden flag."""

    ticket_id = UnicodeAttribute()
    item_id = UnicodeAttribute()
    hidden_kind = EnumAttribute(ItemKind)
    origin_tenant = UnicodeAttribute()
    origin_ticket_id = UnicodeAttribute()
    origin_item_id = UnicodeAttribute()
    origin_version = NumberAttribute()
    outsourcing_id = UnicodeAttribute()
    deleted = BooleanAttribute(default=True)


def tombstone_record(tombstone: Tombstone) -> TombstoneRecord:
    return TombstoneRecord(
        pk=keys.ticket_pk(tombstone.tenant_id, tombstone.ticket_id),
        sk=keys.item_sk(tombstone.item_id),
        tenant_id=tombstone.tenant_id,
        ticket_id=tombstone.ticket_id,
        item_id=tombstone.item_id,
        hidden_kind=tombstone.kind,
        origin_tenant=tombstone.origin_tenant,
        origin_ticket_id=tombstone.origin_ticket_id,
        origin_item_id=tombstone.origin_item_id,
        origin_version=tombstone.origin_version,
        outsourcing_id=tombstone.outsourcing_id,
    )


def tombstone_from(record: TombstoneRecord) -> Tombstone:
    """The domain tombstone of a record (stream images)."""
    return Tombstone(
        tenant_id=record.tenant_id,
        ticket_id=record.ticket_id,
        item_id=record.item_id,
        kind=record.hidden_kind,
        origin_tenant=record.origin_tenant,
        origin_ticket_id=record.origin_ticket_id,
        origin_item_id=record.origin_item_id,
        origin_version=int(record.origin_version),
        outsourcing_id=record.outsourcing_id,
    )


_RECORDS: dict[ItemKind, type[ItemRecord]] = {
    record.kind: record for record in (NoteRecord, TimeEntryRecord, ChargeRecord, AttachmentRecord)
}
# Item fields stored under the same name on the record (``date`` is stored as ISO text).
_SKIPPED = frozenset({"tenant_id", "version", "kind", "destination", "date"})


def _stored(name: str, value: Any) -> Any:
    if name == "destination":
        return DestinationMap.of(value) if value is not None else None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def item_record(item: Item) -> ItemRecord:
    """The record of an item (all kinds)."""
    fields = {
        f.name: _stored(f.name, getattr(item, f.name))
        for f in dataclasses.fields(item)
        if f.name not in {"tenant_id", "version", "kind"}
    }
    return _RECORDS[item.kind](
        pk=keys.ticket_pk(item.tenant_id, item.ticket_id),
        sk=keys.item_sk(item.item_id),
        tenant_id=item.tenant_id,
        **fields,
    )


def item_from(record: ItemRecord) -> Item:
    """The domain item of a record (all kinds; also used on stream images)."""
    cls = ITEM_CLASSES[record.kind]
    fields: dict[str, Any] = {
        f.name: getattr(record, f.name)
        for f in dataclasses.fields(cls)
        if f.name not in _SKIPPED and getattr(record, f.name) is not None
    }
    if isinstance(record, TimeEntryRecord):
        fields["date"] = date.fromisoformat(record.date)
    return cls(
        tenant_id=record.tenant_id,
        version=int(record.version or 1),
        destination=record.destination.to_domain() if record.destination else None,
        **fields,
    )


class DynamoItemRepository:
    """Items live in their ticket's partition, sorted by id (creation time)."""

    def add(self, item: Item) -> None:
        if not self.add_once(item):
            raise ConflictError("This item already exists.", code="already_exists")

    def get(self, tenant_id: str, ticket_id: str, item_id: str) -> Item:
        try:
            record = Record.get(keys.ticket_pk(tenant_id, ticket_id), keys.item_sk(item_id))
        except DoesNotExist as exc:
            raise NotFoundError("No such item.") from exc
        if not isinstance(record, ItemRecord) or record.deleted:
            raise NotFoundError("No such item.")
        return item_from(record)

    def update(self, item: Item, changes: Mapping[str, Any]) -> Item:
        model = _RECORDS[item.kind]
        record = model(
            pk=keys.ticket_pk(item.tenant_id, item.ticket_id),
            sk=keys.item_sk(item.item_id),
            version=item.version,
        )
        actions = set_actions(model, {k: _stored(k, v) for k, v in changes.items()})
        if "destination" in changes:
            # An old row's flat destination must not outlive the new one (see legacy_upgrade).
            actions.extend(Path(old).remove() for old in _LEGACY_DESTINATION.values())
        with version_guard("item"):
            record.update(
                actions=actions,
                condition=ItemRecord.deleted == False,  # noqa: E712 - a DynamoDB condition
            )
        return dataclasses.replace(item, **changes, version=int(record.version))

    def add_once(self, item: Item) -> bool:
        try:
            item_record(item).save(condition=ItemRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def put_replica(self, replica: Item | Tombstone) -> bool:
        """Write a replica (or its tombstone: a whole-item put, so no content survives) unless
        what is stored is as new or newer; True when written."""
        assert replica.origin_version is not None
        record: Record = (
            tombstone_record(replica) if isinstance(replica, Tombstone) else item_record(replica)
        )
        record.version = replica.origin_version - 1  # stored as the origin's version
        try:
            record.save(
                condition=ItemRecord.pk.does_not_exist()
                | (ItemRecord.origin_version < replica.origin_version),
                add_version_condition=False,
            )
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def list(
        self,
        tenant_id: str,
        ticket_id: str,
        limit: int,
        cursor: str | None,
        *,
        include_deleted: bool = False,
    ) -> Page[Item]:
        pk = keys.ticket_pk(tenant_id, ticket_id)
        return ListQuery(
            query=Record.query,
            hash_value=pk,
            record_type=ItemRecord,
            to_domain=item_from,
            expected={"pk": pk},
            prefixes={"sk": keys.ITEM_PREFIX},
            range_key_condition=Record.sk.startswith(keys.ITEM_PREFIX),
            filter_condition=None if include_deleted else ItemRecord.deleted == False,  # noqa: E712
            consistent=True,
        ).page(limit, cursor)
