"""Outsourcing to a partner end to end in process: lifecycle and synchronisation."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Harness, Tenant


def _setup(harness: Harness, **ticket: Any) -> tuple[Tenant, Tenant, dict[str, Any], str]:
    lead, partner = harness.create_tenant("Lead IT"), harness.create_tenant("Partner IT")
    partnership = harness.partner(lead, partner)
    created = harness.create_ticket(lead, **ticket)
    return lead, partner, created, partnership


def _items(harness: Harness, tenant: Tenant, ticket_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = harness.get(f"/v1/tickets/{ticket_id}/items", tenant.key).json[
        "items"
    ]
    return items


def test_outsource_accept_and_notes_travel_both_ways(harness: Harness) -> None:
    # Given a lead ticket with an earlier public and an internal note, outsourced to a partner
    lead, partner, ticket, partnership = _setup(
        harness, title="Switch down", organization="Contoso", site="Berlin"
    )
    lead_ticket = ticket["ticket_id"]
    harness.post(f"/v1/tickets/{lead_ticket}/notes", lead.key, {"text": "Customer called"})
    harness.post(
        f"/v1/tickets/{lead_ticket}/notes", lead.key, {"text": "Pays late", "internal": True}
    )
    outsourcing = harness.outsource(
        lead,
        lead_ticket,
        partnership,
        instructions="Replace it",
        pricing={"type": "hourly", "amount": "80"},
    )
    assert outsourcing["status"] == "assigned"
    oid = outsourcing["outsourcing_id"]
    # When the partner accepts
    accepted = harness.post(f"/v1/outsourcings/{oid}/accept", partner.key)
    assert accepted.status_code == 200, accepted.body
    insourced_id = accepted.json["insourced_ticket_id"]
    assert accepted.json["lead_ticket_id"] is None
    insourced = harness.get(f"/v1/tickets/{insourced_id}", partner.key).json
    assert insourced["source"] == "insourced"
    assert insourced["original_number"] == ticket["number"]
    assert insourced["organization"] == "Contoso"
    assert insourced["status"] == "in_progress"
    harness.pump.drain()
    # Then the earlier public note reached the partner, the internal one did not
    partner_items = _items(harness, partner, insourced_id)
    assert [(i["text"], i["origin"], i["read_only"]) for i in partner_items] == [
        ("Customer called", "partner", True)
    ]
    # When both sides add notes while in progress
    harness.post(f"/v1/tickets/{insourced_id}/notes", partner.key, {"text": "On site"})
    harness.post(f"/v1/tickets/{lead_ticket}/notes", lead.key, {"text": "Key at reception"})
    harness.post(
        f"/v1/tickets/{insourced_id}/time-entries",
        partner.key,
        {"date": "2026-11-24", "hours_worked": "2.5"},
    )
    harness.pump.drain()
    lead_items = _items(harness, lead, lead_ticket)
    texts = {i.get("text"): i for i in lead_items if i["kind"] == "note"}
    assert texts["On site"]["internal"] is True
    assert texts["On site"]["read_only"] is True
    assert any(i["kind"] == "time_entry" and i["origin"] == "partner" for i in lead_items)
    partner_texts = [i.get("text") for i in _items(harness, partner, insourced_id)]
    assert "Key at reception" in partner_texts
    # When the partner submits and the lead approves
    assert harness.post(f"/v1/outsourcings/{oid}/submit-completion", partner.key).status_code == 200
    approved = harness.post(f"/v1/outsourcings/{oid}/approve", lead.key)
    assert approved.status_code == 200, approved.body
    assert approved.json["status"] == "complete"
    harness.pump.drain()
    # Then a cost charge sums the partner's time
    charges = [i for i in _items(harness, lead, lead_ticket) if i["kind"] == "charge"]
    assert len(charges) == 1
    assert charges[0]["quantity"] == "2.5"
    assert charges[0]["unit_cost"] == "80.00"
    assert charges[0]["billable"] is False
    lead_summary = harness.get("/v1/outsourcings/summary?side=lead", lead.key).json
    assert lead_summary["counts"]["complete"] == 1
    assert lead_summary["open"] == 0
    assert lead_summary["total"] == 1
    received = harness.get("/v1/outsourcings/summary?side=receiver", partner.key).json
    assert received["counts"]["complete"] == 1
    assert harness.get("/v1/outsourcings/summary?side=receiver", lead.key).json["total"] == 0
    history = harness.get(f"/v1/outsourcings/{oid}", lead.key).json["history"]
    assert [h["to_status"] for h in history] == [
        "assigned",
        "in_progress",
        "waiting_approval",
        "complete",
    ]


def test_an_open_outsourcing_keeps_syncing_after_the_partnership_ends(harness: Harness) -> None:
    # Given work accepted by a partner, and the partnership then deactivated by the partner
    lead, partner, ticket, partnership = _setup(harness)
    oid = harness.outsource(lead, ticket["ticket_id"], partnership)["outsourcing_id"]
    insourced_id = harness.post(f"/v1/outsourcings/{oid}/accept", partner.key).json[
        "insourced_ticket_id"
    ]
    assert harness.post(f"/v1/partners/{partnership}/deactivate", partner.key).status_code == 200
    # When both sides keep writing
    harness.post(f"/v1/tickets/{ticket['ticket_id']}/notes", lead.key, {"text": "from lead"})
    harness.post(f"/v1/tickets/{insourced_id}/notes", partner.key, {"text": "from partner"})
    harness.pump.drain()
    # Then the notes still travel until the work ends
    partner_texts = {i.get("text") for i in _items(harness, partner, insourced_id)}
    lead_texts = {i.get("text") for i in _items(harness, lead, ticket["ticket_id"])}
    assert partner_texts == {"from lead", "from partner"}
    assert lead_texts == {"from lead", "from partner"}
