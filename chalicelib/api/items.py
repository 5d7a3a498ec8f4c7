"""Ticket items: notes, time entries, charges and attachments; and the combined item list.

Every path is written out; each view is one call to the shared helpers below, which turn the
request into the item use case's inputs.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.models.base import PageQuery
from chalicelib.api.models.tickets import (
    AttachmentCreate,
    AttachmentCreated,
    AttachmentDownload,
    AttachmentOut,
    AttachmentUpdate,
    ChargeCreate,
    ChargeOut,
    ChargeUpdate,
    ItemList,
    NoteCreate,
    NoteOut,
    NoteUpdate,
    TimeEntryCreate,
    TimeEntryOut,
    TimeEntryUpdate,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.items import Item, ItemKind
from chalicelib.service import items as item_service
from chalicelib.service.items import AddAttachment, AddItem, ItemRef

api = Api(__name__, "items")

READ_ONLY = " (replicas from the other side are read-only: 409)"
# Editing or deleting: a replica is read-only, or a race with another edit was lost.
CONFLICTS = (409,)


def _ref(call: Call[Any, Any], kind: ItemKind, id_param: str) -> ItemRef:
    return ItemRef(call.tenant_id, call.params["ticket_id"], call.params[id_param], kind)


def _add(call: Call[Any, None], kind: ItemKind) -> Item:
    fields = call.body.model_dump()
    if kind is ItemKind.TIME_ENTRY and fields.get("hours_billable") is None:
        fields["hours_billable"] = fields["hours_worked"]
    return item_service.add_item(
        call.container.item_ports,
        AddItem(
            actor=call.actor,
            ticket_id=call.params["ticket_id"],
            kind=kind,
            fields=fields,
            now=call.now,
        ),
    )


def _read(call: Call[None, None], kind: ItemKind, id_param: str) -> Item:
    return item_service.get_item(call.container.item_ports, _ref(call, kind, id_param))


def _update(call: Call[Any, None], kind: ItemKind, id_param: str) -> Item:
    return item_service.update_item(
        call.container.item_ports,
        _ref(call, kind, id_param),
        call.body.model_dump(exclude_unset=True),
        call.now,
    )


def _delete(call: Call[None, None], kind: ItemKind, id_param: str) -> None:
    item_service.delete_item(call.container.item_ports, _ref(call, kind, id_param), call.now)


# -- notes -------------------------------------------------------------------------------------


@api.route("POST", "/v1/tickets/{ticket_id}/notes", summary="Add a note to a ticket", status=201)
def create_note(call: Call[NoteCreate, None]) -> NoteOut:
    return NoteOut.of(_add(call, ItemKind.NOTE))


@api.route("GET", "/v1/tickets/{ticket_id}/notes/{note_id}", summary="Read a note")
def get_note(call: Call[None, None]) -> NoteOut:
    return NoteOut.of(_read(call, ItemKind.NOTE, "note_id"))


@api.route(
    "PATCH",
    "/v1/tickets/{ticket_id}/notes/{note_id}",
    summary="Edit a note" + READ_ONLY,
    errors=CONFLICTS,
)
def update_note(call: Call[NoteUpdate, None]) -> NoteOut:
    return NoteOut.of(_update(call, ItemKind.NOTE, "note_id"))


@api.route(
    "DELETE",
    "/v1/tickets/{ticket_id}/notes/{note_id}",
    summary="Delete a note" + READ_ONLY,
    errors=CONFLICTS,
)
def delete_note(call: Call[None, None]) -> None:
    _delete(call, ItemKind.NOTE, "note_id")


# -- time entries ------------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/tickets/{ticket_id}/time-entries",
    summary="Add a time entry to a ticket",
    status=201,
)
def create_time_entry(call: Call[TimeEntryCreate, None]) -> TimeEntryOut:
    return TimeEntryOut.of(_add(call, ItemKind.TIME_ENTRY))


@api.route("GET", "/v1/tickets/{ticket_id}/time-entries/{entry_id}", summary="Read a time entry")
def get_time_entry(call: Call[None, None]) -> TimeEntryOut:
    return TimeEntryOut.of(_read(call, ItemKind.TIME_ENTRY, "entry_id"))


@api.route(
    "PATCH",
    "/v1/tickets/{ticket_id}/time-entries/{entry_id}",
    summary="Edit a time entry" + READ_ONLY,
    errors=CONFLICTS,
)
def update_time_entry(call: Call[TimeEntryUpdate, None]) -> TimeEntryOut:
    return TimeEntryOut.of(_update(call, ItemKind.TIME_ENTRY, "entry_id"))


@api.route(
    "DELETE",
    "/v1/tickets/{ticket_id}/time-entries/{entry_id}",
    summary="Delete a time entry" + READ_ONLY,
    errors=CONFLICTS,
)
def delete_time_entry(call: Call[None, None]) -> None:
    _delete(call, ItemKind.TIME_ENTRY, "entry_id")


# -- charges -----------------------------------------------------------------------------------


@api.route(
    "POST", "/v1/tickets/{ticket_id}/charges", summary="Add a charge to a ticket", status=201
)
def create_charge(call: Call[ChargeCreate, None]) -> ChargeOut:
    return ChargeOut.of(_add(call, ItemKind.CHARGE))


@api.route("GET", "/v1/tickets/{ticket_id}/charges/{charge_id}", summary="Read a charge")
def get_charge(call: Call[None, None]) -> ChargeOut:
    return ChargeOut.of(_read(call, ItemKind.CHARGE, "charge_id"))


@api.route(
    "PATCH",
    "/v1/tickets/{ticket_id}/charges/{charge_id}",
    summary="Edit a charge" + READ_ONLY,
    errors=CONFLICTS,
)
def update_charge(call: Call[ChargeUpdate, None]) -> ChargeOut:
    return ChargeOut.of(_update(call, ItemKind.CHARGE, "charge_id"))


@api.route(
    "DELETE",
    "/v1/tickets/{ticket_id}/charges/{charge_id}",
    summary="Delete a charge" + READ_ONLY,
    errors=CONFLICTS,
)
def delete_charge(call: Call[None, None]) -> None:
    _delete(call, ItemKind.CHARGE, "charge_id")


# -- attachments -------------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/tickets/{ticket_id}/attachments",
    summary="Add an attachment: returns a presigned POST that accepts exactly the declared file",
    status=201,
)
def create_attachment(call: Call[AttachmentCreate, None]) -> AttachmentCreated:
    body = call.body
    created = item_service.create_attachment(
        call.container.item_ports,
        AddAttachment(
            actor=call.actor,
            ticket_id=call.params["ticket_id"],
            file_name=body.file_name,
            content_type=body.content_type,
            size=body.size,
            internal=body.internal,
            now=call.now,
        ),
    )
    return AttachmentCreated.of(created)


@api.route(
    "GET",
    "/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    summary="Read an attachment with a time-limited download URL",
    errors=(409,),  # a replica's file is not available (not uploaded, or no longer shared)
)
def get_attachment(call: Call[None, None]) -> AttachmentDownload:
    download = item_service.download_attachment(
        call.container.item_ports, _ref(call, ItemKind.ATTACHMENT, "attachment_id"), call.now
    )
    return AttachmentDownload.of(download)


@api.route(
    "PATCH",
    "/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    summary="Edit an attachment" + READ_ONLY,
    errors=CONFLICTS,
)
def update_attachment(call: Call[AttachmentUpdate, None]) -> AttachmentOut:
    return AttachmentOut.of(_update(call, ItemKind.ATTACHMENT, "attachment_id"))


@api.route(
    "DELETE",
    "/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    summary="Delete an attachment" + READ_ONLY,
    errors=CONFLICTS,
)
def delete_attachment(call: Call[None, None]) -> None:
    _delete(call, ItemKind.ATTACHMENT, "attachment_id")


# -- all items ---------------------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/tickets/{ticket_id}/items",
    summary="Every item of a ticket (notes, time, charges, attachments), newest last",
)
def list_items(call: Call[None, PageQuery]) -> ItemList:
    page = item_service.list_items(
        call.container.item_ports, call.tenant_id, call.params["ticket_id"], call.query.paging
    )
    return ItemList.of(page)
