"""Binding the PynamoDB records to the configured table and endpoint, lazily.

PynamoDB reads ``Meta`` when it first opens a connection, so the records are pointed at the
table from :class:`Settings` on first use instead of at import time.
"""

from __future__ import annotations

import threading

from pynamodb.connection import Connection
from pynamodb.models import Model

from chalicelib.adapters.dynamo.table import Record
from chalicelib.config import Settings

_lock = threading.Lock()
_bound: tuple[str, str | None, str] | None = None


def _all_subclasses(cls: type[Model]) -> list[type[Model]]:
    found: list[type[Model]] = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def bind(settings: Settings) -> None:
    """Point every record class at the settings' table, endpoint and region (idempotent)."""
    global _bound  # noqa: PLW0603 - process-wide binding, guarded by the lock
    target = (settings.table_name, settings.dynamodb_endpoint, settings.region)
    with _lock:
        if _bound == target:
            return
        Record.Meta.table_name = settings.table_name
        Record.Meta.host = settings.dynamodb_endpoint  # type: ignore[assignment]
        Record.Meta.region = settings.region
        Record._connection = None
        # One connection (one botocore client) for every record class: PynamoDB would otherwise
        # build a client per class, which costs tens of milliseconds each on a cold start.
        shared = Record._get_connection()
        for cls in _all_subclasses(Record):
            cls._connection = shared
        _bound = target


def unbind() -> None:
    """Forget the binding and every cached connection (tests switch endpoints between runs)."""
    global _bound  # noqa: PLW0603
    with _lock:
        for cls in _all_subclasses(Record):
            cls._connection = None
        _bound = None


def transaction_connection() -> Connection:
    """The connection for ``TransactWrite``: the records' own, so one client serves all."""
    connection: Connection = Record._get_connection().connection
    return connection
