"""The change feed through the API and the real stream handler: every change to a tenant's
tickets, items and outsourcings, in order, once, as the tenant's own GET shows it, and only the
tenant's own."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.container import get_container
from tests.integration.conftest import Harness, Tenant
from tests.integration.feed_support import changes_partition, feed, page, summary
from tests.integration.portal_support import add_company
from tests.integration.sync_support import (
    Pair,
    Side,
    add,
    deliver,
    edit,
    remove,
    replay_whole_stream,
    replica_id,
    stream_records,
)


def _ticket_with_items(harness: Harness, tenant: Tenant) -> tuple[str, dict[str, Any]]:
    ticket = harness.create_ticket(tenant, description="Third floor")
    tid = ticket["ticket_id"]
    edited = harness.patch(f"/v1/tickets/{tid}", tenant.key, {"priority": "high"})
    assert edited.status_code == 200, edited.body
    side = Side("lead", tenant, tid)
    made = {kind: add(harness, side, kind) for kind in ("note", "time_entry", "charge")}
    edit(harness, side, made["note"], {"text": "Checked all cabling"})
    remove(harness, side, made["charge"])
    return tid, made


def test_ticket_and_item_writes_appear_in_order_with_the_state_get_shows(harness: Harness) -> None:
    # Given a tenant that creates and edits a ticket, and adds, edits and deletes items
    tenant = harness.create_tenant()
    tid, made = _ticket_with_items(harness, tenant)
    note_id = made["note"]["note_id"]
    # When the feed is read
    entries = feed(harness, tenant)
    # Then every write is there once, in order, numbered without gaps
    assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
    assert summary(entries) == [
        ("ticket", tid, "create"),
        ("ticket", tid, "update"),
        ("note", note_id, "create"),
        ("time_entry", made["time_entry"]["time_entry_id"], "create"),
        ("charge", made["charge"]["charge_id"], "create"),
        ("note", note_id, "update"),
        ("charge", made["charge"]["charge_id"], "delete"),
    ]
    # And each state is what the tenant's own GET shows (now, for the last write of each)
    assert entries[1]["state"] == harness.get(f"/v1/tickets/{tid}", tenant.key).json
    assert entries[5]["state"] == harness.get(f"/v1/tickets/{tid}/notes/{note_id}", tenant.key).json
    assert entries[6]["state"] is None
    listed = harness.get(f"/v1/tickets/{tid}/items", tenant.key).json["items"]
    assert entries[3]["state"] == next(i for i in listed if i["kind"] == "time_entry")
    assert entries[0]["object"] == {"type": "ticket", "id": tid, "ticket_id": None}
    assert entries[2]["object"] == {"type": "note", "id": note_id, "ticket_id": tid}
    assert all(e["at"].endswith("Z") and not e["state_omitted"] for e in entries)


def test_attachments_and_internal_items_are_in_their_owners_feed(harness: Harness) -> None:
    # Given an internal note and an attachment on a ticket
    tenant = harness.create_tenant()
    tid = harness.create_ticket(tenant)["ticket_id"]
    note = add(harness, Side("lead", tenant, tid), "note", internal=True)
    reply = harness.post(
        f"/v1/tickets/{tid}/attachments",
        tenant.key,
        {"file_name": "photo.png", "content_type": "image/png", "size": 10},
    )
    assert reply.status_code == 201, reply.body
    attachment_id = reply.json["attachment_id"]
    deleted = harness.delete(f"/v1/tickets/{tid}/attachments/{attachment_id}", tenant.key)
    assert deleted.status_code == 204, deleted.body
    # Then the owner's feed shows them (internal is the owner's own), without upload secrets
    entries = feed(harness, tenant)
    assert summary(entries)[1:] == [
        ("note", note["note_id"], "create"),
        ("attachment", attachment_id, "create"),
        ("attachment", attachment_id, "delete"),
    ]
    assert entries[1]["state"]["internal"] is True
    assert entries[2]["state"]["file_name"] == "photo.png"
    assert "upload" not in entries[2]["state"] and "download_url" not in entries[2]["state"]


def test_each_side_of_an_outsourcing_sees_its_own_view_and_no_hidden_replica(
    harness: Harness,
) -> None:
    # Given an outsourcing in progress whose lead bills its customer at its own rate
    pair = _outsourced_at_a_rate(harness, "95.25")
    lead, receiver = pair.lead, pair.receiver
    # When the lead adds a shared note, an internal note, and later makes the shared one internal
    shared = add(harness, lead, "note", text="Customer expects a call")
    secret = add(harness, lead, "note", internal=True, text="Customer is difficult")
    harness.pump.drain()
    edit(harness, lead, shared, {"internal": True})
    # And the receiver adds a note that lands on the lead ticket
    theirs = add(harness, receiver, "note", text="On site at 9")
    harness.pump.drain()
    lead_feed, receiver_feed = feed(harness, lead.tenant), feed(harness, receiver.tenant)
    # Then the receiver saw the shared note arrive and go, never the internal one
    shared_replica = replica_id(pair.outsourcing_id, shared["note_id"])
    secret_replica = replica_id(pair.outsourcing_id, secret["note_id"])
    on_receiver = [(t, i, op) for t, i, op in summary(receiver_feed) if t == "note"]
    assert (("note", shared_replica, "create")) in on_receiver
    assert (("note", shared_replica, "delete")) in on_receiver
    assert all(i != secret_replica for _, i, _ in on_receiver)
    text = json.dumps(receiver_feed)
    assert "Customer is difficult" not in text and secret["note_id"] not in text
    # And a replica's entry names it without copying the other tenant's content (which that
    # tenant took back here: nothing of it may stay in the receiver's records)
    created = next(e for e in receiver_feed if e["object"]["id"] == shared_replica)
    assert (created["state"], created["state_omitted"]) == (None, True)
    assert created["object"]["ticket_id"] == receiver.ticket_id
    assert "Customer expects a call" not in text
    # And the lead sees the receiver's note arrive, its content in the items list only
    theirs_on_lead = replica_id(pair.outsourcing_id, theirs["note_id"])
    arrived = next(e for e in lead_feed if e["object"]["id"] == theirs_on_lead)
    assert arrived["operation"] == "create" and arrived["state_omitted"] is True
    assert "On site at 9" not in json.dumps(lead_feed)
    # And each side's outsourcing entries are its own GET, the lead's rate only on the lead's
    for side, entries in ((lead, lead_feed), (receiver, receiver_feed)):
        mine = [e for e in entries if e["object"]["type"] == "outsourcing"]
        assert next(e["operation"] for e in mine) == "create"
        assert {e["state"]["status"] for e in mine} >= {"assigned", "in_progress"}
        got = harness.get(f"/v1/outsourcings/{pair.outsourcing_id}", side.tenant.key).json
        assert mine[-1]["state"] == got
        assert all(e["state"]["side"] == side.role for e in mine)
    lead_terms = [e["state"]["terms"] for e in lead_feed if e["object"]["type"] == "outsourcing"]
    assert all(terms["bill_customer_rate"] == "95.25" for terms in lead_terms)
    assert "95.25" not in json.dumps(receiver_feed)
    assert all(
        e["state"]["terms"]["bill_customer_rate"] is None
        for e in receiver_feed
        if e["object"]["type"] == "outsourcing"
    )
    assert receiver.ticket_id in {e["object"]["id"] for e in receiver_feed}
    assert receiver.ticket_id not in json.dumps(lead_feed)


def _outsourced_at_a_rate(harness: Harness, rate: str) -> Pair:
    lead = harness.create_tenant("Lead IT")
    partner = harness.create_tenant("Partner IT")
    partnership = harness.partner(lead, partner)
    ticket = harness.create_ticket(lead)
    outsourcing = harness.outsource(
        lead,
        ticket["ticket_id"],
        partnership,
        pricing={"type": "hourly", "amount": "80"},
        bill_customer_rate=rate,
    )
    pair = Pair(
        harness=harness,
        lead=Side("lead", lead, ticket["ticket_id"]),
        receiver=Side("receiver", partner),
        outsourcing_id=outsourcing["outsourcing_id"],
        partnership_id=partnership,
    )
    pair.accept()
    harness.pump.drain()
    return pair


def test_replayed_and_retried_batches_log_nothing_twice(harness: Harness) -> None:
    # Given a tenant's feed after some writes
    tenant = harness.create_tenant()
    _ticket_with_items(harness, tenant)
    before = feed(harness, tenant)
    records = stream_records(harness)
    # When the whole stream is read again from the start, and a batch is delivered twice
    replay_whole_stream(harness)
    deliver(records)
    deliver(records[3:])
    # Then the feed is unchanged
    assert feed(harness, tenant) == before


def test_two_tenants_never_see_each_others_changes(harness: Harness) -> None:
    # Given two tenants writing
    first, second = harness.create_tenant(), harness.create_tenant()
    mine, _ = _ticket_with_items(harness, first)
    theirs = harness.create_ticket(second, title="Their secret title")["ticket_id"]
    # Then each feed holds only its own objects
    first_feed, second_feed = feed(harness, first), feed(harness, second)
    assert theirs not in json.dumps(first_feed) and "Their secret title" not in json.dumps(
        first_feed
    )
    assert mine not in json.dumps(second_feed)
    assert summary(second_feed) == [("ticket", theirs, "create")]
    # And one tenant's cursor is refused for the other
    cursor = page(harness, first, limit=1).json["next_cursor"]
    refused = page(harness, second, cursor)
    assert refused.status_code == 400 and refused.json["error"]["field"] == "cursor"


def test_a_subcontractor_company_has_no_feed_and_the_lead_has_its_own(harness: Harness) -> None:
    # Given a lead whose work a subcontractor company accepts and adds a note to
    company = add_company(harness)
    outsourcing_id = company.outsource(instructions="Replace the switch")
    harness.pump.drain()
    company.accept(outsourcing_id)
    harness.pump.drain()
    copy = harness.get(f"/v1/outsourcings/{outsourcing_id}", company.lead.key).json
    assert copy["status"] == "in_progress"
    lead_copy = get_container().outsourcings.get(company.lead.tenant_id, outsourcing_id)
    # Then nothing is logged under the company (its copy, its ticket, its items)
    assert changes_partition(harness, lead_copy.receiver_id) == []
    # And the lead's feed has its ticket and its copy of the outsourcing as it moved
    lead_feed = feed(harness, company.lead)
    mine = [
        e
        for e in lead_feed
        if e["object"] == {"type": "outsourcing", "id": outsourcing_id, "ticket_id": None}
    ]
    assert [e["state"]["status"] for e in mine] == ["assigned", "in_progress"]
    assert mine[0]["operation"] == "create" and mine[1]["operation"] == "update"


def test_any_credential_of_the_tenant_reads_the_feed(harness: Harness) -> None:
    tenant = harness.create_tenant()
    harness.create_ticket(tenant)
    created = harness.post("/v1/api-keys", tenant.key, {"name": "viewer", "permission": "none"})
    assert created.status_code == 201, created.body
    harness.pump.drain()
    viewer = Tenant(tenant.tenant_id, created.json["api_key"], tenant.name)
    reply = page(harness, viewer)
    assert reply.status_code == 200 and len(reply.json["items"]) == 1
    assert harness.get("/v1/changes", None).status_code == 401
