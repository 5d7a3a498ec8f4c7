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

    def __len__(self) -> int:
        return sum(len(entries) for entries in self.entries.values())

    def head(self, owner_id: str) -> Head | None:
        if owner_id not in self.tenants:
            self.no_feed.add(owner_id)
            return None
        with self._lock:
            entries = self.entries.get(owner_id, [])
            return Head(entries[-1].sequence, entries[-1].expires_at) if entries else Head(0)

    def append(self, change: Change, head: Head, source: StreamSource, expires: datetime) -> bool:
        marker = (change.owner_id, *source.table_key, source.sequence_number)
        with self._lock:
            if marker in self._seen:
                return False
            entries = self.entries.setdefault(change.owner_id, [])
            if (entries[-1].sequence if entries else 0) != head.sequence:
                raise ChangeLogRaceError()
            self._seen.add(marker)
            entries.append(
                ChangeEntry(
                    sequence=head.sequence + 1,
                    at=source.at,
                    object=change.object,
                    operation=change.operation,
                    state=change.state,
                    expires_at=expires.replace(microsecond=0),
                )
            )
        return True

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
