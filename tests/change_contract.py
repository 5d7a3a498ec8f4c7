"""One contract for the change log, run on the fake (unit), moto and DynamoDB Local."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.changes import (
    Change,
    Head,
    ObjectRef,
    ObjectType,
    Operation,
    State,
    StreamSource,
    expiry,
)
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.events import TicketChanged
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Attachment, Charge, Note, TimeEntry
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.tickets import Priority, Ticket
from chalicelib.ports import ChangeLog, ChangeLogRaceError
from chalicelib.service import changes as service
from chalicelib.service.changes import ChangePorts, ChangesNotLoggedError


@dataclass
class LogUnderTest:
    log: ChangeLog
    tenant_id: str  # an owner with a feed (a tenant)
    other_tenant_id: str
    serialises_writes: bool  # conditional writes from threads are serialised (not moto)


def ticket(tenant_id: str, title: str = "Printer offline") -> Ticket:
    now = utcnow()
    return Ticket(
        tenant_id=tenant_id,
        ticket_id=new_id(),
        number="T20261202.0001",
        title=title,
        description="Third floor",
        priority=Priority.HIGH,
        currency="EUR",
        created_at=now,
        updated_at=now,
        version=3,
    )


def states(tenant_id: str, ticket_id: str) -> list[State]:
    now = utcnow()
    common = {"tenant_id": tenant_id, "ticket_id": ticket_id, "created_at": now, "updated_at": now}
    return [
        Note(item_id=new_id(), text="Checked the cabling", internal=True, version=2, **common),
        TimeEntry(
            item_id=new_id(),
            date=date(2026, 12, 1),
            hours_worked=Decimal("1.5"),
            hours_billable=Decimal("1.25"),
            **common,
        ),
        Charge(
            item_id=new_id(),
            name="Cable",
            quantity=Decimal(2),
            unit_cost=Decimal("1.5"),
            unit_price=Decimal("4.0001"),
            currency="EUR",
            **common,
        ),
        Attachment(
            item_id=new_id(),
            file_name="photo.png",
            content_type="image/png",
            size=10,
            object_key="k",
            **common,
        ),
        Outsourcing(
            owner_id=tenant_id,
            side=Side.LEAD,
            outsourcing_id=new_id(),
            lane=Lane.PARTNER,
            status=OutsourceStatus.ASSIGNED,
            lead_tenant_id=tenant_id,
            lead_ticket_id=ticket_id,
            receiver_id=new_id(),
            partnership_id=new_id(),
            terms=Terms(instructions="Replace it", bill_customer_rate=Decimal("95.5")),
            currency="EUR",
            ticket=TicketSnapshot(number="T1", title="Printer"),
            lead_name="Lead IT",
            receiver_name="Partner IT",
            created_at=now,
            updated_at=now,
            history=(
                HistoryEntry(
                    event="outsource",
                    from_status=None,
                    to_status=OutsourceStatus.ASSIGNED,
                    at=now,
                    by=Side.LEAD,
                ),
            ),
            version=4,
        ),
    ]


def change_of(owner_id: str, state: State | None, operation: Operation) -> Change:
    if isinstance(state, Ticket) or state is None:
        ref = ObjectRef(ObjectType.TICKET, state.ticket_id if state else new_id())
    elif isinstance(state, Outsourcing):
        ref = ObjectRef(ObjectType.OUTSOURCING, state.outsourcing_id)
    else:
        ref = ObjectRef(ObjectType(state.kind.value), state.item_id, state.ticket_id)
    return Change(owner_id, ref, operation, state)


def source(key: str | None = None, sequence: str | None = None) -> StreamSource:
    return StreamSource(
        table_key=(key or f"T#{new_id()}#TK#{new_id()}", "TICKET"),
        sequence_number=sequence or str(new_id()),
        at=utcnow().replace(microsecond=0),
    )


class ChangeLogContract:
    @pytest.fixture
    def under_test(self) -> LogUnderTest:
        raise NotImplementedError

    def _append(self, log: ChangeLog, change: Change, src: StreamSource | None = None) -> bool:
        """Append one change; False when its record was logged before."""
        head = log.head(change.owner_id)
        assert head is not None
        return not log.append([(change, src or source())], head, expiry(utcnow(), head))

    def test_appended_changes_read_back_in_order_with_their_states(
        self, under_test: LogUnderTest
    ) -> None:
        # Given a ticket, each kind of item and an outsourcing, and a delete
        log, tenant_id = under_test.log, under_test.tenant_id
        first = ticket(tenant_id)
        written = [first, *states(tenant_id, first.ticket_id)]
        changes = [change_of(tenant_id, s, Operation.CREATE) for s in written]
        changes.append(change_of(tenant_id, None, Operation.DELETE))
        sources = [source() for _ in changes]
        # When each is appended
        assert all(self._append(log, c, s) for c, s in zip(changes, sources, strict=True))
        # Then they read back in order, numbered from 1, each state as written
        entries = log.after(tenant_id, 0, 100)
        assert [e.sequence for e in entries] == list(range(1, len(changes) + 1))
        assert [e.state for e in entries] == [*written, None]
        assert [e.object for e in entries] == [c.object for c in changes]
        assert [e.operation for e in entries][-1] is Operation.DELETE
        assert [e.at for e in entries] == [s.at for s in sources]
        assert log.head(tenant_id) == Head(len(changes), entries[-1].expires_at)
        # And another tenant's log is untouched
        assert log.after(under_test.other_tenant_id, 0, 100) == []

    def test_a_stream_record_logged_once_is_never_logged_again(
        self, under_test: LogUnderTest
    ) -> None:
        log, tenant_id = under_test.log, under_test.tenant_id
        change = change_of(tenant_id, ticket(tenant_id), Operation.CREATE)
        src = source()
        assert self._append(log, change, src) is True
        # A replay of the same record (same key and sequence number), whatever the head now
        assert self._append(log, change, src) is False
        assert self._append(log, change, src) is False
        assert [e.sequence for e in log.after(tenant_id, 0, 10)] == [1]
        # While another record of the same item is a new change
        assert self._append(log, change, source(src.table_key[0])) is True

    def test_many_changes_go_in_one_append_and_a_replayed_one_refuses_it_whole(
        self, under_test: LogUnderTest
    ) -> None:
        # Given three changes of one tenant appended together
        log, tenant_id = under_test.log, under_test.tenant_id
        first = ticket(tenant_id)
        batch = [
            (change_of(tenant_id, s, Operation.CREATE), source())
            for s in [first, *states(tenant_id, first.ticket_id)[:2]]
        ]
        head = log.head(tenant_id)
        assert head is not None and log.room([c for c, _ in batch]) == 3
        assert log.append(batch, head, expiry(utcnow(), head)) == frozenset()
        entries = log.after(tenant_id, 0, 10)
        assert [(e.sequence, e.state) for e in entries] == [
            (n + 1, c.state) for n, (c, _) in enumerate(batch)
        ]
        # When a later append holds the second of them again
        later = (change_of(tenant_id, ticket(tenant_id), Operation.CREATE), source())
        head = log.head(tenant_id)
        assert head is not None and head.sequence == 3
        seen = log.append([later, batch[1]], head, expiry(utcnow(), head))
        # Then it names that one and writes nothing
        assert seen == frozenset({1})
        assert len(log.after(tenant_id, 0, 10)) == 3

    def test_room_bounds_one_append(self, under_test: LogUnderTest) -> None:
        tenant_id = under_test.tenant_id
        many = [change_of(tenant_id, ticket(tenant_id), Operation.CREATE) for _ in range(60)]
        assert 1 <= under_test.log.room(many) <= 49
        assert under_test.log.room(many[:1]) == 1

    def test_an_append_on_a_stale_head_is_refused_and_writes_nothing(
        self, under_test: LogUnderTest
    ) -> None:
        log, tenant_id = under_test.log, under_test.tenant_id
        stale = log.head(tenant_id)
        assert stale is not None
        self._append(log, change_of(tenant_id, ticket(tenant_id), Operation.CREATE))
        late = change_of(tenant_id, ticket(tenant_id, "Late"), Operation.CREATE)
        late_source = source()
        with pytest.raises(ChangeLogRaceError):
            log.append([(late, late_source)], stale, expiry(utcnow(), stale))
        assert [e.sequence for e in log.after(tenant_id, 0, 10)] == [1]
        # And the refused record is not marked as logged: its retry goes in as the next entry
        assert self._append(log, late, late_source) is True
        assert [e.state for e in log.after(tenant_id, 1, 10)] == [late.state]

    def test_pages_after_a_sequence_and_from_the_oldest_kept_entry(
        self, under_test: LogUnderTest
    ) -> None:
        log, tenant_id = under_test.log, under_test.tenant_id
        now = utcnow()
        for number, days in enumerate((-2, -1, 1, 2, 3)):
            change = change_of(tenant_id, ticket(tenant_id, f"T{number}"), Operation.CREATE)
            head = log.head(tenant_id)
            assert head is not None
            log.append(
                [(change, source())], head, (now + timedelta(days=days)).replace(microsecond=0)
            )
        assert [e.sequence for e in log.after(tenant_id, 1, 2)] == [2, 3]
        assert [e.sequence for e in log.after(tenant_id, 4, 10)] == [5]
        assert log.after(tenant_id, 5, 10) == []
        assert [e.sequence for e in log.oldest_kept(tenant_id, now, 2)] == [3, 4]
        assert [e.sequence for e in log.oldest_kept(tenant_id, now, 1)] == [3]
        assert log.oldest_kept(tenant_id, now + timedelta(days=4), 10) == []
        assert log.oldest_kept(under_test.other_tenant_id, now, 10) == []

    def test_cursors_stand_for_a_sequence_of_one_tenants_feed(
        self, under_test: LogUnderTest
    ) -> None:
        log, tenant_id, other = under_test.log, under_test.tenant_id, under_test.other_tenant_id
        for sequence in (0, 1, 42, 10**19):
            assert log.position(tenant_id, log.cursor_at(tenant_id, sequence)) == sequence
        for forged in (log.cursor_at(other, 1), "x", "", "0" * 20, tenant_id):
            with pytest.raises(ValidationError) as caught:
                log.position(tenant_id, forged)
            assert caught.value.field == "cursor"

    def test_an_owner_that_is_not_a_tenant_has_no_feed(self, under_test: LogUnderTest) -> None:
        company = new_id()
        assert under_test.log.head(company) is None
        assert under_test.log.head(company) is None  # the second time from the counter
        assert under_test.log.head(under_test.tenant_id) == Head(0)

    def test_concurrent_appenders_leave_no_gap_and_no_repeat(
        self, under_test: LogUnderTest
    ) -> None:
        if not under_test.serialises_writes:
            pytest.skip("this backend does not serialise conditional writes (moto)")
        # Given 6 writers (shards) each logging 5 changes of one tenant at once
        log, tenant_id = under_test.log, under_test.tenant_id
        ports = ChangePorts(log=log)
        logged: dict[str, StreamSource] = {}
        failures: list[BaseException] = []
        start = threading.Barrier(6)

        def writer() -> None:
            start.wait()
            for _ in range(5):
                created = ticket(tenant_id)
                src = source()
                logged[created.ticket_id] = src
                while True:  # the batch retry: the same record, until it is logged
                    try:
                        service.log_change(ports, TicketChanged(None, created), src)
                        break
                    except ChangesNotLoggedError:
                        continue
                    except BaseException as exc:  # pragma: no cover - reported below
                        failures.append(exc)
                        return

        threads = [threading.Thread(target=writer) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then every change is in the log once, numbered 1..30 without a gap
        assert failures == []
        entries = log.after(tenant_id, 0, 100)
        assert [e.sequence for e in entries] == list(range(1, 31))
        assert sorted(e.object.id for e in entries) == sorted(logged)
