"""Tickets: each in its own partition with its items, listed through the indexes.

Ticket writes move only the index keys of the attributes they change: an index key computed from
a stale copy of another attribute would file the ticket under the wrong status or queue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import EnumAttribute
from chalicelib.adapters.dynamo.operations import (
    UNGUARDED,
    ListQuery,
    condition_failed,
    set_actions,
    version_guard,
)
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.outsourcing import OutsourceStatus, Side
from chalicelib.domain.tickets import Priority, Ticket, TicketSource, TicketStatus
from chalicelib.ports import Page


class CounterRecord(Record, discriminator="counter"):
    """A per-tenant atomic counter: ticket numbers of a day, outbound emails of a day."""

    value = NumberAttribute(default=0)


class TicketRecord(Record, discriminator="ticket"):
    ticket_id = UnicodeAttribute()
    number = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    priority = EnumAttribute(Priority)
    status = EnumAttribute(TicketStatus)
    queue = UnicodeAttribute(null=True)
    complete_by = UTCDateTimeAttribute(null=True)
    organization = UnicodeAttribute(null=True)
    contact = UnicodeAttribute(null=True)
    site = UnicodeAttribute(null=True)
    currency = UnicodeAttribute()
    billing_organization = UnicodeAttribute(null=True)
    work_type = UnicodeAttribute(null=True)
    resource = UnicodeAttribute(null=True)
    source = EnumAttribute(TicketSource, default=TicketSource.LOCAL)
    original_number = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # The ticket's current (or last) outsourcing, and the other side's ticket once accepted.
    outsourcing_id = UnicodeAttribute(null=True)
    outsourcing_status = EnumAttribute(OutsourceStatus, null=True)
    outsourcing_side = EnumAttribute(Side, null=True)
    peer_owner_id = UnicodeAttribute(null=True)
    peer_ticket_id = UnicodeAttribute(null=True)
    lead_version = NumberAttribute(null=True)
    shown_as = UnicodeAttribute(null=True)


# Ticket fields stored under the same name, with the same value, on the record.
_SAME_NAMED = tuple(
    f.name for f in dataclasses.fields(Ticket) if f.name not in {"tenant_id", "version"}
)


def _indexes(ticket: Ticket) -> dict[str, Any]:
    return {
        "gsi1pk": keys.tickets_of(ticket.tenant_id),
        "gsi1sk": ticket.ticket_id,
        "gsi2pk": keys.tickets_by_status(ticket.tenant_id, ticket.status.value),
        "gsi2sk": ticket.ticket_id,
        "gsi3pk": keys.tickets_by_queue(ticket.tenant_id, ticket.queue) if ticket.queue else None,
        "gsi3sk": ticket.ticket_id if ticket.queue else None,
    }


def ticket_record(ticket: Ticket) -> TicketRecord:
    """The record of a new ticket, with its index keys."""
    return TicketRecord(
        pk=keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
        sk=keys.TICKET_SK,
        tenant_id=ticket.tenant_id,
        **{name: getattr(ticket, name) for name in _SAME_NAMED},
        **_indexes(ticket),
    )


def ticket_from(record: TicketRecord) -> Ticket:
    """The domain ticket of a record (also used on stream images)."""
    return Ticket(
        tenant_id=record.tenant_id,
        version=int(record.version or 1),
        **{
            name: getattr(record, name) for name in _SAME_NAMED if getattr(record, name) is not None
        },
    )


def ticket_key(ticket: Ticket, *, guarded: bool) -> TicketRecord:
    """A record naming the ticket, for an update (version-guarded or not)."""
    return TicketRecord(
        keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
        keys.TICKET_SK,
        version=ticket.version if guarded else UNGUARDED,
    )


# Which index keys follow which ticket attribute.
_INDEX_OF = {"status": ("gsi2pk", "gsi2sk"), "queue": ("gsi3pk", "gsi3sk")}


def ticket_actions(ticket: Ticket, changes: Mapping[str, Any]) -> list[Action]:
    """The update actions for ``changes``, moving only the index keys they change."""
    stored = dict(changes)
    indexes = _indexes(dataclasses.replace(ticket, **changes))
    for attribute, index_keys in _INDEX_OF.items():
        if attribute in changes:
            stored.update({key: indexes[key] for key in index_keys})
    return set_actions(TicketRecord, stored)


class DynamoMailQuota:
    """Outbound emails per tenant and UTC day, counted by one conditional ADD."""

    def take(self, tenant_id: str, day: date, limit: int) -> bool:
        counter = CounterRecord(
            pk=keys.tenant_pk(tenant_id), sk=keys.mail_counter_sk(day), version=UNGUARDED
        )
        try:
            counter.update(
                actions=[
                    CounterRecord.value.add(1),
                    CounterRecord.tenant_id.set(tenant_id),
                    CounterRecord.type.set(CounterRecord),
                ],
                condition=CounterRecord.value.does_not_exist() | (CounterRecord.value < limit),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


class DynamoTicketRepository:
    """Tickets, each in its own partition with its items; listed through the GSIs."""

    def next_number(self, tenant_id: str, day: date) -> int:
        counter = CounterRecord(
            pk=keys.tenant_pk(tenant_id), sk=keys.ticket_counter_sk(day), version=UNGUARDED
        )
        counter.update(
            actions=[
                CounterRecord.value.add(1),
                CounterRecord.tenant_id.set(tenant_id),
                CounterRecord.type.set(CounterRecord),
            ],
            add_version_condition=False,
        )
        return int(counter.value)

    def add(self, ticket: Ticket) -> None:
        ticket_record(ticket).save(condition=TicketRecord.pk.does_not_exist())

    def get(self, tenant_id: str, ticket_id: str) -> Ticket:
        try:
            record = TicketRecord.get(
                keys.ticket_pk(tenant_id, ticket_id), keys.TICKET_SK, consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such ticket.") from exc
        return ticket_from(record)

    def update(self, ticket: Ticket, changes: Mapping[str, Any]) -> Ticket:
        record = ticket_key(ticket, guarded=True)
        with version_guard("ticket"):
            record.update(actions=ticket_actions(ticket, changes))
        return dataclasses.replace(ticket, **changes, version=int(record.version))

    def apply_lead_fields(
        self, owner_id: str, ticket_id: str, fields: Mapping[str, Any], lead_version: int
    ) -> bool:
        record = TicketRecord(
            keys.ticket_pk(owner_id, ticket_id), keys.TICKET_SK, version=UNGUARDED
        )
        actions = set_actions(TicketRecord, {**fields, "lead_version": lead_version})
        try:
            record.update(
                actions=actions,
                condition=TicketRecord.pk.exists()
                & (
                    TicketRecord.lead_version.does_not_exist()
                    | (TicketRecord.lead_version < lead_version)
                ),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def list(
        self,
        tenant_id: str,
        *,
        status: TicketStatus | None,
        queue: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Ticket]:
        index: Any
        filter_condition = None
        if status is not None:
            index, hash_attr = TicketRecord.gsi2, "gsi2pk"
            hash_value = keys.tickets_by_status(tenant_id, status.value)
            filter_condition = TicketRecord.queue == queue if queue else None
        elif queue:
            index, hash_attr = TicketRecord.gsi3, "gsi3pk"
            hash_value = keys.tickets_by_queue(tenant_id, queue)
        else:
            index, hash_attr, hash_value = TicketRecord.gsi1, "gsi1pk", keys.tickets_of(tenant_id)
        return ListQuery(
            query=index.query,
            hash_value=hash_value,
            record_type=TicketRecord,
            to_domain=ticket_from,
            expected={hash_attr: hash_value, "sk": keys.TICKET_SK},
            prefixes={"pk": keys.ticket_pk_prefix(tenant_id)},
            filter_condition=filter_condition,
            newest_first=True,
        ).page(limit, cursor)
