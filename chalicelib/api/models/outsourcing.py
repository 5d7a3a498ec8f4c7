"""Outsourcing: the request to outsource, terms, each side's view, lists and dashboards."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.api.models.base import (
    Id,
    LongText,
    PageQuery,
    QueryModel,
    RequestModel,
    ResponseModel,
    Timestamp,
)
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.money import canonical
from chalicelib.domain.outsourcing import (
    OPEN,
    HistoryEntry,
    OutsourceStatus,
    Outsourcing,
    PricingType,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.ports import Page

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

    def to_terms(self) -> Terms:
        return Terms(
            complete_by=self.complete_by,
            accept_by=self.accept_by,
            instructions=self.instructions,
            pricing_type=PricingType(self.pricing.type),
            pricing_amount=self.pricing.amount,
            authorized_hours=self.authorized_hours,
            authorized_charges=self.authorized_charges,
            bill_customer_rate=self.bill_customer_rate,
        )


class OutsourceRequest(RequestModel):
    partnership_id: Id | None = None
    subcontractor_id: Id | None = None
    network_id: Id | None = None
    terms: TermsIn = Field(default_factory=TermsIn)

    @property
    def receivers(self) -> dict[str, str | None]:
        return {
            "partnership_id": self.partnership_id,
            "subcontractor_id": self.subcontractor_id,
            "network_id": self.network_id,
        }


class ReasonBody(RequestModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PricingOut(ResponseModel):
    type: str
    amount: Decimal


def _amount(value: Decimal | None) -> Decimal | None:
    return canonical(value) if value is not None else None


class TermsOut(ResponseModel):
    complete_by: str | None
    accept_by: str | None
    instructions: str
    pricing: PricingOut
    authorized_hours: Decimal | None
    authorized_charges: Decimal | None
    bill_customer_rate: Decimal | None = Field(None, description="Lead side only.")

    @classmethod
    def of(cls, terms: Terms, side: Side) -> TermsOut:
        """The terms as ``side`` sees them: only the lead its customer rate."""
        return cls(
            complete_by=iso_or_none(terms.complete_by),
            accept_by=iso_or_none(terms.accept_by),
            instructions=terms.instructions,
            pricing=PricingOut(
                type=terms.pricing_type.value, amount=canonical(terms.pricing_amount)
            ),
            authorized_hours=_amount(terms.authorized_hours),
            authorized_charges=_amount(terms.authorized_charges),
            bill_customer_rate=_amount(terms.bill_customer_rate) if side is Side.LEAD else None,
        )


class TicketSnapshotOut(ResponseModel):
    number: str
    title: str
    description: str
    priority: str
    complete_by: str | None
    organization: str | None
    contact: str | None
    site: str | None

    @classmethod
    def of(cls, snapshot: TicketSnapshot) -> TicketSnapshotOut:
        return cls(
            number=snapshot.number,
            title=snapshot.title,
            description=snapshot.description,
            priority=snapshot.priority,
            complete_by=iso_or_none(snapshot.complete_by),
            organization=snapshot.organization,
            contact=snapshot.contact,
            site=snapshot.site,
        )


class HistoryOut(ResponseModel):
    event: str
    from_status: str | None
    to_status: str
    at: str
    by: str
    actor: str
    reason: str | None

    @classmethod
    def of(cls, entry: HistoryEntry, side: Side) -> HistoryOut:
        """An entry as ``side`` sees it: the other side's credentials are not shown."""
        return cls(
            event=entry.event,
            from_status=entry.from_status.value if entry.from_status else None,
            to_status=entry.to_status.value,
            at=iso(entry.at),
            by=entry.by.value,
            actor=entry.actor if entry.by is side or entry.by is Side.SYSTEM else "",
            reason=entry.reason,
        )


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

    @classmethod
    def of(cls, copy: Outsourcing) -> OutsourcingOut:
        """The caller's view: each side sees its own ticket id, only the lead its customer
        rate."""
        lead = copy.side is Side.LEAD
        return cls(
            outsourcing_id=copy.outsourcing_id,
            status=copy.status.value,
            lane=copy.lane.value,
            side=copy.side.value,
            terms=TermsOut.of(copy.terms, copy.side),
            currency=copy.currency,
            lead_ticket_id=copy.lead_ticket_id if lead else None,
            insourced_ticket_id=None if lead else copy.insourced_ticket_id,
            ticket=TicketSnapshotOut.of(copy.ticket),
            counterpart=CounterpartOut(
                partnership_id=copy.partnership_id,
                tenant_name=copy.receiver_name if lead else copy.lead_name,
            ),
            history=[HistoryOut.of(h, copy.side) for h in copy.history],
            created_at=iso(copy.created_at),
            updated_at=iso(copy.updated_at),
        )


class OutsourcedOut(OutsourcingOut):
    """The answer to outsourcing: the lead's copy, and for a network's link action the link."""

    link: str | None = Field(
        None,
        description="A network entry's rendered link, for the caller to open (the service never "
        "opens it); null otherwise.",
    )

    @classmethod
    def of(cls, copy: Outsourcing, link: str | None = None) -> OutsourcedOut:
        return cls(**OutsourcingOut.of(copy).model_dump(), link=link)


class OutsourcingList(ResponseModel):
    items: list[OutsourcingOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Outsourcing]) -> OutsourcingList:
        return cls(items=[OutsourcingOut.of(o) for o in page.items], next_cursor=page.next_cursor)


StatusName = Literal[
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


class OutsourcingQuery(PageQuery):
    side: Literal["lead", "receiver"] = "lead"
    status: StatusName | None = None


class OutsourcingSummary(ResponseModel):
    side: str
    counts: dict[str, int]
    open: int
    total: int

    @classmethod
    def of(cls, side: Side, counts: dict[OutsourceStatus, int]) -> OutsourcingSummary:
        return cls(
            side=side.value,
            counts={status.value: n for status, n in counts.items()},
            open=sum(n for status, n in counts.items() if status in OPEN),
            total=sum(counts.values()),
        )


class SummaryQuery(QueryModel):
    side: Literal["lead", "receiver"] = "lead"
