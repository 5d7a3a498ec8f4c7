"""Counting DynamoDB requests per operation with a botocore event hook."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters.dynamo.table import Record

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **kwargs: Any) -> None:
        self.calls[model.name] += 1

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if op in READS)

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITES)

    @property
    def scans(self) -> int:
        return self.calls["Scan"]


@contextmanager
def count_dynamodb() -> Iterator[RequestCounter]:
    """Count every request the app's DynamoDB client makes inside the block."""
    counter = RequestCounter()
    client = Record._get_connection().connection.client
    client.meta.events.register("before-call.dynamodb", counter)
    try:
        yield counter
    finally:
        client.meta.events.unregister("before-call.dynamodb", counter)
