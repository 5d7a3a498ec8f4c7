"""Outsourcing: hand a ticket to a partner, the transitions of both sides, and the lists."""

from __future__ import annotations

from chalicelib.api.models import (
    CounterpartOut,
    HistoryOut,
    OutsourceRequest,
    OutsourcingList,
    OutsourcingOut,
    OutsourcingQuery,
    OutsourcingSummary,
    PricingOut,
    ReasonBody,
    SummaryQuery,
    TermsOut,
    TicketSnapshotOut,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.money import canonical
from chalicelib.domain.outsourcing import (
    OPEN,
    Event,
    OutsourceStatus,
    Outsourcing,
    PricingType,
    Side,
    Terms,
)
from chalicelib.domain.tenants import Permission
from chalicelib.service import outsourcing as service

api = Api(__name__, "outsourcing")


def outsourcing_out(copy: Outsourcing) -> OutsourcingOut:
    """The caller's view: each side sees its own ticket id, only the lead its customer rate."""
    terms = copy.terms
    lead = copy.side is Side.LEAD
    return OutsourcingOut(
        outsourcing_id=copy.outsourcing_id,
        status=copy.status.value,
        lane=copy.lane.value,
        side=copy.side.value,
        terms=TermsOut(
            complete_by=iso_or_none(terms.complete_by),
            accept_by=iso_or_none(terms.accept_by),
            instructions=terms.instructions,
            pricing=PricingOut(
                type=terms.pricing_type.value, amount=canonical(terms.pricing_amount)
            ),
            authorized_hours=(
                canonical(terms.authorized_hours) if terms.authorized_hours is not None else None
            ),
            authorized_charges=(
                canonical(terms.authorized_charges)
                if terms.authorized_charges is not None
                else None
            ),
            bill_customer_rate=(
                canonical(terms.bill_customer_rate)
                if lead and terms.bill_customer_rate is not None
                else None
            ),
        ),
        currency=copy.currency,
        lead_ticket_id=copy.lead_ticket_id if lead else None,
        insourced_ticket_id=None if lead else copy.insourced_ticket_id,
        ticket=TicketSnapshotOut(
            number=copy.ticket.number,
            title=copy.ticket.title,
            description=copy.ticket.description,
            priority=copy.ticket.priority,
            complete_by=iso_or_none(copy.ticket.complete_by),
            organization=copy.ticket.organization,
            contact=copy.ticket.contact,
            site=copy.ticket.site,
        ),
        counterpart=CounterpartOut(
            partnership_id=copy.partnership_id,
            tenant_name=copy.receiver_name if lead else copy.lead_name,
        ),
        history=[
            HistoryOut(
                event=h.event,
                from_status=h.from_status.value if h.from_status else None,
                to_status=h.to_status.value,
                at=iso(h.at),
                by=h.by.value,
                actor=h.actor if h.by is copy.side or h.by is Side.SYSTEM else "",
                reason=h.reason,
            )
            for h in copy.history
        ],
        created_at=iso(copy.created_at),
        updated_at=iso(copy.updated_at),
    )


@api.route(
    "POST",
    "/v1/tickets/{ticket_id}/outsource",
    summary="Outsource a ticket to a service partner (status 'assigned')",
    body=OutsourceRequest,
    response=OutsourcingOut,
    status=201,
    permission=Permission.OUTSOURCE,
    errors=(422,),
)
def outsource(call: Call) -> OutsourcingOut:
    body: OutsourceRequest = call.body
    given = body.terms
    terms = Terms(
        complete_by=given.complete_by,
        accept_by=given.accept_by,
        instructions=given.instructions,
        pricing_type=PricingType(given.pricing.type),
        pricing_amount=given.pricing.amount,
        authorized_hours=given.authorized_hours,
        authorized_charges=given.authorized_charges,
        bill_customer_rate=given.bill_customer_rate,
    )
    copy = service.outsource(
        call.container.outsourcing_ports,
        call.tenant_id,
        call.params["ticket_id"],
        receivers={
            "partnership_id": body.partnership_id,
            "subcontractor_id": body.subcontractor_id,
            "network_id": body.network_id,
        },
        terms=terms,
        actor=call.actor,
        now=call.now,
    )
    return outsourcing_out(copy)


@api.route(
    "GET",
    "/v1/outsourcings",
    summary="Outsourced work (side=lead) or received work (side=receiver), newest first",
    query=OutsourcingQuery,
    response=OutsourcingList,
)
def list_outsourcings(call: Call) -> OutsourcingList:
    query: OutsourcingQuery = call.query
    page = service.list_outsourcings(
        call.container.outsourcing_ports,
        call.tenant_id,
        Side(query.side),
        OutsourceStatus(query.status) if query.status else None,
        query.limit,
        query.cursor,
    )
    return OutsourcingList(
        items=[outsourcing_out(o) for o in page.items], next_cursor=page.next_cursor
    )


@api.route(
    "GET",
    "/v1/outsourcings/summary",
    summary="Dashboard counts per status for outsourced (lead) or received (receiver) work",
    query=SummaryQuery,
    response=OutsourcingSummary,
)
def summary(call: Call) -> OutsourcingSummary:
    query: SummaryQuery = call.query
    counts = service.status_counts(
        call.container.outsourcing_ports, call.tenant_id, Side(query.side)
    )
    return OutsourcingSummary(
        side=query.side,
        counts={status.value: n for status, n in counts.items()},
        open=sum(n for status, n in counts.items() if status in OPEN),
        total=sum(counts.values()),
    )


@api.route(
    "GET",
    "/v1/outsourcings/{outsourcing_id}",
    summary="One outsourcing as this side sees it, with its history",
    response=OutsourcingOut,
)
def get_outsourcing(call: Call) -> OutsourcingOut:
    return outsourcing_out(
        service.get_outsourcing(
            call.container.outsourcing_ports, call.tenant_id, call.params["outsourcing_id"]
        )
    )


def _declare_transition(segment: str, event: Event, summary: str, with_reason: bool) -> None:
    @api.route(
        "POST",
        f"/v1/outsourcings/{{outsourcing_id}}/{segment}",
        summary=summary,
        body=ReasonBody if with_reason else None,
        response=OutsourcingOut,
        permission=Permission.OUTSOURCE,
        errors=(422,),
        name=f"transition_{event.value}",
    )
    def view(call: Call) -> OutsourcingOut:
        copy = service.transition(
            call.container.outsourcing_ports,
            call.tenant_id,
            call.params["outsourcing_id"],
            event,
            reason=call.body.reason if with_reason else None,
            actor=call.actor,
            now=call.now,
        )
        return outsourcing_out(copy)


for _segment, _event, _summary, _reason in (
    ("accept", Event.ACCEPT, "Receiver: accept (creates the insourced ticket)", False),
    ("decline", Event.DECLINE, "Receiver: decline, with a reason", True),
    ("submit-completion", Event.SUBMIT_COMPLETION, "Receiver: submit the work for approval", False),
    ("cancel", Event.CANCEL, "Lead: cancel before acceptance", False),
    ("approve", Event.APPROVE, "Lead: approve submitted work (complete)", False),
    ("reject", Event.REJECT, "Lead: reject submitted work, with a reason (back in progress)", True),
    ("complete", Event.FORCE_COMPLETE, "Lead: complete the work without a submission", False),
    ("recall", Event.RECALL, "Lead: take accepted work back, with a reason", True),
):
    _declare_transition(_segment, _event, _summary, _reason)
