"""Helpers for the fee tests: subcontractor work accepted without the portal (both copies
written through the repository, as the portal's use cases will), fee plans, and bills."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from chalicelib.container import get_container
from chalicelib.domain.ids import new_id
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.ports import TicketChange, TransitionPlan
from tests.integration.conftest import OPERATOR_KEY, Harness, Reply, Tenant

S = OutsourceStatus
NOVEMBER_DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
# Outsourcings name the lead's subcontractor relationship once the portal's lane exists.
NAMES_RELATIONSHIP = "subcontractor_id" in {f.name for f in dataclasses.fields(Outsourcing)}


@dataclasses.dataclass
class Work:
    """Both copies of one outsourcing of a lead ticket."""

    lead: Outsourcing
    receiver: Outsourcing

    @property
    def outsourcing_id(self) -> str:
        return self.lead.outsourcing_id

    @property
    def subcontractor_id(self) -> str | None:
        found: str | None = getattr(self.lead, "subcontractor_id", None)
        return found


def assign(
    harness: Harness,
    lead: Tenant,
    *,
    company_name: str = "Field Techs Ltd",
    lane: Lane = Lane.SUBCONTRACTOR,
    ticket_id: str | None = None,
) -> Work:
    """A new outsourcing of a (new) lead ticket to a company, status ``assigned``."""
    container = get_container()
    ticket_id = ticket_id or harness.create_ticket(lead)["ticket_id"]
    ticket = container.tickets.get(lead.tenant_id, ticket_id)
    company_id = new_id()
    entry = HistoryEntry(
        event="outsource", from_status=None, to_status=S.ASSIGNED, at=NOVEMBER_DAY, by=Side.LEAD
    )
    copy = Outsourcing(
        owner_id=lead.tenant_id,
        side=Side.LEAD,
        outsourcing_id=new_id(),
        lane=lane,
        status=S.ASSIGNED,
        lead_tenant_id=lead.tenant_id,
        lead_ticket_id=ticket_id,
        receiver_id=company_id,
        partnership_id=new_id() if lane is Lane.PARTNER else None,
        terms=Terms(instructions="Replace the switch"),
        currency=ticket.currency,
        ticket=TicketSnapshot(number=ticket.number, title=ticket.title),
        lead_name=lead.name,
        receiver_name=company_name,
        created_at=NOVEMBER_DAY,
        updated_at=NOVEMBER_DAY,
        history=(entry,),
    )
    if NAMES_RELATIONSHIP and lane is Lane.SUBCONTRACTOR:
        copy = dataclasses.replace(copy, subcontractor_id=new_id())  # type: ignore[call-arg]
    receiver = dataclasses.replace(copy, owner_id=company_id, side=Side.RECEIVER)
    container.outsourcings.create(copy, receiver, ticket)
    return Work(copy, receiver)


def move(work: Work, expected: OutsourceStatus, new: OutsourceStatus, at: datetime) -> None:
    """Move both copies, as a transition does (the stream then carries the change)."""
    container = get_container()
    copies = tuple(
        container.outsourcings.get(c.owner_id, c.outsourcing_id) for c in (work.lead, work.receiver)
    )
    entry = HistoryEntry(
        event="e", from_status=expected, to_status=new, at=at, by=Side.RECEIVER, actor="tech"
    )
    ticket = container.tickets.get(work.lead.lead_tenant_id, work.lead.lead_ticket_id)
    container.outsourcings.apply(
        TransitionPlan(
            outsourcing_id=work.outsourcing_id,
            copies=copies,
            expected=expected,
            new_status=new,
            entry=entry,
            ticket_changes=[TicketChange(ticket=ticket, changes={"outsourcing_status": new})],
        )
    )


def accept(work: Work, at: datetime = NOVEMBER_DAY) -> None:
    """The company accepts the work (what the portal's accept will do to both copies)."""
    move(work, S.ASSIGNED, S.IN_PROGRESS, at)


def set_plan(harness: Harness, tenant: Tenant, amount: Any, currency: str) -> Reply:
    return harness.request(
        "PUT",
        f"/v1/admin/tenants/{tenant.tenant_id}/fee-plan",
        key=OPERATOR_KEY,
        json_body={"amount": amount, "currency": currency},
    )


def bill(harness: Harness, tenant: Tenant, month: str = "2026-11", query: str = "") -> Reply:
    """The operator's billing of one tenant's month (JSON unless ``query`` says csv)."""
    path = f"/v1/billing/fees?tenant_id={tenant.tenant_id}&month={month}{query}"
    return harness.get(path, OPERATOR_KEY)


def whole_bill(harness: Harness, tenant: Tenant, month: str = "2026-11") -> list[dict[str, Any]]:
    """Every fee of the month on the operator's bill, one small page at a time."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        reply = bill(harness, tenant, month, f"&limit=2&cursor={cursor}" if cursor else "&limit=2")
        assert reply.status_code == 200, reply.body
        found.extend(reply.json["items"])
        cursor = reply.json["next_cursor"]
        if not cursor:
            return found
