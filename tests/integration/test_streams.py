"""The stream edge on real stream records: decode, dispatch, fail, retry, replay."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import boto3
import requests

from chalicelib.adapters.dynamo.stream_events import decode
from chalicelib.domain.events import ItemChanged, TicketChanged
from chalicelib.streams.dispatcher import Dispatcher, process_batch
from chalicelib.streams.handler import on_table_change
from infra.local.pump import StreamPump
from tests.integration.conftest import Harness


def _records(harness: Harness) -> list[dict[str, Any]]:
    """Every record of the table's stream, in Lambda's shape."""
    seen: list[dict[str, Any]] = []

    def keep(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    StreamPump(_streams(harness), harness.stream_arn, keep).drain()
    return seen


def _streams(harness: Harness) -> Any:
    return boto3.client("dynamodbstreams", endpoint_url=harness.dynamodb_endpoint)


def test_stream_records_decode_into_domain_events(harness: Harness) -> None:
    # Given a ticket with a note that is edited and then deleted
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant)
    base = f"/v1/tickets/{ticket['ticket_id']}"
    note = harness.post(f"{base}/notes", tenant.key, {"text": "one"}).json
    harness.patch(f"{base}/notes/{note['note_id']}", tenant.key, {"text": "two"})
    harness.delete(f"{base}/notes/{note['note_id']}", tenant.key)
    # When the stream is read
    events = [e for e in (decode(r) for r in _records(harness)) if e is not None]
    # Then it tells the ticket's creation and the note's whole life, in order
    assert isinstance(events[0], TicketChanged)
    assert events[0].before is None
    assert events[0].after is not None
    assert events[0].after.ticket_id == ticket["ticket_id"]
    notes = [e for e in events if isinstance(e, ItemChanged)]
    assert [(e.before is None, e.current.text, e.deleted_now) for e in notes] == [  # type: ignore[attr-defined]
        (True, "one", False),
        (False, "two", False),
        (False, "two", True),
    ]
    assert [e.current.version for e in notes] == [1, 2, 3]


def test_a_failing_change_is_retried_and_later_changes_wait_for_it(harness: Harness) -> None:
    # Given two notes, each edited twice, and a reaction that fails once on note A's first edit
    tenant = harness.create_tenant()
    base = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}"
    a = harness.post(f"{base}/notes", tenant.key, {"text": "a1"}).json["note_id"]
    b = harness.post(f"{base}/notes", tenant.key, {"text": "b1"}).json["note_id"]
    for text in ("2", "3"):
        harness.patch(f"{base}/notes/{a}", tenant.key, {"text": "a" + text})
        harness.patch(f"{base}/notes/{b}", tenant.key, {"text": "b" + text})
    applied: dict[str, list[int]] = defaultdict(list)
    failures_left = [1]

    def react(event: ItemChanged) -> None:
        item = event.current
        if item.item_id == a and item.version == 2 and failures_left[0]:
            failures_left[0] -= 1
            raise RuntimeError("transient failure")
        applied[item.item_id].append(item.version)

    dispatcher = Dispatcher({ItemChanged: [react]})
    responses: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response = process_batch(event, context, dispatcher)
        responses.append(response)
        return response

    # When the stream is pumped with Lambda's retry semantics
    pump = StreamPump(_streams(harness), harness.stream_arn, handler, batch_size=100)
    pump.drain()
    # Then the first batch reported the failed record and everything after it (a2 b2 a3 b3)
    assert len(responses[0]["batchItemFailures"]) == 4
    # And after the retry every change was applied exactly once, each item's in order
    assert applied[a] == [1, 2, 3]
    assert applied[b] == [1, 2, 3]
    assert pump.stats.failures == 1
    assert pump.stats.dead_lettered == 0


def test_replaying_the_whole_stream_changes_nothing(harness: Harness) -> None:
    # Given an attachment uploaded and then deleted, and the stream processed once
    tenant = harness.create_tenant()
    base = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}"
    kept = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "k.txt", "content_type": "text/plain", "size": 1},
    ).json
    gone = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "g.txt", "content_type": "text/plain", "size": 1},
    ).json
    for created in (kept, gone):
        upload = created["upload"]
        requests.post(upload["url"], data=upload["fields"], files={"file": ("f", b"x")}, timeout=5)
    harness.delete(f"{base}/attachments/{gone['attachment_id']}", tenant.key)
    harness.pump.drain()
    s3 = harness.s3()

    def objects() -> list[str]:
        listed = s3.list_objects_v2(Bucket=harness.bucket_name).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    after_first = objects()
    assert after_first == [kept["upload"]["fields"]["key"]]
    # When a fresh consumer replays the whole stream through the real handler, twice
    for _ in range(2):
        StreamPump(_streams(harness), harness.stream_arn, on_table_change).drain()
    # Then nothing more happened
    assert objects() == after_first
