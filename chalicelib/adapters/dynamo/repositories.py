"""Repositories on DynamoDB: domain objects in, domain objects out, domain errors on failure.

Each mapping between a domain object and its record is written out explicitly here, so the
storage shape can change without the domain noticing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from pynamodb.exceptions import (
    DeleteError,
    DoesNotExist,
    PutError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import cursor as cursors
from chalicelib.adapters.dynamo.connection import transaction_connection
from chalicelib.adapters.dynamo.models import (
    ApiKeyRecord,
    AttachmentRecord,
    ChargeRecord,
    CounterRecord,
    IdempotencyRecord,
    InvitationRecord,
    ItemRecord,
    NoteRecord,
    OutsourcingRecord,
    PartnerPairRecord,
    PartnershipRecord,
    Record,
    StatusCountRecord,
    TenantRecord,
    TicketRecord,
    TimeEntryRecord,
    tenant_pk,
    ticket_pk,
)
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.items import (
    Attachment,
    Charge,
    Item,
    ItemKind,
    Note,
    Origin,
    TimeEntry,
)
from chalicelib.domain.outsourcing import (
    ENDED,
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    PricingType,
    Side,
    SyncTarget,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.partners import (
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
)
from chalicelib.domain.tenants import (
    AgreementAcceptance,
    ApiKey,
    OutsourcingSettings,
    Permission,
    Tenant,
)
from chalicelib.domain.tickets import Priority, Ticket, TicketSource, TicketStatus
from chalicelib.ports import IdempotencyRecord as IdempotencyEntry
from chalicelib.ports import Page, StoredResponse, TransitionPlan

T = TypeVar("T")
CONDITION_FAILED = "ConditionalCheckFailedException"
# Records built with this version, and updated with add_version_condition=False, get their version
# incremented without a condition. (With no version at all, PynamoDB would reset it to 1.)
UNGUARDED = 0
# Inside a cancelled transaction the same cause is reported without the suffix.
TX_CONDITION_FAILED = "ConditionalCheckFailed"


def _failed_in_transaction(exc: TransactWriteError) -> bool:
    """Whether any condition failed in the transaction."""
    reasons = exc.cancellation_reasons or []
    return any(r is not None and r.code == TX_CONDITION_FAILED for r in reasons)


def _condition_failed(exc: Exception) -> bool:
    if getattr(exc, "cause_response_code", None) == CONDITION_FAILED:
        return True
    return isinstance(exc, TransactWriteError) and _failed_in_transaction(exc)


class _Transaction:
    """``TransactWrite`` that knows which operation is which.

    PynamoDB sends a transaction's puts before its updates, whatever order they were added in;
    this keeps a label per operation in that same order, so a cancellation reason can be traced
    to the operation whose condition failed.
    """

    def __init__(self) -> None:
        self._tx = TransactWrite(connection=transaction_connection())
        self._puts: list[str] = []
        self._updates: list[str] = []

    def __enter__(self) -> _Transaction:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            with self._tx:
                pass  # commits on leaving

    def save(self, model: Model, condition: Any = None, *, label: str = "") -> None:
        self._tx.save(model, condition=condition)
        self._puts.append(label)

    def update(
        self,
        model: Model,
        actions: list[Action],
        condition: Any = None,
        *,
        add_version_condition: bool = True,
        label: str = "",
    ) -> None:
        self._tx.update(
            model,
            actions=list(actions),
            condition=condition,
            add_version_condition=add_version_condition,
        )
        self._updates.append(label)

    def failed(self, exc: TransactWriteError, label: str) -> bool:
        """Whether the condition of the operation(s) labelled ``label`` failed."""
        order = self._puts + self._updates
        reasons = exc.cancellation_reasons or []
        return any(
            reason is not None and reason.code == TX_CONDITION_FAILED and order[index] == label
            for index, reason in enumerate(reasons)
            if index < len(order)
        )


@contextmanager
def _version_guard(what: str) -> Iterator[None]:
    """Turn a lost optimistic-concurrency race into ``ConflictError(version_conflict)``."""
    try:
        yield
    except (PutError, UpdateError, DeleteError, TransactWriteError) as exc:
        if _condition_failed(exc):
            raise ConflictError(
                f"The {what} was changed by someone else; try again.", code="version_conflict"
            ) from exc
        raise


def _set_actions(model: type[Model], changes: Mapping[str, Any]) -> list[Action]:
    attributes = model.get_attributes()
    actions: list[Action] = []
    for name, value in changes.items():
        attribute = attributes[name]
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def _query_page(
    query: Any,
    hash_value: str,
    to_domain: Callable[[Any], T],
    *,
    record_type: type[Model],
    cursor: str | None,
    limit: int,
    expected: dict[str, str],
    prefixes: dict[str, str],
    range_key_condition: Any = None,
    filter_condition: Any = None,
    newest_first: bool = False,
) -> Page[T]:
    """One page of a list: exactly one Query (on the table or an index), with a cursor that is
    only accepted back for the same list."""
    start = cursors.decode(cursor, expected=expected, prefixes=prefixes)
    result = query(
        hash_value,
        range_key_condition,
        filter_condition=filter_condition,
        scan_index_forward=not newest_first,
        limit=limit,
        last_evaluated_key=start,
    )
    records = list(result)
    return Page(
        items=[to_domain(r) for r in records if isinstance(r, record_type)],
        next_cursor=cursors.encode(result.last_evaluated_key),
    )


# ---------------------------------------------------------------------------------------------
# Tenants and API keys


def _tenant_from(record: TenantRecord) -> Tenant:
    agreement = record.agreement
    return Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        language=record.language,
        currency=record.currency,
        contact_email=record.contact_email,
        created_at=record.created_at,
        outsourcing_enabled=bool(record.outsourcing_enabled),
        agreement=(
            AgreementAcceptance(
                by=agreement["by"],
                at=datetime.fromisoformat(agreement["at"]),
                version=agreement["version"],
            )
            if agreement
            else None
        ),
        active_all_keys=int(record.active_all_keys or 0),
        settings=OutsourcingSettings(**(record.settings or {})),
        version=int(record.version or 1),
    )


def _tenant_record(tenant: Tenant) -> TenantRecord:
    return TenantRecord(
        pk=tenant_pk(tenant.tenant_id),
        sk=TenantRecord.SK,
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        language=tenant.language,
        currency=tenant.currency,
        contact_email=tenant.contact_email,
        created_at=tenant.created_at,
        outsourcing_enabled=tenant.outsourcing_enabled,
        agreement=(
            {
                "by": tenant.agreement.by,
                "at": tenant.agreement.at.isoformat(),
                "version": tenant.agreement.version,
            }
            if tenant.agreement
            else None
        ),
        active_all_keys=tenant.active_all_keys,
        settings=dataclasses.asdict(tenant.settings),
    )


def _key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def _key_from(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        tenant_id=record.tenant_id,
        key_id=record.key_id,
        name=record.name,
        permission=Permission(record.permission),
        key_hash=record.key_hash,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


def _key_record(key: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        pk=tenant_pk(key.tenant_id),
        sk=_key_sk(key.key_id),
        tenant_id=key.tenant_id,
        key_id=key.key_id,
        name=key.name,
        permission=key.permission.value,
        key_hash=key.key_hash,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


class DynamoTenantRepository:
    """Tenants in the main table."""

    def create_with_key(self, tenant: Tenant, key: ApiKey) -> None:
        """Store the tenant and its first key in one transaction."""
        with _Transaction() as tx:
            tx.save(_tenant_record(tenant), condition=TenantRecord.pk.does_not_exist())
            tx.save(_key_record(key), condition=ApiKeyRecord.pk.does_not_exist())

    def get(self, tenant_id: str) -> Tenant:
        try:
            record = TenantRecord.get(tenant_pk(tenant_id), TenantRecord.SK)
        except DoesNotExist as exc:
            raise NotFoundError("No such tenant.") from exc
        return _tenant_from(record)

    def update(self, tenant: Tenant, changes: Mapping[str, Any]) -> Tenant:
        stored: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "agreement":
                stored[name] = (
                    {"by": value.by, "at": value.at.isoformat(), "version": value.version}
                    if value is not None
                    else None
                )
            elif name == "settings":
                stored[name] = dataclasses.asdict(value)
            else:
                stored[name] = value
        record = TenantRecord(tenant_pk(tenant.tenant_id), TenantRecord.SK, version=tenant.version)
        with _version_guard("tenant"):
            record.update(actions=_set_actions(TenantRecord, stored))
        return _tenant_from(record)


class DynamoApiKeyRepository:
    """API keys in the tenant's partition; ``all`` keys are counted on the tenant record."""

    def add(self, key: ApiKey) -> None:
        """Store a key; an ``all`` key also bumps the tenant's count in the same transaction."""
        try:
            with _Transaction() as tx:
                tx.save(_key_record(key), condition=ApiKeyRecord.pk.does_not_exist())
                if key.permission is Permission.ALL:
                    tx.update(
                        TenantRecord(tenant_pk(key.tenant_id), TenantRecord.SK, version=UNGUARDED),
                        actions=[TenantRecord.active_all_keys.add(1)],
                        condition=TenantRecord.pk.exists(),
                        add_version_condition=False,
                    )
        except TransactWriteError as exc:
            if _condition_failed(exc):
                raise NotFoundError("No such tenant.") from exc
            raise

    def get(self, tenant_id: str, key_id: str) -> ApiKey:
        try:
            record = ApiKeyRecord.get(tenant_pk(tenant_id), _key_sk(key_id))
        except DoesNotExist as exc:
            raise NotFoundError("No such API key.") from exc
        return _key_from(record)

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        pk = tenant_pk(tenant_id)
        return _query_page(
            ApiKeyRecord.query,
            pk,
            _key_from,
            record_type=ApiKeyRecord,
            cursor=cursor,
            limit=limit,
            expected={"pk": pk},
            prefixes={"sk": "KEY#"},
            range_key_condition=ApiKeyRecord.sk.startswith("KEY#"),
        )

    def revoke(self, key: ApiKey, at: datetime) -> ApiKey:
        """Revoke; an ``all`` key only while another active ``all`` key remains (409 otherwise)."""
        record = ApiKeyRecord(
            pk=tenant_pk(key.tenant_id), sk=_key_sk(key.key_id), version=UNGUARDED
        )
        try:
            with _Transaction() as tx:
                tx.update(
                    record,
                    actions=[ApiKeyRecord.revoked_at.set(at)],
                    condition=ApiKeyRecord.pk.exists() & ApiKeyRecord.revoked_at.does_not_exist(),
                    add_version_condition=False,
                )
                if key.permission is Permission.ALL:
                    tx.update(
                        TenantRecord(tenant_pk(key.tenant_id), TenantRecord.SK, version=UNGUARDED),
                        actions=[TenantRecord.active_all_keys.add(-1)],
                        condition=TenantRecord.active_all_keys > 1,
                        add_version_condition=False,
                        label="tenant",
                    )
        except TransactWriteError as exc:
            if tx.failed(exc, "tenant"):
                raise ConflictError(
                    "This is the last active key with the 'all' permission; create another "
                    "before revoking it.",
                    code="last_all_key",
                ) from exc
            if _condition_failed(exc):
                raise NotFoundError("No such API key.") from exc
            raise
        return dataclasses.replace(key, revoked_at=at)


# ---------------------------------------------------------------------------------------------
# Tickets


def _ticket_indexes(ticket: Ticket) -> dict[str, Any]:
    base = f"T#{ticket.tenant_id}#TICKETS"
    return {
        "gsi1pk": base,
        "gsi1sk": ticket.ticket_id,
        "gsi2pk": f"{base}#S#{ticket.status.value}",
        "gsi2sk": ticket.ticket_id,
        "gsi3pk": f"{base}#Q#{ticket.queue}" if ticket.queue else None,
        "gsi3sk": ticket.ticket_id if ticket.queue else None,
    }


def _ticket_record(ticket: Ticket) -> TicketRecord:
    return TicketRecord(
        pk=ticket_pk(ticket.tenant_id, ticket.ticket_id),
        sk=TicketRecord.SK,
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.ticket_id,
        number=ticket.number,
        title=ticket.title,
        description=ticket.description,
        priority=ticket.priority.value,
        status=ticket.status.value,
        queue=ticket.queue,
        complete_by=ticket.complete_by,
        organization=ticket.organization,
        contact=ticket.contact,
        site=ticket.site,
        currency=ticket.currency,
        billing_organization=ticket.billing_organization,
        work_type=ticket.work_type,
        resource=ticket.resource,
        source=ticket.source.value,
        original_number=ticket.original_number,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        outsourcing_id=ticket.outsourcing_id,
        outsourcing_status=_storable(ticket.outsourcing_status),
        outsourcing_side=_storable(ticket.outsourcing_side),
        peer_owner_id=ticket.peer_owner_id,
        peer_ticket_id=ticket.peer_ticket_id,
        lead_version=ticket.lead_version,
        **_ticket_indexes(ticket),
    )


def ticket_from(record: TicketRecord) -> Ticket:
    return Ticket(
        tenant_id=record.tenant_id,
        ticket_id=record.ticket_id,
        number=record.number,
        title=record.title,
        description=record.description or "",
        priority=Priority(record.priority),
        status=TicketStatus(record.status),
        queue=record.queue,
        complete_by=record.complete_by,
        organization=record.organization,
        contact=record.contact,
        site=record.site,
        currency=record.currency,
        billing_organization=record.billing_organization,
        work_type=record.work_type,
        resource=record.resource,
        source=TicketSource(record.source),
        original_number=record.original_number,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 1),
        outsourcing_id=record.outsourcing_id,
        outsourcing_status=(
            OutsourceStatus(record.outsourcing_status) if record.outsourcing_status else None
        ),
        outsourcing_side=Side(record.outsourcing_side) if record.outsourcing_side else None,
        peer_owner_id=record.peer_owner_id,
        peer_ticket_id=record.peer_ticket_id,
        lead_version=int(record.lead_version) if record.lead_version is not None else None,
    )


def _storable(value: Any) -> Any:
    """Domain values (enums) in the form the record attributes store."""
    return value.value if hasattr(value, "value") else value


class DynamoTicketRepository:
    """Tickets, each in its own partition with its items; listed through the GSIs."""

    def next_number(self, tenant_id: str, day: date) -> int:
        counter = CounterRecord(
            pk=tenant_pk(tenant_id), sk=f"COUNTER#TICKET#{day:%Y%m%d}", version=UNGUARDED
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
        record = _ticket_record(ticket)
        record.save(condition=TicketRecord.pk.does_not_exist())

    def get(self, tenant_id: str, ticket_id: str) -> Ticket:
        try:
            record = TicketRecord.get(ticket_pk(tenant_id, ticket_id), TicketRecord.SK)
        except DoesNotExist as exc:
            raise NotFoundError("No such ticket.") from exc
        return ticket_from(record)

    def update(self, ticket: Ticket, changes: Mapping[str, Any]) -> Ticket:
        updated = dataclasses.replace(ticket, **changes)
        stored = _ticket_stored(ticket, changes)
        record = TicketRecord(
            pk=ticket_pk(ticket.tenant_id, ticket.ticket_id),
            sk=TicketRecord.SK,
            version=ticket.version,
        )
        with _version_guard("ticket"):
            record.update(actions=_set_actions(TicketRecord, stored))
        return dataclasses.replace(updated, version=int(record.version))

    def apply_lead_fields(
        self, owner_id: str, ticket_id: str, fields: Mapping[str, Any], lead_version: int
    ) -> bool:
        record = TicketRecord(ticket_pk(owner_id, ticket_id), TicketRecord.SK, version=UNGUARDED)
        stored = {k: _storable(v) for k, v in fields.items()}
        stored["lead_version"] = lead_version
        actions = _set_actions(TicketRecord, stored)
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
            if _condition_failed(exc):
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
        base = f"T#{tenant_id}#TICKETS"
        index: Any
        if status is not None:
            index, hash_attr, hash_value = TicketRecord.gsi2, "gsi2pk", f"{base}#S#{status.value}"
            filter_condition = TicketRecord.queue == queue if queue else None
        elif queue:
            index, hash_attr, hash_value = TicketRecord.gsi3, "gsi3pk", f"{base}#Q#{queue}"
            filter_condition = None
        else:
            index, hash_attr, hash_value = TicketRecord.gsi1, "gsi1pk", base
            filter_condition = None
        return _query_page(
            index.query,
            hash_value,
            ticket_from,
            record_type=TicketRecord,
            cursor=cursor,
            limit=limit,
            expected={hash_attr: hash_value, "sk": TicketRecord.SK},
            prefixes={"pk": f"T#{tenant_id}#TK#"},
            filter_condition=filter_condition,
            newest_first=True,
        )


# ---------------------------------------------------------------------------------------------
# Items

_ITEM_RECORDS: dict[ItemKind, type[ItemRecord]] = {
    ItemKind.NOTE: NoteRecord,
    ItemKind.TIME_ENTRY: TimeEntryRecord,
    ItemKind.CHARGE: ChargeRecord,
    ItemKind.ATTACHMENT: AttachmentRecord,
}


def item_sk(item_id: str) -> str:
    return f"ITEM#{item_id}"


def _share_fields(target: SyncTarget | None) -> dict[str, Any]:
    return {
        "share_outsourcing_id": target.outsourcing_id if target else None,
        "share_side": target.side.value if target else None,
        "share_peer_owner_id": target.peer_owner_id if target else None,
        "share_peer_ticket_id": target.peer_ticket_id if target else None,
    }


def _share_from(record: ItemRecord) -> SyncTarget | None:
    if not (
        record.share_outsourcing_id
        and record.share_side
        and record.share_peer_owner_id
        and record.share_peer_ticket_id
    ):
        return None
    return SyncTarget(
        outsourcing_id=record.share_outsourcing_id,
        side=Side(record.share_side),
        peer_owner_id=record.share_peer_owner_id,
        peer_ticket_id=record.share_peer_ticket_id,
    )


def _item_common(item: Item) -> dict[str, Any]:
    return {
        **_share_fields(item.shared_with),
        "pk": ticket_pk(item.tenant_id, item.ticket_id),
        "sk": item_sk(item.item_id),
        "tenant_id": item.tenant_id,
        "ticket_id": item.ticket_id,
        "item_id": item.item_id,
        "internal": item.internal,
        "origin": item.origin.value,
        "origin_tenant": item.origin_tenant,
        "origin_ticket_id": item.origin_ticket_id,
        "origin_item_id": item.origin_item_id,
        "origin_version": item.origin_version,
        "outsourcing_id": item.outsourcing_id,
        "created_by": item.created_by,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "deleted": item.deleted,
    }


def item_record(item: Item) -> ItemRecord:
    """The record for an item (all kinds)."""
    common = _item_common(item)
    if isinstance(item, Note):
        return NoteRecord(**common, text=item.text)
    if isinstance(item, TimeEntry):
        return TimeEntryRecord(
            **common,
            date=item.date.isoformat(),
            hours_worked=item.hours_worked,
            hours_billable=item.hours_billable,
            work_type=item.work_type,
            summary=item.summary,
        )
    if isinstance(item, Charge):
        return ChargeRecord(
            **common,
            name=item.name,
            quantity=item.quantity,
            unit_cost=item.unit_cost,
            unit_price=item.unit_price,
            billable=item.billable,
            currency=item.currency,
        )
    if isinstance(item, Attachment):
        return AttachmentRecord(
            **common,
            file_name=item.file_name,
            content_type=item.content_type,
            size=item.size,
            object_key=item.object_key,
        )
    raise TypeError(f"unknown item type {type(item).__name__}")


def item_from(record: ItemRecord) -> Item:
    """The domain item for a record (all kinds)."""
    common: dict[str, Any] = {
        "tenant_id": record.tenant_id,
        "ticket_id": record.ticket_id,
        "item_id": record.item_id,
        "internal": bool(record.internal),
        "origin": Origin(record.origin),
        "origin_tenant": record.origin_tenant,
        "origin_ticket_id": record.origin_ticket_id,
        "origin_item_id": record.origin_item_id,
        "origin_version": (
            int(record.origin_version) if record.origin_version is not None else None
        ),
        "outsourcing_id": record.outsourcing_id,
        "created_by": record.created_by or "",
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "deleted": bool(record.deleted),
        "version": int(record.version or 1),
        "shared_with": _share_from(record),
    }
    if isinstance(record, NoteRecord):
        return Note(**common, text=record.text)
    if isinstance(record, TimeEntryRecord):
        return TimeEntry(
            **common,
            date=date.fromisoformat(record.date),
            hours_worked=record.hours_worked,
            hours_billable=record.hours_billable,
            work_type=record.work_type,
            summary=record.summary or "",
        )
    if isinstance(record, ChargeRecord):
        return Charge(
            **common,
            name=record.name,
            quantity=record.quantity,
            unit_cost=record.unit_cost,
            unit_price=record.unit_price,
            billable=bool(record.billable),
            currency=record.currency,
        )
    if isinstance(record, AttachmentRecord):
        return Attachment(
            **common,
            file_name=record.file_name,
            content_type=record.content_type,
            size=int(record.size),
            object_key=record.object_key,
        )
    raise TypeError(f"unknown item record {type(record).__name__}")


def _item_storable(changes: Mapping[str, Any]) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "shared_with":
            stored.update(_share_fields(value))
        elif isinstance(value, date) and not isinstance(value, datetime):
            stored[name] = value.isoformat()
        elif isinstance(value, Decimal | bool | int | str | datetime) or value is None:
            stored[name] = value
        else:
            stored[name] = _storable(value)
    return stored


class DynamoItemRepository:
    """Items live in their ticket's partition, sorted by id (creation time)."""

    def add(self, item: Item) -> None:
        try:
            item_record(item).save(condition=ItemRecord.pk.does_not_exist())
        except PutError as exc:
            if _condition_failed(exc):
                raise ConflictError("This item already exists.", code="already_exists") from exc
            raise

    def get(self, tenant_id: str, ticket_id: str, item_id: str) -> Item:
        try:
            record = Record.get(ticket_pk(tenant_id, ticket_id), item_sk(item_id))
        except DoesNotExist as exc:
            raise NotFoundError("No such item.") from exc
        if not isinstance(record, ItemRecord) or record.deleted:
            raise NotFoundError("No such item.")
        return item_from(record)

    def update(self, item: Item, changes: Mapping[str, Any]) -> Item:
        model = _ITEM_RECORDS[item.kind]
        record = model(
            pk=ticket_pk(item.tenant_id, item.ticket_id),
            sk=item_sk(item.item_id),
            version=item.version,
        )
        with _version_guard("item"):
            record.update(
                actions=_set_actions(model, _item_storable(changes)),
                condition=ItemRecord.deleted == False,  # noqa: E712 - a DynamoDB condition
            )
        return dataclasses.replace(item, **changes, version=int(record.version))

    def add_once(self, item: Item) -> bool:
        try:
            item_record(item).save(condition=ItemRecord.pk.does_not_exist())
        except PutError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def put_replica(self, replica: Item) -> bool:
        """Write a replica unless what is stored is as new or newer; True when written."""
        assert replica.origin_version is not None
        record = item_record(replica)
        record.version = replica.origin_version - 1  # stored as the origin's version
        try:
            record.save(
                condition=ItemRecord.pk.does_not_exist()
                | (ItemRecord.origin_version < replica.origin_version),
                add_version_condition=False,
            )
        except PutError as exc:
            if _condition_failed(exc):
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
        pk = ticket_pk(tenant_id, ticket_id)
        return _query_page(
            Record.query,
            pk,
            item_from,
            record_type=ItemRecord,
            cursor=cursor,
            limit=limit,
            expected={"pk": pk},
            prefixes={"sk": "ITEM#"},
            range_key_condition=Record.sk.startswith("ITEM#"),
            filter_condition=None if include_deleted else ItemRecord.deleted == False,  # noqa: E712
        )


# ---------------------------------------------------------------------------------------------
# Idempotency keys


def _idem_sk(key: str) -> str:
    return "IDEM#" + hashlib.sha256(key.encode()).hexdigest()


class DynamoIdempotencyStore:
    """First responses to mutating requests, per tenant and Idempotency-Key, kept for a TTL."""

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds

    def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyEntry | None:
        record = IdempotencyRecord(
            pk=tenant_pk(tenant_id),
            sk=_idem_sk(key),
            tenant_id=tenant_id,
            fingerprint=fingerprint,
            expires_at=datetime.now(UTC) + timedelta(seconds=self._ttl),
        )
        try:
            record.save(condition=IdempotencyRecord.pk.does_not_exist())
            return None
        except PutError as exc:
            if not _condition_failed(exc):
                raise
        existing = IdempotencyRecord.get(tenant_pk(tenant_id), _idem_sk(key), consistent_read=True)
        response = existing.response
        return IdempotencyEntry(
            fingerprint=existing.fingerprint,
            response=(
                StoredResponse(
                    status=int(response["status"]),
                    body=response["body"],
                    headers=response.get("headers", {}),
                )
                if response
                else None
            ),
        )

    def finish(self, tenant_id: str, key: str, response: StoredResponse) -> None:
        record = IdempotencyRecord(pk=tenant_pk(tenant_id), sk=_idem_sk(key), version=UNGUARDED)
        record.update(
            actions=[
                IdempotencyRecord.response.set(
                    {"status": response.status, "body": response.body, "headers": response.headers}
                )
            ],
            add_version_condition=False,
        )

    def abandon(self, tenant_id: str, key: str) -> None:
        IdempotencyRecord(pk=tenant_pk(tenant_id), sk=_idem_sk(key)).delete(
            add_version_condition=False
        )


# ---------------------------------------------------------------------------------------------
# Partner invitations and partnerships


def _invitation_sk(invitation_id: str) -> str:
    return f"INVITATION#{invitation_id}"


def _partnership_sk(partnership_id: str) -> str:
    return f"PARTNERSHIP#{partnership_id}"


def _pair_sk(service_tenant_id: str) -> str:
    return f"PAIR#{service_tenant_id}"


def _invitation_from(record: InvitationRecord) -> Invitation:
    return Invitation(
        lead_tenant_id=record.tenant_id,
        invitation_id=record.invitation_id,
        email=record.email,
        company_name=record.company_name,
        token_hash=record.token_hash,
        status=InvitationStatus(record.status),
        expires_at=record.valid_until,
        created_at=record.created_at,
        created_by=record.created_by or "",
        target_tenant_id=record.target_tenant_id,
        partnership_id=record.partnership_id,
        accepted_by_tenant_id=record.accepted_by_tenant_id,
        resolved_at=record.resolved_at,
        sent_count=int(record.sent_count or 1),
        email_status=record.email_status or "sent",
        version=int(record.version or 1),
    )


_INVITATION_FIELDS = {"expires_at": "valid_until"}


class DynamoInvitationRepository:
    """Invitations in the lead tenant's partition; the token itself is never stored."""

    def add(self, invitation: Invitation) -> None:
        InvitationRecord(
            pk=tenant_pk(invitation.lead_tenant_id),
            sk=_invitation_sk(invitation.invitation_id),
            tenant_id=invitation.lead_tenant_id,
            invitation_id=invitation.invitation_id,
            email=invitation.email,
            company_name=invitation.company_name,
            token_hash=invitation.token_hash,
            status=invitation.status.value,
            valid_until=invitation.expires_at,
            created_at=invitation.created_at,
            created_by=invitation.created_by,
            target_tenant_id=invitation.target_tenant_id,
            sent_count=invitation.sent_count,
            email_status=invitation.email_status,
        ).save()

    def get(self, lead_tenant_id: str, invitation_id: str) -> Invitation:
        try:
            record = InvitationRecord.get(
                tenant_pk(lead_tenant_id), _invitation_sk(invitation_id), consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such invitation.") from exc
        return _invitation_from(record)

    def list(self, lead_tenant_id: str, limit: int, cursor: str | None) -> Page[Invitation]:
        pk = tenant_pk(lead_tenant_id)
        return _query_page(
            InvitationRecord.query,
            pk,
            _invitation_from,
            record_type=InvitationRecord,
            cursor=cursor,
            limit=limit,
            expected={"pk": pk},
            prefixes={"sk": "INVITATION#"},
            range_key_condition=InvitationRecord.sk.startswith("INVITATION#"),
            newest_first=True,
        )

    def _record(self, invitation: Invitation) -> InvitationRecord:
        return InvitationRecord(
            pk=tenant_pk(invitation.lead_tenant_id),
            sk=_invitation_sk(invitation.invitation_id),
            version=invitation.version,
        )

    def update(self, invitation: Invitation, changes: Mapping[str, Any]) -> Invitation:
        stored = {_INVITATION_FIELDS.get(k, k): _storable(v) for k, v in changes.items()}
        record = self._record(invitation)
        with _version_guard("invitation"):
            record.update(
                actions=_set_actions(InvitationRecord, stored),
                condition=(InvitationRecord.status == InvitationStatus.PENDING.value)
                & (InvitationRecord.token_hash == invitation.token_hash),
            )
        return _invitation_from(record)

    def accept(self, invitation: Invitation, lead: Partnership, service: Partnership) -> None:
        try:
            with _Transaction() as tx:
                tx.update(
                    self._record(invitation),
                    actions=[
                        InvitationRecord.status.set(InvitationStatus.ACCEPTED.value),
                        InvitationRecord.resolved_at.set(lead.created_at),
                        InvitationRecord.accepted_by_tenant_id.set(service.tenant_id),
                        InvitationRecord.partnership_id.set(lead.partnership_id),
                    ],
                    condition=(InvitationRecord.status == InvitationStatus.PENDING.value)
                    & (InvitationRecord.token_hash == invitation.token_hash),
                )
                tx.update(
                    PartnerPairRecord(
                        tenant_pk(lead.tenant_id), _pair_sk(service.tenant_id), version=UNGUARDED
                    ),
                    actions=[
                        PartnerPairRecord.tenant_id.set(lead.tenant_id),
                        PartnerPairRecord.type.set(PartnerPairRecord),
                        PartnerPairRecord.partnership_id.set(lead.partnership_id),
                        PartnerPairRecord.status.set(PartnershipStatus.ACTIVE.value),
                    ],
                    condition=PartnerPairRecord.pk.does_not_exist()
                    | (PartnerPairRecord.status == PartnershipStatus.INACTIVE.value),
                    add_version_condition=False,
                    label="pair",
                )
                tx.save(_partnership_record(lead))
                tx.save(_partnership_record(service))
        except TransactWriteError as exc:
            if tx.failed(exc, "pair"):
                raise ConflictError(
                    "These tenants already have an active partnership.", code="already_exists"
                ) from exc
            if _condition_failed(exc):
                raise ConflictError(
                    "The invitation changed while it was being accepted.",
                    code="version_conflict",
                ) from exc
            raise


def _mapping_to_json(mapping: PartnerMapping | None) -> dict[str, Any] | None:
    if mapping is None:
        return None
    return {
        "organization": mapping.organization,
        "queue": mapping.queue,
        "work_type": mapping.work_type,
        "resource": mapping.resource,
        "status_map": {k.value: v.value for k, v in mapping.status_map.items()},
    }


def _mapping_from_json(data: dict[str, Any] | None) -> PartnerMapping | None:
    if data is None:
        return None
    return PartnerMapping(
        organization=data.get("organization"),
        queue=data.get("queue"),
        work_type=data.get("work_type"),
        resource=data.get("resource"),
        status_map={
            OutsourceStatus(k): TicketStatus(v) for k, v in (data.get("status_map") or {}).items()
        },
    )


def _partnership_record(partnership: Partnership) -> PartnershipRecord:
    return PartnershipRecord(
        pk=tenant_pk(partnership.tenant_id),
        sk=_partnership_sk(partnership.partnership_id),
        tenant_id=partnership.tenant_id,
        partnership_id=partnership.partnership_id,
        role=partnership.role.value,
        partner_tenant_id=partnership.partner_tenant_id,
        partner_name=partnership.partner_name,
        status=partnership.status.value,
        created_at=partnership.created_at,
        lead_tenant_id=partnership.lead_tenant_id,
        service_tenant_id=partnership.service_tenant_id,
        invitation_id=partnership.invitation_id,
        deactivated_at=partnership.deactivated_at,
        deactivated_by_tenant_id=partnership.deactivated_by_tenant_id,
        mapping=_mapping_to_json(partnership.mapping),
        gsi1pk=f"T#{partnership.tenant_id}#PARTNERS#{partnership.role.value}",
        gsi1sk=partnership.partnership_id,
    )


def _partnership_from(record: PartnershipRecord) -> Partnership:
    return Partnership(
        tenant_id=record.tenant_id,
        partnership_id=record.partnership_id,
        role=PartnerRole(record.role),
        partner_tenant_id=record.partner_tenant_id,
        partner_name=record.partner_name,
        status=PartnershipStatus(record.status),
        created_at=record.created_at,
        lead_tenant_id=record.lead_tenant_id,
        service_tenant_id=record.service_tenant_id,
        invitation_id=record.invitation_id,
        deactivated_at=record.deactivated_at,
        deactivated_by_tenant_id=record.deactivated_by_tenant_id,
        mapping=_mapping_from_json(record.mapping),
        version=int(record.version or 1),
    )


class DynamoPartnershipRepository:
    """Each partnership is stored once per side, so each tenant reads only its own partition."""

    def get(self, tenant_id: str, partnership_id: str) -> Partnership:
        try:
            record = PartnershipRecord.get(tenant_pk(tenant_id), _partnership_sk(partnership_id))
        except DoesNotExist as exc:
            raise NotFoundError("No such partnership.") from exc
        return _partnership_from(record)

    def list(
        self, tenant_id: str, role: PartnerRole | None, limit: int, cursor: str | None
    ) -> Page[Partnership]:
        pk = tenant_pk(tenant_id)
        common: dict[str, Any] = {
            "record_type": PartnershipRecord,
            "cursor": cursor,
            "limit": limit,
            "prefixes": {"sk": "PARTNERSHIP#"},
        }
        if role is None:
            return _query_page(
                PartnershipRecord.query,
                pk,
                _partnership_from,
                expected={"pk": pk},
                range_key_condition=PartnershipRecord.sk.startswith("PARTNERSHIP#"),
                **common,
            )
        hash_value = f"T#{tenant_id}#PARTNERS#{role.value}"
        return _query_page(
            PartnershipRecord.gsi1.query,
            hash_value,
            _partnership_from,
            expected={"gsi1pk": hash_value, "pk": pk},
            **common,
        )

    def deactivate(self, partnership: Partnership, by_tenant_id: str, at: datetime) -> Partnership:
        actions_for: list[Action] = [
            PartnershipRecord.status.set(PartnershipStatus.INACTIVE.value),
            PartnershipRecord.deactivated_at.set(at),
            PartnershipRecord.deactivated_by_tenant_id.set(by_tenant_id),
        ]
        active = PartnershipRecord.status == PartnershipStatus.ACTIVE.value
        try:
            with _Transaction() as tx:
                for owner in (partnership.lead_tenant_id, partnership.service_tenant_id):
                    tx.update(
                        PartnershipRecord(
                            tenant_pk(owner),
                            _partnership_sk(partnership.partnership_id),
                            version=UNGUARDED,
                        ),
                        actions=actions_for,
                        condition=active,
                        add_version_condition=False,
                    )
                tx.update(
                    PartnerPairRecord(
                        tenant_pk(partnership.lead_tenant_id),
                        _pair_sk(partnership.service_tenant_id),
                        version=UNGUARDED,
                    ),
                    actions=[PartnerPairRecord.status.set(PartnershipStatus.INACTIVE.value)],
                    condition=PartnerPairRecord.partnership_id == partnership.partnership_id,
                    add_version_condition=False,
                )
        except TransactWriteError as exc:
            if _condition_failed(exc):
                raise ConflictError(
                    "This partnership is already inactive.", code="invalid_transition"
                ) from exc
            raise
        return dataclasses.replace(
            partnership,
            status=PartnershipStatus.INACTIVE,
            deactivated_at=at,
            deactivated_by_tenant_id=by_tenant_id,
        )

    def set_mapping(self, partnership: Partnership, mapping: PartnerMapping) -> Partnership:
        record = PartnershipRecord(
            tenant_pk(partnership.tenant_id),
            _partnership_sk(partnership.partnership_id),
            version=UNGUARDED,
        )
        try:
            record.update(
                actions=[PartnershipRecord.mapping.set(_mapping_to_json(mapping))],
                condition=PartnershipRecord.pk.exists(),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                raise NotFoundError("No such partnership.") from exc
            raise
        return _partnership_from(record)


# ---------------------------------------------------------------------------------------------
# Outsourcings


def _opt_iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _opt_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _opt_dec(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _opt_decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _terms_json(terms: Terms) -> dict[str, Any]:
    return {
        "complete_by": _opt_iso(terms.complete_by),
        "accept_by": _opt_iso(terms.accept_by),
        "instructions": terms.instructions,
        "pricing_type": terms.pricing_type.value,
        "pricing_amount": str(terms.pricing_amount),
        "authorized_hours": _opt_dec(terms.authorized_hours),
        "authorized_charges": _opt_dec(terms.authorized_charges),
        "bill_customer_rate": _opt_dec(terms.bill_customer_rate),
    }


def _terms_from(data: dict[str, Any]) -> Terms:
    return Terms(
        complete_by=_opt_dt(data.get("complete_by")),
        accept_by=_opt_dt(data.get("accept_by")),
        instructions=data.get("instructions") or "",
        pricing_type=PricingType(data.get("pricing_type", "flat")),
        pricing_amount=Decimal(data.get("pricing_amount", "0")),
        authorized_hours=_opt_decimal(data.get("authorized_hours")),
        authorized_charges=_opt_decimal(data.get("authorized_charges")),
        bill_customer_rate=_opt_decimal(data.get("bill_customer_rate")),
    )


def _snapshot_json(snapshot: TicketSnapshot) -> dict[str, Any]:
    return {
        "number": snapshot.number,
        "title": snapshot.title,
        "description": snapshot.description,
        "priority": snapshot.priority,
        "complete_by": _opt_iso(snapshot.complete_by),
        "organization": snapshot.organization,
        "contact": snapshot.contact,
        "site": snapshot.site,
    }


def _snapshot_from(data: dict[str, Any]) -> TicketSnapshot:
    return TicketSnapshot(
        number=data["number"],
        title=data["title"],
        description=data.get("description") or "",
        priority=data.get("priority") or "medium",
        complete_by=_opt_dt(data.get("complete_by")),
        organization=data.get("organization"),
        contact=data.get("contact"),
        site=data.get("site"),
    )


def _history_json(history: tuple[HistoryEntry, ...]) -> list[dict[str, Any]]:
    return [
        {
            "event": h.event,
            "from": h.from_status.value if h.from_status else None,
            "to": h.to_status.value,
            "at": h.at.isoformat(),
            "by": h.by.value,
            "actor": h.actor,
            "reason": h.reason,
        }
        for h in history
    ]


def _history_from(data: list[dict[str, Any]]) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(
            event=h["event"],
            from_status=OutsourceStatus(h["from"]) if h.get("from") else None,
            to_status=OutsourceStatus(h["to"]),
            at=datetime.fromisoformat(h["at"]),
            by=Side(h["by"]),
            actor=h.get("actor") or "",
            reason=h.get("reason"),
        )
        for h in data
    )


def _outsourcing_sk(outsourcing_id: str) -> str:
    return f"OUTSOURCING#{outsourcing_id}"


def _expiry_day(accept_by: datetime) -> str:
    return f"EXPIRY#{accept_by.astimezone(UTC):%Y%m%d}"


def _outsourcing_indexes(
    owner_id: str, side: Side, outsourcing_id: str, status: OutsourceStatus, terms: Terms
) -> dict[str, Any]:
    base = f"T#{owner_id}#OUTS#{side.value}"
    expiring = side is Side.LEAD and status is OutsourceStatus.ASSIGNED and terms.accept_by
    return {
        "gsi1pk": base,
        "gsi1sk": outsourcing_id,
        "gsi2pk": f"{base}#S#{status.value}",
        "gsi2sk": outsourcing_id,
        "gsi3pk": _expiry_day(terms.accept_by) if expiring and terms.accept_by else None,
        "gsi3sk": (
            f"{terms.accept_by.astimezone(UTC).isoformat()}#{owner_id}#{outsourcing_id}"
            if expiring and terms.accept_by
            else None
        ),
    }


def _outsourcing_record(copy: Outsourcing) -> OutsourcingRecord:
    return OutsourcingRecord(
        pk=tenant_pk(copy.owner_id),
        sk=_outsourcing_sk(copy.outsourcing_id),
        tenant_id=copy.owner_id,
        outsourcing_id=copy.outsourcing_id,
        side=copy.side.value,
        lane=copy.lane.value,
        status=copy.status.value,
        lead_tenant_id=copy.lead_tenant_id,
        lead_ticket_id=copy.lead_ticket_id,
        receiver_id=copy.receiver_id,
        partnership_id=copy.partnership_id,
        insourced_ticket_id=copy.insourced_ticket_id,
        terms=_terms_json(copy.terms),
        currency=copy.currency,
        ticket=_snapshot_json(copy.ticket),
        lead_name=copy.lead_name,
        receiver_name=copy.receiver_name,
        history=_history_json(copy.history),
        created_at=copy.created_at,
        updated_at=copy.updated_at,
        **_outsourcing_indexes(
            copy.owner_id, copy.side, copy.outsourcing_id, copy.status, copy.terms
        ),
    )


def outsourcing_from(record: OutsourcingRecord) -> Outsourcing:
    """The domain copy for a record (also used on stream images)."""
    return Outsourcing(
        owner_id=record.tenant_id,
        side=Side(record.side),
        outsourcing_id=record.outsourcing_id,
        lane=Lane(record.lane),
        status=OutsourceStatus(record.status),
        lead_tenant_id=record.lead_tenant_id,
        lead_ticket_id=record.lead_ticket_id,
        receiver_id=record.receiver_id,
        partnership_id=record.partnership_id,
        terms=_terms_from(record.terms or {}),
        currency=record.currency,
        ticket=_snapshot_from(record.ticket or {}),
        lead_name=record.lead_name,
        receiver_name=record.receiver_name,
        created_at=record.created_at,
        updated_at=record.updated_at,
        insourced_ticket_id=record.insourced_ticket_id,
        history=_history_from(record.history or []),
        version=int(record.version or 1),
    )


# Which index keys follow which ticket attribute.
_TICKET_INDEX_OF = {"status": ("gsi2pk", "gsi2sk"), "queue": ("gsi3pk", "gsi3sk")}


def _ticket_stored(ticket: Ticket, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The attribute values to write for ``changes``, with only the index keys they move
    (an index key computed from a stale copy of another attribute would be wrong)."""
    updated = dataclasses.replace(ticket, **changes)
    stored = {k: _storable(v) for k, v in changes.items()}
    indexes = _ticket_indexes(updated)
    for attribute, keys in _TICKET_INDEX_OF.items():
        if attribute in changes:
            stored.update({key: indexes[key] for key in keys})
    return stored


def _ticket_actions(ticket: Ticket, changes: Mapping[str, Any]) -> list[Action]:
    return _set_actions(TicketRecord, _ticket_stored(ticket, changes))


def _count_sk(side: Side) -> str:
    return f"OUTCOUNT#{side.value}"


def _count_update(
    tx: _Transaction,
    copy: Outsourcing,
    new: OutsourceStatus,
    old: OutsourceStatus | None,
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
        StatusCountRecord(tenant_pk(copy.owner_id), _count_sk(copy.side), version=UNGUARDED),
        actions=actions,
        add_version_condition=False,
        label="count",
    )


class DynamoOutsourcingRepository:
    """Both copies of an outsourcing, and the tickets it links, change in single transactions."""

    def create(self, lead: Outsourcing, receiver: Outsourcing, ticket: Ticket) -> None:
        changes = {
            "outsourcing_id": lead.outsourcing_id,
            "outsourcing_status": lead.status,
            "outsourcing_side": Side.LEAD,
            "peer_owner_id": receiver.owner_id,
            "peer_ticket_id": None,
            "updated_at": lead.created_at,
        }
        free = (
            TicketRecord.outsourcing_status.does_not_exist()
            | TicketRecord.outsourcing_status.is_in(*(s.value for s in ENDED))
        )
        try:
            with _Transaction() as tx:
                tx.update(
                    TicketRecord(
                        ticket_pk(ticket.tenant_id, ticket.ticket_id),
                        TicketRecord.SK,
                        version=ticket.version,
                    ),
                    actions=_ticket_actions(ticket, changes),
                    condition=TicketRecord.pk.exists() & free,
                    add_version_condition=False,
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
                tenant_pk(owner_id), _outsourcing_sk(outsourcing_id), consistent_read=True
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
        base = f"T#{owner_id}#OUTS#{side.value}"
        index: Any
        if status is None:
            index, hash_attr, hash_value = OutsourcingRecord.gsi1, "gsi1pk", base
        else:
            index, hash_attr, hash_value = OutsourcingRecord.gsi2, "gsi2pk", f"{base}#S#{status}"
        return _query_page(
            index.query,
            hash_value,
            outsourcing_from,
            record_type=OutsourcingRecord,
            cursor=cursor,
            limit=limit,
            expected={hash_attr: hash_value, "pk": tenant_pk(owner_id)},
            prefixes={"sk": "OUTSOURCING#"},
            newest_first=True,
        )

    def apply(self, plan: TransitionPlan) -> None:
        """Move both copies from ``plan.expected`` to ``plan.new_status`` with the ticket
        changes, atomically. A lost race is ``ConflictError(invalid_transition)``."""
        try:
            with _Transaction() as tx:
                for copy in plan.copies:
                    history = (*copy.history, plan.entry)
                    stored: dict[str, Any] = {
                        "status": plan.new_status.value,
                        "updated_at": plan.entry.at,
                        "history": _history_json(history),
                        **_outsourcing_indexes(
                            copy.owner_id,
                            copy.side,
                            copy.outsourcing_id,
                            plan.new_status,
                            copy.terms,
                        ),
                    }
                    del stored["gsi1pk"], stored["gsi1sk"]
                    stored.update(plan.copy_changes)
                    tx.update(
                        OutsourcingRecord(
                            tenant_pk(copy.owner_id),
                            _outsourcing_sk(copy.outsourcing_id),
                            version=copy.version,
                        ),
                        actions=_set_actions(OutsourcingRecord, stored),
                        condition=OutsourcingRecord.status == plan.expected.value,
                        add_version_condition=False,
                        label="copy",
                    )
                    _count_update(tx, copy, plan.new_status, plan.expected)
                for change in plan.ticket_changes:
                    condition = TicketRecord.pk.exists() & (
                        TicketRecord.outsourcing_id == plan.outsourcing_id
                    )
                    tx.update(
                        TicketRecord(
                            ticket_pk(change.ticket.tenant_id, change.ticket.ticket_id),
                            TicketRecord.SK,
                            version=change.ticket.version,
                        ),
                        actions=_ticket_actions(change.ticket, change.changes),
                        condition=condition,
                        add_version_condition=change.guard_version,
                        label="ticket",
                    )
                for ticket in plan.new_tickets:
                    tx.save(_ticket_record(ticket))
                for item in plan.new_items:
                    tx.save(item_record(item), condition=ItemRecord.pk.does_not_exist())
        except TransactWriteError as exc:
            if tx.failed(exc, "copy"):
                raise ConflictError(
                    "The outsourcing changed meanwhile; read it again.",
                    code="invalid_transition",
                ) from exc
            if _condition_failed(exc):
                raise ConflictError(
                    "The ticket was changed by someone else; try again.", code="version_conflict"
                ) from exc
            raise

    def counts(self, owner_id: str, side: Side) -> dict[OutsourceStatus, int]:
        try:
            record = StatusCountRecord.get(tenant_pk(owner_id), _count_sk(side))
        except DoesNotExist:
            return {status: 0 for status in OutsourceStatus}
        return {status: int(getattr(record, status.value) or 0) for status in OutsourceStatus}

    def due_for_expiry(self, now: datetime, days_back: int) -> Sequence[Outsourcing]:
        """Lead copies still assigned whose accept-by deadline has passed (system job)."""
        found: list[Outsourcing] = []
        for offset in range(days_back, -1, -1):
            day = now - timedelta(days=offset)
            for record in OutsourcingRecord.gsi3.query(
                _expiry_day(day),
                OutsourcingRecord.gsi3sk <= f"{now.astimezone(UTC).isoformat()}#~",
            ):
                if isinstance(record, OutsourcingRecord):
                    copy = outsourcing_from(record)
                    if copy.status is OutsourceStatus.ASSIGNED:
                        found.append(copy)
        return found
