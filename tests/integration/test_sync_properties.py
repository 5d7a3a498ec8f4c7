"""Random interleavings of both sides' work with partial stream processing, redeliveries and
submit/reject: once the stream is drained, each side shows exactly what the rules say.

The model keeps, for every local item, its latest state and its state as last shared with the
other side: changes made while the work is in progress are shared at once, changes made while
waiting for approval only when a reject resumes the work. The other side must show a read-only
copy of every shared item that is neither deleted nor internal, at exactly that state, with the
service partner's notes internal on the lead ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from chalicelib.streams.handler import on_table_change
from infra.local.pump import MemoryCheckpoints, StreamPump
from tests.integration.conftest import Harness, Tenant
from tests.integration.sync_support import (
    Pair,
    Side,
    add,
    deliver,
    edit,
    expected_replicas,
    items,
    outsource_new_ticket,
    remove,
    streams_client,
)

KINDS = ("note", "time_entry", "charge")
CHANGES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "note": st.fixed_dictionaries({"text": st.sampled_from(["a", "bb", "on site", "done"])}),
    "time_entry": st.fixed_dictionaries(
        {},
        optional={
            "hours_worked": st.sampled_from(["0.5", "1", "2.75"]),
            "summary": st.sampled_from(["", "cabling", "reboot"]),
        },
    ),
    "charge": st.fixed_dictionaries(
        {},
        optional={
            "quantity": st.sampled_from(["1", "2", "7"]),
            "unit_price": st.sampled_from(["0", "3.5", "12"]),
            "billable": st.booleans(),
        },
    ),
}
DELETED = "deleted"


@dataclass
class Tracked:
    """One local item: its latest state (None once deleted), and its state as last shared
    (None: never shared; DELETED: shared as deleted)."""

    role: str
    current: dict[str, Any] | None
    shared: dict[str, Any] | str | None


@dataclass
class World:
    """What every example shares: two partnered tenants, and one position in the stream."""

    harness: Harness
    lead: Tenant
    partner: Tenant
    partnership: str
    checkpoints: MemoryCheckpoints


class SyncMachine(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        self.harness = world.harness
        self.delivered: list[dict[str, Any]] = []
        self.stepper: StreamPump | None = None
        self.drain()  # whatever an earlier example left in the stream
        self.pair: Pair = outsource_new_ticket(
            world.harness, world.lead, world.partner, world.partnership
        )
        self.pair.accept()
        self.waiting = False
        self.tracked: dict[str, Tracked] = {}
        self.shared_title = self.pair.lead_ticket["title"]
        self.title = self.shared_title
        self.drain()
        self.delivered.clear()  # redeliveries stay within this example

    # -- the stream ------------------------------------------------------------------------

    def handle(self, event: dict[str, Any], context: Any) -> Any:
        self.delivered.extend(event["Records"])
        return on_table_change(event, context)

    def pump(self, batch_size: int) -> StreamPump:
        return StreamPump(
            streams_client(self.harness),
            self.harness.stream_arn,
            self.handle,
            checkpoints=self.world.checkpoints,
            batch_size=batch_size,
        )

    def drain(self) -> None:
        self.stepper = None
        pump = self.pump(100)
        pump.drain()
        assert pump.stats.failures == 0

    @rule(polls=st.integers(1, 4))
    def process_part_of_the_stream(self, polls: int) -> None:
        """Deliver only the next few records, one per batch."""
        if self.stepper is None:
            self.stepper = self.pump(1)
        for _ in range(polls):
            self.stepper.poll_once()
        assert self.stepper.stats.failures == 0

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def redeliver_earlier_records(self, data: st.DataObject) -> None:
        """Lambda delivers at least once: hand an earlier range of records over again, in
        order or newest first."""
        start = data.draw(st.integers(0, len(self.delivered) - 1), label="start")
        end = data.draw(st.integers(start + 1, min(len(self.delivered), start + 12)), label="end")
        batch = self.delivered[start:end]
        if data.draw(st.booleans(), label="newest first"):
            batch.reverse()
        deliver(batch)

    # -- both sides' work ------------------------------------------------------------------

    def side(self, role: str) -> Side:
        return self.pair.lead if role == "lead" else self.pair.receiver

    def live(self) -> list[str]:
        return sorted(i for i, t in self.tracked.items() if t.current is not None)

    def changed(self, item_id: str, current: dict[str, Any] | None) -> None:
        tracked = self.tracked[item_id]
        tracked.current = current
        if not self.waiting:
            tracked.shared = current if current is not None else DELETED

    @rule(
        role=st.sampled_from(["lead", "receiver"]),
        kind=st.sampled_from(KINDS),
        internal=st.booleans(),
    )
    def add_item(self, role: str, kind: str, internal: bool) -> None:
        created = add(self.harness, self.side(role), kind, internal=internal)
        self.tracked[created["item_id"]] = Tracked(role, None, None)
        self.changed(created["item_id"], created)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def edit_item(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(self.live()), label="item")
        tracked = self.tracked[item_id]
        assert tracked.current is not None
        changes = data.draw(CHANGES[tracked.current["kind"]], label="changes")
        if not changes:
            return
        self.changed(item_id, edit(self.harness, self.side(tracked.role), tracked.current, changes))

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def flip_internal(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(self.live()), label="item")
        tracked = self.tracked[item_id]
        assert tracked.current is not None
        flipped = {"internal": not tracked.current["internal"]}
        self.changed(item_id, edit(self.harness, self.side(tracked.role), tracked.current, flipped))

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def delete_item(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(self.live()), label="item")
        tracked = self.tracked[item_id]
        assert tracked.current is not None
        remove(self.harness, self.side(tracked.role), tracked.current)
        self.changed(item_id, None)

    @rule(title=st.sampled_from(["Printer offline", "Printer on fire", "Toner empty"]))
    def retitle_lead_ticket(self, title: str) -> None:
        side = self.pair.lead
        reply = self.harness.patch(side.base, side.tenant.key, {"title": title})
        assert reply.status_code == 200, reply.body
        self.title = title
        if not self.waiting:
            self.shared_title = title

    # -- the lifecycle ---------------------------------------------------------------------

    @precondition(lambda self: not self.waiting)
    @rule()
    def submit_completion(self) -> None:
        # The stream is processed first: a catch-up runs only while the work is in progress, so
        # if the stream lagged past this submission, what was written during the previous wait
        # would stay home until the work resumes again (the model here assumes it arrived).
        self.drain()
        self.pair.act("submit-completion")
        self.waiting = True

    @precondition(lambda self: self.waiting)
    @rule()
    def reject_completion(self) -> None:
        self.pair.act("reject")
        self.waiting = False
        for tracked in self.tracked.values():
            tracked.shared = tracked.current if tracked.current is not None else DELETED
        self.shared_title = self.title

    # -- the check -------------------------------------------------------------------------

    @rule()
    def drain_and_check(self) -> None:
        self.drain()
        self.check()

    def teardown(self) -> None:
        self.drain()
        self.check()

    def check(self) -> None:
        for side in (self.pair.lead, self.pair.receiver):
            other = self.pair.other(side)
            shown = items(self.harness, side)
            own = {i["item_id"]: i for i in shown if i["origin"] == "local"}
            assert own == {
                item_id: t.current
                for item_id, t in self.tracked.items()
                if t.role == side.role and t.current is not None
            }
            shared = [
                t.shared
                for t in self.tracked.values()
                if t.role == other.role and isinstance(t.shared, dict)
            ]
            copies = {i["item_id"]: i for i in shown if i["origin"] == "partner"}
            assert copies == expected_replicas(self.pair, other, shared), side.role
        insourced = self.harness.get(self.pair.receiver.base, self.pair.receiver.tenant.key)
        assert insourced.json["title"] == self.shared_title


def _image_type(record: dict[str, Any]) -> str | None:
    body = record["dynamodb"]
    image = body.get("NewImage") or body.get("OldImage") or {}
    kind: str | None = image.get("type", {}).get("S")
    return kind


def test_random_interleavings_of_both_sides_end_as_the_rules_say(harness: Harness) -> None:
    lead, partner = harness.create_tenant("Lead IT"), harness.create_tenant("Partner IT")
    partnership = harness.partner(lead, partner)
    world = World(harness, lead, partner, partnership, MemoryCheckpoints())
    StreamPump(
        streams_client(harness), harness.stream_arn, on_table_change, checkpoints=world.checkpoints
    ).drain()

    class Machine(SyncMachine):
        pass

    Machine.world = world
    # Each example outsources a new ticket between the same two tenants; 15 examples of at most
    # 25 steps keep the run well under a minute on either engine.
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
