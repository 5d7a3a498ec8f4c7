"""The change feed: logging each stream change in its owner's log, and reading a tenant's log.

Logging is a stream reaction (``streams/handler.py``), run for every decoded ticket, item and
outsourcing record with the record's identity and time. What a change shows is decided in
``domain.changes``; the log appends it with one transaction conditional on the head it read
(see ``adapters/dynamo/changes.py``); the head is remembered per process (:class:`HeadCache`), so
the counter is read only after a race or on a cold start. A cancelled append whose reason is the
record's marker means the record was logged already (a replayed or retried batch, a dead-letter
redrive): skip. One cancelled on the counter means another writer (another shard, another
process) appended first: read the head again (strongly consistent) and retry, a few times, then
fail the record so its batch is retried.

Reading (``GET /v1/changes``) returns entries after the cursor, oldest first, with a cursor that
is always given, also at the head (the position to poll from). A cursor is refused as 400 when it
is not this tenant's feed's or points beyond the head, and as 410 ``cursor_expired`` when the
change after it is no longer kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain import changes
from chalicelib.domain.changes import ChangeEntry, Head, StreamSource
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import GoneError, ValidationError
from chalicelib.domain.events import DomainEvent
from chalicelib.observability import count, logger
from chalicelib.ports import ChangeLog, ChangeLogRaceError, Page, Paging

APPEND_ATTEMPTS = 5


class HeadCache:
    """The head this process last read or wrote per owner, so most appends skip reading the
    counter: a stale head (another shard appended since) only costs a refused transaction and
    one strongly consistent re-read. An owner without a feed stays without one."""

    MAX_OWNERS = 10_000

    def __init__(self) -> None:
        self._heads: dict[str, Head | None] = {}
        self._lock = threading.Lock()

    def get(self, owner_id: str) -> tuple[bool, Head | None]:
        with self._lock:
            return owner_id in self._heads, self._heads.get(owner_id)

    def put(self, owner_id: str, head: Head | None) -> None:
        with self._lock:
            if len(self._heads) >= self.MAX_OWNERS:
                self._heads.clear()
            self._heads[owner_id] = head

    def forget(self, owner_id: str) -> None:
        with self._lock:
            self._heads.pop(owner_id, None)


@dataclass(frozen=True, slots=True)
class ChangePorts:
    log: ChangeLog
    heads: HeadCache = field(default_factory=HeadCache)


class ChangeLogBusyError(Exception):
    """Every attempt lost to another writer: the record fails and its batch is retried."""


def log_change(ports: ChangePorts, event: DomainEvent, source: StreamSource) -> None:
    """Append the change ``event`` makes to its owner's feed, exactly once per stream record."""
    change = changes.change_of(event)
    if change is None:
        return
    owner = change.owner_id
    where = {"tenant_id": owner, "object_id": change.object.id}
    for attempt in range(APPEND_ATTEMPTS):
        known, head = ports.heads.get(owner)
        if not known or attempt > 0:
            head = ports.log.head(owner)
            ports.heads.put(owner, head)
        if head is None:
            return  # a subcontractor company: no API, no feed
        expires = changes.expiry(utcnow(), head)
        try:
            logged = ports.log.append(change, head, source, expires)
        except ChangeLogRaceError:
            ports.heads.forget(owner)
            logger.info("change log moved, retrying", extra=where)
            continue
        if not logged:
            ports.heads.forget(owner)  # the head used may have been stale as well
            logger.info("change already logged", extra=where)
            return
        ports.heads.put(owner, Head(head.sequence + 1, expires))
        count("ChangeLogged")
        return
    raise ChangeLogBusyError(f"change log of {change.owner_id} kept moving")


def read_changes(
    ports: ChangePorts, tenant_id: str, paging: Paging, now: datetime
) -> Page[ChangeEntry]:
    """One page of the tenant's feed after ``paging.cursor`` (from the oldest kept change
    without one), oldest first; ``next_cursor`` is always set."""
    log = ports.log
    if paging.cursor is None:
        entries = log.oldest_kept(tenant_id, now, paging.limit)
        if entries:
            return Page(entries, log.cursor_at(tenant_id, entries[-1].sequence))
        head = log.head(tenant_id)
        return Page([], log.cursor_at(tenant_id, head.sequence if head else 0))
    after = log.position(tenant_id, paging.cursor)
    entries = log.after(tenant_id, after, paging.limit)
    if not entries:
        head = log.head(tenant_id)
        if after > (head.sequence if head else 0):
            raise ValidationError("The cursor is beyond the end of the feed.", field="cursor")
        return Page([], paging.cursor)
    first = entries[0]
    if first.sequence != after + 1 or first.expires_at <= now:
        raise GoneError(
            "The changes after this cursor are no longer kept; start again without a cursor.",
            code="cursor_expired",
            field="cursor",
        )
    return Page(entries, log.cursor_at(tenant_id, entries[-1].sequence))
