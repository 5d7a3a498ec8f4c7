"""Ticket use cases: create, read, list, edit.

They take the outsourcing ports: a lead completing its ticket also ends the ticket's open
outsourcing, in the same transaction (``outsourcing.complete_with_ticket``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.ids import new_id
from chalicelib.domain.outsourcing import Side
from chalicelib.domain.tenants import Actor, Permission
from chalicelib.domain.tickets import EDITABLE_FIELDS, Ticket, TicketStatus, format_ticket_number
from chalicelib.observability import count, logger
from chalicelib.ports import Page, Paging
from chalicelib.service import outsourcing
from chalicelib.service.concurrency import retry_on_conflict
from chalicelib.service.lookup import get_ticket
from chalicelib.service.outsourcing import OutsourcingPorts


def create_ticket(
    ports: OutsourcingPorts, tenant_id: str, fields: Mapping[str, Any], now: datetime
) -> Ticket:
    """Create a ticket with the next number of the day. Only ``title`` is required.

    The ticket keeps the tenant's currency: its charges are priced in it.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown field '{sorted(unknown)[0]}'.", field=sorted(unknown)[0])
    tenant = ports.tenants.get(tenant_id)
    sequence = ports.tickets.next_number(tenant_id, now.date())
    ticket = Ticket(
        tenant_id=tenant_id,
        ticket_id=new_id(),
        number=format_ticket_number(now.date(), sequence),
        currency=tenant.currency,
        created_at=now,
        updated_at=now,
        **{k: v for k, v in fields.items() if v is not None},
    )
    ports.tickets.add(ticket)
    logger.info("ticket created", extra={"tenant_id": tenant_id, "ticket_id": ticket.ticket_id})
    count("TicketCreated")
    return ticket


def read_ticket(ports: OutsourcingPorts, tenant_id: str, ticket_id: str) -> Ticket:
    """The tenant's ticket; anything else is not found."""
    return get_ticket(ports.tickets, tenant_id, ticket_id)


def list_tickets(
    ports: OutsourcingPorts,
    tenant_id: str,
    status: TicketStatus | None,
    queue: str | None,
    paging: Paging,
) -> Page[Ticket]:
    """The tenant's tickets, newest first, optionally by status and/or queue."""
    return ports.tickets.list(
        tenant_id, status=status, queue=queue, limit=paging.limit, cursor=paging.cursor
    )


def update_ticket(
    ports: OutsourcingPorts,
    actor: Actor,
    ticket_id: str,
    changes: Mapping[str, Any],
    now: datetime,
) -> Ticket:
    """Change editable fields. ``title`` cannot be cleared; other optional fields can (null).

    A lead completing a ticket that has an open outsourcing completes (or cancels) the
    outsourcing in the same transaction; that needs the ``outsource`` permission, as doing it
    directly does.
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
    tenant_id = actor.tenant_id
    ticket = get_ticket(ports.tickets, tenant_id, ticket_id)
    if not normalized:
        return ticket

    def apply(current: Ticket) -> Ticket:
        update = {**normalized, "updated_at": now}
        if (
            normalized.get("status") is TicketStatus.COMPLETE
            and current.open_outsourcing
            and current.outsourcing_side is Side.LEAD
        ):
            actor.require(Permission.OUTSOURCE)
            return outsourcing.complete_with_ticket(ports, actor, current, update, now)
        return ports.tickets.update(current, update)

    updated = retry_on_conflict(
        apply, first=ticket, reload=lambda: ports.tickets.get(tenant_id, ticket_id)
    )
    logger.info("ticket updated", extra={"tenant_id": tenant_id, "ticket_id": ticket_id})
    return updated
