"""The change feed's rules on fakes: what each stream event logs, and how a page is read."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from chalicelib.domain.changes import (
    RETENTION,
    Head,
    ObjectRef,
    ObjectType,
    Operation,
    StreamSource,
    change_of,
    expiry,
)
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import GoneError, ValidationError
from chalicelib.domain.events import ItemChanged, OutsourcingChanged, TicketChanged
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Note, Origin
from chalicelib.domain.outsourcing import Lane, OutsourceStatus, Side
from chalicelib.domain.sync import Tombstone
from chalicelib.ports import ChangeLogRaceError, Paging
from chalicelib.service import changes as service
from chalicelib.service.changes import (
    ChangeBatch,
    ChangeLogBusyError,
    ChangePorts,
    ChangesNotLoggedError,
)
from tests.change_contract import source, states, ticket
from tests.unit.change_fakes import FakeChangeLog

TENANT = new_id()


def _note(**fields: object) -> Note:
    now = utcnow()
    base = {"tenant_id": TENANT, "ticket_id": new_id(), "item_id": new_id(), "text": "Hi"}
    return Note(created_at=now, updated_at=now, **{**base, **fields})  # type: ignore[arg-type]


def _tombstone(note: Note) -> Tombstone:
    return Tombstone(
        tenant_id=note.tenant_id,
        ticket_id=note.ticket_id,
        item_id=note.item_id,
        kind=note.kind,
        origin_tenant=new_id(),
        origin_ticket_id=new_id(),
        origin_item_id=new_id(),
        origin_version=3,
        outsourcing_id=new_id(),
    )


def test_an_item_appearing_changing_and_going_is_create_update_delete() -> None:
    note = _note()
    edited = dataclasses.replace(note, text="Edited", version=2)
    deleted = dataclasses.replace(edited, deleted=True, version=3)
    ops = [
        change_of(ItemChanged(None, note)),
        change_of(ItemChanged(note, edited)),
        change_of(ItemChanged(edited, deleted)),
        change_of(ItemChanged(deleted, None)),
    ]
    assert [c.operation if c else None for c in ops] == [
        Operation.CREATE,
        Operation.UPDATE,
        Operation.DELETE,
        None,
    ]
    assert ops[0] is not None and ops[0].object == ObjectRef(
        ObjectType.NOTE, note.item_id, note.ticket_id
    )
    assert ops[0].state == note and ops[2] is not None and ops[2].state is None


def test_a_replica_that_becomes_hidden_is_a_delete_and_hidden_ones_show_nothing() -> None:
    replica = _note()
    hidden = _tombstone(replica)
    gone = change_of(ItemChanged(replica, hidden))
    assert gone is not None and gone.operation is Operation.DELETE and gone.state is None
    assert change_of(ItemChanged(None, hidden)) is None
    assert change_of(ItemChanged(hidden, hidden)) is None
    back = change_of(ItemChanged(hidden, replica))
    assert back is not None and back.operation is Operation.CREATE


def test_a_visible_replicas_content_is_never_copied_into_the_log() -> None:
    replica = _note(
        origin=Origin.PARTNER,
        origin_tenant=new_id(),
        origin_ticket_id=new_id(),
        origin_item_id=new_id(),
        origin_version=1,
    )
    assert replica.read_only
    assert change_of(ItemChanged(None, _note())).state is not None  # type: ignore[union-attr]
    for before, after, operation in (
        (None, replica, Operation.CREATE),
        (replica, dataclasses.replace(replica, text="edited", version=2), Operation.UPDATE),
    ):
        logged = change_of(ItemChanged(before, after))
        assert logged is not None and logged.operation is operation
        assert (logged.state, logged.withheld) == (None, True)


def test_a_write_that_changes_nothing_logs_nothing() -> None:
    created = ticket(TENANT)
    assert change_of(TicketChanged(created, created)) is None
    renamed = dataclasses.replace(created, title="Renamed", version=created.version + 1)
    logged = change_of(TicketChanged(created, renamed))
    assert logged is not None and logged.operation is Operation.UPDATE


def test_a_companys_copy_of_an_outsourcing_logs_nothing_but_the_leads_does() -> None:
    lead_copy = states(TENANT, new_id())[-1]
    assert not isinstance(lead_copy, Note)
    company = dataclasses.replace(
        lead_copy, owner_id=new_id(), side=Side.RECEIVER, lane=Lane.SUBCONTRACTOR
    )
    assert change_of(OutsourcingChanged(None, company)) is None
    partner = dataclasses.replace(company, lane=Lane.PARTNER)
    assert change_of(OutsourcingChanged(None, partner)) is not None
    moved = dataclasses.replace(lead_copy, status=OutsourceStatus.IN_PROGRESS)
    logged = change_of(OutsourcingChanged(lead_copy, moved))
    assert logged is not None and logged.owner_id == TENANT and logged.state == moved


def test_expiry_never_goes_back_along_the_log() -> None:
    now = utcnow()
    assert expiry(now, Head(0)) == (now + RETENTION).replace(microsecond=0)
    later = now + RETENTION + timedelta(hours=1)
    assert expiry(now, Head(7, later)) == later


def _logged(log: FakeChangeLog, count: int) -> None:
    ports = ChangePorts(log=log)
    for _ in range(count):
        service.log_change(ports, TicketChanged(None, ticket(TENANT)), source())


def test_log_change_skips_owners_without_a_feed_and_replays() -> None:
    log = FakeChangeLog({TENANT})
    ports = ChangePorts(log=log)
    company_ticket = ticket(new_id())
    service.log_change(ports, TicketChanged(None, company_ticket), source())
    assert len(log) == 0 and company_ticket.tenant_id in log.no_feed
    src = source()
    event = TicketChanged(None, ticket(TENANT))
    service.log_change(ports, event, src)
    service.log_change(ports, event, src)
    assert len(log) == 1


class _AlwaysRacing(FakeChangeLog):
    def append(self, *args: object, **kwargs: object) -> bool:
        raise ChangeLogRaceError()


def test_a_log_that_keeps_moving_fails_the_record_after_a_few_attempts() -> None:
    ports = ChangePorts(log=_AlwaysRacing({TENANT}))
    with pytest.raises(ChangesNotLoggedError) as caught:
        service.log_change(ports, TicketChanged(None, ticket(TENANT)), source())
    assert caught.value.done == 0 and isinstance(caught.value.__cause__, ChangeLogBusyError)


def test_pages_hand_out_a_cursor_also_at_the_head() -> None:
    log = FakeChangeLog({TENANT})
    now = utcnow()
    empty = service.read_changes(ChangePorts(log), TENANT, Paging(limit=10), now)
    assert empty.items == [] and empty.next_cursor == log.cursor_at(TENANT, 0)
    _logged(log, 3)
    first = service.read_changes(ChangePorts(log), TENANT, Paging(limit=2), now)
    assert [e.sequence for e in first.items] == [1, 2]
    rest = service.read_changes(ChangePorts(log), TENANT, Paging(2, first.next_cursor), now)
    assert [e.sequence for e in rest.items] == [3]
    head = service.read_changes(ChangePorts(log), TENANT, Paging(2, rest.next_cursor), now)
    assert head.items == [] and head.next_cursor == rest.next_cursor


def test_a_cursor_beyond_the_head_is_a_400_and_one_past_retention_a_410() -> None:
    log = FakeChangeLog({TENANT})
    _logged(log, 3)
    ports, now = ChangePorts(log), utcnow()
    with pytest.raises(ValidationError) as beyond:
        service.read_changes(ports, TENANT, Paging(10, log.cursor_at(TENANT, 4)), now)
    assert beyond.value.field == "cursor"
    log.remove(TENANT, 1)
    with pytest.raises(GoneError) as removed:
        service.read_changes(ports, TENANT, Paging(10, log.cursor_at(TENANT, 0)), now)
    assert removed.value.code == "cursor_expired" and removed.value.field == "cursor"
    # Entry 2 is still stored but past its expiry: as good as removed
    later = now + RETENTION + timedelta(seconds=1)
    log.entries[TENANT][0] = dataclasses.replace(log.entries[TENANT][0], expires_at=now)
    with pytest.raises(GoneError):
        service.read_changes(ports, TENANT, Paging(10, log.cursor_at(TENANT, 1)), now)
    kept = service.read_changes(ports, TENANT, Paging(10), now)
    assert [e.sequence for e in kept.items] == [3]
    assert service.read_changes(ports, TENANT, Paging(10), later).items == []


def test_the_stream_source_is_part_of_what_is_logged_once() -> None:
    log = FakeChangeLog({TENANT})
    ports = ChangePorts(log)
    event = TicketChanged(None, ticket(TENANT))
    first = source()
    same_item_later = StreamSource(first.table_key, first.sequence_number + "1", first.at)
    service.log_change(ports, event, first)
    service.log_change(ports, event, same_item_later)
    assert len(log) == 2


def test_two_processes_with_their_own_remembered_heads_leave_no_gap() -> None:
    # Given two stream consumers (their own head caches) appending to one tenant's log in turn
    log = FakeChangeLog({TENANT})
    first, second = ChangePorts(log), ChangePorts(log)
    for turn in range(6):
        ports = first if turn % 2 == 0 else second
        service.log_change(ports, TicketChanged(None, ticket(TENANT)), source())
    # Then each stale head was refused and read again: 1..6 without a gap
    assert [e.sequence for e in log.after(TENANT, 0, 10)] == [1, 2, 3, 4, 5, 6]


class _CountingHeads(FakeChangeLog):
    reads = 0

    def head(self, owner_id: str) -> Head | None:
        self.reads += 1
        return super().head(owner_id)


def test_the_counter_is_read_once_per_owner_while_nobody_else_appends() -> None:
    log = _CountingHeads({TENANT})
    ports = ChangePorts(log)
    _logged_with(ports, 5)
    company = ticket(new_id())
    for _ in range(3):
        service.log_change(ports, TicketChanged(None, company), source())
    assert log.reads == 2 and len(log) == 5


def _logged_with(ports: ChangePorts, count: int) -> None:
    for _ in range(count):
        service.log_change(ports, TicketChanged(None, ticket(TENANT)), source())


def test_a_batch_appends_each_owners_changes_in_one_transaction_in_stream_order() -> None:
    # Given a stream batch with changes of two tenants, interleaved, and one of a company
    other = new_id()
    log = FakeChangeLog({TENANT, other})
    batch = ChangeBatch(ChangePorts(log))
    tickets = [ticket(TENANT if n % 2 == 0 else other, f"T{n}") for n in range(6)]
    for position, created in enumerate(tickets):
        batch.add(TicketChanged(None, created), source(), position)
    batch.add(TicketChanged(None, ticket(new_id())), source(), 6)
    # When the batch ends
    assert batch.flush() is None
    # Then each tenant got its changes in batch order, in one transaction each
    assert log.appends == 2
    for owner in (TENANT, other):
        titles = [
            e.state.title for e in log.after(owner, 0, 10) if isinstance(e.state, type(tickets[0]))
        ]
        assert titles == [t.title for t in tickets if t.tenant_id == owner]
    assert batch.flush() is None and log.appends == 2  # nothing is kept for the next batch


class _FailingFor(FakeChangeLog):
    def __init__(self, tenants: set[str], failing: str) -> None:
        super().__init__(tenants)
        self.failing = failing

    def append(self, logged, head, expires):  # type: ignore[no-untyped-def]
        if logged[0][0].owner_id == self.failing:
            raise RuntimeError("storage unavailable")
        return super().append(logged, head, expires)


def test_a_batch_names_the_earliest_record_whose_change_was_not_logged() -> None:
    other = new_id()
    log = _FailingFor({TENANT, other}, failing=other)
    batch = ChangeBatch(ChangePorts(log))
    owners = [TENANT, TENANT, other, TENANT, other]
    for position, owner in enumerate(owners):
        batch.add(TicketChanged(None, ticket(owner)), source(), position)
    assert batch.flush() == 2
    assert len(log.after(TENANT, 0, 10)) == 3  # logged; a retry from 2 skips them as seen


def test_a_replayed_batch_logs_only_what_is_new() -> None:
    log = FakeChangeLog({TENANT})
    events = [(TicketChanged(None, ticket(TENANT)), source()) for _ in range(4)]
    first = ChangeBatch(ChangePorts(log))
    for position, (event, src) in enumerate(events[:2]):
        first.add(event, src, position)
    assert first.flush() is None
    again = ChangeBatch(ChangePorts(log))
    for position, (event, src) in enumerate(events):
        again.add(event, src, position)
    assert again.flush() is None
    assert [e.sequence for e in log.after(TENANT, 0, 10)] == [1, 2, 3, 4]
    assert [e.state for e in log.after(TENANT, 0, 10)] == [e.after for e, _ in events]
