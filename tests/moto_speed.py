"""moto's TransactWriteItems, one backup per table instead of one per item.

Before applying a transaction, moto deep-copies the whole table once *per item* of the
transaction (to roll back on failure). All those copies are taken before the first item is
applied, so they are identical: one copy per table is the same backup. With the change feed's
batched appends (up to 49 changes, about 100 items, in one transaction) the repeated copies made
the in-process moto tests grow with the square of the table. This shim makes each copy once per
call; what is rolled back, and when, is unchanged.
"""

from __future__ import annotations

import copy
import threading
from functools import wraps
from typing import Any

import moto.dynamodb.models as dynamodb_models

_memo = threading.local()


class _OncePerTransactionCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB models."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        taken: dict[int, Any] | None = getattr(_memo, "tables", None)
        if taken is None or not isinstance(value, dynamodb_models.Table):
            return copy.deepcopy(value, memo)
        if id(value) not in taken:
            taken[id(value)] = copy.deepcopy(value, memo)
        return taken[id(value)]


def install() -> None:
    backend = dynamodb_models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_copies_once", False):
        return
    original = backend.transact_write_items

    @wraps(original)
    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        _memo.tables = {}
        try:
            return original(self, *args, **kwargs)
        finally:
            _memo.tables = None

    transact_write_items._copies_once = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamodb_models.copy = _OncePerTransactionCopy()  # type: ignore[assignment]
