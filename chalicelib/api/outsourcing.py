"""Outsourcing: hand a ticket to a partner, the transitions of both sides, and the lists.

Each transition has its own route and view; :func:`_transition` turns the request into the
use case's command.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.models.outsourcing import (
    OutsourcedOut,
    OutsourceRequest,
    OutsourcingList,
    OutsourcingOut,
    OutsourcingQuery,
    OutsourcingSummary,
    ReasonBody,
    SummaryQuery,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.outsourcing import Event, Lane, OutsourceStatus, Side, receiver_lane
from chalicelib.domain.tenants import Permission
from chalicelib.service import networks as networks_service
from chalicelib.service import outsourcing as service
from chalicelib.service.outsourcing import Outsource, Transition

api = Api(__name__, "outsourcing")
# 403 the other side's event, 409 not in a state for it, 422 a rule (a reason is required)
TRANSITION_ERRORS = (403, 409, 422)


@api.route(
    "POST",
    "/v1/tickets/{ticket_id}/outsource",
    summary="Outsource a ticket to a service partner or a subcontractor (status 'assigned'), "
    "or forward it to a network entry (status 'forwarded', with the link of a link entry)",
    status=201,
    permission=Permission.OUTSOURCE,
    # 409: the ticket has an open outsourcing; 503: download links need the public address
    errors=(409, 422, 503),
)
def outsource(call: Call[OutsourceRequest, None]) -> OutsourcedOut:
    cmd = Outsource(
        actor=call.actor,
        ticket_id=call.params["ticket_id"],
        receivers=call.body.receivers,
        terms=call.body.terms.to_terms(),
        now=call.now,
    )
    lane, _ = receiver_lane(dict(cmd.receivers))
    if lane is Lane.NETWORK:
        forwarded = networks_service.forward(call.container.network_ports, cmd)
        return OutsourcedOut.of(forwarded.outsourcing, link=forwarded.link)
    return OutsourcedOut.of(service.outsource(call.container.outsourcing_ports, cmd))


@api.route(
    "GET",
    "/v1/outsourcings",
    summary="Outsourced work (side=lead) or received work (side=receiver), newest first",
)
def list_outsourcings(call: Call[None, OutsourcingQuery]) -> OutsourcingList:
    query = call.query
    page = service.list_outsourcings(
        call.container.outsourcing_ports,
        call.tenant_id,
        Side(query.side),
        OutsourceStatus(query.status) if query.status else None,
        query.paging,
    )
    return OutsourcingList.of(page)


@api.route(
    "GET",
    "/v1/outsourcings/summary",
    summary="Dashboard counts per status for outsourced (lead) or received (receiver) work",
)
def summary(call: Call[None, SummaryQuery]) -> OutsourcingSummary:
    side = Side(call.query.side)
    counts = service.status_counts(call.container.outsourcing_ports, call.tenant_id, side)
    return OutsourcingSummary.of(side, counts)


@api.route(
    "GET",
    "/v1/outsourcings/{outsourcing_id}",
    summary="One outsourcing as this side sees it, with its history",
)
def get_outsourcing(call: Call[None, None]) -> OutsourcingOut:
    return OutsourcingOut.of(
        service.get_outsourcing(
            call.container.outsourcing_ports, call.tenant_id, call.params["outsourcing_id"]
        )
    )


def _transition(call: Call[Any, None], event: Event) -> OutsourcingOut:
    reason = call.body.reason if isinstance(call.body, ReasonBody) else None
    copy = service.transition(
        call.container.outsourcing_ports,
        Transition(
            actor=call.actor,
            outsourcing_id=call.params["outsourcing_id"],
            event=event,
            now=call.now,
            reason=reason,
        ),
    )
    return OutsourcingOut.of(copy)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/accept",
    summary="Receiver: accept (creates the insourced ticket)",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def accept(call: Call[None, None]) -> OutsourcingOut:
    return _transition(call, Event.ACCEPT)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/decline",
    summary="Receiver: decline, with a reason",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def decline(call: Call[ReasonBody, None]) -> OutsourcingOut:
    return _transition(call, Event.DECLINE)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/submit-completion",
    summary="Receiver: submit the work for approval",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def submit_completion(call: Call[None, None]) -> OutsourcingOut:
    return _transition(call, Event.SUBMIT_COMPLETION)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/cancel",
    summary="Lead: cancel before acceptance",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def cancel(call: Call[None, None]) -> OutsourcingOut:
    return _transition(call, Event.CANCEL)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/approve",
    summary="Lead: approve submitted work (complete)",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def approve(call: Call[None, None]) -> OutsourcingOut:
    return _transition(call, Event.APPROVE)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/reject",
    summary="Lead: reject submitted work, with a reason (back in progress)",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def reject(call: Call[ReasonBody, None]) -> OutsourcingOut:
    return _transition(call, Event.REJECT)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/complete",
    summary="Lead: complete the work without a submission",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def complete(call: Call[None, None]) -> OutsourcingOut:
    return _transition(call, Event.FORCE_COMPLETE)


@api.route(
    "POST",
    "/v1/outsourcings/{outsourcing_id}/recall",
    summary="Lead: take accepted work back, with a reason",
    permission=Permission.OUTSOURCE,
    errors=TRANSITION_ERRORS,
)
def recall(call: Call[ReasonBody, None]) -> OutsourcingOut:
    return _transition(call, Event.RECALL)
