"""The change feed through the API and the real stream handler: every change to a tenant's
tickets, items and outsourcings, in order, once, as the tenant's own GET shows it."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Harness
from tests.integration.feed_support import feed, page, summary, walk
from tests.integration.sync_support import ID_FIELDS, SEGMENTS, add, edit, linked, remove


def test_ticket_and_item_writes_appear_in_order_with_the_state_get_shows(harness: Harness) -> None:
    # Given a tenant that creates and edits a ticket, and adds, edits and deletes items
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant, description="Third floor")
    tid = ticket["ticket_id"]
    edited = harness.patch(f"/v1/tickets/{tid}", tenant.key, {"priority": "high"})
    assert edited.status_code == 200, edited.body
    from tests.integration.sync_support import Side

    side = Side("lead", tenant, tid)
    made = {kind: add(harness, side, kind) for kind in ("note", "time_entry", "charge")}
    note_id = made["note"]["note_id"]
    edit(harness, side, made["note"], {"text": "Checked all cabling"})
    remove(harness, side, made["charge"])
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
