"""The tenants of a load run, set up over HTTP on the running stack.

Each of the N lead tenants gets a partner tenant (invitation and acceptance) and a
subcontractor company whose admin activates the emailed link and signs in to the portal. Each
lead outsources one ticket to its partner (accepted over the API) and one to its company
(accepted in the portal): two lanes per tenant, every one synchronized both ways.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from tests.e2e.harness import StackProcess
from tests.load.clients import Api, Portal
from tests.load.metrics import Recorder

PASSWORD = "Correct-Horse-42"
Side = Literal["lead", "receiver"]


@dataclass
class Lane:
    """One outsourcing and the ticket on each side of it."""

    name: str  # "partner 3" / "portal 3"
    kind: Literal["partner", "portal"]
    outsourcing_id: str
    lead: Api
    lead_ticket_id: str
    partner: Api | None = None  # the partner lane's receiver
    insourced_ticket_id: str = ""
    portal: Portal | None = None  # the portal lane's receiver


@dataclass
class Tenant:
    index: int
    lead: Api
    partner: Api
    portal: Portal
    partner_lane: Lane
    portal_lane: Lane

    @property
    def lanes(self) -> list[Lane]:
        return [self.partner_lane, self.portal_lane]


def _new_tenant(stack: StackProcess, name: str, recorder: Recorder) -> Api:
    tenant_id, key = stack.create_tenant(name)
    assert tenant_id
    return Api(stack.base_url, key, recorder)


def _enable_outsourcing(lead: Api) -> None:
    version = lead.ok("GET", "/v1/outsourcing/agreement")["version"]
    lead.ok(
        "POST",
        "/v1/outsourcing/agreement/accept",
        {"version": version, "accepted_by": "Load Admin"},
    )
    lead.ok("PUT", "/v1/outsourcing/settings", {"enabled": True})


def _ticket(lead: Api, title: str) -> str:
    ticket = lead.ok("POST", "/v1/tickets", {"title": title, "site": "Depot 1"}, status=201)
    return str(ticket["ticket_id"])


def set_up_tenant(stack: StackProcess, index: int, recorder: Recorder) -> Tenant:
    """One lead, its partner and its subcontractor company, and a lane to each, accepted."""
    lead = _new_tenant(stack, f"Lead {index}", recorder)
    partner = _new_tenant(stack, f"Partner {index}", recorder)
    _enable_outsourcing(lead)
    invitation = lead.ok(
        "POST",
        "/v1/partner-invitations",
        {"email": f"ops{index}@partner.example.com", "company_name": f"Partner {index}"},
        status=201,
    )
    partnership = partner.ok(
        "POST", "/v1/partner-invitations/accept", {"token": invitation["token"]}, status=201
    )["partnership_id"]
    terms = {"instructions": "Load test", "pricing": {"type": "hourly", "amount": "80"}}

    ticket_id = _ticket(lead, f"Partner lane {index}")
    oid = lead.ok(
        "POST",
        "/v1/tickets/{ticket_id}/outsource",
        {"partnership_id": partnership, "terms": terms},
        status=201,
        ticket_id=ticket_id,
    )["outsourcing_id"]
    accepted = partner.ok("POST", "/v1/outsourcings/{oid}/accept", oid=oid)
    partner_lane = Lane(
        f"partner {index}",
        "partner",
        oid,
        lead,
        ticket_id,
        partner=partner,
        insourced_ticket_id=str(accepted["insourced_ticket_id"]),
    )

    email = f"admin{index}@techs-{uuid.uuid4().hex[:8]}.example"
    company = lead.ok(
        "POST",
        "/v1/subcontractors",
        {"company_name": f"Techs {index}", "admin_email": email},
        status=201,
    )
    portal = Portal(stack.base_url, recorder)
    portal.activate_and_sign_in(company["activation_url"], email, PASSWORD)
    ticket_id = _ticket(lead, f"Portal lane {index}")
    oid = lead.ok(
        "POST",
        "/v1/tickets/{ticket_id}/outsource",
        {"subcontractor_id": company["subcontractor_id"], "terms": terms},
        status=201,
        ticket_id=ticket_id,
    )["outsourcing_id"]
    assert portal.get("/portal/tickets/{oid}", oid=oid).status_code == 200
    assert portal.post("/portal/tickets/{oid}/accept", {}, oid=oid).status_code == 303
    portal_lane = Lane(f"portal {index}", "portal", oid, lead, ticket_id, portal=portal)
    return Tenant(index, lead, partner, portal, partner_lane, portal_lane)
