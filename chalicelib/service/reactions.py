"""Reactions to table changes (run by the stream handler, never by a request)."""

from __future__ import annotations

from chalicelib.domain.events import ItemChanged
from chalicelib.domain.items import Attachment
from chalicelib.observability import logger
from chalicelib.ports import FileStore


def remove_deleted_attachment_file(files: FileStore, event: ItemChanged) -> None:
    """When an attachment is deleted, delete its file (idempotent: a replay deletes nothing)."""
    if not event.deleted_now:
        return
    item = event.current
    if not isinstance(item, Attachment):
        return
    files.delete(item.object_key)
    logger.info(
        "attachment file deleted",
        extra={"tenant_id": item.tenant_id, "ticket_id": item.ticket_id, "item_id": item.item_id},
    )
