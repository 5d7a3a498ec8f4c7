"""Counting DynamoDB requests per operation with a botocore event hook.

The change feed's own requests (its counter, entries and markers) are counted apart, so the
synchronisation figures stay what synchronisation costs; ``feed_budget`` reports the feed's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Record

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's item size rules."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return (len(str(raw).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) for k, v in raw.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    return sum(len(str(v).encode()) for v in raw)  # sets


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _is_feed_key(key: dict[str, Any]) -> bool:
    pk, sk = key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")
    return sk == keys.CHANGE_COUNTER_SK or "#CHANGES" in pk


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.feed_calls: Counter[str] = Counter()
        self.feed_write_units = 0
        self.feed_items_written = 0
        self.feed_entry_bytes: list[int] = []

    def __call__(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        if self._feed(model.name, params):
            self.feed_calls[model.name] += 1
        else:
            self.calls[model.name] += 1

    def _feed(self, operation: str, params: dict[str, Any]) -> bool:
        if operation == "TransactWriteItems":
            written = [next(iter(op.values())) for op in params.get("TransactItems", [])]
            if not any(_is_feed_key(w.get("Item") or w.get("Key") or {}) for w in written):
                return False
            for write in written:
                # A transactional write costs 2 units per started KB of the item (an update's
                # counter is well under 1 KB before and after).
                item = write.get("Item") or {
                    **write.get("Key", {}),
                    **write.get("ExpressionAttributeValues", {}),
                }
                size = item_size(item)
                self.feed_write_units += 2 * max(1, math.ceil(size / 1024))
                self.feed_items_written += 1
                if write.get("Item", {}).get("pk", {}).get("S", "").endswith("#CHANGES"):
                    self.feed_entry_bytes.append(size)
            return True
        key = params.get("Key") or {}
        if operation == "Query":
            values = params.get("ExpressionAttributeValues", {})
            return any("#CHANGES" in v.get("S", "") for v in values.values())
        return _is_feed_key(key)

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if op in READS)

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITES)

    @property
    def feed_reads(self) -> int:
        return sum(n for op, n in self.feed_calls.items() if op in READS)

    @property
    def feed_writes(self) -> int:
        return sum(n for op, n in self.feed_calls.items() if op in WRITES)

    @property
    def scans(self) -> int:
        return self.calls["Scan"] + self.feed_calls["Scan"]


@contextmanager
def count_dynamodb() -> Iterator[RequestCounter]:
    """Count every request the app's DynamoDB client makes inside the block."""
    counter = RequestCounter()
    client = Record._get_connection().connection.client
    # Emitted with the operation's own parameters (keys, items), once per request.
    client.meta.events.register("before-parameter-build.dynamodb", counter)
    try:
        yield counter
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", counter)
