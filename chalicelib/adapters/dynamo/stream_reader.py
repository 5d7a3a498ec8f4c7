"""Reading a DynamoDB stream directly, in the record shape Lambda delivers.

Used to retry dead-lettered batches (and by the local stream pump): a Lambda on-failure message
for a stream names a shard and a sequence-number range, not the records themselves.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any


def _lambda_value(value: Any) -> Any:
    """boto3's parsed attribute value back to the JSON form Lambda delivers."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _lambda_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_value(v) for v in value]
    if isinstance(value, set):
        return [_lambda_value(v) for v in sorted(value)]
    return value


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One ``GetRecords`` record in the shape of a Lambda DynamoDB stream event record."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = created.timestamp()
    for image in ("Keys", "NewImage", "OldImage"):
        if image in body:
            body[image] = _lambda_value(body[image])
    return {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


class DynamoStreamReader:
    """Implements ``StreamReader`` with the DynamoDB Streams API."""

    def __init__(self, streams_client: Any, region: str) -> None:
        self._streams = streams_client
        self._region = region

    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[dict[str, Any]]:
        """The records ``first``..``last`` (sequence numbers, inclusive) of one shard."""
        iterator = self._streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=first,
        )["ShardIterator"]
        found: list[dict[str, Any]] = []
        end = int(last)
        while iterator:
            page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            if not records:
                break
            for record in records:
                if int(record["dynamodb"]["SequenceNumber"]) > end:
                    return found
                found.append(lambda_record(record, stream_arn, self._region))
            iterator = page.get("NextShardIterator")
        return found
