"""Reading what a use case acts on: the caller's ticket, and every item of a ticket."""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.ids import is_id
from chalicelib.domain.items import Item
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import ItemRepository, TicketRepository


def get_ticket(tickets: TicketRepository, tenant_id: str, ticket_id: str) -> Ticket:
    """The tenant's ticket; anything else (another tenant's, malformed id) is not found."""
    if not is_id(ticket_id):
        raise NotFoundError("No such ticket.")
    return tickets.get(tenant_id, ticket_id)


def all_items(
    items: ItemRepository, tenant_id: str, ticket_id: str, *, include_deleted: bool = False
) -> Iterator[Item]:
    """Every item of a ticket (tombstones too, if asked), oldest first, following the pages."""
    cursor: str | None = None
    while True:
        page = items.list(tenant_id, ticket_id, 100, cursor, include_deleted=include_deleted)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
