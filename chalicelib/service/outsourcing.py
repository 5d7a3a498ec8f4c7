"""Outsourcing use cases: hand a ticket to a partner, and every transition after that.

Each transition reads the caller's copy (another tenant's outsourcing is simply not found),
checks the rule in ``domain.outsourcing`` (wrong side 403, wrong state 409), and applies one
transaction that moves both copies and the linked tickets, conditional on the status it read:
of two racing transitions exactly one wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain import agreement
from chalicelib.domain.errors import ConflictError, NotFoundError, RuleViolationError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.items import Item, TimeEntry
from chalicelib.domain.outsourcing import (
    NEEDS_REASON,
    Event,
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    TicketSnapshot,
    check_terms,
    next_status,
    receiver_lane,
)
from chalicelib.domain.partners import PartnerMapping, PartnerRole
from chalicelib.domain.subcontractors import check_link_allows_work
from chalicelib.domain.sync import cost_charge, receiver_time
from chalicelib.domain.tenants import Actor
from chalicelib.domain.tickets import Ticket, TicketSource, TicketStatus, format_ticket_number
from chalicelib.observability import count, logger
from chalicelib.ports import (
    ItemRepository,
    OutsourcingRepository,
    Page,
    Paging,
    PartnershipRepository,
    SubcontractorRepository,
    TenantRepository,
    TicketChange,
    TicketRepository,
    TransitionPlan,
)
from chalicelib.service.lookup import all_items, get_ticket


@dataclass(frozen=True, slots=True)
class OutsourcingPorts:
    """What outsourcing (and ticket editing, which can end an outsourcing) needs."""

    tenants: TenantRepository
    tickets: TicketRepository
    partnerships: PartnershipRepository
    outsourcings: OutsourcingRepository
    items: ItemRepository
    subcontractors: SubcontractorRepository


@dataclass(frozen=True, slots=True)
class Outsource:
    """Hand a ticket to the one receiver named in ``receivers`` (the others None)."""

    actor: Actor
    ticket_id: str
    receivers: Mapping[str, str | None]
    terms: Terms
    now: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    """An event on an outsourcing, by the caller's side of it."""

    actor: Actor
    outsourcing_id: str
    event: Event
    now: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class _Step:
    """One transition as planned: who does what, when, and the lead ticket edit it carries."""

    event: Event
    side: Side
    actor: str
    now: datetime
    reason: str | None = None
    lead_ticket_changes: Mapping[str, Any] | None = None


def snapshot(ticket: Ticket) -> TicketSnapshot:
    return TicketSnapshot(
        number=ticket.number,
        title=ticket.title,
        description=ticket.description,
        priority=ticket.priority.value,
        complete_by=ticket.complete_by,
        organization=ticket.organization,
        contact=ticket.contact,
        site=ticket.site,
    )


def outsource(ports: OutsourcingPorts, cmd: Outsource) -> Outsourcing:
    """Hand the ticket to the one receiver named: a service partner or a subcontractor company
    (status ``assigned`` on both sides)."""
    lane, receiver_id = receiver_lane(dict(cmd.receivers))
    if lane is Lane.NETWORK:
        raise ValueError("a network is forwarded to with service.networks.forward")
    lead = ports.tenants.get(cmd.actor.tenant_id)
    agreement.ensure_outsourcing_allowed(lead)
    ticket = outsourcable_ticket(ports, cmd)
    receiver = _receiver(ports, lead.tenant_id, lane, receiver_id)
    check_terms(cmd.terms, cmd.now)
    entry = HistoryEntry(
        event="outsource",
        from_status=None,
        to_status=OutsourceStatus.ASSIGNED,
        at=cmd.now,
        by=Side.LEAD,
        actor=cmd.actor.label,
    )
    lead_copy = Outsourcing(
        owner_id=lead.tenant_id,
        side=Side.LEAD,
        outsourcing_id=new_id(),
        lane=lane,
        status=OutsourceStatus.ASSIGNED,
        lead_tenant_id=lead.tenant_id,
        lead_ticket_id=ticket.ticket_id,
        receiver_id=receiver.owner_id,
        partnership_id=receiver.partnership_id,
        subcontractor_id=receiver.subcontractor_id,
        terms=cmd.terms,
        currency=ticket.currency,
        ticket=snapshot(ticket),
        lead_name=lead.name,
        receiver_name=receiver.name,
        created_at=cmd.now,
        updated_at=cmd.now,
        history=(entry,),
    )
    receiver_copy = dataclasses.replace(
        lead_copy,
        owner_id=receiver.owner_id,
        side=Side.RECEIVER,
        terms=dataclasses.replace(cmd.terms, bill_customer_rate=None),
    )
    ports.outsourcings.create(lead_copy, receiver_copy, ticket)
    logger.info(
        "ticket outsourced",
        extra={"tenant_id": lead.tenant_id, "outsourcing_id": lead_copy.outsourcing_id},
    )
    count("TicketOutsourced")
    return lead_copy


def outsourcable_ticket(ports: OutsourcingPorts, cmd: Outsource) -> Ticket:
    """The lead's own ticket, not complete and without an open outsourcing (one past its
    accept-by deadline is expired now rather than blocking the ticket)."""
    lead_tenant_id, ticket_id, now = cmd.actor.tenant_id, cmd.ticket_id, cmd.now
    ticket = get_ticket(ports.tickets, lead_tenant_id, ticket_id)
    if ticket.source is TicketSource.INSOURCED:
        raise RuleViolationError(
            "Received work cannot be outsourced again; outsource your own tickets only.",
            code="insourced_ticket",
        )
    if ticket.status is TicketStatus.COMPLETE:
        raise RuleViolationError("A complete ticket cannot be outsourced.", code="ticket_complete")
    if ticket.open_outsourcing and ticket.outsourcing_id is not None:
        previous = ports.outsourcings.get(lead_tenant_id, ticket.outsourcing_id)
        if not _expire_if_due(ports, previous, now).open:
            ticket = get_ticket(ports.tickets, lead_tenant_id, ticket_id)
    if ticket.open_outsourcing:
        raise ConflictError(
            "This ticket already has an open outsourcing; it can be outsourced again once that "
            "one ends.",
            code="already_outsourced",
        )
    return ticket


@dataclass(frozen=True, slots=True)
class _Receiver:
    owner_id: str  # the tenant or company that will hold the receiver's copy
    name: str
    partnership_id: str | None = None
    subcontractor_id: str | None = None


def _receiver(
    ports: OutsourcingPorts, lead_tenant_id: str, lane: Lane, receiver_id: str
) -> _Receiver:
    """Who receives the work: an active service partner, or an active subcontractor."""
    if lane is Lane.SUBCONTRACTOR:
        if not is_id(receiver_id):
            raise NotFoundError("No such subcontractor.", field="subcontractor_id")
        link = ports.subcontractors.get_link(lead_tenant_id, receiver_id)
        check_link_allows_work(link)
        return _Receiver(link.company_id, link.company_name, subcontractor_id=receiver_id)
    if not is_id(receiver_id):
        raise NotFoundError("No such partnership.", field="partnership_id")
    partnership = ports.partnerships.get(lead_tenant_id, receiver_id)
    if partnership.role is not PartnerRole.SERVICE:
        raise RuleViolationError(
            "In this partnership the other tenant is your lead; you can only outsource to your "
            "service partners.",
            code="not_a_service_partner",
        )
    if not partnership.active:
        raise RuleViolationError(
            "This partnership is inactive: no new outsourcings.", code="partnership_inactive"
        )
    return _Receiver(
        partnership.service_tenant_id, partnership.partner_name, partnership_id=receiver_id
    )


def get_outsourcing(ports: OutsourcingPorts, owner_id: str, outsourcing_id: str) -> Outsourcing:
    """The caller's copy; anything else is not found."""
    if not is_id(outsourcing_id):
        raise NotFoundError("No such outsourcing.")
    return ports.outsourcings.get(owner_id, outsourcing_id)


def list_outsourcings(
    ports: OutsourcingPorts,
    owner_id: str,
    side: Side,
    status: OutsourceStatus | None,
    paging: Paging,
) -> Page[Outsourcing]:
    """The owner's outsourced (lead) or received (receiver) work, newest first."""
    return ports.outsourcings.list(owner_id, side, status, paging.limit, paging.cursor)


def status_counts(ports: OutsourcingPorts, owner_id: str, side: Side) -> dict[OutsourceStatus, int]:
    """Dashboard figures: the owner's outsourcings on one side, per status."""
    return ports.outsourcings.counts(owner_id, side)


def _other_copy(ports: OutsourcingPorts, copy: Outsourcing) -> Outsourcing:
    other_owner = copy.receiver_id if copy.side is Side.LEAD else copy.lead_tenant_id
    return ports.outsourcings.get(other_owner, copy.outsourcing_id)


def _mapping(ports: OutsourcingPorts, copy: Outsourcing) -> PartnerMapping:
    """The service partner's mapping for the lead (defaults if the partnership is gone)."""
    if copy.partnership_id is None:
        return PartnerMapping()
    try:
        partnership = ports.partnerships.get(copy.receiver_id, copy.partnership_id)
    except NotFoundError:
        return PartnerMapping()
    return partnership.mapping or PartnerMapping()


def _receiver_ticket_change(
    ports: OutsourcingPorts, copy: Outsourcing, new_status: OutsourceStatus, now: datetime
) -> TicketChange | None:
    """The insourced ticket follows the outsourcing, its local status mapped by the partner."""
    if copy.insourced_ticket_id is None:
        return None
    try:
        ticket = ports.tickets.get(copy.receiver_id, copy.insourced_ticket_id)
    except NotFoundError:
        return None
    changes: dict[str, Any] = {"outsourcing_status": new_status, "updated_at": now}
    mapped = _mapping(ports, copy).ticket_status_for(new_status)
    if mapped is not None:
        changes["status"] = mapped
    return TicketChange(ticket=ticket, changes=changes)


def _insourced_ticket(
    ports: OutsourcingPorts, copy: Outsourcing, lead_ticket: Ticket, now: datetime
) -> Ticket:
    """The service partner's copy, filed with its mapping for this lead."""
    mapping = _mapping(ports, copy)
    sequence = ports.tickets.next_number(copy.receiver_id, now.date())
    status = mapping.ticket_status_for(OutsourceStatus.IN_PROGRESS) or TicketStatus.IN_PROGRESS
    return Ticket(
        tenant_id=copy.receiver_id,
        ticket_id=new_id(),
        number=format_ticket_number(now.date(), sequence),
        title=lead_ticket.title,
        description=lead_ticket.description,
        priority=lead_ticket.priority,
        status=status,
        queue=mapping.queue,
        complete_by=copy.terms.complete_by or lead_ticket.complete_by,
        organization=lead_ticket.organization,
        contact=lead_ticket.contact,
        site=lead_ticket.site,
        currency=copy.currency,
        billing_organization=mapping.organization or copy.lead_name,
        work_type=mapping.work_type,
        resource=mapping.resource,
        source=TicketSource.INSOURCED,
        original_number=lead_ticket.number,
        created_at=now,
        updated_at=now,
        outsourcing_id=copy.outsourcing_id,
        outsourcing_status=OutsourceStatus.IN_PROGRESS,
        outsourcing_side=Side.RECEIVER,
        peer_owner_id=copy.lead_tenant_id,
        peer_ticket_id=lead_ticket.ticket_id,
        lead_version=lead_ticket.version,
        shown_as=copy.receiver_name,
    )


def _plan(ports: OutsourcingPorts, copy: Outsourcing, step: _Step) -> TransitionPlan:
    event, now, lead_ticket_changes = step.event, step.now, step.lead_ticket_changes
    new_status = next_status(copy.status, event, step.side)
    if event in NEEDS_REASON and not (step.reason and step.reason.strip()):
        raise RuleViolationError("A reason is required.", code="reason_required", field="reason")
    other = _other_copy(ports, copy)
    lead_copy = copy if copy.side is Side.LEAD else other
    entry = HistoryEntry(
        event=event.value,
        from_status=copy.status,
        to_status=new_status,
        at=now,
        by=step.side,
        actor=step.actor,
        reason=step.reason,
    )
    lead_ticket = ports.tickets.get(lead_copy.lead_tenant_id, lead_copy.lead_ticket_id)
    lead_changes: dict[str, Any] = {"outsourcing_status": new_status, "updated_at": now}
    copy_changes: dict[str, Any] = {}
    new_tickets: list[Ticket] = []
    ticket_changes: list[TicketChange] = []
    if event is Event.ACCEPT:
        insourced = _insourced_ticket(ports, lead_copy, lead_ticket, now)
        new_tickets.append(insourced)
        copy_changes["insourced_ticket_id"] = insourced.ticket_id
        lead_changes["peer_ticket_id"] = insourced.ticket_id
    else:
        receiver_change = _receiver_ticket_change(ports, lead_copy, new_status, now)
        if receiver_change is not None:
            ticket_changes.append(receiver_change)
    if lead_ticket_changes:
        lead_changes.update(lead_ticket_changes)
    ticket_changes.insert(
        0,
        TicketChange(
            ticket=lead_ticket, changes=lead_changes, guard_version=bool(lead_ticket_changes)
        ),
    )
    new_items: list[Item] = []
    if new_status is OutsourceStatus.COMPLETE:
        new_items.append(_cost_at_completion(ports, lead_copy, now))
    return TransitionPlan(
        new_items=new_items,
        outsourcing_id=copy.outsourcing_id,
        copies=(lead_copy, other if copy.side is Side.LEAD else copy),
        expected=copy.status,
        new_status=new_status,
        entry=entry,
        copy_changes=copy_changes,
        ticket_changes=ticket_changes,
        new_tickets=new_tickets,
    )


def _cost_at_completion(ports: OutsourcingPorts, lead_copy: Outsourcing, now: datetime) -> Item:
    """The receiver's time as it stands at completion, as one charge in the same transaction."""
    time: list[TimeEntry] = []
    if lead_copy.insourced_ticket_id is not None:
        time = receiver_time(
            all_items(ports.items, lead_copy.receiver_id, lead_copy.insourced_ticket_id)
        )
    return cost_charge(lead_copy, time, now)


def _expire_if_due(ports: OutsourcingPorts, copy: Outsourcing, now: datetime) -> Outsourcing:
    """An assigned outsourcing past its accept-by deadline expires before anything else."""
    accept_by = copy.terms.accept_by
    if copy.status is not OutsourceStatus.ASSIGNED or accept_by is None or accept_by > now:
        return copy
    try:
        ports.outsourcings.apply(_plan(ports, copy, _expiry(now)))
        count("OutsourcingExpired")
    except ConflictError:
        pass  # someone else moved it first
    return ports.outsourcings.get(copy.owner_id, copy.outsourcing_id)


def _expiry(now: datetime) -> _Step:
    return _Step(event=Event.EXPIRE, side=Side.SYSTEM, actor="system", now=now)


def transition(ports: OutsourcingPorts, cmd: Transition) -> Outsourcing:
    """Apply the event as the caller's side of the outsourcing; returns the caller's copy."""
    owner_id, outsourcing_id, event = cmd.actor.tenant_id, cmd.outsourcing_id, cmd.event
    copy = _expire_if_due(ports, get_outsourcing(ports, owner_id, outsourcing_id), cmd.now)
    if copy.lane is Lane.NETWORK:
        # Forwarded to a network: ended from the start, with no receiver to act on it.
        raise ConflictError(
            "A ticket forwarded to a network is not tracked: nothing can change its outsourcing.",
            code="invalid_transition",
        )
    step = _Step(event=event, side=copy.side, actor=cmd.actor.label, now=cmd.now, reason=cmd.reason)
    plan = _plan(ports, copy, step)
    ports.outsourcings.apply(plan)
    logger.info(
        "outsourcing transition",
        extra={
            "tenant_id": owner_id,
            "outsourcing_id": outsourcing_id,
            "event": event.value,
            "status": plan.new_status.value,
        },
    )
    count(f"Outsourcing{event.value.title().replace('_', '')}")
    return ports.outsourcings.get(owner_id, outsourcing_id)


def complete_with_ticket(
    ports: OutsourcingPorts,
    actor: Actor,
    ticket: Ticket,
    changes: Mapping[str, Any],
    now: datetime,
) -> Ticket:
    """The lead sets its ticket complete: an assigned outsourcing is canceled, one in progress
    or waiting for approval is complete; the ticket edit is part of the same transaction."""
    assert ticket.outsourcing_id is not None
    for attempt in range(3):
        copy = _expire_if_due(
            ports, ports.outsourcings.get(ticket.tenant_id, ticket.outsourcing_id), now
        )
        if not copy.open:
            current = ports.tickets.get(ticket.tenant_id, ticket.ticket_id)
            return ports.tickets.update(current, changes)
        step = _Step(
            event=Event.TICKET_COMPLETED,
            side=Side.LEAD,
            actor=actor.label,
            now=now,
            lead_ticket_changes=changes,
        )
        plan = _plan(ports, copy, step)
        try:
            ports.outsourcings.apply(plan)
        except ConflictError as exc:
            # The receiver moved it meanwhile (accepted, submitted): complete from the new state.
            if exc.code != "invalid_transition" or attempt == 2:
                raise
            continue
        count("OutsourcingTicketCompleted")
        return ports.tickets.get(ticket.tenant_id, ticket.ticket_id)
    raise AssertionError("unreachable")  # pragma: no cover


def expire_due(ports: OutsourcingPorts, now: datetime, days_back: int = 7) -> int:
    """The system job: expire assigned outsourcings past their accept-by deadline."""
    expired = 0
    for copy in ports.outsourcings.due_for_expiry(now, days_back):
        try:
            ports.outsourcings.apply(_plan(ports, copy, _expiry(now)))
        except (ConflictError, NotFoundError):
            continue
        expired += 1
        count("OutsourcingExpired")
    if expired:
        logger.info("outsourcings expired", extra={"count": expired})
    return expired
