"""The work order: a ticket with its visible items and totals, ready to print."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from chalicelib.domain.items import Attachment, Charge, Note, TimeEntry
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.tickets import Ticket
from chalicelib.service.items import ItemPorts
from chalicelib.service.lookup import all_items, get_ticket


@dataclass(frozen=True, slots=True)
class WorkOrder:
    tenant: Tenant
    ticket: Ticket
    printed_at: datetime
    notes: list[Note] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def hours_worked(self) -> Decimal:
        return sum((t.hours_worked for t in self.time_entries), Decimal(0))

    @property
    def hours_billable(self) -> Decimal:
        return sum((t.hours_billable for t in self.time_entries), Decimal(0))

    @property
    def charges_total(self) -> Decimal:
        return sum((c.quantity * c.unit_price for c in self.charges if c.billable), Decimal(0))


def build_work_order(
    ports: ItemPorts,
    tenant_id: str,
    ticket_id: str,
    now: datetime,
    *,
    include_internal: bool = False,
) -> WorkOrder:
    """Gather the ticket and its items. Internal items stay out unless asked for."""
    ticket = get_ticket(ports.tickets, tenant_id, ticket_id)
    order = WorkOrder(tenant=ports.tenants.get(tenant_id), ticket=ticket, printed_at=now)
    for item in all_items(ports.items, tenant_id, ticket_id):
        if item.internal and not include_internal:
            continue
        if isinstance(item, Note):
            order.notes.append(item)
        elif isinstance(item, TimeEntry):
            order.time_entries.append(item)
        elif isinstance(item, Charge):
            order.charges.append(item)
        elif isinstance(item, Attachment):
            order.attachments.append(item)
    return order
