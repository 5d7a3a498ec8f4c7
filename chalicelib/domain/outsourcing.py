"""Outsourcing: states, who may do what (the transition table), terms and history.

The outsource status (lead side) and the insource status (receiver side) are one value, stored on
both sides' copies of the outsourcing and changed on both in one transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from chalicelib.domain.errors import (
    ConflictError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
)


class OutsourceStatus(enum.StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETE = "complete"
    DECLINED = "declined"
    CANCELED = "canceled"
    EXPIRED = "expired"
    RECALLED = "recalled"
    FORWARDED = "forwarded"


OPEN = frozenset(
    {OutsourceStatus.ASSIGNED, OutsourceStatus.IN_PROGRESS, OutsourceStatus.WAITING_APPROVAL}
)
ENDED = frozenset(
    {
        OutsourceStatus.COMPLETE,
        OutsourceStatus.DECLINED,
        OutsourceStatus.CANCELED,
        OutsourceStatus.EXPIRED,
        OutsourceStatus.RECALLED,
        OutsourceStatus.FORWARDED,
    }
)


class Lane(enum.StrEnum):
    PARTNER = "partner"
    SUBCONTRACTOR = "subcontractor"
    NETWORK = "network"


RECEIVER_FIELDS: dict[str, Lane] = {
    "partnership_id": Lane.PARTNER,
    "subcontractor_id": Lane.SUBCONTRACTOR,
    "network_id": Lane.NETWORK,
}


def receiver_lane(given: dict[str, str | None]) -> tuple[Lane, str]:
    """Exactly one receiver must be named (400 otherwise); its lane and id."""
    named = [(name, value) for name, value in given.items() if value is not None]
    if len(named) != 1:
        raise ValidationError(
            "Give exactly one of partnership_id, subcontractor_id or network_id.",
            field=named[1][0] if len(named) > 1 else "partnership_id",
        )
    name, value = named[0]
    return RECEIVER_FIELDS[name], value


class Side(enum.StrEnum):
    LEAD = "lead"
    RECEIVER = "receiver"
    SYSTEM = "system"


class Event(enum.StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    EXPIRE = "expire"
    SUBMIT_COMPLETION = "submit_completion"
    APPROVE = "approve"
    REJECT = "reject"
    FORCE_COMPLETE = "complete"
    RECALL = "recall"
    TICKET_COMPLETED = "ticket_completed"


S = OutsourceStatus

# (from, event) -> to. Anything else is an invalid transition.
TRANSITIONS: dict[tuple[OutsourceStatus, Event], OutsourceStatus] = {
    (S.ASSIGNED, Event.ACCEPT): S.IN_PROGRESS,
    (S.ASSIGNED, Event.DECLINE): S.DECLINED,
    (S.ASSIGNED, Event.CANCEL): S.CANCELED,
    (S.ASSIGNED, Event.EXPIRE): S.EXPIRED,
    (S.IN_PROGRESS, Event.SUBMIT_COMPLETION): S.WAITING_APPROVAL,
    (S.WAITING_APPROVAL, Event.APPROVE): S.COMPLETE,
    (S.WAITING_APPROVAL, Event.REJECT): S.IN_PROGRESS,
    (S.IN_PROGRESS, Event.FORCE_COMPLETE): S.COMPLETE,
    (S.WAITING_APPROVAL, Event.FORCE_COMPLETE): S.COMPLETE,
    (S.IN_PROGRESS, Event.RECALL): S.RECALLED,
    (S.ASSIGNED, Event.TICKET_COMPLETED): S.CANCELED,
    (S.IN_PROGRESS, Event.TICKET_COMPLETED): S.COMPLETE,
    (S.WAITING_APPROVAL, Event.TICKET_COMPLETED): S.COMPLETE,
}

# Who may cause each event.
ACTOR: dict[Event, Side] = {
    Event.ACCEPT: Side.RECEIVER,
    Event.DECLINE: Side.RECEIVER,
    Event.SUBMIT_COMPLETION: Side.RECEIVER,
    Event.CANCEL: Side.LEAD,
    Event.APPROVE: Side.LEAD,
    Event.REJECT: Side.LEAD,
    Event.FORCE_COMPLETE: Side.LEAD,
    Event.RECALL: Side.LEAD,
    Event.TICKET_COMPLETED: Side.LEAD,
    Event.EXPIRE: Side.SYSTEM,
}

NEEDS_REASON = frozenset({Event.DECLINE, Event.REJECT, Event.RECALL})


def next_status(status: OutsourceStatus, event: Event, side: Side) -> OutsourceStatus:
    """The status after ``event`` by ``side``: 403 for the wrong side, 409 for the wrong state."""
    if ACTOR[event] is not side:
        who = "the lead partner" if ACTOR[event] is Side.LEAD else "the receiver"
        if ACTOR[event] is Side.SYSTEM:
            who = "the system"
        raise PermissionDeniedError(
            f"Only {who} can {event.value.replace('_', ' ')} an outsourcing.", code="wrong_side"
        )
    target = TRANSITIONS.get((status, event))
    if target is None:
        raise ConflictError(
            f"An outsourcing that is {status.value} cannot be {_past(event)}.",
            code="invalid_transition",
        )
    return target


def _past(event: Event) -> str:
    return {
        Event.ACCEPT: "accepted",
        Event.DECLINE: "declined",
        Event.CANCEL: "canceled",
        Event.EXPIRE: "expired",
        Event.SUBMIT_COMPLETION: "submitted for approval",
        Event.APPROVE: "approved",
        Event.REJECT: "rejected",
        Event.FORCE_COMPLETE: "completed",
        Event.RECALL: "recalled",
        Event.TICKET_COMPLETED: "completed with its ticket",
    }[event]


class PricingType(enum.StrEnum):
    FLAT = "flat"
    HOURLY = "hourly"


@dataclass(frozen=True, slots=True, kw_only=True)
class Terms:
    complete_by: datetime | None = None
    accept_by: datetime | None = None
    instructions: str = ""
    pricing_type: PricingType = PricingType.FLAT
    pricing_amount: Decimal = Decimal(0)
    authorized_hours: Decimal | None = None
    authorized_charges: Decimal | None = None
    bill_customer_rate: Decimal | None = None  # the lead's own rate: never shown to the receiver


def check_terms(terms: Terms, now: datetime) -> None:
    """Deadlines must lie ahead, and acceptance must come before completion (422)."""
    if terms.accept_by is not None and terms.accept_by <= now:
        raise RuleViolationError(
            "The accept-by deadline must be in the future.",
            code="deadline_in_past",
            field="terms.accept_by",
        )
    if terms.complete_by is not None and terms.complete_by <= now:
        raise RuleViolationError(
            "The complete-by date must be in the future.",
            code="deadline_in_past",
            field="terms.complete_by",
        )
    if (
        terms.accept_by is not None
        and terms.complete_by is not None
        and terms.accept_by > terms.complete_by
    ):
        raise RuleViolationError(
            "The work cannot be accepted after it is due: accept_by is after complete_by.",
            code="deadlines_out_of_order",
            field="terms.accept_by",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    event: str
    from_status: OutsourceStatus | None
    to_status: OutsourceStatus
    at: datetime
    by: Side
    actor: str = ""
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketSnapshot:
    """What the receiver sees of the lead's ticket before (and when) accepting."""

    number: str
    title: str
    description: str = ""
    priority: str = "medium"
    complete_by: datetime | None = None
    organization: str | None = None
    contact: str | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outsourcing:
    """One side's copy of an outsourcing (``owner_id`` is the tenant holding this copy)."""

    owner_id: str
    side: Side
    outsourcing_id: str
    lane: Lane
    status: OutsourceStatus
    lead_tenant_id: str
    lead_ticket_id: str
    receiver_id: str
    partnership_id: str | None
    terms: Terms
    currency: str
    ticket: TicketSnapshot
    lead_name: str
    receiver_name: str
    created_at: datetime
    updated_at: datetime
    insourced_ticket_id: str | None = None
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)
    # The subcontractor lane: the lead's relationship with the company (``receiver_id`` is the
    # company), and the company's portal user who has the work (set at acceptance, reassigned).
    subcontractor_id: str | None = None
    assignee_id: str | None = None
    version: int = 1

    @property
    def open(self) -> bool:
        return self.status in OPEN
