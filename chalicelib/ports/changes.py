"""Ports of the per-tenant change feed (see ``domain.changes``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.domain.changes import Change, ChangeEntry, Head, StreamSource
from chalicelib.domain.errors import ConflictError


class ChangeLogRaceError(ConflictError):
    """Another writer appended to the same log first (the counter moved): read the head again."""

    def __init__(self) -> None:
        super().__init__("The change log moved on; read its head again.", code="log_moved")


class ChangeLog(Protocol):
    """Each tenant's ordered, gap-free log of changes, with a counter as its head."""

    def head(self, owner_id: str) -> Head | None:
        """The owner's head, read strongly consistent; None when the owner has no feed (a
        subcontractor company, which has no API). Said once per owner by the owner's first
        change: afterwards the counter itself says it, so this is one read either way."""

    def room(self, changes: Sequence[Change]) -> int:
        """How many of the leading ``changes`` (of one owner) one append can take (at least 1)."""

    def append(
        self, logged: Sequence[tuple[Change, StreamSource]], head: Head, expires: datetime
    ) -> frozenset[int]:
        """Append the changes (of one owner, each with the stream record it came from) as
        entries ``head.sequence + 1...``, expiring at ``expires``, in ONE transaction conditional
        on the head still being ``head``, on the entries not existing and on no record having
        been logged before. Returns the indexes of the records logged before (then nothing is
        written; empty when all were appended); raises :class:`ChangeLogRaceError` when another
        writer moved the head first."""

    def after(self, tenant_id: str, sequence: int, limit: int) -> Sequence[ChangeEntry]:
        """Up to ``limit`` entries after ``sequence``, oldest first: one strongly consistent
        Query (whatever their expiry)."""

    def oldest_kept(self, tenant_id: str, now: datetime, limit: int) -> Sequence[ChangeEntry]:
        """Up to ``limit`` entries from the oldest that has not expired at ``now``, oldest first.
        One Query, unless expired entries the TTL has not removed yet fill the first pages."""

    def position(self, tenant_id: str, cursor: str) -> int:
        """The sequence an opaque cursor of the tenant's feed stands for; ``ValidationError``
        naming ``cursor`` for anything else (another tenant's, another list's, malformed)."""

    def cursor_at(self, tenant_id: str, sequence: int) -> str:
        """The opaque cursor standing for ``sequence`` of the tenant's feed."""
