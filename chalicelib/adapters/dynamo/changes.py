"""The change feed's records: each tenant's counter, log entries and dedup markers.

=================  ==================================  ============================
record             pk                                  sk
=================  ==================================  ============================
head (counter)     ``T#<tenant>``                      ``COUNTER#CHANGES``
entry              ``T#<tenant>#CHANGES``              ``<sequence, 20 digits>``
dedup marker       ``T#<tenant>#CHANGESEEN#<sha256>``  ``SEEN``
=================  ==================================  ============================

An append of one change is ONE ``TransactWriteItems`` of three writes: the counter from N to N+1
(conditional on it being N, or absent for N = 0), the entry N+1 (``attribute_not_exists``), and
the marker of the stream record (``attribute_not_exists``; its key is the SHA-256 of the record's
table key and sequence number, kept 48 h by TTL, longer than the stream's 24 h). Each is well
under 1 KB except the entry, so a change costs 3 x 2 = 6 write units (a transaction doubles
them) plus 2 per KB of the entry beyond its first. The k changes of one owner in one stream
batch go in one transaction (counter N to N+k, k entries, k markers: at most 49 changes and
4 MB), 2 x (2k + 1) units, about 4 per change. The counter is read (strongly consistent, one read
unit) only when the process does not know the head (a cold start, or another writer moved it).
Markers are spread one per partition, so they never make the log's partition grow.

The entry stores the object's state as its record's attributes (the same codecs as every read),
so it is never bigger than the object's own item plus the envelope (< 1 KB): tickets (an 8,000
character description) and notes (32,000 characters, at most 128 KB in UTF-8) are far below
DynamoDB's 400 KB. An object whose state would not fit (an outsourcing with an extreme history)
is logged with its state left out (``state_omitted``): the reader GETs the object instead.

A page is one strongly consistent Query on the log's partition, ``sk > cursor``: it sees every
committed entry, and entries commit in sequence order, so a page is always a prefix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import MAP
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError

from chalicelib.adapters.dynamo import cursor as cursors
from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import EnumAttribute
from chalicelib.adapters.dynamo.items import ItemRecord, item_from, item_record
from chalicelib.adapters.dynamo.operations import UNGUARDED, Transaction, condition_failed
from chalicelib.adapters.dynamo.outsourcings import (
    OutsourcingRecord,
    _outsourcing_record,
    outsourcing_from,
)
from chalicelib.adapters.dynamo.table import Record
from chalicelib.adapters.dynamo.tickets import TicketRecord, ticket_from, ticket_record
from chalicelib.domain.changes import (
    DEDUP_RETENTION,
    Change,
    ChangeEntry,
    Head,
    ObjectRef,
    ObjectType,
    Operation,
    State,
    StreamSource,
)
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.outsourcing import Outsourcing
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import ChangeLogRaceError

SEQUENCE_DIGITS = 20
_SEQUENCE = re.compile(rf"^\d{{{SEQUENCE_DIGITS}}}$")
# The state is left out above this many bytes (the item limit is 400 KB, the envelope < 1 KB).
MAX_STATE_BYTES = 390_000
# Per transaction: 100 items at most (an entry and a marker per change, and the head), 4 MB.
MAX_CHANGES_PER_APPEND = 49
MAX_TRANSACTION_BYTES = 3_500_000
# Transaction cancellation reasons that mean another writer holds or moved the counter.
_RACE_CODES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


class RawMapAttribute(Attribute[dict[str, Any]]):
    """A map of raw attribute values (a record's serialized form), stored as they are."""

    attr_type = MAP

    def serialize(self, value: dict[str, Any]) -> dict[str, Any]:
        return value

    def deserialize(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class ChangeCounterRecord(Record, discriminator="change_counter"):
    """A log's head: the last sequence and the last entry's expiry. ``feed`` is false for an
    owner without a feed (a subcontractor company), so later changes need no other read."""

    value = NumberAttribute(default=0)
    last_expires_at = UTCDateTimeAttribute(null=True)
    feed = BooleanAttribute(default=True)


class ChangeEntryRecord(Record, discriminator="change"):
    """One logged change; removed by TTL after the retention."""

    sequence = NumberAttribute()
    at = UTCDateTimeAttribute()
    object_type = EnumAttribute(ObjectType)
    object_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute(null=True)
    operation = EnumAttribute(Operation)
    state = RawMapAttribute(null=True)
    state_omitted = BooleanAttribute(default=False)
    expires_at = TTLAttribute()


class ChangeSeenRecord(Record, discriminator="change_seen"):
    """A stream record already logged (replays, retried batches, redrives write nothing)."""

    expires_at = TTLAttribute()


def sequence_sk(sequence: int) -> str:
    return f"{sequence:0{SEQUENCE_DIGITS}d}"


def marker_pk(tenant_id: str, source: StreamSource) -> str:
    pk, sk = source.table_key
    digest = hashlib.sha256("\x1f".join((pk, sk, source.sequence_number)).encode()).hexdigest()
    return keys.change_seen_pk(tenant_id, digest)


def _counter_key(tenant_id: str) -> ChangeCounterRecord:
    return ChangeCounterRecord(keys.tenant_pk(tenant_id), keys.CHANGE_COUNTER_SK, version=UNGUARDED)


def _encode_state(state: State) -> dict[str, Any]:
    record: Record
    if isinstance(state, Ticket):
        record = ticket_record(state)
    elif isinstance(state, Outsourcing):
        record = _outsourcing_record(state)
    else:
        record = item_record(state)
    record.version = state.version
    serialized: dict[str, Any] = record.serialize()
    return serialized


def _decode_state(raw: dict[str, Any]) -> State | None:
    record = Record.from_raw_data(raw)
    if isinstance(record, TicketRecord):
        return ticket_from(record)
    if isinstance(record, OutsourcingRecord):
        return outsourcing_from(record)
    if isinstance(record, ItemRecord):
        return item_from(record)
    return None


def _entry_record(change: Change, sequence: int, at: datetime, expires: datetime) -> Any:
    state = _encode_state(change.state) if change.state is not None else None
    too_large = state is not None and len(json.dumps(state).encode()) > MAX_STATE_BYTES
    omitted = change.withheld or too_large
    return ChangeEntryRecord(
        pk=keys.changes_pk(change.owner_id),
        sk=sequence_sk(sequence),
        tenant_id=change.owner_id,
        sequence=sequence,
        at=at,
        object_type=change.object.type,
        object_id=change.object.id,
        ticket_id=change.object.ticket_id,
        operation=change.operation,
        state=None if omitted else state,
        state_omitted=omitted,
        expires_at=expires,
    )


def entry_from(record: ChangeEntryRecord) -> ChangeEntry:
    return ChangeEntry(
        sequence=int(record.sequence),
        at=record.at,
        object=ObjectRef(record.object_type, record.object_id, record.ticket_id),
        operation=record.operation,
        state=_decode_state(record.state) if record.state else None,
        expires_at=record.expires_at,
        state_omitted=bool(record.state_omitted),
    )


class DynamoChangeLog:
    """Each tenant's change log: counter, entries and markers (see the module docstring)."""

    def head(self, owner_id: str) -> Head | None:
        try:
            counter = ChangeCounterRecord.get(
                keys.tenant_pk(owner_id), keys.CHANGE_COUNTER_SK, consistent_read=True
            )
        except DoesNotExist:
            return self._first_head(owner_id)
        if counter.feed is False:
            return None
        return Head(int(counter.value or 0), counter.last_expires_at)

    def _first_head(self, owner_id: str) -> Head | None:
        """An owner's first change: a tenant starts at 0; anything else (a company) is marked
        as having no feed, so its later changes are told by the counter read alone."""
        try:
            Record.get(keys.tenant_pk(owner_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist:
            pass
        else:
            return Head(0)
        marker = ChangeCounterRecord(
            keys.tenant_pk(owner_id),
            keys.CHANGE_COUNTER_SK,
            tenant_id=owner_id,
            value=0,
            feed=False,
        )
        try:
            marker.save(condition=ChangeCounterRecord.pk.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise
        return None

    def room(self, changes: Sequence[Change]) -> int:
        """How many of the leading ``changes`` one transaction takes: at most 100 items (an entry
        and a marker each, plus the head) and 4 MB (entries are at most 390 KB of state)."""
        taken, size = 0, 0
        for change in changes[:MAX_CHANGES_PER_APPEND]:
            state = _encode_state(change.state) if change.state is not None else {}
            size += min(len(json.dumps(state).encode()), MAX_STATE_BYTES) + 2048
            if taken and size > MAX_TRANSACTION_BYTES:
                break
            taken += 1
        return max(taken, 1)

    def append(
        self, logged: Sequence[tuple[Change, StreamSource]], head: Head, expires: datetime
    ) -> frozenset[int]:
        owner = logged[0][0].owner_id
        last = head.sequence + len(logged)
        counter_moves = (
            ChangeCounterRecord.pk.does_not_exist()
            if head.sequence == 0
            else ChangeCounterRecord.value == head.sequence
        )
        try:
            with Transaction() as tx:
                for index, (change, source) in enumerate(logged):
                    assert change.owner_id == owner
                    tx.save(
                        ChangeSeenRecord(
                            pk=marker_pk(owner, source),
                            sk=keys.CHANGE_SEEN_SK,
                            tenant_id=owner,
                            expires_at=source.at + DEDUP_RETENTION,
                        ),
                        condition=ChangeSeenRecord.pk.does_not_exist(),
                        label=f"marker:{index}",
                    )
                    tx.save(
                        _entry_record(change, head.sequence + 1 + index, source.at, expires),
                        condition=ChangeEntryRecord.pk.does_not_exist(),
                        label="entry",
                    )
                tx.update(
                    _counter_key(owner),
                    actions=[
                        ChangeCounterRecord.value.set(last),
                        ChangeCounterRecord.last_expires_at.set(expires),
                        ChangeCounterRecord.tenant_id.set(owner),
                        ChangeCounterRecord.type.set(ChangeCounterRecord),
                    ],
                    condition=counter_moves,
                    label="counter",
                )
        except TransactWriteError as exc:
            seen = frozenset(i for i in range(len(logged)) if tx.failed(exc, f"marker:{i}"))
            if seen:
                return seen
            reasons = [r.code for r in exc.cancellation_reasons or [] if r is not None]
            if any(code in _RACE_CODES for code in reasons):
                raise ChangeLogRaceError() from exc
            raise
        return frozenset()

    def after(self, tenant_id: str, sequence: int, limit: int) -> Sequence[ChangeEntry]:
        records = ChangeEntryRecord.query(
            keys.changes_pk(tenant_id),
            ChangeEntryRecord.sk.between(sequence_sk(sequence + 1), sequence_sk(10**20 - 1)),
            consistent_read=True,
            limit=limit,
        )
        return [entry_from(r) for r in records if isinstance(r, ChangeEntryRecord)]

    def oldest_kept(self, tenant_id: str, now: datetime, limit: int) -> Sequence[ChangeEntry]:
        # Expiry never decreases along the log, so the expired entries the TTL has not removed
        # yet are all at its start; the filter skips them, page after page if need be.
        start: dict[str, Any] | None = None
        while True:
            result = ChangeEntryRecord.query(
                keys.changes_pk(tenant_id),
                filter_condition=ChangeEntryRecord.expires_at > now,
                consistent_read=True,
                limit=limit,
                last_evaluated_key=start,
            )
            found = [entry_from(r) for r in result if isinstance(r, ChangeEntryRecord)]
            start = result.last_evaluated_key
            if found or not start:
                return found

    def position(self, tenant_id: str, cursor: str) -> int:
        decoded = cursors.decode(
            cursor, attributes=("pk", "sk"), expected={"pk": keys.changes_pk(tenant_id)}
        )
        assert decoded is not None
        sk = decoded["sk"]["S"]
        if not _SEQUENCE.match(sk):
            raise ValidationError("The cursor is not valid for this list.", field="cursor")
        return int(sk)

    def cursor_at(self, tenant_id: str, sequence: int) -> str:
        encoded = cursors.encode(
            {"pk": {"S": keys.changes_pk(tenant_id)}, "sk": {"S": sequence_sk(sequence)}}
        )
        assert encoded is not None
        return encoded
