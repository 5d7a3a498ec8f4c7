"""Tickets: fields, states and numbering."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.domain.outsourcing import OPEN, OutsourceStatus, Side


class Priority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class TicketStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    COMPLETE = "complete"


class TicketSource(enum.StrEnum):
    """Where a ticket came from; ``insourced`` is reserved for copies received from a lead."""

    LOCAL = "local"
    INSOURCED = "insourced"


# Fields a PATCH may change; everything else is owned by the system.
EDITABLE_FIELDS = frozenset(
    {
        "billing_organization",
        "work_type",
        "resource",
        "title",
        "description",
        "priority",
        "status",
        "queue",
        "complete_by",
        "organization",
        "contact",
        "site",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    tenant_id: str
    ticket_id: str
    number: str
    title: str
    description: str = ""
    priority: Priority = Priority.MEDIUM
    status: TicketStatus = TicketStatus.NEW
    queue: str | None = None
    complete_by: datetime | None = None
    organization: str | None = None
    contact: str | None = None
    site: str | None = None
    currency: str
    # Filing fields: set from the service partner's mapping on insourced tickets.
    billing_organization: str | None = None
    work_type: str | None = None
    resource: str | None = None
    source: TicketSource = TicketSource.LOCAL
    original_number: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    # The ticket's current (or last) outsourcing, and the other side's ticket once accepted.
    outsourcing_id: str | None = None
    outsourcing_status: OutsourceStatus | None = None
    outsourcing_side: Side | None = None
    peer_owner_id: str | None = None
    peer_ticket_id: str | None = None
    lead_version: int | None = None  # insourced copies: the lead ticket version last applied
    # How this side is named on the other side of its outsourcing (its company name): the
    # author that this ticket's replicated items show there.
    shown_as: str | None = None

    @property
    def open_outsourcing(self) -> bool:
        return self.outsourcing_status in OPEN


def format_ticket_number(day: date, sequence: int) -> str:
    """Human-readable ticket number: ``T<yyyymmdd>.<nnnn>``, counted per tenant per day."""
    return f"T{day:%Y%m%d}.{sequence:04d}"
