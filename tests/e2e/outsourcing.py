"""Two tenants set up for outsourcing over HTTP, on a running local stack."""

from __future__ import annotations

from dataclasses import dataclass

from tests.e2e.harness import StackProcess


@dataclass
class OutsourcedTicket:
    lead_key: str
    partner_key: str
    lead_ticket_id: str
    insourced_ticket_id: str
    outsourcing_id: str


def _ok(reply: object, status: int = 200) -> dict[str, object]:
    code = getattr(reply, "status_code", None)
    assert code == status, getattr(reply, "text", reply)
    data: dict[str, object] = reply.json()  # type: ignore[attr-defined]
    return data


def outsource_and_accept(stack: StackProcess, title: str = "Core switch down") -> OutsourcedTicket:
    """Lead invites partner, partner accepts; lead outsources a ticket, partner accepts it."""
    _, lead = stack.create_tenant("Lead Services")
    _, partner = stack.create_tenant("Partner Services")
    version = _ok(stack.call("GET", "/v1/outsourcing/agreement", lead))["version"]
    _ok(
        stack.call(
            "POST",
            "/v1/outsourcing/agreement/accept",
            lead,
            {"version": version, "accepted_by": "Lead Admin"},
        )
    )
    _ok(stack.call("PUT", "/v1/outsourcing/settings", lead, {"enabled": True}))
    invitation = _ok(
        stack.call(
            "POST",
            "/v1/partner-invitations",
            lead,
            {"email": "ops@partner.example.com", "company_name": "Partner Services"},
        ),
        201,
    )
    partnership = _ok(
        stack.call(
            "POST", "/v1/partner-invitations/accept", partner, {"token": invitation["token"]}
        ),
        201,
    )["partnership_id"]
    ticket = _ok(stack.call("POST", "/v1/tickets", lead, {"title": title}), 201)
    outsourcing = _ok(
        stack.call(
            "POST",
            f"/v1/tickets/{ticket['ticket_id']}/outsource",
            lead,
            {"partnership_id": partnership, "terms": {"instructions": "Replace the switch"}},
        ),
        201,
    )
    accepted = _ok(
        stack.call("POST", f"/v1/outsourcings/{outsourcing['outsourcing_id']}/accept", partner)
    )
    return OutsourcedTicket(
        lead_key=lead,
        partner_key=partner,
        lead_ticket_id=str(ticket["ticket_id"]),
        insourced_ticket_id=str(accepted["insourced_ticket_id"]),
        outsourcing_id=str(outsourcing["outsourcing_id"]),
    )
