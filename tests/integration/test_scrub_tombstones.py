"""The one-off job that scrubs content out of hidden replicas written the old way."""

from __future__ import annotations

import dataclasses
import json

from chalicelib.adapters.dynamo.items import item_record
from chalicelib.adapters.dynamo.scrub import scrub_content_tombstones
from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Note, Origin
from tests.integration.conftest import Harness


def _note(tenant_id: str, ticket_id: str, text: str, **fields: object) -> Note:
    now = utcnow()
    base: dict[str, object] = {
        "tenant_id": tenant_id,
        "ticket_id": ticket_id,
        "item_id": new_id(),
        "text": text,
        "created_by": "SECRET key name (K1)",
        "created_at": now,
        "updated_at": now,
    }
    return Note(**{**base, **fields})  # type: ignore[arg-type]


def _raw(harness: Harness, note: Note) -> dict[str, object]:
    item = harness.dynamodb().get_item(
        TableName=harness.table_name,
        Key={
            "pk": {"S": f"T#{note.tenant_id}#TK#{note.ticket_id}"},
            "sk": {"S": f"ITEM#{note.item_id}"},
        },
    )["Item"]
    return dict(item)


def test_old_hidden_replicas_lose_their_content_and_nothing_else_changes(
    harness: Harness,
) -> None:
    # Given, as the old engine wrote them, a hidden replica holding its content, a live
    # replica, and a tenant's own deleted note
    get_container()
    tenant, ticket = new_id(), new_id()
    replica: dict[str, object] = {
        "origin": Origin.PARTNER,
        "origin_tenant": new_id(),
        "origin_ticket_id": new_id(),
        "origin_item_id": new_id(),
        "outsourcing_id": new_id(),
    }
    hidden = _note(tenant, ticket, "SECRET hidden text", deleted=True, origin_version=3, **replica)
    other_origin = {**replica, "origin_item_id": new_id()}
    live = _note(tenant, ticket, "visible text", origin_version=2, **other_origin)
    own = _note(tenant, ticket, "my own deleted note", deleted=True)
    for note in (hidden, live, own):
        record = item_record(note)
        if note.origin_version is not None:
            record.version = note.origin_version - 1
        record.save(add_version_condition=False)
    # When the job runs, twice
    first = scrub_content_tombstones(page_size=10)
    second = scrub_content_tombstones(page_size=10)
    # Then only the hidden replica was rewritten: no text, no author, its origin version kept
    assert (first.scrubbed, second.scrubbed) == (1, 0)
    scrubbed = _raw(harness, hidden)
    assert "SECRET" not in json.dumps(scrubbed)
    assert scrubbed["type"] == {"S": "tombstone"}
    assert scrubbed["origin_version"] == {"N": "3"}
    assert "text" not in scrubbed and "created_by" not in scrubbed
    assert _raw(harness, live)["text"] == {"S": "visible text"}
    assert _raw(harness, own)["text"] == {"S": "my own deleted note"}
    # And a newer change of the same replica still wins over the tombstone's version
    newer = _note(tenant, ticket, "shown again", origin_version=4, **replica)
    assert get_container().items.put_replica(dataclasses.replace(newer, item_id=hidden.item_id))
    assert _raw(harness, hidden)["text"] == {"S": "shown again"}
