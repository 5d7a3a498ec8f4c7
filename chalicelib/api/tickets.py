"""Tickets: create, list, read, edit, and the printable work order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import Response

from chalicelib.api.models import TicketCreate, TicketList, TicketOut, TicketQuery, TicketUpdate
from chalicelib.api.routing import Api, Call
from chalicelib.domain.tenants import Permission, require_permission
from chalicelib.domain.tickets import Ticket
from chalicelib.rendering import render
from chalicelib.service import outsourcing as outsourcing_service
from chalicelib.service import tickets as ticket_service
from chalicelib.service import work_orders

api = Api(__name__, "tickets")


@api.route(
    "POST",
    "/v1/tickets",
    summary="Create a ticket (only title is required)",
    body=TicketCreate,
    response=TicketOut,
    status=201,
)
def create_ticket(call: Call) -> TicketOut:
    body: TicketCreate = call.body
    ticket = ticket_service.create_ticket(
        call.container.tenants,
        call.container.tickets,
        call.tenant_id,
        body.model_dump(exclude_none=True),
        call.now,
    )
    return TicketOut.of(ticket)


@api.route(
    "GET",
    "/v1/tickets",
    summary="List tickets, newest first, optionally by status and/or queue",
    query=TicketQuery,
    response=TicketList,
)
def list_tickets(call: Call) -> TicketList:
    query: TicketQuery = call.query
    page = ticket_service.list_tickets(
        call.container.tickets,
        call.tenant_id,
        status=query.status,
        queue=query.queue,
        limit=query.limit,
        cursor=query.cursor,
    )
    return TicketList(items=[TicketOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@api.route("GET", "/v1/tickets/{ticket_id}", summary="Read a ticket", response=TicketOut)
def get_ticket(call: Call) -> TicketOut:
    return TicketOut.of(
        ticket_service.get_ticket(call.container.tickets, call.tenant_id, call.params["ticket_id"])
    )


@api.route(
    "PATCH",
    "/v1/tickets/{ticket_id}",
    summary="Change a ticket's fields (null clears an optional field)",
    body=TicketUpdate,
    response=TicketOut,
)
def update_ticket(call: Call) -> TicketOut:
    body: TicketUpdate = call.body
    ports = call.container.outsourcing_ports

    def complete_outsourcing(current: Ticket, changes: Mapping[str, Any]) -> Ticket:
        # Completing the ticket ends its outsourcing: the same permission as doing that directly.
        assert call.principal is not None
        require_permission(call.principal.permission, Permission.OUTSOURCE)
        return outsourcing_service.complete_with_ticket(
            ports, current, changes, actor=call.actor, now=call.now
        )

    ticket = ticket_service.update_ticket(
        call.container.tickets,
        call.tenant_id,
        call.params["ticket_id"],
        body.model_dump(exclude_unset=True),
        call.now,
        complete_outsourcing=complete_outsourcing,
    )
    return TicketOut.of(ticket)


@api.route(
    "GET",
    "/v1/tickets/{ticket_id}/work-order",
    summary="Printable work order (HTML); internal items are left out",
    produces="text/html",
)
def work_order(call: Call) -> Response:
    order = work_orders.build_work_order(
        call.container.tenants,
        call.container.tickets,
        call.container.items,
        call.tenant_id,
        call.params["ticket_id"],
        now=call.now,
    )
    html = render("work_order.html", order=order)
    return Response(
        body=html,
        status_code=200,
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
    )
