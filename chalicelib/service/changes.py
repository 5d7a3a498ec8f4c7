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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain import changes
from chalicelib.domain.changes import Change, ChangeEntry, Head, StreamSource
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


class ChangesNotLoggedError(Exception):
    """Appending an owner's changes stopped: ``done`` of them are logged (or were before)."""

    def __init__(self, owner: str, done: int) -> None:
        super().__init__(f"changes of {owner} not logged after the first {done}")
        self.done = done


Logged = tuple[Change, StreamSource]


def log_change(ports: ChangePorts, event: DomainEvent, source: StreamSource) -> None:
    """Append the change ``event`` makes to its owner's feed, once per stream record."""
    change = changes.change_of(event)
    if change is not None:
        append_changes(ports, change.owner_id, [(change, source)])


def append_changes(ports: ChangePorts, owner: str, pending: Sequence[Logged]) -> int:
    """Append ``pending`` (one owner's changes, in stream order) to its feed, as few
    transactions as fit; records logged before are skipped. Returns how many were done; on a
    failure raises :class:`ChangesNotLoggedError` saying how many were done before it."""
    done = 0
    try:
        while done < len(pending):
            done += _append_some(ports, owner, pending[done:])
    except Exception as exc:
        raise ChangesNotLoggedError(owner, done) from exc
    return done


def _append_some(ports: ChangePorts, owner: str, pending: Sequence[Logged]) -> int:
    """Append the leading changes one transaction takes; returns how many were done."""
    taken = list(pending[: ports.log.room([change for change, _ in pending])])
    chunk = list(taken)
    where = {"tenant_id": owner, "changes": len(chunk)}
    races = 0
    while chunk:
        known, head = ports.heads.get(owner)
        if not known:
            head = ports.log.head(owner)
            ports.heads.put(owner, head)
        if head is None:
            return len(taken)  # a subcontractor company: no API, no feed
        expires = changes.expiry(utcnow(), head)
        try:
            seen = ports.log.append(chunk, head, expires)
        except ChangeLogRaceError:
            ports.heads.forget(owner)
            races += 1
            if races >= APPEND_ATTEMPTS:
                raise ChangeLogBusyError(f"change log of {owner} kept moving") from None
            logger.info("change log moved, retrying", extra=where)
            continue
        if seen:
            # Logged before (a replay, a retried batch, a redrive): the rest goes in again.
            logger.info("change already logged", extra={**where, "already": len(seen)})
            chunk = [logged for index, logged in enumerate(chunk) if index not in seen]
            continue
        ports.heads.put(owner, Head(head.sequence + len(chunk), expires))
        for _ in chunk:
            count("ChangeLogged")
        chunk = []
    return len(taken)


class ChangeBatch:
    """The feed's changes of one stream batch, appended per owner at the batch's end: one
    transaction for up to 49 changes of an owner instead of one per change."""

    def __init__(self, ports: ChangePorts) -> None:
        self._ports = ports
        self._pending: dict[str, list[tuple[int, Logged]]] = {}
        self._sources: set[tuple[tuple[str, str], str]] = set()

    def add(self, event: DomainEvent, source: StreamSource, position: int) -> None:
        """Keep the change of the batch's record at ``position`` (in batch order); a record
        delivered twice in one batch is kept once."""
        identity = (source.table_key, source.sequence_number)
        if identity in self._sources:
            return
        change = changes.change_of(event)
        if change is not None:
            self._sources.add(identity)
            self._pending.setdefault(change.owner_id, []).append((position, (change, source)))

    def flush(self) -> int | None:
        """Append every owner's changes; returns the position of the earliest record whose
        change could not be logged (that record and every later one must be retried), or None.
        """
        pending, self._pending = self._pending, {}
        self._sources = set()
        failed: list[int] = []
        for owner, kept in pending.items():
            try:
                append_changes(self._ports, owner, [logged for _, logged in kept])
            except ChangesNotLoggedError as exc:
                logger.exception("change not logged", extra={"tenant_id": owner})
                failed.append(kept[exc.done][0])
        return min(failed) if failed else None


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
