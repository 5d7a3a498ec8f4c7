"""Dead-lettered stream batches: abandoned after the retries, then retried by the operator."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import requests

from chalicelib.adapters.sqs import SqsDeadLetterQueue, batch_info_message
from chalicelib.container import reset_container
from chalicelib.service import items as item_service
from chalicelib.streams import handler as stream_handler
from chalicelib.streams.retry import retry_dead_letters
from infra.local.lambda_context import lambda_context
from infra.local.pump import StreamPump
from infra.local.resources import create_dead_letter_queue
from tests.integration.conftest import Harness

CONTEXT = lambda_context("retry_dead_letters")


@pytest.fixture
def queue_url(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> str:
    url = create_dead_letter_queue(boto3.client("sqs"), f"{harness.table_name}-dlq")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    reset_container()
    return url


def _sink(url: str) -> Any:
    queue = SqsDeadLetterQueue(boto3.client("sqs"), url)

    def send(entry: dict[str, Any]) -> None:
        queue.send(batch_info_message(entry, "RetryAttemptsExhausted"))

    return send


def _waiting(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_dead_lettered_batch_is_applied_once_the_cause_is_fixed(
    harness: Harness, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an uploaded attachment that is deleted while file deletion keeps failing
    tenant = harness.create_tenant()
    base = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}"
    created = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "a.txt", "content_type": "text/plain", "size": 3},
    ).json
    upload = created["upload"]
    requests.post(upload["url"], data=upload["fields"], files={"file": ("a", b"abc")}, timeout=5)
    harness.pump.drain()
    harness.delete(f"{base}/attachments/{created['attachment_id']}", tenant.key)

    def broken(files: Any, event: Any) -> None:
        if event.deleted_now:
            raise ConnectionError("storage unavailable")

    monkeypatch.setattr(item_service, "remove_deleted_attachment_file", broken)
    pump = StreamPump(
        boto3.client("dynamodbstreams", endpoint_url=harness.dynamodb_endpoint),
        harness.stream_arn,
        stream_handler.on_table_change,
        max_attempts=2,
        dead_letters=_sink(queue_url),
    )
    pump.drain()
    key = upload["fields"]["key"]
    s3 = harness.s3()
    assert pump.stats.dead_lettered >= 1
    assert _waiting(queue_url) >= 1
    assert s3.list_objects_v2(Bucket=harness.bucket_name, Prefix=key)["KeyCount"] == 1
    # When the cause is fixed and the operator retries
    monkeypatch.undo()
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queue_url)
    report = retry_dead_letters({"max_messages": 10}, CONTEXT)
    # Then the batch is applied, the letter is gone, and a second retry finds nothing
    assert report["succeeded"] >= 1
    assert report["still_failing"] == 0
    assert s3.list_objects_v2(Bucket=harness.bucket_name, Prefix=key)["KeyCount"] == 0
    assert _waiting(queue_url) == 0
    assert retry_dead_letters({}, CONTEXT)["received"] == 0


def _held(url: str) -> int:
    """Letters in the queue, including those received and not yet deleted (in flight)."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _streamed_records(harness: Harness) -> list[dict[str, Any]]:
    """Every record the table's stream holds so far, read without processing them."""
    records: list[dict[str, Any]] = []

    def keep(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records.extend(event["Records"])
        return {"batchItemFailures": []}

    StreamPump(
        boto3.client("dynamodbstreams", endpoint_url=harness.dynamodb_endpoint),
        harness.stream_arn,
        keep,
    ).drain()
    return records


def _shard_id(harness: Harness) -> str:
    streams = boto3.client("dynamodbstreams", endpoint_url=harness.dynamodb_endpoint)
    description = streams.describe_stream(StreamArn=harness.stream_arn)["StreamDescription"]
    return str(description["Shards"][0]["ShardId"])


def _send_letter(url: str, stream_arn: str, shard_id: str, first: str, last: str) -> None:
    batch = {
        "stream_arn": stream_arn,
        "shard_id": shard_id,
        "first_sequence_number": first,
        "last_sequence_number": last,
        "records": [first, last],
    }
    boto3.client("sqs").send_message(
        QueueUrl=url, MessageBody=json.dumps(batch_info_message(batch, "RetryAttemptsExhausted"))
    )


def _recording_processing(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the stream processing of the retry with one that records and accepts batches."""
    batches: list[dict[str, Any]] = []

    def record(batch: dict[str, Any], context: Any, dispatcher: Any) -> dict[str, Any]:
        batches.append(batch)
        return {"batchItemFailures": []}

    monkeypatch.setattr("chalicelib.streams.retry.process_batch", record)
    return batches


def test_a_batch_that_still_fails_stays_in_the_queue(
    harness: Harness, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dead letter naming the records of a new ticket, which still fail
    tenant = harness.create_tenant()
    harness.create_ticket(tenant)
    records = _streamed_records(harness)
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    _send_letter(
        queue_url,
        harness.stream_arn,
        _shard_id(harness),
        first["SequenceNumber"],
        last["SequenceNumber"],
    )

    def always_failing(batch: dict[str, Any], context: Any, dispatcher: Any) -> dict[str, Any]:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in batch["Records"]
            ]
        }

    monkeypatch.setattr("chalicelib.streams.retry.process_batch", always_failing)
    # When the operator retries
    report = retry_dead_letters({"max_messages": 5}, CONTEXT)
    # Then the whole range was run, it failed, and the letter is still there
    assert report["received"] == 1
    assert report["still_failing"] == 1
    assert report["records"] == len(records)
    assert _held(queue_url) == 1


def test_a_range_the_stream_no_longer_holds_is_reported_and_kept(
    harness: Harness, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dead letter whose stream is gone (its table was deleted)
    tenant = harness.create_tenant()
    harness.create_ticket(tenant)
    records = _streamed_records(harness)
    gone = harness.stream_arn.replace(f"table/{harness.table_name}/", "table/it-deleted-table/")
    _send_letter(
        queue_url,
        gone,
        _shard_id(harness),
        records[0]["dynamodb"]["SequenceNumber"],
        records[-1]["dynamodb"]["SequenceNumber"],
    )
    processed = _recording_processing(monkeypatch)
    # When the operator retries
    report = retry_dead_letters({"max_messages": 5}, CONTEXT)
    # Then nothing is processed, the letter stays, and the report says trimmed
    assert processed == []
    assert _held(queue_url) == 1
    assert (report["received"], report["trimmed"], report["succeeded"]) == (1, 1, 0)
    assert (report["incomplete"], report["records"]) == (0, 0)


def test_a_range_that_cannot_be_read_to_its_end_is_reported_and_kept(
    harness: Harness, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dead letter whose range ends beyond what the open shard holds
    tenant = harness.create_tenant()
    harness.create_ticket(tenant)
    records = _streamed_records(harness)
    first = records[0]["dynamodb"]["SequenceNumber"]
    last = records[-1]["dynamodb"]["SequenceNumber"]
    beyond = str(int(last) + 1000).zfill(len(last))
    _send_letter(queue_url, harness.stream_arn, _shard_id(harness), first, beyond)
    processed = _recording_processing(monkeypatch)
    # When the operator retries
    report = retry_dead_letters({"max_messages": 5}, CONTEXT)
    # Then the records that were there are not processed on their own, and the letter stays
    assert processed == []
    assert _held(queue_url) == 1
    assert (report["received"], report["incomplete"], report["succeeded"]) == (1, 1, 0)
    assert report["trimmed"] == 0
