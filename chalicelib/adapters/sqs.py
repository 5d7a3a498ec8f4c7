"""The stream's dead-letter queue in SQS (Lambda's on-failure destination for the stream)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.observability import logger
from chalicelib.ports import DeadLetter


def batch_info_message(batch: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """An on-failure message in the shape Lambda sends for a DynamoDB stream batch.

    ``batch`` names the range: ``stream_arn``, ``shard_id``, ``first_sequence_number``,
    ``last_sequence_number`` and its ``records`` (only counted).
    """
    return {
        "version": "1.0",
        "requestContext": {"condition": reason, "functionArn": "table_stream"},
        "DDBStreamBatchInfo": {
            "shardId": batch["shard_id"],
            "startSequenceNumber": batch["first_sequence_number"],
            "endSequenceNumber": batch["last_sequence_number"],
            "batchSize": len(batch["records"]),
            "streamArn": batch["stream_arn"],
        },
    }


class SqsDeadLetterQueue:
    """Implements ``DeadLetterQueue`` on one SQS queue."""

    def __init__(self, sqs_client: Any, queue_url: str, visibility_seconds: int = 300) -> None:
        self._sqs = sqs_client
        self._url = queue_url
        self._visibility = visibility_seconds

    def receive(self, max_messages: int) -> Sequence[DeadLetter]:
        letters: list[DeadLetter] = []
        while len(letters) < max_messages:
            response = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(10, max_messages - len(letters)),
                VisibilityTimeout=self._visibility,
                WaitTimeSeconds=0,
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                try:
                    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
                    letters.append(
                        DeadLetter(
                            receipt=message["ReceiptHandle"],
                            stream_arn=info["streamArn"],
                            shard_id=info["shardId"],
                            first_sequence_number=str(info["startSequenceNumber"]),
                            last_sequence_number=str(info["endSequenceNumber"]),
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    logger.error("unreadable dead letter", extra={"body": message.get("Body")})
        return letters

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=letter.receipt)

    def send(self, message: dict[str, Any]) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps(message))
