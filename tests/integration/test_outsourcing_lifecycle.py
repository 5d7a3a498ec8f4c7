"""The outsourcing lifecycle over HTTP: who may outsource what, every transition by the right side
only, both copies in step, the insourced ticket and its mapping, expiry, racing transitions, and
the dashboards."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ConflictError
from chalicelib.domain.outsourcing import Event, PricingType, Terms
from chalicelib.domain.tenants import Actor
from chalicelib.domain.tickets import TicketSource, TicketStatus
from chalicelib.service import outsourcing as service
from chalicelib.service import tickets
from chalicelib.service.outsourcing import Outsource, Transition
from tests.integration.conftest import Harness, Reply, Tenant

RECEIVER_EVENTS = ("accept", "decline", "submit-completion")
LEAD_EVENTS = ("cancel", "approve", "reject", "complete", "recall")
EVENTS = RECEIVER_EVENTS + LEAD_EVENTS
WITH_REASON = frozenset({"decline", "reject", "recall"})

# How each state is reached from a fresh outsourcing, through the API.
PATHS: dict[str, tuple[str, ...]] = {
    "assigned": (),
    "in_progress": ("accept",),
    "waiting_approval": ("accept", "submit-completion"),
    "complete": ("accept", "submit-completion", "approve"),
    "declined": ("decline",),
    "canceled": ("cancel",),
    "recalled": ("accept", "recall"),
}
# The events the product's transition table allows in each state (by their own side).
LEGAL: dict[str, frozenset[str]] = {
    "assigned": frozenset({"accept", "decline", "cancel"}),
    "in_progress": frozenset({"submit-completion", "complete", "recall"}),
    "waiting_approval": frozenset({"approve", "reject", "complete"}),
}


def _history(view: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A copy's history without the actor label (each side sees only its own)."""
    return [
        (h["event"], h["from_status"], h["to_status"], h["at"], h["by"], h["reason"])
        for h in view["history"]
    ]


@dataclass
class Deal:
    """One outsourcing between a lead and its service partner, driven through the API."""

    harness: Harness
    lead: Tenant
    partner: Tenant
    partnership_id: str
    ticket: dict[str, Any]
    outsourcing_id: str

    @property
    def ticket_id(self) -> str:
        ticket_id: str = self.ticket["ticket_id"]
        return ticket_id

    def side_of(self, event: str) -> Tenant:
        return self.partner if event in RECEIVER_EVENTS else self.lead

    def other_side_of(self, event: str) -> Tenant:
        return self.lead if event in RECEIVER_EVENTS else self.partner

    def act(self, event: str, tenant: Tenant | None = None, reason: str = "No parts") -> Reply:
        body = {"reason": reason} if event in WITH_REASON else None
        return self.harness.post(
            f"/v1/outsourcings/{self.outsourcing_id}/{event}",
            (tenant or self.side_of(event)).key,
            body,
        )

    def do(self, *events: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for event in events:
            reply = self.act(event)
            assert reply.status_code == 200, (event, reply.body)
            data = reply.json
        return data

    def views(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The lead's and the receiver's copy; their status and history must agree."""
        path = f"/v1/outsourcings/{self.outsourcing_id}"
        lead, receiver = (
            self.harness.get(path, self.lead.key),
            self.harness.get(path, self.partner.key),
        )
        assert lead.status_code == 200, lead.body
        assert receiver.status_code == 200, receiver.body
        assert lead.json["status"] == receiver.json["status"]
        assert _history(lead.json) == _history(receiver.json)
        return lead.json, receiver.json

    def status(self) -> str:
        status: str = self.views()[0]["status"]
        return status

    def lead_ticket(self) -> dict[str, Any]:
        reply = self.harness.get(f"/v1/tickets/{self.ticket_id}", self.lead.key)
        assert reply.status_code == 200, reply.body
        data: dict[str, Any] = reply.json
        return data

    def insourced_ticket(self) -> dict[str, Any]:
        insourced_id = self.views()[1]["insourced_ticket_id"]
        assert insourced_id is not None
        reply = self.harness.get(f"/v1/tickets/{insourced_id}", self.partner.key)
        assert reply.status_code == 200, reply.body
        data: dict[str, Any] = reply.json
        return data


def _partners(harness: Harness) -> tuple[Tenant, Tenant, str]:
    lead, partner = harness.create_tenant("Lead IT"), harness.create_tenant("Partner IT")
    return lead, partner, harness.partner(lead, partner)


def _outsource(
    harness: Harness,
    lead: Tenant,
    partner: Tenant,
    partnership_id: str,
    *path: str,
    terms: dict[str, Any] | None = None,
    **ticket: Any,
) -> Deal:
    created = harness.create_ticket(lead, **ticket)
    outsourcing = harness.outsource(lead, created["ticket_id"], partnership_id, **(terms or {}))
    deal = Deal(harness, lead, partner, partnership_id, created, outsourcing["outsourcing_id"])
    deal.do(*path)
    return deal


def _deal(harness: Harness, *path: str, terms: dict[str, Any] | None = None, **ticket: Any) -> Deal:
    lead, partner, partnership_id = _partners(harness)
    return _outsource(harness, lead, partner, partnership_id, *path, terms=terms, **ticket)


def _outsource_with_passed_deadline(
    harness: Harness, lead: Tenant, partner: Tenant, partnership_id: str
) -> Deal:
    """An assigned outsourcing whose accept-by deadline passed a minute ago (made an hour ago)."""
    created = harness.create_ticket(lead, title="Backup failed")
    now = utcnow()
    copy = service.outsource(
        get_container().outsourcing_ports,
        Outsource(
            actor=Actor(lead.tenant_id, label="test"),
            ticket_id=created["ticket_id"],
            receivers={"partnership_id": partnership_id},
            terms=Terms(accept_by=now - timedelta(minutes=1)),
            now=now - timedelta(hours=1),
        ),
    )
    return Deal(harness, lead, partner, partnership_id, created, copy.outsourcing_id)


def _refused(reply: Reply, status: int, code: str) -> None:
    assert (reply.status_code, reply.error_code) == (status, code), reply.body


# ---------------------------------------------------------------------------------------------
# Outsourcing a ticket


def test_outsourcing_needs_the_agreement_and_the_setting(harness: Harness) -> None:
    # Given a service partner that has only insourced so far, and a ticket of its own
    lead, partner, partnership_id = _partners(harness)
    ticket = harness.create_ticket(partner)["ticket_id"]
    path = f"/v1/tickets/{ticket}/outsource"
    body = {"partnership_id": partnership_id}
    # When it outsources without the agreement, then without the setting
    _refused(harness.post(path, partner.key, body), 422, "agreement_required")
    version = harness.get("/v1/outsourcing/agreement", partner.key).json["version"]
    accepted = harness.post(
        "/v1/outsourcing/agreement/accept", partner.key, {"version": version, "accepted_by": "Al"}
    )
    assert accepted.status_code == 200, accepted.body
    _refused(harness.post(path, partner.key, body), 422, "outsourcing_disabled")
    # And a lead that switches outsourcing off cannot outsource any more
    off = harness.request(
        "PUT", "/v1/outsourcing/settings", key=lead.key, json_body={"enabled": False}
    )
    assert off.status_code == 200, off.body
    lead_ticket = harness.create_ticket(lead)["ticket_id"]
    _refused(
        harness.post(f"/v1/tickets/{lead_ticket}/outsource", lead.key, body),
        422,
        "outsourcing_disabled",
    )
    # Then nothing was outsourced
    assert harness.get("/v1/outsourcings?side=lead", lead.key).json["items"] == []
    assert harness.get("/v1/outsourcings?side=lead", partner.key).json["items"] == []


def test_outsourcing_needs_the_outsource_permission_or_higher(harness: Harness) -> None:
    lead, _, partnership_id = _partners(harness)
    keys = {
        level: harness.post("/v1/api-keys", lead.key, {"name": level, "permission": level}).json[
            "api_key"
        ]
        for level in ("none", "outsource", "partner_management")
    }
    body = {"partnership_id": partnership_id}
    refused = harness.create_ticket(lead)["ticket_id"]
    _refused(
        harness.post(f"/v1/tickets/{refused}/outsource", keys["none"], body),
        403,
        "permission_denied",
    )
    assert harness.get(f"/v1/tickets/{refused}", lead.key).json["outsourcing"] is None
    for level in ("outsource", "partner_management"):
        ticket = harness.create_ticket(lead)["ticket_id"]
        reply = harness.post(f"/v1/tickets/{ticket}/outsource", keys[level], body)
        assert reply.status_code == 201, (level, reply.body)
        assert reply.json["status"] == "assigned"


def test_outsourcing_needs_an_own_partnership_with_a_service_partner(harness: Harness) -> None:
    # Given a lead with a service partner, and two other tenants partnered with each other
    lead, partner, partnership_id = _partners(harness)
    other_lead, other_partner = harness.create_tenant(), harness.create_tenant()
    foreign = harness.partner(other_lead, other_partner)
    ticket = harness.create_ticket(lead)["ticket_id"]
    path = f"/v1/tickets/{ticket}/outsource"
    # When the lead names another tenant's partnership, an unknown or a malformed id: not found
    for unknown in (foreign, "01" + "A" * 24, "nope", ""):
        reply = harness.post(path, lead.key, {"partnership_id": unknown})
        _refused(reply, 404, "not_found")
    # When the service side names the partnership in which the other tenant is its lead
    harness.enable_outsourcing(partner)
    own = harness.create_ticket(partner)["ticket_id"]
    reply = harness.post(
        f"/v1/tickets/{own}/outsource", partner.key, {"partnership_id": partnership_id}
    )
    _refused(reply, 422, "not_a_service_partner")
    # Then nothing was outsourced, and the right partnership still works
    assert harness.get(path.removesuffix("/outsource"), lead.key).json["outsourcing"] is None
    assert harness.get("/v1/outsourcings?side=receiver", lead.key).json["items"] == []
    assert harness.post(path, lead.key, {"partnership_id": partnership_id}).status_code == 201


RECEIVER_CASES: list[tuple[dict[str, str], int, str]] = [
    ({}, 400, "validation_error"),
    ({"partnership_id": "P", "subcontractor_id": "S"}, 400, "validation_error"),
    ({"partnership_id": "P", "network_id": "N"}, 400, "validation_error"),
    ({"subcontractor_id": "S", "network_id": "N"}, 400, "validation_error"),
    ({"partnership_id": "P", "subcontractor_id": "S", "network_id": "N"}, 400, "validation_error"),
    ({"subcontractor_id": "S"}, 404, "not_found"),  # an unknown (or another lead's) one
    ({"network_id": "N"}, 404, "not_found"),  # an unknown network entry
]


def test_outsourcing_names_exactly_one_known_receiver(
    harness: Harness,
) -> None:
    lead, _, partnership_id = _partners(harness)
    ticket = harness.create_ticket(lead)["ticket_id"]
    for receivers, status, code in RECEIVER_CASES:
        body = {k: (partnership_id if v == "P" else "01" + v * 24) for k, v in receivers.items()}
        reply = harness.post(f"/v1/tickets/{ticket}/outsource", lead.key, body)
        _refused(reply, status, code)
    assert harness.get(f"/v1/tickets/{ticket}", lead.key).json["outsourcing"] is None
    assert harness.get("/v1/outsourcings?side=lead", lead.key).json["items"] == []


BAD_TERMS: list[tuple[dict[str, Any], str]] = [
    ({"pricing": {"type": "flat", "amount": -1}}, "terms.pricing.amount"),
    ({"pricing": {"type": "flat", "amount": "-0.01"}}, "terms.pricing.amount"),
    ({"pricing": {"type": "flat", "amount": "12.34567"}}, "terms.pricing.amount"),
    ({"pricing": {"type": "flat", "amount": "NaN"}}, "terms.pricing.amount"),
    ({"pricing": {"type": "weekly", "amount": 10}}, "terms.pricing.type"),
    ({"pricing": {"type": "flat", "amount": True}}, "terms.pricing.amount"),
    ({"authorized_hours": -2}, "terms.authorized_hours"),
    ({"authorized_hours": "many"}, "terms.authorized_hours"),
    ({"authorized_charges": -5}, "terms.authorized_charges"),
    ({"bill_customer_rate": "-1"}, "terms.bill_customer_rate"),
    ({"accept_by": "tomorrow"}, "terms.accept_by"),
    ({"complete_by": 1893456000}, "terms.complete_by"),
    ({"instructions": 5}, "terms.instructions"),
    ({"instructions": "x" * 8001}, "terms.instructions"),
    ({"currency": "EUR"}, "terms.currency"),
]


def test_outsourcing_refuses_malformed_terms(harness: Harness) -> None:
    lead, _, partnership_id = _partners(harness)
    ticket = harness.create_ticket(lead)["ticket_id"]
    path = f"/v1/tickets/{ticket}/outsource"
    for terms, field in BAD_TERMS:
        reply = harness.post(path, lead.key, {"partnership_id": partnership_id, "terms": terms})
        _refused(reply, 400, "validation_error")
        assert reply.json["error"]["field"] == field, terms
    reply = harness.post(path, lead.key, {"partnership_id": partnership_id, "terms": "none"})
    _refused(reply, 400, "validation_error")
    assert harness.get(f"/v1/tickets/{ticket}", lead.key).json["outsourcing"] is None


def test_outsourcing_refuses_deadlines_in_the_past_or_out_of_order(harness: Harness) -> None:
    lead, _, partnership_id = _partners(harness)
    ticket = harness.create_ticket(lead)["ticket_id"]
    path = f"/v1/tickets/{ticket}/outsource"
    now = utcnow()
    past, soon, later = (
        (now + delta).isoformat()
        for delta in (-timedelta(minutes=1), timedelta(hours=1), timedelta(days=2))
    )
    cases = [
        ({"accept_by": past}, "deadline_in_past", "terms.accept_by"),
        ({"complete_by": past}, "deadline_in_past", "terms.complete_by"),
        ({"accept_by": soon, "complete_by": past}, "deadline_in_past", "terms.complete_by"),
        ({"accept_by": later, "complete_by": soon}, "deadlines_out_of_order", "terms.accept_by"),
    ]
    for terms, code, field in cases:
        reply = harness.post(path, lead.key, {"partnership_id": partnership_id, "terms": terms})
        _refused(reply, 422, code)
        assert reply.json["error"]["field"] == field
    assert harness.get(f"/v1/tickets/{ticket}", lead.key).json["outsourcing"] is None
    # Deadlines ahead and in order are fine
    ok = harness.post(
        path,
        lead.key,
        {"partnership_id": partnership_id, "terms": {"accept_by": soon, "complete_by": later}},
    )
    assert ok.status_code == 201, ok.body


@pytest.mark.parametrize("field", ["accept_by", "complete_by"])
def test_outsourcing_refuses_a_deadline_without_a_timezone(harness: Harness, field: str) -> None:
    lead, _, partnership_id = _partners(harness)
    ticket = harness.create_ticket(lead)["ticket_id"]
    naive = (utcnow() + timedelta(days=1)).replace(tzinfo=None).isoformat(timespec="seconds")
    reply = harness.post(
        f"/v1/tickets/{ticket}/outsource",
        lead.key,
        {"partnership_id": partnership_id, "terms": {field: naive}},
    )
    _refused(reply, 400, "validation_error")
    assert reply.json["error"]["field"] == f"terms.{field}"


def test_complete_and_insourced_tickets_cannot_be_outsourced(harness: Harness) -> None:
    # Given a lead whose partner also has a service partner of its own
    deal = _deal(harness, "accept")
    third = harness.create_tenant("Third IT")
    onward = harness.partner(deal.partner, third)
    insourced = deal.views()[1]["insourced_ticket_id"]
    # When the partner outsources the ticket it received
    reply = harness.post(
        f"/v1/tickets/{insourced}/outsource", deal.partner.key, {"partnership_id": onward}
    )
    # Then it is refused, though its own tickets can be outsourced
    _refused(reply, 422, "insourced_ticket")
    own = harness.create_ticket(deal.partner)["ticket_id"]
    assert (
        harness.post(
            f"/v1/tickets/{own}/outsource", deal.partner.key, {"partnership_id": onward}
        ).status_code
        == 201
    )
    # And a complete ticket of the lead cannot be outsourced either
    done = harness.create_ticket(deal.lead, status="complete")["ticket_id"]
    reply = harness.post(
        f"/v1/tickets/{done}/outsource", deal.lead.key, {"partnership_id": deal.partnership_id}
    )
    _refused(reply, 422, "ticket_complete")
    # Nor can another tenant's ticket: it is not found
    reply = harness.post(
        f"/v1/tickets/{own}/outsource", deal.lead.key, {"partnership_id": deal.partnership_id}
    )
    _refused(reply, 404, "not_found")


def test_a_ticket_has_at_most_one_open_outsourcing(harness: Harness) -> None:
    deal = _deal(harness)
    body = {"partnership_id": deal.partnership_id}
    path = f"/v1/tickets/{deal.ticket_id}/outsource"
    for step in ((), ("accept",), ("submit-completion",)):
        deal.do(*step)
        _refused(harness.post(path, deal.lead.key, body), 409, "already_outsourced")
    assert (
        harness.get("/v1/outsourcings?side=lead", deal.lead.key).json["items"][0]["outsourcing_id"]
        == deal.outsourcing_id
    )
    assert len(harness.get("/v1/outsourcings?side=lead", deal.lead.key).json["items"]) == 1
    assert deal.lead_ticket()["outsourcing"]["outsourcing_id"] == deal.outsourcing_id


ENDINGS: list[tuple[tuple[str, ...], str, str, str, str | None]] = [
    # (path, last event, its from-status, the ending status, reason)
    (("decline",), "decline", "assigned", "declined", "No parts"),
    (("cancel",), "cancel", "assigned", "canceled", None),
    (("accept", "recall"), "recall", "in_progress", "recalled", "No parts"),
    (("accept", "submit-completion", "approve"), "approve", "waiting_approval", "complete", None),
    (("accept", "complete"), "complete", "in_progress", "complete", None),
    (("accept", "submit-completion", "complete"), "complete", "waiting_approval", "complete", None),
]


def test_every_ending_shows_on_both_sides_and_lets_the_ticket_be_outsourced_again(
    harness: Harness,
) -> None:
    lead, partner, partnership_id = _partners(harness)
    ticket = harness.create_ticket(lead)
    ended: dict[str, str] = {}
    for path, event, from_status, status, reason in ENDINGS:
        # Given the same ticket outsourced again (its earlier outsourcing has ended)
        created = harness.outsource(lead, ticket["ticket_id"], partnership_id)
        deal = Deal(harness, lead, partner, partnership_id, ticket, created["outsourcing_id"])
        assert deal.lead_ticket()["outsourcing"] == {
            "outsourcing_id": deal.outsourcing_id,
            "status": "assigned",
            "side": "lead",
        }
        # When it ends
        deal.do(*path)
        # Then both sides show the ending, with the last transition in their history
        lead_view, _ = deal.views()
        assert lead_view["status"] == status
        last = lead_view["history"][-1]
        assert (last["event"], last["from_status"], last["to_status"], last["by"]) == (
            event,
            from_status,
            status,
            "receiver" if event == "decline" else "lead",
        )
        assert last["reason"] == reason
        assert deal.lead_ticket()["outsourcing"] == {
            "outsourcing_id": deal.outsourcing_id,
            "status": status,
            "side": "lead",
        }
        if "accept" in path:
            insourced = deal.insourced_ticket()
            assert insourced["outsourcing"]["status"] == status
            assert insourced["status"] == "complete"  # default mapping of complete and recalled
        ended[deal.outsourcing_id] = status
    # And after the last ending too, the ticket can be outsourced again
    assert harness.outsource(lead, ticket["ticket_id"], partnership_id)["status"] == "assigned"
    # And outsourcing the ticket again left every ended outsourcing as it was
    for outsourcing_id, status in ended.items():
        deal = Deal(harness, lead, partner, partnership_id, ticket, outsourcing_id)
        assert deal.status() == status


def test_an_expired_outsourcing_frees_the_ticket(harness: Harness) -> None:
    lead, partner, partnership_id = _partners(harness)
    deal = _outsource_with_passed_deadline(harness, lead, partner, partnership_id)
    assert service.expire_due(get_container().outsourcing_ports, utcnow()) == 1
    assert deal.status() == "expired"
    again = harness.outsource(lead, deal.ticket_id, partnership_id)
    assert again["status"] == "assigned"
    assert deal.lead_ticket()["outsourcing"]["outsourcing_id"] == again["outsourcing_id"]
    assert deal.status() == "expired"


def test_a_ticket_whose_outsourcing_passed_its_deadline_can_be_outsourced_again(
    harness: Harness,
) -> None:
    # Given an assigned outsourcing past its accept-by deadline that nobody has touched since
    lead, partner, partnership_id = _partners(harness)
    deal = _outsource_with_passed_deadline(harness, lead, partner, partnership_id)
    # When the lead outsources the ticket again
    reply = harness.post(
        f"/v1/tickets/{deal.ticket_id}/outsource", lead.key, {"partnership_id": partnership_id}
    )
    # Then the old one has expired and the new one is assigned
    assert reply.status_code == 201, reply.body
    assert deal.status() == "expired"
    assert deal.lead_ticket()["outsourcing"]["outsourcing_id"] == reply.json["outsourcing_id"]


# ---------------------------------------------------------------------------------------------
# Transitions


def test_both_sides_see_the_same_status_and_history_after_every_transition(
    harness: Harness,
) -> None:
    # Given an outsourcing whose terms include the lead's own customer rate
    deal = _deal(
        harness,
        terms={
            "instructions": "Replace the PSU",
            "pricing": {"type": "hourly", "amount": "80"},
            "authorized_hours": "3",
            "bill_customer_rate": "987.65",
        },
    )
    expected: list[tuple[str, str | None, str, str, str | None]] = [
        ("outsource", None, "assigned", "lead", None)
    ]
    steps = [
        ("accept", "in_progress", "receiver", None),
        ("submit-completion", "waiting_approval", "receiver", None),
        ("reject", "in_progress", "lead", "Label missing"),
        ("submit-completion", "waiting_approval", "receiver", None),
        ("approve", "complete", "lead", None),
    ]
    insourced_id = None
    for event, status, by, reason in [(None, "assigned", "lead", None), *steps]:
        # When the right side takes each step
        if event is not None:
            reply = deal.act(event, reason=reason or "")
            assert reply.status_code == 200, (event, reply.body)
            assert reply.json["status"] == status
            expected.append((event.replace("-", "_"), expected[-1][2], status, by, reason))
        # Then both copies show the new status and the whole history
        lead_view, receiver_view = deal.views()
        assert lead_view["status"] == status
        assert [
            (h["event"], h["from_status"], h["to_status"], h["by"], h["reason"])
            for h in receiver_view["history"]
        ] == expected
        stamps = [h["at"] for h in lead_view["history"]]
        assert stamps == sorted(stamps)
        assert all(at.endswith("Z") for at in stamps)
        # And each side sees its own ticket only, and only the lead its customer rate
        assert (lead_view["side"], receiver_view["side"]) == ("lead", "receiver")
        assert lead_view["lead_ticket_id"] == deal.ticket_id
        assert lead_view["insourced_ticket_id"] is None
        assert receiver_view["lead_ticket_id"] is None
        if event == "accept":
            insourced_id = receiver_view["insourced_ticket_id"]
            assert insourced_id is not None
            assert reply.json["insourced_ticket_id"] == insourced_id
        assert receiver_view["insourced_ticket_id"] == insourced_id
        assert Decimal(lead_view["terms"]["bill_customer_rate"]) == Decimal("987.65")
        assert receiver_view["terms"]["bill_customer_rate"] is None
        assert receiver_view["terms"]["pricing"] == {"type": "hourly", "amount": "80.00"}
        assert deal.lead_ticket()["outsourcing"] == {
            "outsourcing_id": deal.outsourcing_id,
            "status": status,
            "side": "lead",
        }
    # And the customer rate is in no reply to the receiver, nor stored on its copy
    listed = harness.get("/v1/outsourcings?side=receiver", deal.partner.key)
    for reply in (listed, harness.get(f"/v1/outsourcings/{deal.outsourcing_id}", deal.partner.key)):
        assert "987.65" not in reply.text
        assert deal.ticket_id not in reply.text
    assert insourced_id is not None
    for reply in (
        harness.get("/v1/outsourcings?side=lead", deal.lead.key),
        harness.get(f"/v1/outsourcings/{deal.outsourcing_id}", deal.lead.key),
    ):
        assert insourced_id not in reply.text
    ports = get_container().outsourcing_ports
    assert ports.outsourcings.get(deal.partner.tenant_id, deal.outsourcing_id).terms == Terms(
        instructions="Replace the PSU",
        pricing_type=PricingType.HOURLY,
        pricing_amount=Decimal(80),
        authorized_hours=Decimal(3),
    )


@pytest.mark.parametrize("state", [*PATHS, "expired"])
def test_every_event_the_table_does_not_allow_is_an_invalid_transition(
    harness: Harness, state: str
) -> None:
    # Given an outsourcing in this state
    if state == "expired":
        lead, partner, partnership_id = _partners(harness)
        deal = _outsource_with_passed_deadline(harness, lead, partner, partnership_id)
        assert service.expire_due(get_container().outsourcing_ports, utcnow()) == 1
    else:
        deal = _deal(harness, *PATHS[state])
    lead_before, receiver_before = deal.views()
    assert lead_before["status"] == state
    # When its own side tries each event the table does not allow
    refused = [e for e in EVENTS if e not in LEGAL.get(state, frozenset())]
    for event in refused:
        _refused(deal.act(event), 409, "invalid_transition")
    # Then nothing changed on either side
    assert deal.views() == (lead_before, receiver_before)
    assert deal.lead_ticket()["outsourcing"]["status"] == state


def test_each_event_by_the_wrong_side_is_refused(harness: Harness) -> None:
    deal = _deal(harness)
    for state, path in (
        ("assigned", ()),
        ("in_progress", ("accept",)),
        ("waiting_approval", ("submit-completion",)),
    ):
        deal.do(*path)
        before = deal.views()
        for event in sorted(LEGAL[state]):
            reply = deal.act(event, tenant=deal.other_side_of(event))
            _refused(reply, 403, "wrong_side")
        assert deal.views() == before
        assert before[0]["status"] == state


def test_a_tenant_outside_the_outsourcing_finds_nothing(harness: Harness) -> None:
    # Given an outsourcing, and a third tenant partnered with the lead too
    deal = _deal(harness)
    stranger = harness.create_tenant("Stranger IT")
    harness.partner(deal.lead, stranger)
    # When the stranger reads or moves it by its id, or anyone uses an unknown id
    assert harness.get(f"/v1/outsourcings/{deal.outsourcing_id}", stranger.key).status_code == 404
    for event in EVENTS:
        _refused(deal.act(event, tenant=stranger), 404, "not_found")
    for unknown in ("01" + "B" * 24, "nope"):
        for tenant in (deal.lead, deal.partner):
            reply = harness.post(f"/v1/outsourcings/{unknown}/cancel", tenant.key)
            _refused(reply, 404, "not_found")
            _refused(harness.get(f"/v1/outsourcings/{unknown}", tenant.key), 404, "not_found")
    # Then it is still assigned, and the stranger can still not see it
    assert deal.status() == "assigned"
    for side in ("lead", "receiver"):
        assert harness.get(f"/v1/outsourcings?side={side}", stranger.key).json["items"] == []


BAD_REASONS: list[Any] = [
    None,
    {},
    {"reason": ""},
    {"reason": "   "},
    {"reason": None},
    {"reason": 7},
    {"reason": "x" * 2001},
    {"reason": "Too far", "extra": 1},
]


def test_decline_reject_and_recall_need_a_reason(harness: Harness) -> None:
    deal = _deal(harness)
    for event, path in (
        ("decline", ()),
        ("recall", ("accept",)),
        ("reject", ("submit-completion",)),
    ):
        deal.do(*path)
        before = deal.views()
        for body in BAD_REASONS:
            reply = harness.post(
                f"/v1/outsourcings/{deal.outsourcing_id}/{event}", deal.side_of(event).key, body
            )
            _refused(reply, 400, "validation_error")
            assert reply.json["error"]["field"] == (
                "extra" if body and "extra" in body else "reason"
            )
        assert deal.views() == before


def test_transitions_need_the_outsource_permission_on_both_sides(harness: Harness) -> None:
    deal = _deal(harness)

    def key(tenant: Tenant, level: str) -> str:
        made = harness.post("/v1/api-keys", tenant.key, {"name": level, "permission": level})
        api_key: str = made.json["api_key"]
        return api_key

    lead_none, partner_none = key(deal.lead, "none"), key(deal.partner, "none")
    path = f"/v1/outsourcings/{deal.outsourcing_id}"
    for tenant_key, event in ((partner_none, "accept"), (lead_none, "cancel")):
        _refused(harness.post(f"{path}/{event}", tenant_key), 403, "permission_denied")
    # A 'none' key still sees the outsourcing; an 'outsource' key may move it
    assert harness.get(path, partner_none).json["status"] == "assigned"
    assert harness.get(path, lead_none).json["status"] == "assigned"
    accepted = harness.post(f"{path}/accept", key(deal.partner, "outsource"))
    assert accepted.status_code == 200, accepted.body
    _refused(harness.post(f"{path}/complete", lead_none), 403, "permission_denied")
    completed = harness.post(f"{path}/complete", key(deal.lead, "outsource"))
    assert completed.status_code == 200, completed.body
    assert deal.status() == "complete"


# ---------------------------------------------------------------------------------------------
# The insourced ticket


def test_accept_files_the_insourced_ticket_with_the_receivers_mapping_for_that_lead(
    harness: Harness,
) -> None:
    # Given a service partner working for two leads, with a mapping for only one of them
    partner = harness.create_tenant("Partner IT")
    lead_a, lead_b = harness.create_tenant("Lead A"), harness.create_tenant("Lead B")
    partnership_a, partnership_b = (
        harness.partner(lead_a, partner),
        harness.partner(lead_b, partner),
    )
    mapped = harness.request(
        "PUT",
        f"/v1/partners/{partnership_a}/mapping",
        key=partner.key,
        json_body={
            "organization": "Lead A (billing)",
            "queue": "Field service",
            "work_type": "Onsite",
            "resource": "Kim",
            "status_map": {"in_progress": "new", "waiting_approval": "in_progress"},
        },
    )
    assert mapped.status_code == 200, mapped.body
    lead_fields: dict[str, Any] = {
        "title": "Core switch down",
        "description": "Rack 2, no link lights",
        "priority": "high",
        "complete_by": "2031-03-01T12:00:00Z",
        "organization": "Contoso",
        "contact": "Ann Lee",
        "site": "Berlin HQ",
        "queue": "Lead queue",
        "work_type": "Lead work type",
        "resource": "Lead tech",
        "billing_organization": "Lead billing",
    }
    deal_a = _outsource(harness, lead_a, partner, partnership_a, "accept", **lead_fields)
    deal_b = _outsource(harness, lead_b, partner, partnership_b, title="Laptop")
    edited = harness.patch(
        f"/v1/tickets/{deal_b.ticket_id}", lead_b.key, {"title": "Laptop screen", "priority": "low"}
    )
    assert edited.status_code == 200, edited.body
    deal_b.do("accept")
    # When the partner reads the tickets its acceptances created
    insourced_a, insourced_b = deal_a.insourced_ticket(), deal_b.insourced_ticket()
    # Then each copies the lead ticket and is filed with the mapping for its own lead
    lead_ticket = deal_a.lead_ticket()
    assert {k: insourced_a[k] for k in ("title", "description", "priority", "complete_by")} == {
        k: lead_ticket[k] for k in ("title", "description", "priority", "complete_by")
    }
    assert (insourced_a["organization"], insourced_a["contact"], insourced_a["site"]) == (
        "Contoso",
        "Ann Lee",
        "Berlin HQ",
    )
    assert insourced_a["source"] == "insourced"
    assert insourced_a["original_number"] == deal_a.ticket["number"]
    assert insourced_a["ticket_id"] != deal_a.ticket_id
    assert (
        insourced_a["queue"],
        insourced_a["work_type"],
        insourced_a["resource"],
        insourced_a["billing_organization"],
        insourced_a["status"],
    ) == ("Field service", "Onsite", "Kim", "Lead A (billing)", "new")
    assert insourced_a["outsourcing"] == {
        "outsourcing_id": deal_a.outsourcing_id,
        "status": "in_progress",
        "side": "receiver",
    }
    assert (
        insourced_b["queue"],
        insourced_b["work_type"],
        insourced_b["resource"],
        insourced_b["billing_organization"],
        insourced_b["status"],
    ) == (None, None, None, "Lead B", "in_progress")
    assert insourced_b["original_number"] == deal_b.ticket["number"]
    # (as the lead ticket reads when accepted, not when outsourced)
    assert (insourced_b["title"], insourced_b["priority"]) == ("Laptop screen", "low")
    # And the lead's tickets are untouched apart from the outsourcing
    assert lead_ticket["source"] == "local"
    assert lead_ticket["queue"] == "Lead queue"
    assert lead_ticket["outsourcing"] == {
        "outsourcing_id": deal_a.outsourcing_id,
        "status": "in_progress",
        "side": "lead",
    }


def test_the_insourced_ticket_status_follows_the_outsourcing_through_the_mapping(
    harness: Harness,
) -> None:
    # Given a mapping of every status an insourced ticket can have, set before accepting
    lead, partner, partnership_id = _partners(harness)
    mapped = harness.request(
        "PUT",
        f"/v1/partners/{partnership_id}/mapping",
        key=partner.key,
        json_body={
            "status_map": {
                "in_progress": "new",
                "waiting_approval": "in_progress",
                "complete": "waiting",
                "recalled": "new",
            }
        },
    )
    assert mapped.status_code == 200, mapped.body
    deal = _outsource(harness, lead, partner, partnership_id, "accept")
    recalled = _outsource(harness, lead, partner, partnership_id, "accept", "recall")
    # When the outsourcing moves, Then the insourced ticket's status follows the mapping
    for event, status, local in (
        (None, "in_progress", "new"),
        ("submit-completion", "waiting_approval", "in_progress"),
        ("reject", "in_progress", "new"),
        ("submit-completion", "waiting_approval", "in_progress"),
        ("approve", "complete", "waiting"),
    ):
        if event:
            deal.do(event)
        insourced = deal.insourced_ticket()
        assert (insourced["status"], insourced["outsourcing"]["status"]) == (local, status)
    insourced = recalled.insourced_ticket()
    assert (insourced["status"], insourced["outsourcing"]["status"]) == ("new", "recalled")


def test_the_receiver_completing_its_insourced_ticket_does_not_end_the_outsourcing(
    harness: Harness,
) -> None:
    deal = _deal(harness, "accept")
    insourced = deal.views()[1]["insourced_ticket_id"]
    reply = harness.patch(f"/v1/tickets/{insourced}", deal.partner.key, {"status": "complete"})
    assert reply.status_code == 200, reply.body
    assert reply.json["outsourcing"]["status"] == "in_progress"
    assert deal.status() == "in_progress"
    assert len(deal.views()[0]["history"]) == 2
    assert deal.lead_ticket()["status"] == "new"


# ---------------------------------------------------------------------------------------------
# The lead completes its ticket


@pytest.mark.parametrize(
    ("state", "after"),
    [
        ("assigned", "canceled"),
        ("in_progress", "complete"),
        ("waiting_approval", "complete"),
        ("declined", "declined"),
    ],
)
def test_completing_the_lead_ticket_ends_its_open_outsourcing(
    harness: Harness, state: str, after: str
) -> None:
    # Given an outsourcing in this state
    deal = _deal(harness, *PATHS[state])
    history = deal.views()[0]["history"]
    # When the lead sets its ticket complete
    reply = harness.patch(f"/v1/tickets/{deal.ticket_id}", deal.lead.key, {"status": "complete"})
    # Then the ticket is complete, and an open outsourcing ended with it on both sides
    assert reply.status_code == 200, reply.body
    assert reply.json["status"] == "complete"
    assert reply.json["outsourcing"] == {
        "outsourcing_id": deal.outsourcing_id,
        "status": after,
        "side": "lead",
    }
    lead_view, _ = deal.views()
    assert lead_view["status"] == after
    if after == state:
        assert lead_view["history"] == history
    else:
        last = lead_view["history"][-1]
        assert (last["event"], last["from_status"], last["to_status"], last["by"]) == (
            "ticket_completed",
            state,
            after,
            "lead",
        )
    if "accept" in PATHS[state]:
        insourced = deal.insourced_ticket()
        assert (insourced["status"], insourced["outsourcing"]["status"]) == ("complete", after)
    assert deal.lead_ticket()["status"] == "complete"


# ---------------------------------------------------------------------------------------------
# Expiry


@pytest.mark.parametrize("late", ["accept", "decline", "cancel", "complete the ticket"])
def test_an_action_after_the_accept_by_deadline_finds_the_outsourcing_expired(
    harness: Harness, late: str
) -> None:
    # Given an assigned outsourcing whose accept-by deadline has passed
    lead, partner, partnership_id = _partners(harness)
    deal = _outsource_with_passed_deadline(harness, lead, partner, partnership_id)
    # When either side acts on it
    if late == "complete the ticket":
        reply = harness.patch(f"/v1/tickets/{deal.ticket_id}", lead.key, {"status": "complete"})
        assert reply.status_code == 200, reply.body
        assert reply.json["status"] == "complete"
    else:
        _refused(deal.act(late), 409, "invalid_transition")
    # Then it expired on both sides, by the system, before the action could apply
    lead_view, _ = deal.views()
    assert lead_view["status"] == "expired"
    assert [(h["event"], h["from_status"], h["to_status"], h["by"]) for h in lead_view["history"]][
        1:
    ] == [("expire", "assigned", "expired", "system")]
    assert deal.lead_ticket()["outsourcing"]["status"] == "expired"
    assert harness.get("/v1/tickets", partner.key).json["items"] == []


def test_the_expiry_job_expires_only_assigned_outsourcings_past_their_deadline(
    harness: Harness,
) -> None:
    # Given outsourcings with an accept-by deadline a few seconds ahead, one accepted in time,
    # one with a later deadline and one without any
    lead, partner, partnership_id = _partners(harness)
    now = utcnow()
    soon, later = (now + timedelta(seconds=5)).isoformat(), (now + timedelta(hours=2)).isoformat()
    due = _outsource(harness, lead, partner, partnership_id, terms={"accept_by": soon})
    accepted = _outsource(
        harness, lead, partner, partnership_id, "accept", terms={"accept_by": soon}
    )
    pending = _outsource(harness, lead, partner, partnership_id, terms={"accept_by": later})
    open_ended = _outsource(harness, lead, partner, partnership_id)
    ports = get_container().outsourcing_ports
    # When the job runs before any deadline, nothing expires
    assert service.expire_due(ports, now) == 0
    # When it runs after the first deadline
    expired = service.expire_due(ports, now + timedelta(minutes=1))
    # Then only the assigned one past its deadline expired, on both sides
    assert expired == 1
    assert due.status() == "expired"
    assert due.views()[1]["history"][-1]["by"] == "system"
    assert due.lead_ticket()["outsourcing"]["status"] == "expired"
    assert (accepted.status(), pending.status(), open_ended.status()) == (
        "in_progress",
        "assigned",
        "assigned",
    )
    # And running it again changes nothing
    assert service.expire_due(ports, now + timedelta(minutes=1)) == 0
    assert len(due.views()[0]["history"]) == 2


# ---------------------------------------------------------------------------------------------
# Racing transitions (DynamoDB Local serialises conditional writes; moto does not)


class _WriteTogether:
    """The outsourcing repository, holding each transition's write until every racer has read
    and planned: the conditional write alone decides who wins."""

    def __init__(self, inner: Any, racers: int) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(racers, timeout=20)
        self._waited: set[int] = set()

    def apply(self, plan: Any) -> None:
        # Only a racer's first write waits for the others; a retry after losing goes straight on.
        if threading.get_ident() not in self._waited:
            self._waited.add(threading.get_ident())
            self._barrier.wait()
        self._inner.apply(plan)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _race(deal: Deal, *moves: tuple[Event, str | None]) -> list[str]:
    """Run the transitions at the same moment; each outcome is 'won' or the ConflictError code."""
    container_ports = get_container().outsourcing_ports
    ports = dataclasses.replace(
        container_ports, outsourcings=_WriteTogether(container_ports.outsourcings, len(moves))
    )
    start = threading.Barrier(len(moves))
    outcomes: list[str] = ["" for _ in moves]

    def move(event: Event, reason: str | None) -> None:
        now = utcnow()
        if event is Event.TICKET_COMPLETED:  # the lead sets its ticket complete
            tickets.update_ticket(
                ports,
                Actor(deal.lead.tenant_id, label="racer"),
                deal.ticket_id,
                {"status": TicketStatus.COMPLETE},
                now,
            )
            return
        side = deal.partner if event in (Event.ACCEPT, Event.SUBMIT_COMPLETION) else deal.lead
        service.transition(
            ports,
            Transition(
                actor=Actor(side.tenant_id, label="racer"),
                outsourcing_id=deal.outsourcing_id,
                event=event,
                now=now,
                reason=reason,
            ),
        )

    def run(index: int) -> None:
        start.wait()
        try:
            move(*moves[index])
            outcomes[index] = "won"
        except ConflictError as exc:
            outcomes[index] = f"conflict:{exc.code}"
        except Exception as exc:  # any other outcome fails the test, with its cause
            outcomes[index] = f"error:{exc!r}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(moves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _copies_agree(deal: Deal) -> str:
    ports = get_container().outsourcing_ports
    lead = ports.outsourcings.get(deal.lead.tenant_id, deal.outsourcing_id)
    receiver = ports.outsourcings.get(deal.partner.tenant_id, deal.outsourcing_id)
    assert lead.status is receiver.status
    assert lead.history == receiver.history
    ticket = ports.tickets.get(deal.lead.tenant_id, deal.ticket_id)
    assert ticket.outsourcing_status is lead.status
    return lead.status.value


def _insourced_tickets(deal: Deal) -> list[str]:
    ports = get_container().outsourcing_ports
    page = ports.tickets.list(
        deal.partner.tenant_id, status=None, queue=None, limit=100, cursor=None
    )
    return [
        t.ticket_id
        for t in page.items
        if t.source is TicketSource.INSOURCED and t.outsourcing_id == deal.outsourcing_id
    ]


ROUNDS = 3


def test_racing_accept_and_cancel_have_one_winner_and_at_most_one_insourced_ticket(
    race_harness: Harness,
) -> None:
    harness = race_harness
    lead, partner, partnership_id = _partners(harness)
    for _ in range(ROUNDS):
        # Given an assigned outsourcing
        deal = _outsource(harness, lead, partner, partnership_id)
        # When the receiver accepts while the lead cancels
        outcomes = _race(deal, (Event.ACCEPT, None), (Event.CANCEL, None))
        # Then exactly one wins, both copies agree, and a ticket exists only if accept won
        assert sorted(outcomes) == ["conflict:invalid_transition", "won"], outcomes
        status = _copies_agree(deal)
        insourced = _insourced_tickets(deal)
        if outcomes[0] == "won":
            assert status == "in_progress"
            assert insourced == [deal.views()[1]["insourced_ticket_id"]]
        else:
            assert status == "canceled"
            assert insourced == []
        assert len(deal.views()[0]["history"]) == 2


def test_racing_accept_and_lead_ticket_completion_never_refuse_the_completion(
    race_harness: Harness,
) -> None:
    harness = race_harness
    lead, partner, partnership_id = _partners(harness)
    for _ in range(ROUNDS):
        # Given an assigned outsourcing
        deal = _outsource(harness, lead, partner, partnership_id)
        # When the receiver accepts while the lead sets its ticket complete
        outcomes = _race(deal, (Event.ACCEPT, None), (Event.TICKET_COMPLETED, None))
        # Then the completion always succeeds: either it came first (the outsourcing is
        # canceled and the accept refused) or it follows the accept (the work is complete)
        status = _copies_agree(deal)
        lead_ticket = deal.lead_ticket()
        assert outcomes[1] == "won", outcomes
        assert lead_ticket["status"] == "complete"
        if outcomes[0] == "won":
            assert status == "complete"
            assert len(_insourced_tickets(deal)) == 1
        else:
            assert outcomes[0] == "conflict:invalid_transition"
            assert status == "canceled"
            assert _insourced_tickets(deal) == []


def test_racing_accepts_create_one_insourced_ticket(race_harness: Harness) -> None:
    harness = race_harness
    lead, partner, partnership_id = _partners(harness)
    for _ in range(ROUNDS):
        deal = _outsource(harness, lead, partner, partnership_id)
        outcomes = _race(deal, (Event.ACCEPT, None), (Event.ACCEPT, None))
        assert sorted(outcomes) == ["conflict:invalid_transition", "won"], outcomes
        assert _copies_agree(deal) == "in_progress"
        assert _insourced_tickets(deal) == [deal.views()[1]["insourced_ticket_id"]]
        assert len(deal.views()[0]["history"]) == 2


def test_racing_approve_and_reject_have_one_winner(race_harness: Harness) -> None:
    harness = race_harness
    lead, partner, partnership_id = _partners(harness)
    for _ in range(ROUNDS):
        deal = _outsource(harness, lead, partner, partnership_id, "accept", "submit-completion")
        outcomes = _race(deal, (Event.APPROVE, None), (Event.REJECT, "Label missing"))
        assert sorted(outcomes) == ["conflict:invalid_transition", "won"], outcomes
        status = _copies_agree(deal)
        assert status == ("complete" if outcomes[0] == "won" else "in_progress")
        insourced = deal.insourced_ticket()
        assert insourced["outsourcing"]["status"] == status
        assert len(deal.views()[0]["history"]) == 4


# ---------------------------------------------------------------------------------------------
# Dashboards


def _all_pages(harness: Harness, tenant: Tenant, query: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        path = f"/v1/outsourcings?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        reply = harness.get(path, tenant.key)
        assert reply.status_code == 200, reply.body
        items = reply.json["items"]
        assert len(items) <= limit
        pages.append([o["outsourcing_id"] for o in items])
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10


def test_dashboards_list_each_sides_copies_newest_first_by_status_page_by_page(
    harness: Harness,
) -> None:
    # Given a lead with three outsourcings to a partner, and another lead using the same partner
    lead, partner, partnership_id = _partners(harness)
    other = harness.create_tenant("Other lead")
    other_partnership = harness.partner(other, partner)
    first = _outsource(harness, lead, partner, partnership_id)
    second = _outsource(harness, lead, partner, partnership_id, "accept")
    third = _outsource(harness, lead, partner, partnership_id, "decline")
    foreign = _outsource(harness, other, partner, other_partnership)
    mine = [third.outsourcing_id, second.outsourcing_id, first.outsourcing_id]

    def ids(tenant: Tenant, query: str) -> list[str]:
        reply = harness.get(f"/v1/outsourcings?{query}", tenant.key)
        assert reply.status_code == 200, reply.body
        return [o["outsourcing_id"] for o in reply.json["items"]]

    # When each tenant lists its outsourced and its received work
    # Then each sees its own copies only, newest first
    assert ids(lead, "side=lead") == mine
    assert ids(lead, "side=receiver") == []
    assert ids(other, "side=lead") == [foreign.outsourcing_id]
    assert ids(partner, "side=receiver") == [foreign.outsourcing_id, *mine]
    assert ids(partner, "side=lead") == []
    for item in harness.get("/v1/outsourcings?side=receiver", partner.key).json["items"]:
        assert item["side"] == "receiver"
        assert item["lead_ticket_id"] is None
    # And the status filter picks the copies in that status on each side
    assert ids(lead, "side=lead&status=assigned") == [first.outsourcing_id]
    assert ids(lead, "side=lead&status=in_progress") == [second.outsourcing_id]
    assert ids(lead, "side=lead&status=declined") == [third.outsourcing_id]
    assert ids(lead, "side=lead&status=complete") == []
    assert ids(partner, "side=receiver&status=assigned") == [
        foreign.outsourcing_id,
        first.outsourcing_id,
    ]
    assert ids(other, "side=lead&status=in_progress") == []
    # And pages of one or two hold the same list, in order
    for limit in (1, 2):
        pages = _all_pages(harness, lead, "side=lead", limit)
        assert [i for page in pages for i in page] == mine
        assert all(pages[:-1])
    pages = _all_pages(harness, partner, "side=receiver&status=assigned", 1)
    assert [i for page in pages for i in page] == [foreign.outsourcing_id, first.outsourcing_id]
    # And a cursor from one tenant's list does not open another tenant's
    cursor = harness.get("/v1/outsourcings?side=lead&limit=1", lead.key).json["next_cursor"]
    for tenant, query in ((other, "side=lead"), (partner, "side=receiver")):
        reply = harness.get(f"/v1/outsourcings?{query}&limit=1&cursor={cursor}", tenant.key)
        _refused(reply, 400, "validation_error")


# ---------------------------------------------------------------------------------------------
# Deactivated partnerships


@pytest.mark.parametrize("deactivated_by", ["lead", "partner"])
def test_open_outsourcings_run_to_their_end_after_the_partnership_is_deactivated(
    harness: Harness, deactivated_by: str
) -> None:
    # Given an assigned outsourcing to a partner whose mapping files work in a queue
    lead, partner, partnership_id = _partners(harness)
    mapped = harness.request(
        "PUT",
        f"/v1/partners/{partnership_id}/mapping",
        key=partner.key,
        json_body={"queue": "Lead IT work"},
    )
    assert mapped.status_code == 200, mapped.body
    deal = _outsource(harness, lead, partner, partnership_id)
    declined = _outsource(harness, lead, partner, partnership_id)
    # When either side deactivates the partnership
    by = lead if deactivated_by == "lead" else partner
    reply = harness.post(f"/v1/partners/{partnership_id}/deactivate", by.key)
    assert reply.status_code == 200, reply.body
    # Then no new outsourcing is possible
    ticket = harness.create_ticket(lead)["ticket_id"]
    _refused(
        harness.post(
            f"/v1/tickets/{ticket}/outsource", lead.key, {"partnership_id": partnership_id}
        ),
        422,
        "partnership_inactive",
    )
    # But the open ones still move to their end, filed with the mapping
    deal.do("accept")
    assert deal.insourced_ticket()["queue"] == "Lead IT work"
    deal.do("submit-completion", "approve")
    assert deal.status() == "complete"
    assert deal.insourced_ticket()["status"] == "complete"
    declined.do("decline")
    assert declined.status() == "declined"


def test_completing_the_ticket_needs_the_outsource_permission_when_it_ends_an_outsourcing(
    harness: Harness,
) -> None:
    # Given an assigned outsourcing, and a key with no outsourcing permission
    lead, _, partnership_id = _partners(harness)
    ticket = harness.create_ticket(lead)["ticket_id"]
    harness.outsource(lead, ticket, partnership_id)
    weak = harness.post("/v1/api-keys", lead.key, {"name": "tech", "permission": "none"})
    weak_key = weak.json["api_key"]
    # When that key completes the ticket it is refused and nothing changes
    refused = harness.patch(f"/v1/tickets/{ticket}", weak_key, {"status": "complete"})
    assert refused.status_code == 403
    current = harness.get(f"/v1/tickets/{ticket}", lead.key).json
    assert current["status"] != "complete"
    assert current["outsourcing"]["status"] == "assigned"
    # And a key allowed to outsource may
    done = harness.patch(f"/v1/tickets/{ticket}", lead.key, {"status": "complete"})
    assert done.status_code == 200
    assert done.json["outsourcing"]["status"] == "canceled"
