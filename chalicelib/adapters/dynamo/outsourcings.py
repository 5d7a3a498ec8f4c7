"""Outsourcings: both sides' copies, their status counts, and the transactions that move them.

Every transition changes both copies, the linked tickets, the status counts, new tickets (the
insourced copy at acceptance) and new items (the cost charge at completion) in one transaction
conditional on the status read, so of two racing transitions exactly one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import DecimalAttribute, DomainMap, EnumAttribute
from chalicelib.adapters.dynamo.items import ItemRecord, item_record
from chalicelib.adapters.dynamo.operations import (
    UNGUARDED,
    ListQuery,
    Transaction,
    condition_failed,
    set_actions,
)
from chalicelib.adapters.dynamo.table import Record
from chalicelib.adapters.dynamo.tickets import (
    TicketRecord,
    ticket_actions,
    ticket_key,
    ticket_record,
)
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.outsourcing import (
    ENDED,
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    PricingType,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import CopyFilter, Page, TransitionPlan


class TermsMap(DomainMap[Terms]):
    domain = Terms

    complete_by = UTCDateTimeAttribute(null=True)
    accept_by = UTCDateTimeAttribute(null=True)
    instructions = UnicodeAttribute(null=True)
    pricing_type = EnumAttribute(PricingType, null=True)
    pricing_amount = DecimalAttribute(null=True)
    authorized_hours = DecimalAttribute(null=True)
    authorized_charges = DecimalAttribute(null=True)
    bill_customer_rate = DecimalAttribute(null=True)  # the lead's copy only


class SnapshotMap(DomainMap[TicketSnapshot]):
    domain = TicketSnapshot

    number = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    priority = UnicodeAttribute(null=True)
    complete_by = UTCDateTimeAttribute(null=True)
    organization = UnicodeAttribute(null=True)
    contact = UnicodeAttribute(null=True)
    site = UnicodeAttribute(null=True)


class HistoryEntryMap(DomainMap[HistoryEntry]):
    domain = HistoryEntry
    legacy_names = {"from_status": "from", "to_status": "to"}

    event = UnicodeAttribute()
    from_status = EnumAttribute(OutsourceStatus, null=True)
    to_status = EnumAttribute(OutsourceStatus)
    at = UTCDateTimeAttribute()
    by = EnumAttribute(Side)
    actor = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)


class OutsourcingRecord(Record, discriminator="outsourcing"):
    """One side's copy of an outsourcing; both copies change together in one transaction."""

    outsourcing_id = UnicodeAttribute()
    side = EnumAttribute(Side)
    lane = EnumAttribute(Lane)
    status = EnumAttribute(OutsourceStatus)
    lead_tenant_id = UnicodeAttribute()
    lead_ticket_id = UnicodeAttribute()
    receiver_id = UnicodeAttribute()
    partnership_id = UnicodeAttribute(null=True)
    insourced_ticket_id = UnicodeAttribute(null=True)
    terms = TermsMap()
    currency = UnicodeAttribute()
    ticket = SnapshotMap()
    lead_name = UnicodeAttribute()
    receiver_name = UnicodeAttribute()
    history = ListAttribute(of=HistoryEntryMap, default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    subcontractor_id = UnicodeAttribute(null=True)
    assignee_id = UnicodeAttribute(null=True)
    # Lower-case number, title, site and customer: what the portal's search looks in.
    search_text = UnicodeAttribute(null=True)


class StatusCountRecord(Record, discriminator="status_counts"):
    """How many of an owner's outsourcing copies (on one side) are in each status."""

    assigned = NumberAttribute(default=0)
    in_progress = NumberAttribute(default=0)
    waiting_approval = NumberAttribute(default=0)
    complete = NumberAttribute(default=0)
    declined = NumberAttribute(default=0)
    canceled = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    recalled = NumberAttribute(default=0)
    forwarded = NumberAttribute(default=0)


def _indexes(
    copy: Outsourcing, status: OutsourceStatus, assignee_id: str | None = None
) -> dict[str, Any]:
    """Index keys of a copy in ``status``: an assigned lead copy is on the expiry index, a
    receiver copy with an assignee on its assignee's list (gsi3 serves both, sparsely)."""
    owner, side = copy.owner_id, copy.side.value
    accept_by = copy.terms.accept_by
    expiring = copy.side is Side.LEAD and status is OutsourceStatus.ASSIGNED and accept_by
    gsi3: tuple[str | None, str | None] = (None, None)
    if expiring and accept_by:
        gsi3 = (keys.expiry_day(accept_by), keys.expiry_sort(accept_by, owner, copy.outsourcing_id))
    elif copy.side is Side.RECEIVER and assignee_id:
        gsi3 = (keys.outsourcings_assigned_to(owner, assignee_id), copy.outsourcing_id)
    return {
        "gsi1pk": keys.outsourcings_of(owner, side),
        "gsi1sk": copy.outsourcing_id,
        "gsi2pk": keys.outsourcings_by_status(owner, side, status.value),
        "gsi2sk": copy.outsourcing_id,
        "gsi3pk": gsi3[0],
        "gsi3sk": gsi3[1],
    }


def _outsourcing_record(copy: Outsourcing) -> OutsourcingRecord:
    return OutsourcingRecord(
        pk=keys.tenant_pk(copy.owner_id),
        sk=keys.outsourcing_sk(copy.outsourcing_id),
        tenant_id=copy.owner_id,
        outsourcing_id=copy.outsourcing_id,
        side=copy.side,
        lane=copy.lane,
        status=copy.status,
        lead_tenant_id=copy.lead_tenant_id,
        lead_ticket_id=copy.lead_ticket_id,
        receiver_id=copy.receiver_id,
        partnership_id=copy.partnership_id,
        insourced_ticket_id=copy.insourced_ticket_id,
        terms=TermsMap.of(copy.terms),
        currency=copy.currency,
        ticket=SnapshotMap.of(copy.ticket),
        lead_name=copy.lead_name,
        receiver_name=copy.receiver_name,
        history=[HistoryEntryMap.of(entry) for entry in copy.history],
        created_at=copy.created_at,
        updated_at=copy.updated_at,
        subcontractor_id=copy.subcontractor_id,
        assignee_id=copy.assignee_id,
        search_text=_search_text(copy.ticket),
        **_indexes(copy, copy.status, copy.assignee_id),
    )


def _search_text(snapshot: TicketSnapshot) -> str:
    found = (snapshot.number, snapshot.title, snapshot.site, snapshot.organization)
    return " ".join(part for part in found if part).lower()


def outsourcing_from(record: OutsourcingRecord) -> Outsourcing:
    """The domain copy of a record (also used on stream images)."""
    return Outsourcing(
        owner_id=record.tenant_id,
        side=record.side,
        outsourcing_id=record.outsourcing_id,
        lane=record.lane,
        status=record.status,
        lead_tenant_id=record.lead_tenant_id,
        lead_ticket_id=record.lead_ticket_id,
        receiver_id=record.receiver_id,
        partnership_id=record.partnership_id,
        terms=record.terms.to_domain(),
        currency=record.currency,
        ticket=record.ticket.to_domain(),
        lead_name=record.lead_name,
        receiver_name=record.receiver_name,
        created_at=record.created_at,
        updated_at=record.updated_at,
        insourced_ticket_id=record.insourced_ticket_id,
        history=tuple(entry.to_domain() for entry in record.history or ()),
        subcontractor_id=record.subcontractor_id,
        assignee_id=record.assignee_id,
        version=int(record.version or 1),
    )


def _copy_key(copy: Outsourcing) -> OutsourcingRecord:
    return OutsourcingRecord(
        keys.tenant_pk(copy.owner_id), keys.outsourcing_sk(copy.outsourcing_id), version=UNGUARDED
    )


def _count_update(
    tx: Transaction, copy: Outsourcing, new: OutsourceStatus, old: OutsourceStatus | None
) -> None:
    """Move one copy from ``old`` to ``new`` in its owner's status counts (same transaction)."""
    attributes = StatusCountRecord.get_attributes()
    actions: list[Action] = [
        StatusCountRecord.type.set(StatusCountRecord),
        StatusCountRecord.tenant_id.set(copy.owner_id),
        attributes[new.value].add(1),
    ]
    if old is not None:
        actions.append(attributes[old.value].add(-1))
    tx.update(
        StatusCountRecord(
            keys.tenant_pk(copy.owner_id), keys.status_count_sk(copy.side.value), version=UNGUARDED
        ),
        actions=actions,
        label="count",
    )


def _copy_actions(plan: TransitionPlan, copy: Outsourcing) -> list[Action]:
    assignee = plan.copy_changes.get("assignee_id", copy.assignee_id)
    indexes = _indexes(copy, plan.new_status, assignee)
    del indexes["gsi1pk"], indexes["gsi1sk"]
    if copy.side is Side.RECEIVER and "assignee_id" not in plan.copy_changes:
        # A receiver's gsi3 follows its assignee, which a transition does not change: writing it
        # from the copy read earlier could undo a reassignment made meanwhile.
        del indexes["gsi3pk"], indexes["gsi3sk"]
    history = [HistoryEntryMap.of(entry) for entry in (*copy.history, plan.entry)]
    stored: dict[str, Any] = {
        "status": plan.new_status,
        "updated_at": plan.entry.at,
        "history": history,
        **indexes,
        **plan.copy_changes,
    }
    return set_actions(OutsourcingRecord, stored)


class DynamoOutsourcingRepository:
    """Both copies of an outsourcing, and the tickets it links, change in single transactions."""

    def create(self, lead: Outsourcing, receiver: Outsourcing, ticket: Ticket) -> None:
        changes = {
            "outsourcing_id": lead.outsourcing_id,
            "outsourcing_status": lead.status,
            "outsourcing_side": Side.LEAD,
            "peer_owner_id": receiver.owner_id,
            "peer_ticket_id": None,
            "shown_as": lead.lead_name,
            "updated_at": lead.created_at,
        }
        free = TicketRecord.outsourcing_status.does_not_exist() | (
            TicketRecord.outsourcing_status.is_in(*ENDED)
        )
        try:
            with Transaction() as tx:
                tx.update(
                    ticket_key(ticket, guarded=False),
                    actions=ticket_actions(ticket, changes),
                    condition=TicketRecord.pk.exists() & free,
                    label="ticket",
                )
                tx.save(_outsourcing_record(lead))
                tx.save(_outsourcing_record(receiver))
                _count_update(tx, lead, lead.status, None)
                _count_update(tx, receiver, receiver.status, None)
        except TransactWriteError as exc:
            if tx.failed(exc, "ticket"):
                raise ConflictError(
                    "This ticket already has an open outsourcing; it can be outsourced again "
                    "once that one ends.",
                    code="already_outsourced",
                ) from exc
            raise

    def get(self, owner_id: str, outsourcing_id: str) -> Outsourcing:
        try:
            record = OutsourcingRecord.get(
                keys.tenant_pk(owner_id), keys.outsourcing_sk(outsourcing_id), consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such outsourcing.") from exc
        return outsourcing_from(record)

    def list(
        self,
        owner_id: str,
        side: Side,
        status: OutsourceStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Outsourcing]:
        index: Any
        if status is None:
            index, hash_attr = OutsourcingRecord.gsi1, "gsi1pk"
            hash_value = keys.outsourcings_of(owner_id, side.value)
        else:
            index, hash_attr = OutsourcingRecord.gsi2, "gsi2pk"
            hash_value = keys.outsourcings_by_status(owner_id, side.value, status.value)
        return ListQuery(
            query=index.query,
            hash_value=hash_value,
            record_type=OutsourcingRecord,
            to_domain=outsourcing_from,
            expected={hash_attr: hash_value, "pk": keys.tenant_pk(owner_id)},
            prefixes={"sk": keys.OUTSOURCING_PREFIX},
            newest_first=True,
        ).page(limit, cursor)

    def apply(self, plan: TransitionPlan) -> None:
        """Move both copies from ``plan.expected`` to ``plan.new_status`` with the ticket
        changes, atomically. A lost race is ``ConflictError(invalid_transition)``."""
        try:
            with Transaction() as tx:
                for copy in plan.copies:
                    tx.update(
                        _copy_key(copy),
                        actions=_copy_actions(plan, copy),
                        condition=OutsourcingRecord.status == plan.expected,
                        label="copy",
                    )
                    _count_update(tx, copy, plan.new_status, plan.expected)
                for change in plan.ticket_changes:
                    tx.update(
                        ticket_key(change.ticket, guarded=change.guard_version),
                        actions=ticket_actions(change.ticket, change.changes),
                        condition=TicketRecord.pk.exists()
                        & (TicketRecord.outsourcing_id == plan.outsourcing_id),
                        guard_version=change.guard_version,
                        label="ticket",
                    )
                for ticket in plan.new_tickets:
                    tx.save(ticket_record(ticket))
                for item in plan.new_items:
                    tx.save(item_record(item), condition=ItemRecord.pk.does_not_exist())
        except TransactWriteError as exc:
            if tx.failed(exc, "copy"):
                raise ConflictError(
                    "The outsourcing changed meanwhile; read it again.",
                    code="invalid_transition",
                ) from exc
            if condition_failed(exc):
                raise ConflictError(
                    "The ticket was changed by someone else; try again.", code="version_conflict"
                ) from exc
            raise

    def counts(self, owner_id: str, side: Side) -> dict[OutsourceStatus, int]:
        try:
            record = StatusCountRecord.get(
                keys.tenant_pk(owner_id), keys.status_count_sk(side.value)
            )
        except DoesNotExist:
            return {status: 0 for status in OutsourceStatus}
        return {status: int(getattr(record, status.value) or 0) for status in OutsourceStatus}

    def find(
        self, owner_id: str, wanted: CopyFilter, limit: int, cursor: str | None
    ) -> Page[Outsourcing]:
        side = Side.RECEIVER.value
        filters: list[Any] = []
        index: Any
        if wanted.assignee_id:
            index, hash_attr = OutsourcingRecord.gsi3, "gsi3pk"
            hash_value = keys.outsourcings_assigned_to(owner_id, wanted.assignee_id)
            if wanted.status is not None:
                filters.append(OutsourcingRecord.status == wanted.status)
        elif wanted.status is not None:
            index, hash_attr = OutsourcingRecord.gsi2, "gsi2pk"
            hash_value = keys.outsourcings_by_status(owner_id, side, wanted.status.value)
        else:
            index, hash_attr = OutsourcingRecord.gsi1, "gsi1pk"
            hash_value = keys.outsourcings_of(owner_id, side)
        if wanted.text:
            filters.append(OutsourcingRecord.search_text.contains(wanted.text.lower()))
        condition = None
        for found in filters:
            condition = found if condition is None else condition & found
        return ListQuery(
            query=index.query,
            hash_value=hash_value,
            record_type=OutsourcingRecord,
            to_domain=outsourcing_from,
            expected={hash_attr: hash_value, "pk": keys.tenant_pk(owner_id)},
            prefixes={"sk": keys.OUTSOURCING_PREFIX},
            filter_condition=condition,
            newest_first=True,
        ).page(limit, cursor)

    def assign(self, copy: Outsourcing, assignee_id: str, at: datetime) -> Outsourcing:
        record = _copy_key(copy)
        indexes = _indexes(copy, copy.status, assignee_id)
        try:
            record.update(
                actions=set_actions(
                    OutsourcingRecord,
                    {
                        "assignee_id": assignee_id,
                        "updated_at": at,
                        "gsi3pk": indexes["gsi3pk"],
                        "gsi3sk": indexes["gsi3sk"],
                    },
                ),
                condition=OutsourcingRecord.status == copy.status,
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise ConflictError(
                    "The outsourcing changed meanwhile; read it again.",
                    code="invalid_transition",
                ) from exc
            raise
        return outsourcing_from(record)

    def due_for_expiry(self, now: datetime, days_back: int) -> Sequence[Outsourcing]:
        """Lead copies still assigned whose accept-by deadline has passed (system job)."""
        found: list[Outsourcing] = []
        for offset in range(days_back, -1, -1):
            day = now - timedelta(days=offset)
            for record in OutsourcingRecord.gsi3.query(
                keys.expiry_day(day), OutsourcingRecord.gsi3sk <= keys.expiry_until(now)
            ):
                if isinstance(record, OutsourcingRecord):
                    copy = outsourcing_from(record)
                    if copy.status is OutsourceStatus.ASSIGNED:
                        found.append(copy)
        return found
