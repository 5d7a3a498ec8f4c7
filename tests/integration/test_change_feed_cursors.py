"""The change feed's cursors: resumable without gaps or repeats from any cursor handed out,
given also at the head (to poll with), and refused when forged, another tenant's, beyond the
head, or past what the feed keeps."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.conftest import Harness, Tenant
from tests.integration.feed_support import feed, page, walk


def _writes(harness: Harness, tenant: Tenant, tickets: int = 4) -> None:
    for number in range(tickets):
        created = harness.create_ticket(tenant, title=f"Ticket {number}")
        note = {"text": f"note {number}"}
        reply = harness.post(f"/v1/tickets/{created['ticket_id']}/notes", tenant.key, note)
        assert reply.status_code == 201, reply.body
    harness.pump.drain()


def _decoded(cursor: str) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    value: dict[str, Any] = json.loads(raw)
    return value


def _encoded(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_resuming_from_every_cursor_of_a_walk_yields_the_rest_of_the_log_once(
    harness: Harness,
) -> None:
    # Given a feed of 8 changes walked 3 at a time
    tenant = harness.create_tenant()
    _writes(harness, tenant)
    everything, cursors = walk(harness, tenant, limit=3)
    assert [e["sequence"] for e in everything] == list(range(1, 9))
    # When a reader resumes from each cursor handed out (the last is the head's)
    for index, cursor in enumerate(cursors):
        rest, _ = walk(harness, tenant, cursor, limit=2)
        # Then it gets exactly the entries after that cursor, once each, in order
        assert rest == everything[min(3 * (index + 1), len(everything)) :]


def test_the_head_cursor_is_given_and_picks_up_later_changes(harness: Harness) -> None:
    # Given an empty feed: no entries, but a cursor to poll from
    tenant = harness.create_tenant()
    empty = page(harness, tenant)
    assert empty.status_code == 200, empty.body
    assert empty.json["items"] == [] and empty.json["next_cursor"]
    start = empty.json["next_cursor"]
    # When a change happens, the poll from that cursor returns it
    ticket = harness.create_ticket(tenant)
    harness.pump.drain()
    first = page(harness, tenant, start)
    assert [e["object"]["id"] for e in first.json["items"]] == [ticket["ticket_id"]]
    # And at the head the same cursor comes back, until the next change
    head = first.json["next_cursor"]
    again = page(harness, tenant, head)
    assert again.json == {"items": [], "next_cursor": head}
    harness.patch(f"/v1/tickets/{ticket['ticket_id']}", tenant.key, {"title": "Renamed"})
    harness.pump.drain()
    later = page(harness, tenant, head).json["items"]
    assert [(e["sequence"], e["operation"]) for e in later] == [(2, "update")]
    assert later[0]["state"]["title"] == "Renamed"


@pytest.mark.parametrize(
    "query",
    [
        "cursor=",
        "cursor=garbage!",
        "cursor=" + "A" * 2000,
        "cursor=eyJwayI6MX0",  # {"pk":1}
        "limit=0",
        "limit=-1",
        "limit=101",
        "limit=" + "9" * 30,
        "limit=ten",
        "since=1",
    ],
)
def test_malformed_cursors_and_limits_are_a_400_naming_the_field(
    harness: Harness, query: str
) -> None:
    tenant = harness.create_tenant()
    reply = harness.get(f"/v1/changes?{query}", tenant.key)
    assert reply.status_code == 400, reply.body
    assert reply.json["error"]["code"] == "validation_error"
    name = query.split("=", maxsplit=1)[0]
    assert reply.json["error"].get("field") == name


def test_edited_and_other_tenants_cursors_are_refused(harness: Harness) -> None:
    # Given a tenant with 8 changes and a cursor at its 4th, and another tenant
    tenant, other = harness.create_tenant(), harness.create_tenant()
    _writes(harness, tenant)
    _writes(harness, other, tickets=1)
    cursor = page(harness, tenant, limit=4).json["next_cursor"]
    value = _decoded(cursor)
    assert set(value) == {"pk", "sk"}
    forged = {
        "beyond the head": {**value, "sk": {"S": f"{9:020d}"}},
        "far beyond": {**value, "sk": {"S": "9" * 20}},
        "not a sequence": {**value, "sk": {"S": "TICKET"}},
        "short sequence": {**value, "sk": {"S": "4"}},
        "negative": {**value, "sk": {"S": "-" + "0" * 19}},
        "number type": {**value, "sk": {"N": "4"}},
        "other partition": {**value, "pk": {"S": f"T#{other.tenant_id}#CHANGES"}},
        "ticket partition": {**value, "pk": {"S": f"T#{tenant.tenant_id}"}},
        "extra key": {**value, "gsi1pk": {"S": "x"}},
        "missing key": {"pk": value["pk"]},
    }
    for name, edited in forged.items():
        reply = page(harness, tenant, _encoded(edited))
        assert reply.status_code == 400, (name, reply.body)
        assert reply.json["error"]["field"] == "cursor", name
    # And the other tenant's own valid cursor is refused for this tenant, and vice versa
    theirs = page(harness, other).json["next_cursor"]
    assert page(harness, tenant, theirs).status_code == 400
    assert page(harness, other, cursor).status_code == 400
    # While the real cursor still works: the 5th change onwards
    assert [e["sequence"] for e in page(harness, tenant, cursor).json["items"]] == [5, 6, 7, 8]
    # And the head itself is a valid place to be
    head = {**value, "sk": {"S": f"{8:020d}"}}
    assert page(harness, tenant, _encoded(head)).json["items"] == []


def _entry_key(tenant: Tenant, sequence: int) -> dict[str, Any]:
    return {"pk": {"S": f"T#{tenant.tenant_id}#CHANGES"}, "sk": {"S": f"{sequence:020d}"}}


def test_a_cursor_whose_next_change_is_no_longer_kept_is_a_410(harness: Harness) -> None:
    # Given a reader at the start of a feed of 8 changes
    tenant = harness.create_tenant()
    start = page(harness, tenant).json["next_cursor"]
    _writes(harness, tenant)
    at_two = page(harness, tenant, start, limit=2).json["next_cursor"]
    # When the first changes pass their retention (the TTL has removed 1, not yet 2-3)
    dynamodb = harness.dynamodb()
    dynamodb.delete_item(TableName=harness.table_name, Key=_entry_key(tenant, 1))
    for sequence in (2, 3):
        dynamodb.update_item(
            TableName=harness.table_name,
            Key=_entry_key(tenant, sequence),
            UpdateExpression="SET expires_at = :past",
            ExpressionAttributeValues={":past": {"N": "1000"}},
        )
    # Then resuming before them is refused rather than silently skipping them
    for cursor in (start, at_two):
        reply = page(harness, tenant, cursor)
        assert reply.status_code == 410, reply.body
        assert reply.json["error"]["code"] == "cursor_expired"
        assert reply.json["error"]["field"] == "cursor"
    # And a reader starting without a cursor begins at the oldest change still kept
    assert [e["sequence"] for e in feed(harness, tenant)] == [4, 5, 6, 7, 8]
    at_five = page(harness, tenant, limit=2).json["next_cursor"]
    assert [e["sequence"] for e in page(harness, tenant, at_five).json["items"]] == [6, 7, 8]
