"""Item use cases: notes, time entries, charges and attachments on a ticket."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.attachments import UploadPolicy, storage_name
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.items import (
    ITEM_CLASSES,
    Attachment,
    Item,
    ItemKind,
    check_changes,
    ensure_writable,
)
from chalicelib.observability import count, logger
from chalicelib.ports import FileStore, ItemRepository, Page, PresignedUpload, TicketRepository
from chalicelib.service.concurrency import retry_on_conflict
from chalicelib.service.tickets import get_ticket


@dataclass(frozen=True, slots=True)
class NewAttachment:
    attachment: Attachment
    upload: PresignedUpload


@dataclass(frozen=True, slots=True)
class Download:
    attachment: Attachment
    url: str
    expires_at: datetime


def add_item(
    tickets: TicketRepository,
    items: ItemRepository,
    tenant_id: str,
    ticket_id: str,
    kind: ItemKind,
    fields: Mapping[str, Any],
    *,
    created_by: str,
    now: datetime,
) -> Item:
    """Add a note, time entry or charge to the tenant's ticket."""
    if kind is ItemKind.ATTACHMENT:
        raise ValueError("attachments are added with create_attachment")
    ticket = get_ticket(tickets, tenant_id, ticket_id)
    extra: dict[str, Any] = {}
    if kind is ItemKind.CHARGE:
        extra["currency"] = ticket.currency
    item = ITEM_CLASSES[kind](
        tenant_id=tenant_id,
        ticket_id=ticket.ticket_id,
        item_id=new_id(),
        created_by=created_by,
        created_at=now,
        updated_at=now,
        shared_with=ticket.sync_target(),
        **{**dict(fields), **extra},
    )
    items.add(item)
    count("ItemAdded")
    logger.info(
        "item added",
        extra={"tenant_id": tenant_id, "ticket_id": ticket_id, "item_id": item.item_id},
    )
    return item


def get_item(
    items: ItemRepository, tenant_id: str, ticket_id: str, item_id: str, kind: ItemKind
) -> Item:
    """A live item of the given kind on the tenant's ticket, or not found."""
    if not (is_id(ticket_id) and is_id(item_id)):
        raise NotFoundError("No such item.")
    item = items.get(tenant_id, ticket_id, item_id)
    if item.kind is not kind:
        raise NotFoundError("No such item.")
    return item


def update_item(
    tickets: TicketRepository,
    items: ItemRepository,
    tenant_id: str,
    ticket_id: str,
    item_id: str,
    kind: ItemKind,
    changes: Mapping[str, Any],
    now: datetime,
) -> Item:
    """Edit a local item. Replicas from the other side are read-only (409)."""
    check_changes(kind, dict(changes))
    item = get_item(items, tenant_id, ticket_id, item_id, kind)
    ensure_writable(item)
    if not changes:
        return item
    # Whether this edit travels depends on the outsourcing's state now, not at creation.
    shared_with = get_ticket(tickets, tenant_id, ticket_id).sync_target()

    def apply(current: Item) -> Item:
        ensure_writable(current)
        _check_result(dataclasses.replace(current, **changes))  # type: ignore[arg-type]
        return items.update(current, {**changes, "updated_at": now, "shared_with": shared_with})

    return retry_on_conflict(
        apply, first=item, reload=lambda: get_item(items, tenant_id, ticket_id, item_id, kind)
    )


def _check_result(item: Item) -> None:
    """Rules on the item as a whole after a partial edit."""
    for name in ("text", "name", "file_name"):
        if hasattr(item, name) and not getattr(item, name):
            raise ValidationError(f"'{name}' cannot be empty.", field=name)


def delete_item(
    tickets: TicketRepository,
    items: ItemRepository,
    tenant_id: str,
    ticket_id: str,
    item_id: str,
    kind: ItemKind,
    now: datetime,
) -> Item:
    """Delete a local item (kept as a tombstone so the delete can travel)."""
    item = get_item(items, tenant_id, ticket_id, item_id, kind)
    ensure_writable(item)
    shared_with = get_ticket(tickets, tenant_id, ticket_id).sync_target()
    deleted = items.update(item, {"deleted": True, "updated_at": now, "shared_with": shared_with})
    logger.info(
        "item deleted", extra={"tenant_id": tenant_id, "ticket_id": ticket_id, "item_id": item_id}
    )
    return deleted


def list_items(
    tickets: TicketRepository,
    items: ItemRepository,
    tenant_id: str,
    ticket_id: str,
    limit: int,
    cursor: str | None,
) -> Page[Item]:
    """Every live item of the ticket, newest last."""
    get_ticket(tickets, tenant_id, ticket_id)
    return items.list(tenant_id, ticket_id, limit, cursor)


def all_items(
    items: ItemRepository, tenant_id: str, ticket_id: str, *, include_deleted: bool = False
) -> Iterator[Item]:
    """Every item of a ticket (tombstones too, if asked), oldest first, following the pages."""
    cursor: str | None = None
    while True:
        page = items.list(tenant_id, ticket_id, 100, cursor, include_deleted=include_deleted)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def object_key(tenant_id: str, ticket_id: str, attachment_id: str, file_name: str) -> str:
    """Where an attachment's file lives: under the owning tenant, never shared."""
    return f"{tenant_id}/{ticket_id}/{attachment_id}/{storage_name(file_name)}"


def create_attachment(
    tickets: TicketRepository,
    items: ItemRepository,
    files: FileStore,
    policy: UploadPolicy,
    tenant_id: str,
    ticket_id: str,
    *,
    file_name: str,
    content_type: str,
    size: int,
    internal: bool,
    created_by: str,
    expires_in: int,
    now: datetime,
) -> NewAttachment:
    """Record an attachment and sign an upload that accepts exactly the declared file."""
    policy.check(content_type, size)
    ticket = get_ticket(tickets, tenant_id, ticket_id)
    attachment_id = new_id()
    attachment = Attachment(
        tenant_id=tenant_id,
        ticket_id=ticket.ticket_id,
        item_id=attachment_id,
        internal=internal,
        file_name=file_name,
        content_type=content_type.lower(),
        size=size,
        object_key=object_key(tenant_id, ticket.ticket_id, attachment_id, file_name),
        created_by=created_by,
        created_at=now,
        updated_at=now,
        shared_with=ticket.sync_target(),
    )
    items.add(attachment)
    count("AttachmentAdded")
    upload = files.presign_upload(attachment.object_key, attachment.content_type, size, expires_in)
    return NewAttachment(attachment=attachment, upload=upload)


def download_attachment(
    tickets: TicketRepository,
    items: ItemRepository,
    files: FileStore,
    tenant_id: str,
    ticket_id: str,
    attachment_id: str,
    *,
    expires_in: int,
    now: datetime,
) -> Download:
    """Sign a download, after checking the attachment belongs to the caller's ticket."""
    item = get_item(items, tenant_id, ticket_id, attachment_id, ItemKind.ATTACHMENT)
    assert isinstance(item, Attachment)
    if item.read_only and item.origin_tenant and not files.exists(item.object_key):
        _copy_from_origin(tickets, items, files, item)
    url = files.presign_download(item.object_key, item.file_name, expires_in)
    return Download(attachment=item, url=url, expires_at=now + timedelta(seconds=expires_in))


def _copy_from_origin(
    tickets: TicketRepository, items: ItemRepository, files: FileStore, replica: Attachment
) -> None:
    """A replica whose file was not uploaded when it was synced gets its copy now."""
    assert replica.origin_tenant and replica.origin_item_id
    try:
        if replica.origin_ticket_id is None:
            raise NotFoundError("the original ticket is unknown")
        origin = items.get(replica.origin_tenant, replica.origin_ticket_id, replica.origin_item_id)
    except NotFoundError as exc:
        raise ConflictError(
            "The file of this attachment is not available.", code="file_unavailable"
        ) from exc
    if not isinstance(origin, Attachment):
        raise ConflictError(
            "The file of this attachment is not available.", code="file_unavailable"
        )
    try:
        files.copy(origin.object_key, replica.object_key)
    except FileNotFoundError as exc:
        raise ConflictError(
            "The file of this attachment has not been uploaded yet.", code="file_not_uploaded"
        ) from exc
