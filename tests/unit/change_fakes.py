"""An in-memory change log with the DynamoDB log's observable rules (the same contract runs on
both: ``tests/change_contract.py``)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime

from chalicelib.domain.changes import Change, ChangeEntry, Head, StreamSource
from chalicelib.domain.errors import ValidationError
from chalicelib.ports import ChangeLogRaceError


class FakeChangeLog:
    """Logs per tenant; ``tenants`` are the owners with a feed (anything else is a company)."""

    def __init__(self, tenants: Collection[str] = ()) -> None:
        self.tenants = set(tenants)
        self.entries: dict[str, list[ChangeEntry]] = {}
        self.no_feed: set[str] = set()
        self._seen: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()  # conditional writes are atomic, as in DynamoDB
        self.appends = 0  # transactions committed

    def __len__(self) -> int:
        return sum(len(entries) for entries in self.entries.values())

    def head(self, owner_id: str) -> Head | None:
        if owner_id not in self.tenants:
            self.no_feed.add(owner_id)
            return None
        with self._lock:
            entries = self.entries.get(owner_id, [])
            return Head(entries[-1].sequence, entries[-1].expires_at) if entries else Head(0)

    def room(self, changes: Sequence[Change]) -> int:
        return max(1, min(len(changes), 49))

    def append(
        self, logged: Sequence[tuple[Change, StreamSource]], head: Head, expires: datetime
    ) -> frozenset[int]:
        owner = logged[0][0].owner_id
        markers = [(owner, *source.table_key, source.sequence_number) for _, source in logged]
        if len(set(markers)) != len(markers):  # as DynamoDB refuses one item twice in a transaction
            raise ValueError("Transaction request cannot include multiple operations on one item")
        with self._lock:
            seen = frozenset(i for i, marker in enumerate(markers) if marker in self._seen)
            if seen:
                return seen
            entries = self.entries.setdefault(owner, [])
            if (entries[-1].sequence if entries else 0) != head.sequence:
                raise ChangeLogRaceError()
            self._seen.update(markers)
            for index, (change, source) in enumerate(logged):
                entries.append(
                    ChangeEntry(
                        sequence=head.sequence + 1 + index,
                        at=source.at,
                        object=change.object,
                        operation=change.operation,
                        state=change.state,
                        expires_at=expires.replace(microsecond=0),
                    )
                )
            self.appends += 1
        return frozenset()

    def after(self, tenant_id: str, sequence: int, limit: int) -> Sequence[ChangeEntry]:
        with self._lock:
            entries = self.entries.get(tenant_id, [])
            return [e for e in entries if e.sequence > sequence][:limit]

    def oldest_kept(self, tenant_id: str, now: datetime, limit: int) -> Sequence[ChangeEntry]:
        with self._lock:
            entries = self.entries.get(tenant_id, [])
            return [e for e in entries if e.expires_at > now][:limit]

    def position(self, tenant_id: str, cursor: str) -> int:
        owner, _, sequence = cursor.partition(".")
        if owner != tenant_id or len(sequence) != 20 or not sequence.isdigit():
            raise ValidationError("The cursor is not valid for this list.", field="cursor")
        return int(sequence)

    def cursor_at(self, tenant_id: str, sequence: int) -> str:
        return f"{tenant_id}.{sequence:020d}"

    def remove(self, tenant_id: str, sequence: int) -> None:
        """What DynamoDB's TTL does to an expired entry."""
        self.entries[tenant_id] = [e for e in self.entries[tenant_id] if e.sequence != sequence]
