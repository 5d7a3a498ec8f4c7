"""Tickets: create, list, read, edit, and the printable work order."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.models.tickets import (
    TicketCreate,
    TicketList,
    TicketOut,
    TicketQuery,
    TicketUpdate,
)
from chalicelib.api.routing import Api, Call
from chalicelib.rendering import render
from chalicelib.service import tickets as ticket_service
from chalicelib.service import work_orders

api = Api(__name__, "tickets")


@api.route("POST", "/v1/tickets", summary="Create a ticket (only title is required)", status=201)
def create_ticket(call: Call[TicketCreate, None]) -> TicketOut:
    ticket = ticket_service.create_ticket(
        call.container.outsourcing_ports,
        call.tenant_id,
        call.body.model_dump(exclude_none=True),
        call.now,
    )
    return TicketOut.of(ticket)


@api.route(
    "GET", "/v1/tickets", summary="List tickets, newest first, optionally by status and/or queue"
)
def list_tickets(call: Call[None, TicketQuery]) -> TicketList:
    query = call.query
    page = ticket_service.list_tickets(
        call.container.outsourcing_ports, call.tenant_id, query.status, query.queue, query.paging
    )
    return TicketList.of(page)


@api.route("GET", "/v1/tickets/{ticket_id}", summary="Read a ticket")
def get_ticket(call: Call[None, None]) -> TicketOut:
    return TicketOut.of(
        ticket_service.read_ticket(
            call.container.outsourcing_ports, call.tenant_id, call.params["ticket_id"]
        )
    )


@api.route(
    "PATCH",
    "/v1/tickets/{ticket_id}",
    summary="Change a ticket's fields (null clears an optional field)",
    # 403: completing a ticket with an open outsourcing needs 'outsource'; 409: a lost race
    errors=(403, 409),
)
def update_ticket(call: Call[TicketUpdate, None]) -> TicketOut:
    ticket = ticket_service.update_ticket(
        call.container.outsourcing_ports,
        call.actor,
        call.params["ticket_id"],
        call.body.model_dump(exclude_unset=True),
        call.now,
    )
    return TicketOut.of(ticket)


@api.route(
    "GET",
    "/v1/tickets/{ticket_id}/work-order",
    summary="Printable work order (HTML); internal items are left out",
    produces="text/html",
)
def work_order(call: Call[None, None]) -> Response:
    order = work_orders.build_work_order(
        call.container.item_ports, call.tenant_id, call.params["ticket_id"], call.now
    )
    return Response(
        body=render("work_order.html", order=order),
        status_code=200,
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
    )
