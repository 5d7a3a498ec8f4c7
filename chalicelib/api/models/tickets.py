"""Tickets and their items: notes, time entries, charges and attachments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from chalicelib.api.models.base import (
    Hours,
    LongText,
    Money,
    Name,
    NoteText,
    PageQuery,
    Quantity,
    RequestModel,
    ResponseModel,
    ShortText,
    Timestamp,
    Title,
)
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.items import Attachment, Charge, Item, Note, TimeEntry
from chalicelib.domain.money import canonical
from chalicelib.domain.tickets import Priority, Ticket, TicketSource, TicketStatus
from chalicelib.ports import Page
from chalicelib.service.items import Download, NewAttachment

# -- tickets -----------------------------------------------------------------------------------


class TicketCreate(RequestModel):
    billing_organization: ShortText | None = None
    work_type: ShortText | None = None
    resource: ShortText | None = None
    title: Title
    description: LongText | None = None
    priority: Priority = Priority.MEDIUM
    status: TicketStatus = TicketStatus.NEW
    queue: ShortText | None = None
    complete_by: Timestamp | None = None
    organization: ShortText | None = None
    contact: ShortText | None = None
    site: ShortText | None = None


class TicketUpdate(RequestModel):
    billing_organization: ShortText | None = None
    work_type: ShortText | None = None
    resource: ShortText | None = None
    title: Title | None = None
    description: LongText | None = None
    priority: Priority | None = None
    status: TicketStatus | None = None
    queue: ShortText | None = None
    complete_by: Timestamp | None = None
    organization: ShortText | None = None
    contact: ShortText | None = None
    site: ShortText | None = None


class TicketQuery(PageQuery):
    status: TicketStatus | None = None
    queue: ShortText | None = None


class TicketOutsourcingOut(ResponseModel):
    outsourcing_id: str
    status: str
    side: str


class TicketOut(ResponseModel):
    ticket_id: str
    number: str
    title: str
    description: str
    priority: Priority
    status: TicketStatus
    queue: str | None
    complete_by: str | None
    organization: str | None
    contact: str | None
    site: str | None
    currency: str
    billing_organization: str | None
    work_type: str | None
    resource: str | None
    source: TicketSource
    original_number: str | None
    outsourcing: TicketOutsourcingOut | None
    created_at: str
    updated_at: str
    version: int

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        return cls(
            ticket_id=ticket.ticket_id,
            number=ticket.number,
            title=ticket.title,
            description=ticket.description,
            priority=ticket.priority,
            status=ticket.status,
            queue=ticket.queue,
            complete_by=iso_or_none(ticket.complete_by),
            organization=ticket.organization,
            contact=ticket.contact,
            site=ticket.site,
            currency=ticket.currency,
            billing_organization=ticket.billing_organization,
            work_type=ticket.work_type,
            resource=ticket.resource,
            source=ticket.source,
            original_number=ticket.original_number,
            outsourcing=(
                TicketOutsourcingOut(
                    outsourcing_id=ticket.outsourcing_id,
                    status=ticket.outsourcing_status.value,
                    side=ticket.outsourcing_side.value,
                )
                if ticket.outsourcing_id and ticket.outsourcing_status and ticket.outsourcing_side
                else None
            ),
            created_at=iso(ticket.created_at),
            updated_at=iso(ticket.updated_at),
            version=ticket.version,
        )


class TicketList(ResponseModel):
    items: list[TicketOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Ticket]) -> TicketList:
        return cls(items=[TicketOut.of(t) for t in page.items], next_cursor=page.next_cursor)


# -- item requests -----------------------------------------------------------------------------


class NoteCreate(RequestModel):
    text: NoteText
    internal: bool = False


class NoteUpdate(RequestModel):
    text: NoteText | None = None
    internal: bool | None = None


class TimeEntryCreate(RequestModel):
    date: dt.date
    hours_worked: Annotated[Hours, Field(gt=0)]
    hours_billable: Hours | None = Field(None, description="Defaults to hours_worked.")
    work_type: ShortText | None = None
    summary: LongText = ""
    internal: bool = False


class TimeEntryUpdate(RequestModel):
    date: dt.date | None = None
    hours_worked: Annotated[Hours, Field(gt=0)] | None = None
    hours_billable: Hours | None = None
    work_type: ShortText | None = None
    summary: LongText | None = None
    internal: bool | None = None


class ChargeCreate(RequestModel):
    name: Name
    quantity: Quantity
    unit_cost: Money = Decimal(0)
    unit_price: Money = Decimal(0)
    billable: bool = True
    internal: bool = False


class ChargeUpdate(RequestModel):
    name: Name | None = None
    quantity: Quantity | None = None
    unit_cost: Money | None = None
    unit_price: Money | None = None
    billable: bool | None = None
    internal: bool | None = None


FileName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class AttachmentCreate(RequestModel):
    file_name: FileName
    content_type: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$", max_length=100)
    ]
    size: Annotated[int, Field(ge=1)]
    internal: bool = False


class AttachmentUpdate(RequestModel):
    file_name: FileName | None = None
    internal: bool | None = None


# -- item responses ----------------------------------------------------------------------------


class ItemBase(ResponseModel):
    item_id: str
    ticket_id: str
    internal: bool
    origin: Literal["local", "partner"]
    read_only: bool
    created_by: str
    created_at: str
    updated_at: str
    version: int


def _base(item: Item) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "ticket_id": item.ticket_id,
        "internal": item.internal,
        "origin": item.origin.value,
        "read_only": item.read_only,
        "created_by": item.created_by,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "version": item.version,
    }


class NoteOut(ItemBase):
    kind: Literal["note"] = "note"
    note_id: str
    text: str

    @classmethod
    def of(cls, note: Item) -> NoteOut:
        assert isinstance(note, Note)
        return cls(**_base(note), note_id=note.item_id, text=note.text)


class TimeEntryOut(ItemBase):
    kind: Literal["time_entry"] = "time_entry"
    time_entry_id: str
    date: dt.date
    hours_worked: Decimal
    hours_billable: Decimal
    work_type: str | None
    summary: str

    @classmethod
    def of(cls, entry: Item) -> TimeEntryOut:
        assert isinstance(entry, TimeEntry)
        return cls(
            **_base(entry),
            time_entry_id=entry.item_id,
            date=entry.date,
            hours_worked=canonical(entry.hours_worked),
            hours_billable=canonical(entry.hours_billable),
            work_type=entry.work_type,
            summary=entry.summary,
        )


class ChargeOut(ItemBase):
    kind: Literal["charge"] = "charge"
    charge_id: str
    name: str
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    billable: bool
    currency: str

    @classmethod
    def of(cls, charge: Item) -> ChargeOut:
        assert isinstance(charge, Charge)
        return cls(
            **_base(charge),
            charge_id=charge.item_id,
            name=charge.name,
            quantity=canonical(charge.quantity, 0),
            unit_cost=canonical(charge.unit_cost),
            unit_price=canonical(charge.unit_price),
            billable=charge.billable,
            currency=charge.currency,
        )


class _AttachmentFields(ItemBase):
    kind: Literal["attachment"] = "attachment"
    attachment_id: str
    file_name: str
    content_type: str
    size: int


def _attachment(attachment: Item) -> dict[str, Any]:
    assert isinstance(attachment, Attachment)
    return {
        **_base(attachment),
        "attachment_id": attachment.item_id,
        "file_name": attachment.file_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


class AttachmentOut(_AttachmentFields):
    @classmethod
    def of(cls, attachment: Item) -> AttachmentOut:
        return cls(**_attachment(attachment))


class UploadOut(ResponseModel):
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class AttachmentCreated(_AttachmentFields):
    upload: UploadOut

    @classmethod
    def of(cls, created: NewAttachment) -> AttachmentCreated:
        upload = created.upload
        return cls(
            **_attachment(created.attachment),
            upload=UploadOut(
                url=upload.url,
                fields=dict(upload.fields),
                expires_at=iso(upload.expires_at),
                max_bytes=created.attachment.size,
            ),
        )


class AttachmentDownload(_AttachmentFields):
    download_url: str
    expires_at: str

    @classmethod
    def of(cls, download: Download) -> AttachmentDownload:
        return cls(
            **_attachment(download.attachment),
            download_url=download.url,
            expires_at=iso(download.expires_at),
        )


ItemOut = Annotated[NoteOut | TimeEntryOut | ChargeOut | AttachmentOut, Field(discriminator="kind")]

_OUT_BY_KIND: dict[type[Item], Any] = {
    Note: NoteOut,
    TimeEntry: TimeEntryOut,
    Charge: ChargeOut,
    Attachment: AttachmentOut,
}


class ItemList(ResponseModel):
    items: list[ItemOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Item]) -> ItemList:
        return cls(
            items=[_OUT_BY_KIND[type(i)].of(i) for i in page.items], next_cursor=page.next_cursor
        )
