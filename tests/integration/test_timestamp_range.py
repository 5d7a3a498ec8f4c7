"""A time whose UTC value is outside years 1 to 9998 is a 400 naming the field, and never stored:
stored, it could not be formatted back, and every list and read showing it would fail."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Harness, Reply, Tenant

LAST_ACCEPTED = "9998-12-31T23:59:59Z"
REFUSED = [
    "9999-01-01T00:00:00+00:00",
    "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
    "0001-01-01T00:30:00+01:00",  # year 0 in UTC
]


def _assert_refused(reply: Reply, field: str) -> None:
    assert reply.status_code == 400, reply.body
    assert reply.json["error"]["code"] == "validation_error"
    assert reply.json["error"]["field"] == field


def _assert_lists_and_reads_answer(harness: Harness, *tenants: Tenant) -> None:
    for tenant in tenants:
        tickets = harness.get("/v1/tickets", tenant.key)
        assert tickets.status_code == 200, tickets.body
        for ticket in tickets.json["items"]:
            read = harness.get(f"/v1/tickets/{ticket['ticket_id']}", tenant.key)
            assert read.status_code == 200, read.body
        for side in ("lead", "receiver"):
            listed = harness.get(f"/v1/outsourcings?side={side}", tenant.key)
            assert listed.status_code == 200, listed.body
            for outsourcing in listed.json["items"]:
                read = harness.get(f"/v1/outsourcings/{outsourcing['outsourcing_id']}", tenant.key)
                assert read.status_code == 200, read.body


def test_the_last_storable_time_is_kept_on_tickets(harness: Harness) -> None:
    # Given a tenant
    tenant = harness.create_tenant()
    # When a ticket is created, and another edited, with the last accepted time
    created = harness.create_ticket(tenant, complete_by=LAST_ACCEPTED)
    edited = harness.patch(
        f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}",
        tenant.key,
        {"complete_by": LAST_ACCEPTED},
    )
    # Then both keep it, and the list and reads show it
    assert created["complete_by"] == "9998-12-31T23:59:59.000Z"
    assert edited.status_code == 200, edited.body
    assert edited.json["complete_by"] == "9998-12-31T23:59:59.000Z"
    listed = harness.get("/v1/tickets", tenant.key).json["items"]
    assert [t["complete_by"] for t in listed] == ["9998-12-31T23:59:59.000Z"] * 2
    _assert_lists_and_reads_answer(harness, tenant)


@pytest.mark.parametrize("value", REFUSED)
def test_a_ticket_with_an_unstorable_time_is_refused_and_not_created(
    harness: Harness, value: str
) -> None:
    # Given a tenant
    tenant = harness.create_tenant()
    # When it creates a ticket due at that time
    reply = harness.post("/v1/tickets", tenant.key, {"title": "Far away", "complete_by": value})
    # Then it is a 400 naming the field, and no ticket exists
    _assert_refused(reply, "complete_by")
    assert harness.get("/v1/tickets", tenant.key).json["items"] == []
    _assert_lists_and_reads_answer(harness, tenant)


@pytest.mark.parametrize("value", REFUSED)
def test_a_ticket_edit_to_an_unstorable_time_is_refused_and_changes_nothing(
    harness: Harness, value: str
) -> None:
    # Given a ticket due at a normal time
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant, complete_by="2026-12-01T17:00:00Z")
    # When it is edited to be due at that time
    reply = harness.patch(
        f"/v1/tickets/{ticket['ticket_id']}", tenant.key, {"complete_by": value, "title": "New"}
    )
    # Then it is a 400 naming the field, and the ticket is as it was
    _assert_refused(reply, "complete_by")
    read = harness.get(f"/v1/tickets/{ticket['ticket_id']}", tenant.key).json
    assert (read["title"], read["complete_by"]) == (ticket["title"], "2026-12-01T17:00:00.000Z")
    assert read["version"] == ticket["version"]
    _assert_lists_and_reads_answer(harness, tenant)


def test_outsourcing_terms_take_the_last_storable_time(harness: Harness) -> None:
    # Given a lead with a service partner
    lead, partner = harness.create_tenant(), harness.create_tenant()
    partnership = harness.partner(lead, partner)
    ticket = harness.create_ticket(lead)
    # When it outsources a ticket with both deadlines at the last accepted time
    created = harness.outsource(
        lead, ticket["ticket_id"], partnership, complete_by=LAST_ACCEPTED, accept_by=LAST_ACCEPTED
    )
    # Then both sides list and read it with those deadlines
    assert created["terms"]["accept_by"] == "9998-12-31T23:59:59.000Z"
    received = harness.get("/v1/outsourcings?side=receiver", partner.key).json["items"]
    assert [o["outsourcing_id"] for o in received] == [created["outsourcing_id"]]
    _assert_lists_and_reads_answer(harness, lead, partner)


@pytest.mark.parametrize("term", ["complete_by", "accept_by"])
@pytest.mark.parametrize("value", REFUSED)
def test_outsourcing_terms_with_an_unstorable_time_are_refused_and_nothing_travels(
    harness: Harness, term: str, value: str
) -> None:
    # Given a lead with a service partner and a ticket
    lead, partner = harness.create_tenant(), harness.create_tenant()
    partnership = harness.partner(lead, partner)
    ticket = harness.create_ticket(lead)
    # When it outsources the ticket with that deadline
    reply = harness.post(
        f"/v1/tickets/{ticket['ticket_id']}/outsource",
        lead.key,
        {"partnership_id": partnership, "terms": {term: value}},
    )
    # Then it is a 400 naming the term; no outsourcing exists on either side
    _assert_refused(reply, f"terms.{term}")
    assert harness.get("/v1/outsourcings?side=lead", lead.key).json["items"] == []
    assert harness.get("/v1/outsourcings?side=receiver", partner.key).json["items"] == []
    assert harness.get(f"/v1/tickets/{ticket['ticket_id']}", lead.key).json["outsourcing"] is None
    # and every list and read still answers
    _assert_lists_and_reads_answer(harness, lead, partner)
