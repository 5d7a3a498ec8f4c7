"""Request and response models of the HTTP API (the OpenAPI document is generated from these).

Requests are strict: unknown fields, wrong types and oversize strings are a 400 naming the field.
Money and hours are decimal strings on the way out (numbers are accepted on the way in).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.items import Attachment, Charge, Item, Note, TimeEntry
from chalicelib.domain.money import canonical
from chalicelib.domain.tenants import ApiKey, Permission, Tenant
from chalicelib.domain.tickets import Priority, Ticket, TicketSource, TicketStatus


# defer_build: a model's validator is built on first use, not at import (Lambda cold starts).
class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class QueryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
LongText = Annotated[str, StringConstraints(max_length=8000)]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32000)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4, allow_inf_nan=False)]
Hours = Annotated[Decimal, Field(ge=0, le=24, max_digits=6, decimal_places=2, allow_inf_nan=False)]
Timestamp = Annotated[AwareDatetime, Field(description="ISO 8601, with a timezone")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Limit = Annotated[int, Field(ge=1, le=100)]


# ---------------------------------------------------------------------------------------------
# Errors and health


class ErrorDetail(ResponseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(ResponseModel):
    error: ErrorDetail


class HealthOut(ResponseModel):
    status: Literal["ok"]


class PageQuery(QueryModel):
    cursor: Cursor | None = None
    limit: Limit = 50


# ---------------------------------------------------------------------------------------------
# Tenants and keys


class TenantCreate(RequestModel):
    name: Name
    language: Language
    currency: Currency
    contact_email: EmailStr


class TenantCreated(ResponseModel):
    tenant_id: str
    api_key: str = Field(description="An 'all' key for the new tenant; shown only here.")


class AgreementOut(ResponseModel):
    by: str
    at: str
    version: str


class TenantOut(ResponseModel):
    tenant_id: str
    name: str
    language: str
    currency: str
    contact_email: str
    outsourcing_enabled: bool
    agreement: AgreementOut | None
    created_at: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        agreement = tenant.agreement
        return cls(
            tenant_id=tenant.tenant_id,
            name=tenant.name,
            language=tenant.language,
            currency=tenant.currency,
            contact_email=tenant.contact_email,
            outsourcing_enabled=tenant.outsourcing_enabled,
            agreement=(
                AgreementOut(by=agreement.by, at=iso(agreement.at), version=agreement.version)
                if agreement
                else None
            ),
            created_at=iso(tenant.created_at),
        )


class ApiKeyCreate(RequestModel):
    name: Name
    permission: Permission


class ApiKeyOut(ResponseModel):
    id: str
    name: str
    permission: Permission
    created_at: str
    revoked_at: str | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.key_id,
            name=key.name,
            permission=key.permission,
            created_at=iso(key.created_at),
            revoked_at=iso_or_none(key.revoked_at),
            active=key.active,
        )


class ApiKeyCreated(ApiKeyOut):
    api_key: str = Field(description="The secret key; shown only here, stored only as a hash.")


class ApiKeyList(ResponseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


# ---------------------------------------------------------------------------------------------
# Tickets


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


# ---------------------------------------------------------------------------------------------
# Items


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


class AttachmentCreate(RequestModel):
    file_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)
    ]
    content_type: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$", max_length=100)
    ]
    size: Annotated[int, Field(ge=1)]
    internal: bool = False


class AttachmentUpdate(RequestModel):
    file_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
        | None
    ) = None
    internal: bool | None = None


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


def _item_base(item: Item) -> dict[str, object]:
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


class TimeEntryOut(ItemBase):
    kind: Literal["time_entry"] = "time_entry"
    time_entry_id: str
    date: dt.date
    hours_worked: Decimal
    hours_billable: Decimal
    work_type: str | None
    summary: str


class ChargeOut(ItemBase):
    kind: Literal["charge"] = "charge"
    charge_id: str
    name: str
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    billable: bool
    currency: str


class AttachmentOut(ItemBase):
    kind: Literal["attachment"] = "attachment"
    attachment_id: str
    file_name: str
    content_type: str
    size: int


ItemOut = Annotated[NoteOut | TimeEntryOut | ChargeOut | AttachmentOut, Field(discriminator="kind")]


def item_out(item: Item) -> NoteOut | TimeEntryOut | ChargeOut | AttachmentOut:
    base = _item_base(item)
    if isinstance(item, Note):
        return NoteOut(**base, note_id=item.item_id, text=item.text)  # type: ignore[arg-type]
    if isinstance(item, TimeEntry):
        return TimeEntryOut(
            **base,  # type: ignore[arg-type]
            time_entry_id=item.item_id,
            date=item.date,
            hours_worked=canonical(item.hours_worked),
            hours_billable=canonical(item.hours_billable),
            work_type=item.work_type,
            summary=item.summary,
        )
    if isinstance(item, Charge):
        return ChargeOut(
            **base,  # type: ignore[arg-type]
            charge_id=item.item_id,
            name=item.name,
            quantity=canonical(item.quantity, 0),
            unit_cost=canonical(item.unit_cost),
            unit_price=canonical(item.unit_price),
            billable=item.billable,
            currency=item.currency,
        )
    if isinstance(item, Attachment):
        return AttachmentOut(
            **base,  # type: ignore[arg-type]
            attachment_id=item.item_id,
            file_name=item.file_name,
            content_type=item.content_type,
            size=item.size,
        )
    raise TypeError(type(item).__name__)


class ItemList(ResponseModel):
    items: list[ItemOut]
    next_cursor: str | None


class UploadOut(ResponseModel):
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class AttachmentCreated(AttachmentOut):
    upload: UploadOut


class AttachmentDownload(AttachmentOut):
    download_url: str
    expires_at: str


# ---------------------------------------------------------------------------------------------
# Outsourcing set-up: agreement and settings


class AgreementAcceptanceOut(ResponseModel):
    by: str
    at: str
    version: str


class AgreementDocument(ResponseModel):
    version: str
    text: str
    accepted: AgreementAcceptanceOut | None = Field(
        description="This tenant's latest acceptance (possibly of an earlier version)."
    )
    accepted_current: bool


class AgreementAccept(RequestModel):
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    accepted_by: Name


Subject = Annotated[str, StringConstraints(min_length=1, max_length=300)]
TemplateBody = Annotated[str, StringConstraints(min_length=1, max_length=20000)]


class SettingsUpdate(RequestModel):
    enabled: bool | None = None
    invitation_subject: Subject | None = None
    invitation_template: TemplateBody | None = None
    invitation_expiry_days: Annotated[int, Field(ge=1, le=90)] | None = None


class SettingsOut(ResponseModel):
    enabled: bool
    invitation_subject: str
    invitation_template: str
    invitation_expiry_days: int
    placeholders: list[str]
    agreement_accepted: bool
    outsourcing_allowed: bool


# ---------------------------------------------------------------------------------------------
# Partners


class InvitationCreate(RequestModel):
    email: EmailStr
    company_name: Name
    tenant_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="The invited tenant, when known: only it may accept."
    )


class InvitationOut(ResponseModel):
    id: str
    status: str
    email: str
    company_name: str
    tenant_id: str | None
    expires_at: str
    created_at: str
    created_by: str
    partnership_id: str | None
    sent_count: int
    email_status: str


class InvitationCreated(InvitationOut):
    token: str = Field(description="Shown only here (and emailed); stored only as a hash.")


class InvitationList(ResponseModel):
    items: list[InvitationOut]
    next_cursor: str | None


class InvitationToken(RequestModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class InvitationAccepted(ResponseModel):
    partnership_id: str
    role: str
    tenant_name: str
    status: str


class InvitationDeclined(ResponseModel):
    id: str
    status: str


class PartnerQuery(PageQuery):
    role: Literal["service", "lead"] | None = None


class PartnershipOut(ResponseModel):
    partnership_id: str
    role: str = Field(
        description="The other tenant's role: 'service' (I outsource to it) or 'lead'."
    )
    tenant_id: str
    tenant_name: str
    status: str
    created_at: str
    deactivated_at: str | None


class PartnershipList(ResponseModel):
    items: list[PartnershipOut]
    next_cursor: str | None


MappableStatus = Literal["in_progress", "waiting_approval", "complete", "recalled"]


class MappingBody(RequestModel):
    organization: ShortText | None = None
    queue: ShortText | None = None
    work_type: ShortText | None = None
    resource: ShortText | None = None
    status_map: dict[MappableStatus, TicketStatus] | None = Field(
        None, description="Outsource status to local ticket status; missing ones use defaults."
    )


class MappingOut(ResponseModel):
    partnership_id: str
    organization: str | None
    queue: str | None
    work_type: str | None
    resource: str | None
    status_map: dict[str, TicketStatus]


# ---------------------------------------------------------------------------------------------
# Outsourcing

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False)]


class PricingIn(RequestModel):
    type: Literal["flat", "hourly"] = "flat"
    amount: Amount = Decimal(0)


class TermsIn(RequestModel):
    complete_by: Timestamp | None = None
    accept_by: Timestamp | None = None
    instructions: LongText = ""
    pricing: PricingIn = Field(default_factory=PricingIn)
    authorized_hours: (
        Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False)] | None
    ) = None
    authorized_charges: Amount | None = None
    bill_customer_rate: Amount | None = Field(
        None, description="Your rate to the end customer; never shown to the receiver."
    )


class OutsourceRequest(RequestModel):
    partnership_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    subcontractor_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    network_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    terms: TermsIn = Field(default_factory=TermsIn)


class ReasonBody(RequestModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PricingOut(ResponseModel):
    type: str
    amount: Decimal


class TermsOut(ResponseModel):
    complete_by: str | None
    accept_by: str | None
    instructions: str
    pricing: PricingOut
    authorized_hours: Decimal | None
    authorized_charges: Decimal | None
    bill_customer_rate: Decimal | None = Field(None, description="Lead side only.")


class TicketSnapshotOut(ResponseModel):
    number: str
    title: str
    description: str
    priority: str
    complete_by: str | None
    organization: str | None
    contact: str | None
    site: str | None


class HistoryOut(ResponseModel):
    event: str
    from_status: str | None
    to_status: str
    at: str
    by: str
    actor: str
    reason: str | None


class CounterpartOut(ResponseModel):
    partnership_id: str | None
    tenant_name: str


class OutsourcingOut(ResponseModel):
    outsourcing_id: str
    status: str
    lane: str
    side: str
    terms: TermsOut
    currency: str
    lead_ticket_id: str | None = Field(None, description="Lead side only.")
    insourced_ticket_id: str | None = Field(None, description="Receiver side only.")
    ticket: TicketSnapshotOut
    counterpart: CounterpartOut
    history: list[HistoryOut]
    created_at: str
    updated_at: str


class OutsourcingList(ResponseModel):
    items: list[OutsourcingOut]
    next_cursor: str | None


class OutsourcingQuery(PageQuery):
    side: Literal["lead", "receiver"] = "lead"
    status: (
        Literal[
            "assigned",
            "in_progress",
            "waiting_approval",
            "complete",
            "declined",
            "canceled",
            "expired",
            "recalled",
            "forwarded",
        ]
        | None
    ) = None


class OutsourcingSummary(ResponseModel):
    side: str
    counts: dict[str, int]
    open: int
    total: int


class SummaryQuery(QueryModel):
    side: Literal["lead", "receiver"] = "lead"
