"""The stream batch and the change feed: changes logged once per batch, and a feed that cannot
log holds back its record and everything after it (the retry starts there)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.events import ItemChanged, TicketChanged
from chalicelib.service.changes import ChangeBatch, ChangePorts
from chalicelib.streams.dispatcher import Dispatcher, process_batch
from infra.local.lambda_context import lambda_context
from tests.unit.change_fakes import FakeChangeLog
from tests.unit.stream_events import StreamEventBuilder


def _dispatcher(log: FakeChangeLog, seen: list[Any]) -> Dispatcher:
    def feed() -> dict[type, list[Any]]:
        batch = ChangeBatch(ChangePorts(log))
        return {ItemChanged: [batch], TicketChanged: [batch]}

    return Dispatcher({ItemChanged: [seen.append]}, batched=feed)


def test_a_batch_logs_its_changes_in_order_with_one_append_per_tenant() -> None:
    events = StreamEventBuilder()
    log, seen = FakeChangeLog({events.tenant_id}), []
    batch = events.batch(
        events.ticket_inserted("t1"),
        events.note_inserted("n1"),
        events.other_record(),
        events.note_inserted("n2"),
    )
    dispatcher = _dispatcher(log, seen)
    response = process_batch(batch, lambda_context("table_stream"), dispatcher)
    assert response == {"batchItemFailures": []}
    entries = log.after(events.tenant_id, 0, 10)
    assert [e.object.type.value for e in entries] == ["ticket", "note", "note"]
    assert [e.object.id for e in entries[1:]] == [events.item_id("n1"), events.item_id("n2")]
    assert log.appends == 1
    # The same dispatcher serves the next batch afresh (the dead-letter retry reuses it)
    again = process_batch(batch, lambda_context("table_stream"), dispatcher)
    assert again == {"batchItemFailures": []} and len(log) == 3


class _Unavailable(FakeChangeLog):
    def append(self, *args: Any, **kwargs: Any) -> frozenset[int]:
        raise RuntimeError("storage unavailable")


def test_a_change_that_cannot_be_logged_fails_its_record_and_the_rest_of_the_batch() -> None:
    events = StreamEventBuilder()
    seen: list[Any] = []
    batch = events.batch(
        events.other_record(), events.note_inserted("n1"), events.note_inserted("n2")
    )
    response = process_batch(
        batch, lambda_context("table_stream"), _dispatcher(_Unavailable({events.tenant_id}), seen)
    )
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [r["dynamodb"]["SequenceNumber"] for r in batch["Records"][1:]]
    assert len(seen) == 2  # the other reactions ran; they are idempotent, so the retry is safe


def test_a_records_time_is_read_from_a_number_a_datetime_or_not_at_all() -> None:
    from datetime import UTC, datetime

    from chalicelib.adapters.dynamo.stream_events import source_of

    key = {"pk": {"S": "T#a#TK#b"}, "sk": {"S": "TICKET"}}
    moment = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    for created in (moment.timestamp(), str(int(moment.timestamp())), moment):
        raw = {
            "dynamodb": {"Keys": key, "SequenceNumber": "7", "ApproximateCreationDateTime": created}
        }
        found = source_of(raw)
        assert found.at == moment and found.sequence_number == "7"
        assert found.table_key == ("T#a#TK#b", "TICKET")
    before = datetime.now(UTC)
    assert source_of({"dynamodb": {"Keys": key, "SequenceNumber": "8"}}).at >= before


def test_a_record_delivered_twice_in_one_batch_is_logged_once() -> None:
    events = StreamEventBuilder()
    log = FakeChangeLog({events.tenant_id})
    note = events.note_inserted("n1")
    batch = events.batch(note, events.note_inserted("n2"), note)
    response = process_batch(batch, lambda_context("table_stream"), _dispatcher(log, []))
    assert response == {"batchItemFailures": []}
    assert [e.object.id for e in log.after(events.tenant_id, 0, 10)] == [
        events.item_id("n1"),
        events.item_id("n2"),
    ]
