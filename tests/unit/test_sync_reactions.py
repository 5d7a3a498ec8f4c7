"""Synchronisation reactions on fakes: what a change on one side becomes on the other."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.domain.attachments import UploadPolicy
from chalicelib.domain.events import ItemChanged, TicketChanged
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Attachment, Item, ItemKind, Note, Origin, TimeEntry
from chalicelib.domain.outsourcing import (
    Lane,
    OutsourceStatus,
    Outsourcing,
    PricingType,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.sync import Destination, cost_charge, replica_id
from chalicelib.domain.tenants import Actor
from chalicelib.domain.tickets import Priority, Ticket
from chalicelib.service import items as item_service
from chalicelib.service import replication
from chalicelib.service.items import AddItem, ItemPorts
from chalicelib.service.replication import ReplicationPorts
from tests.unit.fakes import (
    FakeFileStore,
    FakeItemRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LEAD, PARTNER = new_id(), new_id()
LEAD_TICKET, PARTNER_TICKET = new_id(), new_id()
OUTSOURCING = new_id()
FROM_LEAD = Destination(OUTSOURCING, Side.LEAD, PARTNER, PARTNER_TICKET)
FROM_PARTNER = Destination(OUTSOURCING, Side.RECEIVER, LEAD, LEAD_TICKET)


def _note(**fields: object) -> Note:
    base: dict[str, object] = {
        "tenant_id": LEAD,
        "ticket_id": LEAD_TICKET,
        "item_id": new_id(),
        "text": "hello",
        "created_at": NOW,
        "updated_at": NOW,
        "destination": FROM_LEAD,
    }
    return Note(**{**base, **fields})  # type: ignore[arg-type]


def _replica(items: FakeItemRepository, item: Item, owner: str, ticket: str) -> Item | None:
    return items.items.get((owner, ticket, replica_id(OUTSOURCING, item.item_id)))


@pytest.fixture
def items() -> FakeItemRepository:
    return FakeItemRepository()


@pytest.fixture
def files() -> FakeFileStore:
    return FakeFileStore()


@pytest.fixture
def tickets() -> FakeTicketRepository:
    return FakeTicketRepository()


@pytest.fixture
def ports(
    tickets: FakeTicketRepository, items: FakeItemRepository, files: FakeFileStore
) -> ReplicationPorts:
    return ReplicationPorts(tickets, items, files)


def test_a_shared_note_becomes_a_read_only_replica(
    items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    note = _note()
    replication.on_item_changed(ports, ItemChanged(before=None, after=note))
    replica = _replica(items, note, PARTNER, PARTNER_TICKET)
    assert isinstance(replica, Note)
    assert replica.text == "hello"
    assert replica.read_only
    assert replica.origin_tenant == LEAD
    assert replica.origin_item_id == note.item_id
    assert replica.internal is False
    assert replica.destination is None


def test_replicas_and_unshared_items_do_not_travel(
    tickets: FakeTicketRepository, items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    # Given a lead ticket whose outsourcing is not (or no longer) in progress
    for status in (
        OutsourceStatus.ASSIGNED,
        OutsourceStatus.WAITING_APPROVAL,
        OutsourceStatus.COMPLETE,
    ):
        tickets.tickets[(LEAD, LEAD_TICKET)] = _lead_ticket(outsourcing_status=status)
        # When a replica changes, or a local item was written without a destination
        replica = _note(origin=Origin.PARTNER, origin_version=1)
        unshared = _note(destination=None)
        for item in (replica, unshared):
            replication.on_item_changed(ports, ItemChanged(before=None, after=item))
        # Then nothing travels
        assert len(items.items) == 0


def test_an_unshared_item_travels_when_its_ticket_is_in_progress_by_now(
    tickets: FakeTicketRepository, items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    # Given a note stamped "not shared" from a ticket read just before the receiver accepted
    late = _note(destination=None, text="written while accepting")
    # When its change is processed after the work started
    tickets.add(_lead_ticket(shown_as="Lead IT"))
    replication.on_item_changed(ports, ItemChanged(before=None, after=late))
    # Then it reaches the other side, as the lead's company
    replica = _replica(items, late, PARTNER, PARTNER_TICKET)
    assert isinstance(replica, Note)
    assert (replica.text, replica.created_by) == ("written while accepting", "Lead IT")


def test_an_internal_item_never_travels_and_flipping_hides_it(
    items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    internal = _note(internal=True)
    replication.on_item_changed(ports, ItemChanged(before=None, after=internal))
    assert len(items.items) == 0
    public = _note()
    replication.on_item_changed(ports, ItemChanged(before=None, after=public))
    flipped = dataclasses.replace(public, internal=True, version=2)
    replication.on_item_changed(ports, ItemChanged(before=public, after=flipped))
    replica = _replica(items, public, PARTNER, PARTNER_TICKET)
    assert replica is not None
    assert replica.deleted
    assert len(items) == 0  # nothing visible on the other side


def test_partner_notes_land_internal_but_their_time_does_not(
    items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    note = _note(tenant_id=PARTNER, ticket_id=PARTNER_TICKET, destination=FROM_PARTNER)
    entry = TimeEntry(
        tenant_id=PARTNER,
        ticket_id=PARTNER_TICKET,
        item_id=new_id(),
        date=date(2026, 11, 25),
        hours_worked=Decimal(2),
        hours_billable=Decimal(2),
        created_at=NOW,
        updated_at=NOW,
        destination=FROM_PARTNER,
    )
    for item in (note, entry):
        replication.on_item_changed(ports, ItemChanged(before=None, after=item))
    assert _replica(items, note, LEAD, LEAD_TICKET).internal is True  # type: ignore[union-attr]
    assert _replica(items, entry, LEAD, LEAD_TICKET).internal is False  # type: ignore[union-attr]


def test_an_old_change_never_overwrites_a_newer_one(
    items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    v1 = _note(text="one")
    v2 = dataclasses.replace(v1, text="two", version=2)
    replication.on_item_changed(ports, ItemChanged(before=v1, after=v2))
    replication.on_item_changed(ports, ItemChanged(before=None, after=v1))
    replica = _replica(items, v1, PARTNER, PARTNER_TICKET)
    assert isinstance(replica, Note)
    assert replica.text == "two"


def test_an_attachment_file_is_copied_into_the_other_tenants_storage(
    items: FakeItemRepository, files: FakeFileStore, ports: ReplicationPorts
) -> None:
    attachment = Attachment(
        tenant_id=LEAD,
        ticket_id=LEAD_TICKET,
        item_id=new_id(),
        file_name="photo.jpg",
        content_type="image/jpeg",
        size=3,
        object_key=f"{LEAD}/{LEAD_TICKET}/x/photo.jpg",
        created_at=NOW,
        updated_at=NOW,
        destination=FROM_LEAD,
    )
    files.objects[attachment.object_key] = b"jpg"
    replication.on_item_changed(ports, ItemChanged(before=None, after=attachment))
    replica = _replica(items, attachment, PARTNER, PARTNER_TICKET)
    assert isinstance(replica, Attachment)
    assert replica.object_key.startswith(f"{PARTNER}/{PARTNER_TICKET}/")
    assert files.objects[replica.object_key] == b"jpg"


def test_a_missing_file_does_not_block_the_replica(
    items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    attachment = Attachment(
        tenant_id=LEAD,
        ticket_id=LEAD_TICKET,
        item_id=new_id(),
        file_name="later.pdf",
        content_type="application/pdf",
        size=3,
        object_key=f"{LEAD}/{LEAD_TICKET}/y/later.pdf",
        created_at=NOW,
        updated_at=NOW,
        destination=FROM_LEAD,
    )
    replication.on_item_changed(ports, ItemChanged(before=None, after=attachment))
    assert _replica(items, attachment, PARTNER, PARTNER_TICKET) is not None


def _outsourcing(status: OutsourceStatus, pricing: PricingType) -> Outsourcing:
    return Outsourcing(
        owner_id=LEAD,
        side=Side.LEAD,
        outsourcing_id=OUTSOURCING,
        lane=Lane.PARTNER,
        status=status,
        lead_tenant_id=LEAD,
        lead_ticket_id=LEAD_TICKET,
        receiver_id=PARTNER,
        partnership_id=new_id(),
        terms=Terms(pricing_type=pricing, pricing_amount=Decimal(80)),
        currency="EUR",
        ticket=TicketSnapshot(number="T1", title="t"),
        lead_name="Lead",
        receiver_name="Partner",
        created_at=NOW,
        updated_at=NOW,
        insourced_ticket_id=PARTNER_TICKET,
    )


def _time(hours: str, *, internal: bool = False) -> TimeEntry:
    return TimeEntry(
        tenant_id=PARTNER,
        ticket_id=PARTNER_TICKET,
        item_id=new_id(),
        date=date(2026, 11, 25),
        hours_worked=Decimal(hours),
        hours_billable=Decimal(hours),
        internal=internal,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("pricing", "quantity", "unit_cost"),
    [
        (PricingType.HOURLY, Decimal("3.5"), Decimal(80)),
        (PricingType.FLAT, Decimal(1), Decimal(80)),
    ],
)
def test_the_cost_charge_sums_the_receivers_public_time(
    pricing: PricingType, quantity: Decimal, unit_cost: Decimal
) -> None:
    time = [_time("1.5"), _time("2"), dataclasses.replace(_time("4"), deleted=True)]
    charge = cost_charge(_outsourcing(OutsourceStatus.COMPLETE, pricing), time, NOW)
    assert (charge.tenant_id, charge.ticket_id) == (LEAD, LEAD_TICKET)
    assert (charge.quantity, charge.unit_cost) == (quantity, unit_cost)
    assert charge.billable is False
    assert charge.internal is True
    assert charge.currency == "EUR"
    assert "3.5 h" in charge.name
    again = cost_charge(_outsourcing(OutsourceStatus.COMPLETE, pricing), time, NOW)
    assert again.item_id == charge.item_id  # one per outsourcing, however often computed


def _lead_ticket(**fields: object) -> Ticket:
    base: dict[str, object] = {
        "tenant_id": LEAD,
        "ticket_id": LEAD_TICKET,
        "number": "T20261125.0001",
        "title": "Switch",
        "currency": "EUR",
        "created_at": NOW,
        "updated_at": NOW,
        "outsourcing_id": OUTSOURCING,
        "outsourcing_status": OutsourceStatus.IN_PROGRESS,
        "outsourcing_side": Side.LEAD,
        "peer_owner_id": PARTNER,
        "peer_ticket_id": PARTNER_TICKET,
        "version": 4,
    }
    return Ticket(**{**base, **fields})  # type: ignore[arg-type]


def test_lead_ticket_edits_reach_the_copy_only_while_in_progress(
    tickets: FakeTicketRepository, ports: ReplicationPorts
) -> None:
    tickets.add(
        _lead_ticket(
            tenant_id=PARTNER,
            ticket_id=PARTNER_TICKET,
            outsourcing_side=Side.RECEIVER,
            peer_owner_id=LEAD,
            peer_ticket_id=LEAD_TICKET,
            lead_version=4,
            version=1,
        )
    )
    before = _lead_ticket()
    edited = _lead_ticket(title="Core switch", priority=Priority.CRITICAL, version=5)
    replication.on_ticket_changed(ports, TicketChanged(before=before, after=edited))
    copy = tickets.get(PARTNER, PARTNER_TICKET)
    assert (copy.title, copy.priority, copy.lead_version) == ("Core switch", Priority.CRITICAL, 5)
    waiting = _lead_ticket(
        title="While waiting", outsourcing_status=OutsourceStatus.WAITING_APPROVAL, version=6
    )
    replication.on_ticket_changed(ports, TicketChanged(before=edited, after=waiting))
    assert tickets.get(PARTNER, PARTNER_TICKET).title == "Core switch"
    replication.on_ticket_changed(ports, TicketChanged(before=before, after=edited))  # a replay
    assert tickets.get(PARTNER, PARTNER_TICKET).lead_version == 5


def test_catch_up_brings_both_sides_up_to_date(
    tickets: FakeTicketRepository, items: FakeItemRepository, ports: ReplicationPorts
) -> None:
    tickets.add(_lead_ticket())
    tickets.add(
        _lead_ticket(
            tenant_id=PARTNER,
            ticket_id=PARTNER_TICKET,
            outsourcing_side=Side.RECEIVER,
            peer_owner_id=LEAD,
            peer_ticket_id=LEAD_TICKET,
            version=1,
        )
    )
    earlier = _note(destination=None, text="before acceptance")
    secret = _note(destination=None, internal=True, text="secret")
    theirs = _note(
        tenant_id=PARTNER, ticket_id=PARTNER_TICKET, destination=None, text="while waiting"
    )
    for item in (earlier, secret, theirs):
        items.add(item)
    replication.catch_up(ports, _outsourcing(OutsourceStatus.IN_PROGRESS, PricingType.FLAT))
    partner_side = items.list(PARTNER, PARTNER_TICKET, 10, None).items
    lead_side = items.list(LEAD, LEAD_TICKET, 10, None).items
    assert {i.text for i in partner_side} == {"before acceptance", "while waiting"}  # type: ignore[attr-defined]
    assert {i.text for i in lead_side} == {"before acceptance", "secret", "while waiting"}  # type: ignore[attr-defined]
    # catching up twice changes nothing
    snapshot = dict(items.items)
    replication.catch_up(ports, _outsourcing(OutsourceStatus.IN_PROGRESS, PricingType.FLAT))
    assert items.items == snapshot


# -- the moment work starts ----------------------------------------------------------------------


class _AcceptsDuringWrite(FakeItemRepository):
    """Items whose next ``add`` first lets something else happen: the receiver accepting, and
    the catch-up that follows, between the use case's ticket read and its item write."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: list[Callable[[], None]] = []

    def add(self, item: Item) -> None:
        while self.meanwhile:
            self.meanwhile.pop(0)()
        super().add(item)


def test_a_note_written_while_the_receiver_accepts_still_reaches_the_other_side() -> None:
    # Given a lead ticket outsourced and still assigned
    tickets, items, files = FakeTicketRepository(), _AcceptsDuringWrite(), FakeFileStore()
    ports = ReplicationPorts(tickets=tickets, items=items, files=files)
    assigned = _lead_ticket(outsourcing_status=OutsourceStatus.ASSIGNED, shown_as="Lead IT")
    tickets.add(assigned)

    def accept_and_catch_up() -> None:
        tickets.tickets[(LEAD, LEAD_TICKET)] = dataclasses.replace(
            assigned, outsourcing_status=OutsourceStatus.IN_PROGRESS, version=5
        )
        tickets.add(
            _lead_ticket(
                tenant_id=PARTNER,
                ticket_id=PARTNER_TICKET,
                outsourcing_side=Side.RECEIVER,
                peer_owner_id=LEAD,
                peer_ticket_id=LEAD_TICKET,
                version=1,
            )
        )
        replication.catch_up(ports, _outsourcing(OutsourceStatus.IN_PROGRESS, PricingType.FLAT))

    # When a note is added: the use case reads the ticket (assigned: the note is not stamped),
    # then the receiver accepts and the catch-up runs, then the note is written
    items.meanwhile.append(accept_and_catch_up)
    item_ports = ItemPorts(
        tenants=FakeTenantRepository(),
        tickets=tickets,
        items=items,
        files=files,
        upload_policy=UploadPolicy(max_bytes=10, content_types=frozenset()),
    )
    note = item_service.add_item(
        item_ports,
        AddItem(
            actor=Actor(LEAD, label="k"),
            ticket_id=LEAD_TICKET,
            kind=ItemKind.NOTE,
            fields={"text": "written while accepting"},
            now=NOW,
        ),
    )
    assert note.destination is None
    assert _replica(items, note, PARTNER, PARTNER_TICKET) is None  # the catch-up missed it
    # Then its own change, when the stream delivers it, brings it over all the same
    replication.on_item_changed(ports, ItemChanged(before=None, after=note))
    replica = _replica(items, note, PARTNER, PARTNER_TICKET)
    assert isinstance(replica, Note)
    assert replica.text == "written while accepting"
