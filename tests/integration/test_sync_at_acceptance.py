"""No lost sync at the moment work starts: the reads that decide what travels are strongly
consistent, and items written while the receiver accepts all reach the other side."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.adapters.dynamo.items import DynamoItemRepository
from chalicelib.adapters.dynamo.table import Record
from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.items import Item, ItemKind
from chalicelib.domain.outsourcing import Event
from chalicelib.domain.tenants import Actor
from chalicelib.service import replication
from chalicelib.service.items import AddItem, add_item
from chalicelib.service.outsourcing import Transition, transition
from tests.integration.conftest import Harness
from tests.integration.sync_support import (
    add,
    linked,
    local_items,
    outsourced,
    replicas,
)


@contextmanager
def _requests() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB request the app makes inside the block: (operation, parameters)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, dict(params)))

    client = Record._get_connection().connection.client
    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def _deciding_reads(seen: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Ticket reads (GetItem on a TICKET record) and item listings (Query of a ticket's ITEMs)."""
    found = []
    for operation, params in seen:
        key = params.get("Key", {})
        if operation == "GetItem" and key.get("sk", {}).get("S") == "TICKET":
            found.append((operation, params))
        values = params.get("ExpressionAttributeValues", {})
        if operation == "Query" and any(v.get("S") == "ITEM#" for v in values.values()):
            found.append((operation, params))
    return found


def test_every_read_that_decides_what_travels_is_strongly_consistent(harness: Harness) -> None:
    # Given an outsourced ticket with a note written before acceptance
    pair = outsourced(harness)
    add(harness, pair.lead, "note", text="before acceptance")
    harness.pump.drain()
    with _requests() as seen:
        # When the receiver accepts (catch-up), and both sides write, edit and delete items
        pair.accept()
        harness.pump.drain()
        note = add(harness, pair.lead, "note", text="after acceptance")
        harness.patch(
            f"{pair.lead.base}/notes/{note['item_id']}", pair.lead.tenant.key, {"text": "edited"}
        )
        theirs = add(harness, pair.receiver, "time_entry")
        harness.delete(
            f"{pair.receiver.base}/time-entries/{theirs['item_id']}", pair.receiver.tenant.key
        )
        harness.pump.drain()
    # Then every ticket read and item listing among them was strongly consistent
    deciding = _deciding_reads(seen)
    assert len(deciding) >= 6  # the catch-up's listings and the item use cases' ticket reads
    assert [op for op, params in deciding if params.get("ConsistentRead") is not True] == []
    assert {"before acceptance", "edited"} <= {
        r.get("text") for r in replicas(harness, pair.receiver).values()
    }


def test_a_note_whose_ticket_was_read_before_the_accept_still_travels(
    race_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an outsourced ticket, and a note being added to it on another thread whose write
    # is held until the receiver has accepted and the catch-up has run (its ticket was read
    # before: the note is not stamped, and the catch-up cannot see it yet)
    harness = race_harness
    pair = outsourced(harness)
    caught_up, read_done = threading.Event(), threading.Event()
    real_catch_up, real_add = replication.catch_up, DynamoItemRepository.add

    def catch_up(*args: Any) -> int:
        written = real_catch_up(*args)
        caught_up.set()
        return written

    def held_add(self: DynamoItemRepository, item: Item) -> None:
        read_done.set()
        assert caught_up.wait(timeout=20)
        real_add(self, item)

    monkeypatch.setattr(replication, "catch_up", catch_up)
    monkeypatch.setattr(DynamoItemRepository, "add", held_add)
    ports = get_container()
    written: list[Any] = []

    def write() -> None:
        written.append(
            add_item(
                ports.item_ports,
                AddItem(
                    actor=Actor(pair.lead.tenant.tenant_id, label="writer"),
                    ticket_id=pair.lead.ticket_id,
                    kind=ItemKind.NOTE,
                    fields={"text": "written while accepting"},
                    now=utcnow(),
                ),
            )
        )

    writer = threading.Thread(target=write)
    writer.start()
    assert read_done.wait(timeout=20)
    # When the receiver accepts, the stream is processed (the catch-up runs), then the note lands
    accepted = transition(
        ports.outsourcing_ports,
        Transition(
            actor=Actor(pair.receiver.tenant.tenant_id, label="partner"),
            outsourcing_id=pair.outsourcing_id,
            event=Event.ACCEPT,
            now=utcnow(),
        ),
    )
    pair.receiver.ticket_id = accepted.insourced_ticket_id or ""
    harness.pump.drain()
    writer.join()
    assert written and written[0].destination is None  # stamped from the read before accepting
    harness.pump.drain()
    # Then it reached the other side all the same
    assert [r["text"] for r in replicas(harness, pair.receiver).values()] == [
        "written while accepting"
    ]


def test_items_written_while_the_receiver_accepts_all_reach_the_other_side(
    race_harness: Harness,
) -> None:
    # Given outsourced tickets, each with a writer adding lead notes while the partner accepts
    # and the stream is being processed all along (the use cases are called directly: Chalice's
    # test client is not safe across threads)
    harness = race_harness
    ports = get_container()
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            harness.pump.drain()

    pumping = threading.Thread(target=pump)
    pumping.start()
    try:
        for _ in range(3):
            _race_one(harness, ports, notes=10)
    finally:
        stop.set()
        pumping.join()


def _race_one(harness: Harness, ports: Any, notes: int) -> None:
    pair = outsourced(harness)
    start = threading.Barrier(2)
    failures: list[str] = []

    def write() -> None:
        start.wait()
        for n in range(notes):
            try:
                add_item(
                    ports.item_ports,
                    AddItem(
                        actor=Actor(pair.lead.tenant.tenant_id, label="writer"),
                        ticket_id=pair.lead.ticket_id,
                        kind=ItemKind.NOTE,
                        fields={"text": f"note {n}"},
                        now=utcnow(),
                    ),
                )
            except Exception as exc:  # any failure fails the test, with its cause
                failures.append(repr(exc))

    writer = threading.Thread(target=write)
    writer.start()
    start.wait()
    accepted = transition(
        ports.outsourcing_ports,
        Transition(
            actor=Actor(pair.receiver.tenant.tenant_id, label="partner"),
            outsourcing_id=pair.outsourcing_id,
            event=Event.ACCEPT,
            now=utcnow(),
        ),
    )
    pair.receiver.ticket_id = accepted.insourced_ticket_id or ""
    writer.join()
    assert failures == []
    # When the stream has caught up
    time.sleep(0.3)
    harness.pump.drain()
    # Then every lead note has its replica on the partner's ticket
    written = {i["text"] for i in local_items(harness, pair.lead).values()}
    arrived = {r["text"] for r in replicas(harness, pair.receiver).values()}
    assert written == {f"note {n}" for n in range(notes)}
    assert arrived == written


def test_a_linked_pair_still_costs_one_write_and_no_read_in_the_stream(harness: Harness) -> None:
    # (the late check above adds a read only for items written without a destination)
    pair = linked(harness)
    add(harness, pair.lead, "note", text="warm up")
    harness.pump.drain()
    add(harness, pair.lead, "note", text="counted")
    with _requests() as seen:
        harness.pump.drain()
    operations = [op for op, _ in seen]
    assert operations.count("PutItem") == 1
    assert operations.count("GetItem") == 0
