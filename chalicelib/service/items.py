"""Item use cases: notes, time entries, charges and attachments on a ticket.

Every item written or changed while the ticket's outsourcing is in progress is stamped with its
destination (``domain.sync.destination_of``), read from the ticket at that moment: the stream
reaction replicates exactly the changes that carry one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.attachments import UploadPolicy, storage_name
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.events import ItemChanged
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.items import (
    ITEM_CLASSES,
    Attachment,
    Item,
    ItemKind,
    check_changes,
    ensure_writable,
)
from chalicelib.domain.sync import destination_of, is_visible
from chalicelib.domain.tenants import Actor
from chalicelib.observability import count, logger
from chalicelib.ports import (
    FileStore,
    ItemRepository,
    Page,
    Paging,
    PresignedUpload,
    TenantRepository,
    TicketRepository,
)
from chalicelib.service.concurrency import retry_on_conflict
from chalicelib.service.lookup import get_ticket


@dataclass(frozen=True, slots=True)
class ItemPorts:
    """What the item use cases (and the work order) need."""

    tenants: TenantRepository
    tickets: TicketRepository
    items: ItemRepository
    files: FileStore
    upload_policy: UploadPolicy
    link_seconds: int = 900  # how long presigned upload and download links stay valid


@dataclass(frozen=True, slots=True)
class ItemRef:
    """One item of a tenant's ticket, of a known kind."""

    tenant_id: str
    ticket_id: str
    item_id: str
    kind: ItemKind


@dataclass(frozen=True, slots=True)
class AddItem:
    """A note, time entry or charge to add (the fields of its kind, already validated)."""

    actor: Actor
    ticket_id: str
    kind: ItemKind
    fields: Mapping[str, Any]
    now: datetime


@dataclass(frozen=True, slots=True)
class AddAttachment:
    """An attachment to declare; its file is uploaded afterwards through a presigned POST."""

    actor: Actor
    ticket_id: str
    file_name: str
    content_type: str
    size: int
    internal: bool
    now: datetime


@dataclass(frozen=True, slots=True)
class NewAttachment:
    attachment: Attachment
    upload: PresignedUpload


@dataclass(frozen=True, slots=True)
class Download:
    attachment: Attachment
    url: str
    expires_at: datetime


def add_item(ports: ItemPorts, cmd: AddItem) -> Item:
    """Add a note, time entry or charge to the tenant's ticket."""
    if cmd.kind is ItemKind.ATTACHMENT:
        raise ValueError("attachments are added with create_attachment")
    tenant_id = cmd.actor.tenant_id
    ticket = get_ticket(ports.tickets, tenant_id, cmd.ticket_id)
    extra: dict[str, Any] = {}
    if cmd.kind is ItemKind.CHARGE:
        extra["currency"] = ticket.currency
    item = ITEM_CLASSES[cmd.kind](
        tenant_id=tenant_id,
        ticket_id=ticket.ticket_id,
        item_id=new_id(),
        created_by=cmd.actor.label,
        created_at=cmd.now,
        updated_at=cmd.now,
        destination=destination_of(ticket),
        **{**dict(cmd.fields), **extra},
    )
    ports.items.add(item)
    count("ItemAdded")
    logger.info(
        "item added",
        extra={"tenant_id": tenant_id, "ticket_id": ticket.ticket_id, "item_id": item.item_id},
    )
    return item


def get_item(ports: ItemPorts, ref: ItemRef) -> Item:
    """A live item of the given kind on the tenant's ticket, or not found."""
    if not (is_id(ref.ticket_id) and is_id(ref.item_id)):
        raise NotFoundError("No such item.")
    item = ports.items.get(ref.tenant_id, ref.ticket_id, ref.item_id)
    if item.kind is not ref.kind:
        raise NotFoundError("No such item.")
    return item


def update_item(ports: ItemPorts, ref: ItemRef, changes: Mapping[str, Any], now: datetime) -> Item:
    """Edit a local item. Replicas from the other side are read-only (409)."""
    check_changes(ref.kind, dict(changes))
    item = get_item(ports, ref)
    ensure_writable(item)
    if not changes:
        return item
    # Whether this edit travels depends on the outsourcing's state now, not at creation.
    destination = destination_of(get_ticket(ports.tickets, ref.tenant_id, ref.ticket_id))

    def apply(current: Item) -> Item:
        ensure_writable(current)
        _check_result(dataclasses.replace(current, **changes))  # type: ignore[arg-type]
        return ports.items.update(
            current, {**changes, "updated_at": now, "destination": destination}
        )

    return retry_on_conflict(apply, first=item, reload=lambda: get_item(ports, ref))


def _check_result(item: Item) -> None:
    """Rules on the item as a whole after a partial edit."""
    for name in ("text", "name", "file_name"):
        if hasattr(item, name) and not getattr(item, name):
            raise ValidationError(f"'{name}' cannot be empty.", field=name)


def delete_item(ports: ItemPorts, ref: ItemRef, now: datetime) -> Item:
    """Delete a local item (kept as a tombstone so the delete can travel)."""
    item = get_item(ports, ref)
    ensure_writable(item)
    destination = destination_of(get_ticket(ports.tickets, ref.tenant_id, ref.ticket_id))
    deleted = ports.items.update(
        item, {"deleted": True, "updated_at": now, "destination": destination}
    )
    logger.info(
        "item deleted",
        extra={"tenant_id": ref.tenant_id, "ticket_id": ref.ticket_id, "item_id": ref.item_id},
    )
    return deleted


def list_items(ports: ItemPorts, tenant_id: str, ticket_id: str, paging: Paging) -> Page[Item]:
    """Every live item of the ticket, newest last."""
    get_ticket(ports.tickets, tenant_id, ticket_id)
    return ports.items.list(tenant_id, ticket_id, paging.limit, paging.cursor)


def object_key(tenant_id: str, ticket_id: str, attachment_id: str, file_name: str) -> str:
    """Where an attachment's file lives: under the owning tenant, never shared."""
    return f"{tenant_id}/{ticket_id}/{attachment_id}/{storage_name(file_name)}"


def create_attachment(ports: ItemPorts, cmd: AddAttachment) -> NewAttachment:
    """Record an attachment and sign an upload that accepts exactly the declared file."""
    ports.upload_policy.check(cmd.content_type, cmd.size)
    tenant_id = cmd.actor.tenant_id
    ticket = get_ticket(ports.tickets, tenant_id, cmd.ticket_id)
    attachment_id = new_id()
    attachment = Attachment(
        tenant_id=tenant_id,
        ticket_id=ticket.ticket_id,
        item_id=attachment_id,
        internal=cmd.internal,
        file_name=cmd.file_name,
        content_type=cmd.content_type.lower(),
        size=cmd.size,
        object_key=object_key(tenant_id, ticket.ticket_id, attachment_id, cmd.file_name),
        created_by=cmd.actor.label,
        created_at=cmd.now,
        updated_at=cmd.now,
        destination=destination_of(ticket),
    )
    ports.items.add(attachment)
    count("AttachmentAdded")
    upload = ports.files.presign_upload(
        attachment.object_key, attachment.content_type, cmd.size, ports.link_seconds
    )
    return NewAttachment(attachment=attachment, upload=upload)


def download_attachment(ports: ItemPorts, ref: ItemRef, now: datetime) -> Download:
    """Sign a download, after checking the attachment belongs to the caller's ticket."""
    item = get_item(ports, dataclasses.replace(ref, kind=ItemKind.ATTACHMENT))
    assert isinstance(item, Attachment)
    if item.read_only and item.origin_tenant and not ports.files.exists(item.object_key):
        _copy_from_origin(ports, item)
    url = ports.files.presign_download(item.object_key, item.file_name, ports.link_seconds)
    return Download(
        attachment=item, url=url, expires_at=now + timedelta(seconds=ports.link_seconds)
    )


def _copy_from_origin(ports: ItemPorts, replica: Attachment) -> None:
    """A replica whose file was not uploaded when it was synced gets its copy now."""
    assert replica.origin_tenant and replica.origin_item_id
    try:
        if replica.origin_ticket_id is None:
            raise NotFoundError("the original ticket is unknown")
        origin = ports.items.get(
            replica.origin_tenant, replica.origin_ticket_id, replica.origin_item_id
        )
    except NotFoundError as exc:
        raise ConflictError(
            "The file of this attachment is not available.", code="file_unavailable"
        ) from exc
    if not isinstance(origin, Attachment) or not is_visible(origin):
        # Made internal (or gone) since the replica was written: its file never leaves.
        raise ConflictError(
            "The file of this attachment is not available.", code="file_unavailable"
        )
    try:
        ports.files.copy(origin.object_key, replica.object_key)
    except FileNotFoundError as exc:
        raise ConflictError(
            "The file of this attachment has not been uploaded yet.", code="file_not_uploaded"
        ) from exc


def remove_deleted_attachment_file(files: FileStore, event: ItemChanged) -> None:
    """Stream reaction: when an attachment is deleted, or a replica of one is hidden (its
    origin was deleted or made internal), delete its file; a replay deletes nothing more."""
    item = event.file_gone
    if item is None:
        return
    files.delete(item.object_key)
    logger.info(
        "attachment file deleted",
        extra={"tenant_id": item.tenant_id, "ticket_id": item.ticket_id, "item_id": item.item_id},
    )
