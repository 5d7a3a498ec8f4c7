"""Reading a DynamoDB stream directly, in the record shape Lambda delivers.

Used to retry dead-lettered batches (and by the local stream pump): a Lambda on-failure message
for a stream names a shard and a sequence-number range, not the records themselves.

Reading a range follows ``NextShardIterator`` until a record at or past the range's last
sequence number, or until the shard ends (no ``NextShardIterator``). ``GetRecords`` may answer
with empty pages before the records (DynamoDB Streams: "it might take multiple calls to get to a
portion of the shard that contains stream records"), so an empty page is not the end. After
:data:`MAX_EMPTY_PAGES` consecutive empty pages on an open shard the read gives up as
``incomplete``. A range the stream no longer holds (``TrimmedDataAccessException``, or the
stream or shard gone: ``ResourceNotFoundException``), or a closed shard with nothing in the
range, is ``trimmed``. Sequence numbers are compared as integers.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.ports import StreamRead

# A range named by a dead letter was written to the stream, so a long run of empty pages means
# the read is not getting there. Twenty leaves room for runs of empty pages in front of a range,
# and bounds the GetRecords calls of a retry in which every letter gives up (at most 100 letters
# per invocation) to a few thousand, within the operator function's timeout.
MAX_EMPTY_PAGES = 20

# The stream no longer holds the range: past its 24-hour retention, or the stream or shard gone.
GONE = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException"})
# The iterator lived longer than its 15 minutes: the range was not read to its end.
EXPIRED = "ExpiredIteratorException"


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


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class DynamoStreamReader:
    """Implements ``StreamReader`` with the DynamoDB Streams API."""

    def __init__(
        self, streams_client: Any, region: str, max_empty_pages: int = MAX_EMPTY_PAGES
    ) -> None:
        self._streams = streams_client
        self._region = region
        self._max_empty_pages = max_empty_pages

    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> StreamRead:
        """The records ``first``..``last`` (sequence numbers, inclusive) of one shard, and
        whether the stream still held all of them (see the module docstring)."""
        try:
            iterator: str | None = self._streams.get_shard_iterator(
                StreamArn=stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=first,
            )["ShardIterator"]
        except ClientError as exc:
            if _code(exc) in GONE:
                return StreamRead(StreamRead.TRIMMED, reason=_code(exc))
            raise
        start, end = int(first), int(last)
        found: list[dict[str, Any]] = []
        empty = 0
        while iterator:
            try:
                page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            except ClientError as exc:
                if _code(exc) in GONE:
                    return StreamRead(StreamRead.TRIMMED, found, _code(exc))
                if _code(exc) == EXPIRED:
                    return StreamRead(StreamRead.INCOMPLETE, found, _code(exc))
                raise
            records = page.get("Records", [])
            iterator = page.get("NextShardIterator")
            if not records:
                empty += 1
                if iterator and empty >= self._max_empty_pages:
                    return StreamRead(StreamRead.INCOMPLETE, found, "empty_pages")
                continue
            empty = 0
            for record in records:
                sequence = int(record["dynamodb"]["SequenceNumber"])
                if sequence > end:
                    return self._ended(found)
                if sequence >= start:
                    found.append(lambda_record(record, stream_arn, self._region))
                if sequence == end:
                    return self._ended(found)
        return self._ended(found)

    @staticmethod
    def _ended(found: list[dict[str, Any]]) -> StreamRead:
        """The range's end was reached (or the shard's): complete unless it held nothing."""
        if not found:
            return StreamRead(StreamRead.TRIMMED, reason="range_not_in_shard")
        return StreamRead(StreamRead.COMPLETE, found)
