"""Ticket use cases: create, read, list, edit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import NotFoundError, ValidationError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.outsourcing import Side
from chalicelib.domain.tickets import EDITABLE_FIELDS, Ticket, TicketStatus, format_ticket_number
from chalicelib.observability import count, logger
from chalicelib.ports import Page, TenantRepository, TicketRepository
from chalicelib.service.concurrency import retry_on_conflict


def create_ticket(
    tenants: TenantRepository,
    tickets: TicketRepository,
    tenant_id: str,
    fields: Mapping[str, Any],
    now: datetime,
) -> Ticket:
    """Create a ticket with the next number of the day. Only ``title`` is required.

    The ticket keeps the tenant's currency: its charges are priced in it.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown field '{sorted(unknown)[0]}'.", field=sorted(unknown)[0])
    tenant = tenants.get(tenant_id)
    sequence = tickets.next_number(tenant_id, now.date())
    ticket = Ticket(
        tenant_id=tenant_id,
        ticket_id=new_id(),
        number=format_ticket_number(now.date(), sequence),
        currency=tenant.currency,
        created_at=now,
        updated_at=now,
        **{k: v for k, v in fields.items() if v is not None},
    )
    tickets.add(ticket)
    logger.info("ticket created", extra={"tenant_id": tenant_id, "ticket_id": ticket.ticket_id})
    count("TicketCreated")
    return ticket


def get_ticket(tickets: TicketRepository, tenant_id: str, ticket_id: str) -> Ticket:
    """The tenant's ticket; anything else (another tenant's, malformed id) is not found."""
    if not is_id(ticket_id):
        raise NotFoundError("No such ticket.")
    return tickets.get(tenant_id, ticket_id)


def list_tickets(
    tickets: TicketRepository,
    tenant_id: str,
    *,
    status: TicketStatus | None,
    queue: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Ticket]:
    return tickets.list(tenant_id, status=status, queue=queue, limit=limit, cursor=cursor)


def update_ticket(
    tickets: TicketRepository,
    tenant_id: str,
    ticket_id: str,
    changes: Mapping[str, Any],
    now: datetime,
    *,
    complete_outsourcing: Callable[[Ticket, Mapping[str, Any]], Ticket] | None = None,
) -> Ticket:
    """Change editable fields. ``title`` cannot be cleared; other optional fields can (null).

    A lead completing a ticket that has an open outsourcing completes (or cancels) the
    outsourcing in the same transaction, through ``complete_outsourcing``.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Field '{sorted(unknown)[0]}' cannot be changed.")
    if "title" in changes and not changes["title"]:
        raise ValidationError("A ticket needs a title.", field="title")
    for required in ("priority", "status"):
        if required in changes and changes[required] is None:
            raise ValidationError(f"'{required}' cannot be null.", field=required)
    normalized = {k: ("" if k == "description" and v is None else v) for k, v in changes.items()}
    ticket = get_ticket(tickets, tenant_id, ticket_id)
    if not normalized:
        return ticket

    def apply(current: Ticket) -> Ticket:
        update = {**normalized, "updated_at": now}
        if (
            complete_outsourcing is not None
            and normalized.get("status") is TicketStatus.COMPLETE
            and current.open_outsourcing
            and current.outsourcing_side is Side.LEAD
        ):
            return complete_outsourcing(current, update)
        return tickets.update(current, update)

    updated = retry_on_conflict(
        apply, first=ticket, reload=lambda: tickets.get(tenant_id, ticket_id)
    )
    logger.info("ticket updated", extra={"tenant_id": tenant_id, "ticket_id": ticket_id})
    return updated
