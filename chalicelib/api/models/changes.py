"""The change feed's response: each entry names the object, the operation and the new state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chalicelib.api.models.base import ResponseModel
from chalicelib.api.models.outsourcing import OutsourcingOut
from chalicelib.api.models.tickets import (
    AttachmentOut,
    ChargeOut,
    NoteOut,
    TicketOut,
    TimeEntryOut,
)
from chalicelib.domain.changes import ChangeEntry, ObjectRef, State
from chalicelib.domain.clock import iso
from chalicelib.domain.items import Attachment, Charge, Note, TimeEntry
from chalicelib.domain.outsourcing import Outsourcing
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import Page

_OUT_BY_TYPE: dict[type, Any] = {
    Ticket: TicketOut,
    Outsourcing: OutsourcingOut,
    Note: NoteOut,
    TimeEntry: TimeEntryOut,
    Charge: ChargeOut,
    Attachment: AttachmentOut,
}


StateOut = TicketOut | NoteOut | TimeEntryOut | ChargeOut | AttachmentOut | OutsourcingOut | None


class ChangedObjectOut(ResponseModel):
    type: Literal["ticket", "note", "time_entry", "charge", "attachment", "outsourcing"]
    id: str
    ticket_id: str | None = Field(None, description="Items only: the item's ticket.")

    @classmethod
    def of(cls, ref: ObjectRef) -> ChangedObjectOut:
        return cls(type=ref.type.value, id=ref.id, ticket_id=ref.ticket_id)


class ChangeOut(ResponseModel):
    sequence: int = Field(description="Position in this tenant's feed: 1, 2, 3... without gaps.")
    at: str = Field(description="When the write happened (the stream record's time).")
    object: ChangedObjectOut
    operation: Literal["create", "update", "delete"]
    state: StateOut = Field(
        description="The object as its own GET shows it after the change; null for a delete "
        "(and when state_omitted)."
    )
    state_omitted: bool = Field(
        False,
        description="The state is not in the feed: the object is a read-only replica of the "
        "other tenant's item (its content stays out of this tenant's log, since the other "
        "tenant may hide it again), or it was too large. GET the ticket's items instead.",
    )

    @classmethod
    def of(cls, entry: ChangeEntry) -> ChangeOut:
        return cls(
            sequence=entry.sequence,
            at=iso(entry.at),
            object=ChangedObjectOut.of(entry.object),
            operation=entry.operation.value,
            state=_state(entry.state),
            state_omitted=entry.state_omitted,
        )


def _state(state: State | None) -> Any:
    return _OUT_BY_TYPE[type(state)].of(state) if state is not None else None


class ChangeList(ResponseModel):
    items: list[ChangeOut]
    next_cursor: str = Field(
        description="Where to resume: always set, also at the end of the feed, so a tool can poll."
    )

    @classmethod
    def of(cls, page: Page[ChangeEntry]) -> ChangeList:
        assert page.next_cursor is not None
        return cls(items=[ChangeOut.of(e) for e in page.items], next_cursor=page.next_cursor)
