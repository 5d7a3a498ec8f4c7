"""Ticket items: notes, time entries, charges and attachments; and the combined item list."""

from __future__ import annotations

from typing import Any

import pydantic

from chalicelib.api.models import (
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
    PageQuery,
    TimeEntryCreate,
    TimeEntryOut,
    TimeEntryUpdate,
    UploadOut,
    item_out,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.clock import iso
from chalicelib.domain.items import ItemKind
from chalicelib.service import items as item_service

api = Api(__name__, "items")


def _create_fields(kind: ItemKind, body: pydantic.BaseModel) -> dict[str, Any]:
    fields = body.model_dump()
    if kind is ItemKind.TIME_ENTRY and fields.get("hours_billable") is None:
        fields["hours_billable"] = fields["hours_worked"]
    return fields


def _declare_item_routes(
    kind: ItemKind,
    segment: str,
    id_param: str,
    create_model: type[pydantic.BaseModel] | None,
    update_model: type[pydantic.BaseModel],
    out_model: type[pydantic.BaseModel],
) -> None:
    """create / read / edit / delete routes for one item kind."""
    base = f"/v1/tickets/{{ticket_id}}/{segment}"
    label = kind.value.replace("_", " ")

    if create_model is not None:

        @api.route(
            "POST",
            base,
            summary=f"Add a {label} to a ticket",
            body=create_model,
            response=out_model,
            status=201,
            name=f"create_{kind.value}",
        )
        def create(call: Call) -> Any:
            item = item_service.add_item(
                call.container.tickets,
                call.container.items,
                call.tenant_id,
                call.params["ticket_id"],
                kind,
                _create_fields(kind, call.body),
                created_by=call.actor,
                now=call.now,
            )
            return item_out(item)

    if kind is not ItemKind.ATTACHMENT:

        @api.route(
            "GET",
            f"{base}/{{{id_param}}}",
            summary=f"Read a {label}",
            response=out_model,
            name=f"get_{kind.value}",
        )
        def read(call: Call) -> Any:
            return item_out(
                item_service.get_item(
                    call.container.items,
                    call.tenant_id,
                    call.params["ticket_id"],
                    call.params[id_param],
                    kind,
                )
            )

    @api.route(
        "PATCH",
        f"{base}/{{{id_param}}}",
        summary=f"Edit a {label} (replicas from the other side are read-only: 409)",
        body=update_model,
        response=out_model,
        name=f"update_{kind.value}",
    )
    def update(call: Call) -> Any:
        item = item_service.update_item(
            call.container.tickets,
            call.container.items,
            call.tenant_id,
            call.params["ticket_id"],
            call.params[id_param],
            kind,
            call.body.model_dump(exclude_unset=True),
            call.now,
        )
        return item_out(item)

    @api.route(
        "DELETE",
        f"{base}/{{{id_param}}}",
        status=204,
        summary=f"Delete a {label} (replicas from the other side are read-only: 409)",
        name=f"delete_{kind.value}",
    )
    def delete(call: Call) -> None:
        item_service.delete_item(
            call.container.tickets,
            call.container.items,
            call.tenant_id,
            call.params["ticket_id"],
            call.params[id_param],
            kind,
            call.now,
        )


_declare_item_routes(ItemKind.NOTE, "notes", "note_id", NoteCreate, NoteUpdate, NoteOut)
_declare_item_routes(
    ItemKind.TIME_ENTRY, "time-entries", "entry_id", TimeEntryCreate, TimeEntryUpdate, TimeEntryOut
)
_declare_item_routes(ItemKind.CHARGE, "charges", "charge_id", ChargeCreate, ChargeUpdate, ChargeOut)
_declare_item_routes(
    ItemKind.ATTACHMENT, "attachments", "attachment_id", None, AttachmentUpdate, AttachmentOut
)


@api.route(
    "POST",
    "/v1/tickets/{ticket_id}/attachments",
    summary="Add an attachment: returns a presigned POST that accepts exactly the declared file",
    body=AttachmentCreate,
    response=AttachmentCreated,
    status=201,
)
def create_attachment(call: Call) -> AttachmentCreated:
    body: AttachmentCreate = call.body
    settings = call.container.settings
    created = item_service.create_attachment(
        call.container.tickets,
        call.container.items,
        call.container.files,
        call.container.upload_policy,
        call.tenant_id,
        call.params["ticket_id"],
        file_name=body.file_name,
        content_type=body.content_type,
        size=body.size,
        internal=body.internal,
        created_by=call.actor,
        expires_in=settings.presigned_url_seconds,
        now=call.now,
    )
    out = item_out(created.attachment)
    return AttachmentCreated(
        **out.model_dump(),
        upload=UploadOut(
            url=created.upload.url,
            fields=dict(created.upload.fields),
            expires_at=iso(created.upload.expires_at),
            max_bytes=body.size,
        ),
    )


@api.route(
    "GET",
    "/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    summary="Read an attachment with a time-limited download URL",
    response=AttachmentDownload,
)
def get_attachment(call: Call) -> AttachmentDownload:
    download = item_service.download_attachment(
        call.container.tickets,
        call.container.items,
        call.container.files,
        call.tenant_id,
        call.params["ticket_id"],
        call.params["attachment_id"],
        expires_in=call.container.settings.presigned_url_seconds,
        now=call.now,
    )
    out = item_out(download.attachment)
    return AttachmentDownload(
        **out.model_dump(), download_url=download.url, expires_at=iso(download.expires_at)
    )


@api.route(
    "GET",
    "/v1/tickets/{ticket_id}/items",
    summary="Every item of a ticket (notes, time, charges, attachments), newest last",
    query=PageQuery,
    response=ItemList,
)
def list_items(call: Call) -> ItemList:
    query: PageQuery = call.query
    page = item_service.list_items(
        call.container.tickets,
        call.container.items,
        call.tenant_id,
        call.params["ticket_id"],
        query.limit,
        query.cursor,
    )
    return ItemList(items=[item_out(i) for i in page.items], next_cursor=page.next_cursor)
