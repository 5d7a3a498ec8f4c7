"""Helpers for the change feed tests: read a page, walk the whole feed, the entries' shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.integration.conftest import Harness, Reply, Tenant


def page(
    harness: Harness, tenant: Tenant, cursor: str | None = None, limit: int | str | None = None
) -> Reply:
    params = []
    if cursor is not None:
        params.append(f"cursor={quote(cursor)}")
    if limit is not None:
        params.append(f"limit={limit}")
    return harness.get("/v1/changes" + ("?" + "&".join(params) if params else ""), tenant.key)


def walk(
    harness: Harness, tenant: Tenant, cursor: str | None = None, limit: int = 3
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every entry from ``cursor`` to the head, a page of ``limit`` at a time, and every cursor
    handed out on the way (the last one is the head's)."""
    entries: list[dict[str, Any]] = []
    cursors: list[str] = []
    while True:
        reply = page(harness, tenant, cursor, limit)
        assert reply.status_code == 200, reply.body
        body = reply.json
        assert body["next_cursor"], body
        cursors.append(body["next_cursor"])
        entries.extend(body["items"])
        if not body["items"]:
            return entries, cursors
        cursor = body["next_cursor"]


def feed(harness: Harness, tenant: Tenant) -> list[dict[str, Any]]:
    """The tenant's whole feed (the stream drained first)."""
    harness.pump.drain()
    return walk(harness, tenant, limit=100)[0]


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, id, operation) per entry, in feed order."""
    return [(e["object"]["type"], e["object"]["id"], e["operation"]) for e in entries]


def changes_partition(harness: Harness, owner_id: str) -> list[dict[str, Any]]:
    """The raw entries stored in ``owner_id``'s log partition (to check nothing is there)."""
    found: list[dict[str, Any]] = harness.dynamodb().query(
        TableName=harness.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{owner_id}#CHANGES"}},
        ConsistentRead=True,
    )["Items"]
    return found
