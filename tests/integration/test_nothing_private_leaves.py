"""Nothing private ever sits in another tenant's partition, not even flagged: read the raw
records of the other tenant after every kind of hide, and after every replica written."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import Harness, Tenant
from tests.integration.sync_support import (
    Pair,
    Side,
    add,
    attach,
    download,
    edit,
    linked,
    objects,
    remove,
    replicas,
    upload,
)


def _raw(harness: Harness, tenant: Tenant) -> str:
    """Every record of every partition of the tenant, as stored, in one string."""
    dynamodb = harness.dynamodb()
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": harness.table_name,
        "FilterExpression": "begins_with(pk, :tenant)",
        "ExpressionAttributeValues": {":tenant": {"S": f"T#{tenant.tenant_id}"}},
    }
    while True:  # a Scan: the test reads everything the tenant holds, however it is keyed
        page = dynamodb.scan(**kwargs)
        found.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return json.dumps(found)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _absent(raw: str, *secrets: str) -> None:
    leaked = [secret for secret in secrets if secret in raw]
    assert not leaked, f"found in the other tenant's records: {leaked}"


def test_hidden_items_leave_no_content_on_the_other_side(harness: Harness) -> None:
    # Given work in progress and, on the lead side, items hidden in every way there is
    pair = linked(harness)
    lead = pair.lead
    add(harness, lead, "note", internal=True, text="SECRET-internal-from-the-start")
    made_internal = add(harness, lead, "charge", name="SECRET-charge-name", unit_price="987.6543")
    deleted = add(
        harness, lead, "time_entry", summary="SECRET-deleted-summary", hours_worked="7.25"
    )
    hidden_file = attach(harness, lead, b"SECRET-file-content", file_name="SECRET-file-name.txt")
    harness.pump.drain()
    # (the visible ones did travel first)
    assert len(replicas(harness, pair.receiver)) == 3
    # When they are made internal, deleted, and an attachment made internal
    edit(harness, lead, made_internal, {"internal": True})
    remove(harness, lead, deleted)
    edit(harness, lead, hidden_file, {"internal": True})
    harness.pump.drain()
    # Then the other side shows none of them, and none of their content is stored there
    assert replicas(harness, pair.receiver) == {}
    _absent(
        _raw(harness, pair.receiver.tenant),
        "SECRET-internal-from-the-start",
        "SECRET-charge-name",
        "987.6543",
        "SECRET-deleted-summary",
        "7.25",
        "SECRET-file-name",
    )
    # And the hidden attachment's copied file is gone from the other tenant's storage too
    assert objects(harness, f"{pair.receiver.tenant.tenant_id}/") == {}


def test_a_first_partners_cost_charge_never_reaches_a_second_partner(harness: Harness) -> None:
    # Given a ticket whose work by a first partner was approved (its cost charge is internal)
    pair = linked(harness, pricing={"type": "hourly", "amount": "83.17"})
    add(harness, pair.receiver, "time_entry", hours_worked="3", summary="first partner's work")
    harness.pump.drain()
    pair.act("submit-completion")
    pair.act("approve")
    harness.pump.drain()
    # When the lead outsources the same ticket to a second partner, who accepts
    second = harness.create_tenant("Second IT")
    partnership = harness.partner(pair.lead.tenant, second)
    reply = harness.post(
        f"/v1/tickets/{pair.lead.ticket_id}/outsource",
        pair.lead.tenant.key,
        {"partnership_id": partnership, "terms": {}},
    )
    assert reply.status_code == 201, reply.body
    second_pair = Pair(
        harness=harness,
        lead=pair.lead,
        receiver=Side("receiver", second),
        outsourcing_id=reply.json["outsourcing_id"],
        partnership_id=partnership,
    )
    second_pair.accept()
    harness.pump.drain()
    # Then nothing of the first partner's cost (its name, its amount) is in the second's records
    raw = _raw(harness, second)
    _absent(raw, "Outsourced work by", pair.receiver.tenant.name, "83.17")
    assert all(r["kind"] != "charge" for r in replicas(harness, second_pair.receiver).values())


def test_replicas_name_the_other_company_never_its_credentials(harness: Harness) -> None:
    # Given work in progress, and a lead API key with a telling name
    pair = linked(harness)
    named = harness.post(
        "/v1/api-keys",
        pair.lead.tenant.key,
        {"name": "SECRET-dispatch-robot", "permission": "outsource"},
    ).json
    # When items are written with that key on the lead side and by the partner
    reply = harness.post(
        f"{pair.lead.base}/notes", named["api_key"], {"text": "From the robot", "internal": False}
    )
    assert reply.status_code == 201, reply.body
    add(harness, pair.receiver, "note", text="From the partner")
    harness.pump.drain()
    # Then each replica names the company that wrote it
    on_receiver = list(replicas(harness, pair.receiver).values())
    on_lead = list(replicas(harness, pair.lead).values())
    assert [r["created_by"] for r in on_receiver] == [pair.lead.tenant.name]
    assert [r["created_by"] for r in on_lead] == [pair.receiver.tenant.name]
    # And no record of the partner holds the lead's key name or id
    _absent(_raw(harness, pair.receiver.tenant), "SECRET-dispatch-robot", named["id"])


def test_an_attachment_made_internal_before_its_file_was_copied_never_leaves(
    harness: Harness,
) -> None:
    # Given a lead attachment replicated before its file was uploaded (no copy was made)
    pair = linked(harness)
    created = attach(harness, pair.lead, b"SECRET-late-file", uploaded=False)
    harness.pump.drain()
    replica_id = next(iter(replicas(harness, pair.receiver)))
    upload(created, b"SECRET-late-file")
    # When the lead makes it internal, and the partner asks for the file before the change
    # has reached it (the stream is not drained)
    edit(harness, pair.lead, created, {"internal": True})
    reply = harness.get(f"{pair.receiver.base}/attachments/{replica_id}", pair.receiver.tenant.key)
    # Then the file is refused and never copied into the partner's storage
    assert (reply.status_code, reply.error_code) == (409, "file_unavailable")
    assert objects(harness, f"{pair.receiver.tenant.tenant_id}/") == {}
    harness.pump.drain()
    assert replicas(harness, pair.receiver) == {}


def test_a_visible_attachment_is_copied_on_first_download(harness: Harness) -> None:
    # (the counterpart of the test above: a file uploaded after syncing still arrives)
    pair = linked(harness)
    created = attach(harness, pair.lead, b"public file", uploaded=False)
    harness.pump.drain()
    replica_id = next(iter(replicas(harness, pair.receiver)))
    upload(created, b"public file")
    _, content = download(harness, pair.receiver, replica_id)
    assert content == b"public file"
