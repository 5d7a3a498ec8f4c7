"""Domain events decoded from the table's change stream: what changed, before and after."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.items import Attachment, Item
from chalicelib.domain.outsourcing import Outsourcing
from chalicelib.domain.sync import Tombstone
from chalicelib.domain.tickets import Ticket


@dataclass(frozen=True, slots=True)
class ItemChanged:
    """A note, time entry, charge or attachment was added, edited or (soft-)deleted, or a
    replica of one became (or stopped being) a tombstone."""

    before: Item | Tombstone | None
    after: Item | Tombstone | None

    @property
    def current(self) -> Item | Tombstone:
        found = self.after or self.before
        assert found is not None
        return found

    @property
    def file_gone(self) -> Attachment | None:
        """The attachment whose file nobody may fetch any more after this change: deleted,
        removed, or (a replica) turned into a tombstone. None for every other change."""
        before, after = self.before, self.after
        if not isinstance(before, Attachment) or before.deleted:
            return None
        gone = after is None or after.deleted or isinstance(after, Tombstone)
        return before if gone else None

    @property
    def deleted_now(self) -> bool:
        """True for the change that deleted the item (tombstone set, or the row removed)."""
        if self.after is None:
            return self.before is not None and not self.before.deleted
        return self.after.deleted and not (self.before is not None and self.before.deleted)


@dataclass(frozen=True, slots=True)
class TicketChanged:
    before: Ticket | None
    after: Ticket | None


@dataclass(frozen=True, slots=True)
class OutsourcingChanged:
    """One side's copy of an outsourcing was created or moved."""

    before: Outsourcing | None
    after: Outsourcing | None


DomainEvent = ItemChanged | TicketChanged | OutsourcingChanged
