"""The fault proof: a hypothesis state machine over the work of a lead, its service partner, a
subcontractor company's portal user and a network, with faults injected into the stream handler
(a record failing, a reaction raising mid-batch, an invocation dying after part of its batch, a
whole batch delivered twice) and consumer restarts without checkpoints (a re-read from
TRIM_HORIZON).

After each drain every lane is checked for exactly-once against the model: the partner lane's
replicas equal the model's (the rules of ``test_sync_properties``: no missing, no extra, each at
the state last shared), every portal item has one copy on the lead ticket and every lead note one
on the portal's page; at the end of each example one fee per acceptance through the portal, one
notification per transition and side told, one email per notification sent, one forwarding
email per forward; at the end of the run each tenant's change feed holds every stream record's
change once. The figures are printed as one line (``fault proof: actions ...``).

``make test`` runs a bounded, derandomized number of examples (``BOUNDED``); ``make fault-proof``
runs ``FAULT_EXAMPLES`` of at most 30 steps on each backend.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from chalicelib.streams.handler import on_table_change
from infra.local.pump import MemoryCheckpoints, StreamPump
from tests.integration.conftest import Harness, Tenant
from tests.integration.fault_support import (
    FAULT_KINDS,
    Fault,
    FaultyHandler,
    Figures,
    feed_changes,
)
from tests.integration.feed_support import walk
from tests.integration.network_support import add_network, address, email_entry, forward, sent_to
from tests.integration.portal_support import Company, add_company
from tests.integration.sync_support import (
    Pair,
    Side,
    add,
    edit,
    expected_replicas,
    items,
    outsource_new_ticket,
    remove,
    stream_records,
    streams_client,
)
from tests.integration.test_notifications import outbox
from tests.integration.test_sync_properties import CHANGES, DELETED, KINDS, Tracked

# (examples, steps per example) of the bounded run per backend: moto copies the whole table in
# every transaction, so its steps slow down as the stream grows.
BOUNDED = {"dynamodb-local": (6, 30), "moto": (2, 15)}
FAULTS = st.lists(
    st.builds(
        Fault,
        kind=st.sampled_from(FAULT_KINDS),
        at=st.integers(0, 9),
        reactions_first=st.integers(0, 3),
    ),
    max_size=3,
)
PORTAL_FORMS: dict[str, tuple[str, str]] = {  # kind -> form path, field carrying the marker
    "note": ("notes", "text"),
    "time_entry": ("time-entries", "summary"),
    "charge": ("charges", "name"),
}
PORTAL_FIELDS: dict[str, dict[str, str]] = {
    "note": {},
    "time_entry": {"date": "2026-12-01", "hours_worked": "1.5"},
    "charge": {"quantity": "2", "unit_price": "4", "billable": "on"},
}


@dataclass
class World:
    """What every example shares: the tenants, the company, the network, the stream position,
    and what the whole run expects and counts."""

    harness: Harness
    lead: Tenant
    partner: Tenant
    partnership: str
    company: Company
    network_id: str
    figures: Figures
    handler: FaultyHandler
    checkpoints: MemoryCheckpoints = field(default_factory=MemoryCheckpoints)
    # (outsourcing id, notification event, side told) for every transition made
    notifications: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    accepted_in_portal: list[str] = field(default_factory=list)
    forwards: int = 0
    serial: list[int] = field(default_factory=lambda: [0])

    def marker(self, prefix: str) -> str:
        self.serial[0] += 1
        return f"{prefix}-{self.serial[0]}"


@dataclass
class PortalWork:
    """One outsourcing to the company: its status as the model sees it, the markers of the
    portal's items and of the lead's notes."""

    outsourcing_id: str
    status: str = "assigned"
    portal_items: list[tuple[str, str]] = field(default_factory=list)  # (kind, marker)
    lead_notes: list[str] = field(default_factory=list)


class FaultProof(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        self.harness, self.figures = world.harness, world.figures
        self.restarted = False
        self.drain()  # whatever an earlier example left in the stream
        self.pair = self.new_pair()
        self.work = self.new_portal_work()
        self.drain()

    # -- the stream and its faults -----------------------------------------------------------

    def pump(self, batch_size: int) -> StreamPump:
        return StreamPump(
            streams_client(self.harness),
            self.harness.stream_arn,
            self.world.handler,
            checkpoints=self.world.checkpoints,
            batch_size=batch_size,
            max_attempts=10,
        )

    def drain(self, batch_size: int = 100, faults: list[Fault] | None = None) -> None:
        self.world.handler.arm(faults or [])
        pump = self.pump(batch_size)
        pump.drain()
        self.world.handler.arm([])
        assert pump.stats.dead_lettered == 0, pump.stats

    @rule(batch_size=st.integers(1, 5), polls=st.integers(1, 3), faults=FAULTS)
    def deliver_part_of_the_stream(self, batch_size: int, polls: int, faults: list[Fault]) -> None:
        """Deliver the next few batches, faults armed for the first ones (none fire on an
        empty stream)."""
        self.world.handler.arm(faults)
        pump = self.pump(batch_size)
        for _ in range(polls):
            pump.poll_once()
        self.world.handler.arm([])

    @precondition(lambda self: not self.restarted)
    @rule()
    def restart_without_checkpoints(self) -> None:
        """A new consumer with no checkpoints reads the whole stream again from TRIM_HORIZON."""
        self.restarted = True
        self.figures.faults["restart"] += 1
        self.world.checkpoints = MemoryCheckpoints()
        self.drain()

    # -- the partner lane --------------------------------------------------------------------

    def new_pair(self) -> Pair:
        world = self.world
        pair = outsource_new_ticket(self.harness, world.lead, world.partner, world.partnership)
        world.notifications[(pair.outsourcing_id, "assigned", "receiver")] += 1
        pair.accept()
        world.notifications[(pair.outsourcing_id, "accepted", "lead")] += 1
        self.waiting = False
        self.tracked: dict[str, Tracked] = {}
        self.title = self.shared_title = pair.lead_ticket["title"]
        return pair

    def side(self, role: str) -> Side:
        return self.pair.lead if role == "lead" else self.pair.receiver

    def live(self) -> list[str]:
        return sorted(i for i, t in self.tracked.items() if t.current is not None)

    def changed(self, item_id: str, current: dict[str, Any] | None) -> None:
        self.figures.actions += 1
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
        tracked = self.tracked[item_id := data.draw(st.sampled_from(self.live()), label="item")]
        assert tracked.current is not None
        changes = data.draw(CHANGES[tracked.current["kind"]], label="changes")
        if changes:
            self.changed(
                item_id, edit(self.harness, self.side(tracked.role), tracked.current, changes)
            )

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def flip_internal(self, data: st.DataObject) -> None:
        tracked = self.tracked[item_id := data.draw(st.sampled_from(self.live()), label="item")]
        assert tracked.current is not None
        flipped = {"internal": not tracked.current["internal"]}
        self.changed(item_id, edit(self.harness, self.side(tracked.role), tracked.current, flipped))

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def delete_item(self, data: st.DataObject) -> None:
        tracked = self.tracked[item_id := data.draw(st.sampled_from(self.live()), label="item")]
        assert tracked.current is not None
        remove(self.harness, self.side(tracked.role), tracked.current)
        self.changed(item_id, None)

    @rule(title=st.sampled_from(["Printer offline", "Printer on fire", "Toner empty"]))
    def retitle_lead_ticket(self, title: str) -> None:
        side = self.pair.lead
        reply = self.harness.patch(side.base, side.tenant.key, {"title": title})
        assert reply.status_code == 200, reply.body
        self.figures.actions += 1
        self.title = title
        if not self.waiting:
            self.shared_title = title

    @precondition(lambda self: not self.waiting)
    @rule()
    def partner_submits(self) -> None:
        # The stream is processed first (see test_sync_properties: a catch-up runs only while
        # the work is in progress).
        self.drain()
        self.pair.act("submit-completion")
        self.transition(self.pair.outsourcing_id, "completion_submitted", "lead")
        self.waiting = True

    @precondition(lambda self: self.waiting)
    @rule()
    def lead_rejects_partner(self) -> None:
        self.pair.act("reject")
        self.transition(self.pair.outsourcing_id, "rejected", "receiver")
        self.waiting = False
        for tracked in self.tracked.values():
            tracked.shared = tracked.current if tracked.current is not None else DELETED
        self.shared_title = self.title

    @precondition(lambda self: self.waiting)
    @rule()
    def lead_approves_partner(self) -> None:
        """The work is done: check it once more, then outsource another ticket to the partner."""
        self.pair.act("approve")
        self.transition(self.pair.outsourcing_id, "approved", "receiver")
        self.drain()
        self.check_partner()
        self.pair = self.new_pair()

    def transition(self, outsourcing_id: str, event: str, told: str) -> None:
        self.figures.actions += 1
        self.world.notifications[(outsourcing_id, event, told)] += 1

    # -- the subcontractor lane (a portal user) ----------------------------------------------

    def new_portal_work(self) -> PortalWork:
        work = PortalWork(self.world.company.outsource(title="Replace the office switch"))
        self.world.notifications[(work.outsourcing_id, "assigned", "receiver")] += 1
        return work

    @property
    def ticket_page(self) -> str:
        return f"/portal/tickets/{self.work.outsourcing_id}"

    @precondition(lambda self: self.work.status == "assigned")
    @rule()
    def portal_user_accepts(self) -> None:
        self.world.company.accept(self.work.outsourcing_id)
        self.world.accepted_in_portal.append(self.work.outsourcing_id)
        self.transition(self.work.outsourcing_id, "accepted", "lead")
        self.work.status = "in_progress"

    @precondition(lambda self: self.work.status == "in_progress")
    @rule(kind=st.sampled_from(sorted(PORTAL_FORMS)))
    def portal_user_adds(self, kind: str) -> None:
        path, marked = PORTAL_FORMS[kind]
        marker = self.world.marker(f"portal-{kind}")
        fields = {**PORTAL_FIELDS[kind], marked: marker}
        reply = self.world.company.admin.post(f"{self.ticket_page}/{path}", fields)
        assert reply.status_code == 303, reply.text
        self.figures.actions += 1
        self.work.portal_items.append((kind, marker))

    @precondition(lambda self: self.work.status == "in_progress")
    @rule()
    def lead_notes_for_the_company(self) -> None:
        marker = self.world.marker("lead-note")
        ticket_id = self.world.company.lead_tickets[self.work.outsourcing_id]
        reply = self.harness.post(
            f"/v1/tickets/{ticket_id}/notes", self.world.lead.key, {"text": marker}
        )
        assert reply.status_code == 201, reply.body
        self.figures.actions += 1
        self.work.lead_notes.append(marker)

    @precondition(lambda self: self.work.status == "in_progress")
    @rule()
    def portal_user_submits(self) -> None:
        self.drain()
        reply = self.world.company.admin.post(f"{self.ticket_page}/submit-completion")
        assert reply.status_code == 303, reply.text
        self.transition(self.work.outsourcing_id, "completion_submitted", "lead")
        self.work.status = "waiting"

    @precondition(lambda self: self.work.status == "waiting")
    @rule(approve=st.booleans())
    def lead_decides_portal_work(self, approve: bool) -> None:
        oid = self.work.outsourcing_id
        key = self.world.lead.key
        if approve:
            reply = self.harness.post(f"/v1/outsourcings/{oid}/approve", key)
        else:
            reply = self.harness.post(f"/v1/outsourcings/{oid}/reject", key, {"reason": "Redo it"})
        assert reply.status_code == 200, reply.body
        self.transition(oid, "approved" if approve else "rejected", "receiver")
        self.work.status = "in_progress"
        if approve:  # a second outsourcing of another ticket to the company
            self.drain()
            self.check_portal()
            self.work = self.new_portal_work()

    # -- the network lane --------------------------------------------------------------------

    @rule()
    def lead_forwards_to_the_network(self) -> None:
        ticket = self.harness.create_ticket(self.world.lead, title="Vendor part")
        reply = forward(self.harness, self.world.lead, ticket["ticket_id"], self.world.network_id)
        assert reply.status_code == 201, reply.body
        self.figures.actions += 1
        self.world.forwards += 1

    # -- the checks --------------------------------------------------------------------------

    @rule(batch_size=st.integers(1, 10), faults=FAULTS)
    def drain_and_check(self, batch_size: int, faults: list[Fault]) -> None:
        self.drain(batch_size, faults)
        self.check_partner()
        self.check_portal()

    def teardown(self) -> None:
        self.drain()
        self.check_partner()
        self.check_portal()
        check_outcomes(self.world)

    def check_partner(self) -> None:
        pair, figures = self.pair, self.figures
        for side in (pair.lead, pair.receiver):
            other = pair.other(side)
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
            copies = [i for i in shown if i["origin"] == "partner"]
            expected = expected_replicas(pair, other, shared)
            figures.tally(
                f"replicas on the {side.role} side", list(expected), [c["item_id"] for c in copies]
            )
            assert {c["item_id"]: c for c in copies} == expected, side.role
        insourced = self.harness.get(pair.receiver.base, pair.receiver.tenant.key)
        assert insourced.json["title"] == self.shared_title

    def check_portal(self) -> None:
        work, world = self.work, self.world
        ticket_id = world.company.lead_tickets[work.outsourcing_id]
        shown = items(self.harness, Side("lead", world.lead, ticket_id))
        marks = {"note": "text", "time_entry": "summary", "charge": "name"}
        copies = [
            (i["kind"], i.get(marks.get(i["kind"], ""), ""))
            for i in shown
            if i["origin"] != "local"
        ]
        self.figures.tally("portal items on the lead ticket", work.portal_items, copies)
        page = world.company.admin.get(self.ticket_page)
        assert page.status_code == 200, page.text
        self.figures.tally(
            "lead notes on the portal's page",
            work.lead_notes,
            [m for m in work.lead_notes for _ in range(page.text.count(f">{m}<"))],
        )


def check_outcomes(world: World) -> None:
    """Fees, notifications and emails of the whole run so far: each exactly once."""
    harness, figures = world.harness, world.figures
    fees = harness.get("/v1/outsourcing/fees?limit=100", world.lead.key)
    assert fees.status_code == 200, fees.body
    figures.tally(
        "fees",
        world.accepted_in_portal,
        [f["outsourcing_id"] for f in _pages(harness, "/v1/outsourcing/fees", world.lead)],
    )
    logged = _pages(harness, "/v1/notifications?side=lead", world.lead)
    figures.tally(
        "notifications",
        world.notifications,
        [(n["outsourcing_id"], n["event"], n["side"]) for n in logged],
    )
    sent = Counter(n["outsourcing_id"] for n in logged if n["status"] == "sent")
    mailed = Counter(oid for oid in sent for m in outbox() if oid in m.body)
    figures.tally("emails", sent, mailed)
    figures.tally(
        "forwarding emails",
        ["forward"] * world.forwards,
        ["forward"] * len(sent_to(address(world.lead, "network"))),
    )


def _pages(harness: Harness, path: str, tenant: Tenant) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    joiner = "&" if "?" in path else "?"
    while True:
        reply = harness.get(
            f"{path}{joiner}limit=100{'&cursor=' + cursor if cursor else ''}", tenant.key
        )
        assert reply.status_code == 200, reply.body
        found.extend(reply.json["items"])
        cursor = reply.json.get("next_cursor") or ""
        if not cursor:
            return found


def check_feeds(world: World) -> None:
    """Every change a stream record makes to a tenant's feed is in it once."""
    harness = world.harness
    tenants = {t.tenant_id: t for t in (world.lead, world.partner)}
    expected = feed_changes(stream_records(harness), set(tenants))
    for owner, tenant in tenants.items():
        entries = walk(harness, tenant, limit=100)[0]
        assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
        actual = [(e["object"]["type"], e["object"]["id"], e["operation"]) for e in entries]
        world.figures.tally(f"change feed of {tenant.name}", expected[owner], actual)


def make_world(harness: Harness) -> World:
    """Two partnered tenants, a company of the lead's with its admin signed in, a network entry,
    and the stream read up to now."""
    lead, partner = harness.create_tenant("Lead IT"), harness.create_tenant("Partner IT")
    partnership = harness.partner(lead, partner)
    company = add_company(harness, lead)
    network = add_network(harness, lead, email_entry(lead, to=[address(lead, "network")]))
    figures = Figures()
    world = World(
        harness,
        lead,
        partner,
        partnership,
        company,
        network["network_id"],
        figures,
        FaultyHandler(figures),
    )
    StreamPump(
        streams_client(harness), harness.stream_arn, on_table_change, checkpoints=world.checkpoints
    ).drain()
    return world


def test_each_fault_in_a_fixed_walk(harness: Harness) -> None:
    """Every kind of fault at least once, whatever the bounded run happens to draw: both sides
    and the portal user write, then each fault hits a batch of their records, then a restart."""
    world = make_world(harness)

    class Machine(FaultProof):
        pass

    Machine.world = world
    machine = Machine()
    for kind in FAULT_KINDS:
        machine.add_item("lead", "note", internal=False)
        machine.add_item("receiver", "charge", internal=False)
        if machine.work.status == "assigned":
            machine.portal_user_accepts()
        machine.portal_user_adds("time_entry")
        machine.lead_notes_for_the_company()
        machine.deliver_part_of_the_stream(3, 2, [Fault(kind, at=1, reactions_first=1)])
        machine.drain_and_check(2, [Fault(kind, at=0, reactions_first=0)])
    machine.partner_submits()
    machine.lead_rejects_partner()
    machine.portal_user_submits()
    machine.lead_decides_portal_work(approve=True)
    machine.restart_without_checkpoints()
    machine.teardown()
    check_feeds(world)
    faults = world.figures.faults
    assert {kind: faults[kind] for kind in (*FAULT_KINDS, "restart")} == {
        "record": 2,
        "reaction": 2,
        "crash": 2,
        "duplicate": 2,
        "restart": 1,
    }
    assert world.figures.lost == world.figures.duplicated == 0


def test_every_lane_is_exactly_once_under_faults(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(harness)
    figures = world.figures

    class Machine(FaultProof):
        pass

    Machine.world = world
    examples, steps = BOUNDED[harness.backend]
    if os.environ.get("FAULT_EXAMPLES"):
        examples, steps = int(os.environ["FAULT_EXAMPLES"]), 30
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=True,
            database=None,
            # The world outlives each example, so a failure is reported as found, not shrunk.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    check_feeds(world)
    assert figures.lost == 0 and figures.duplicated == 0
    assert sum(figures.faults.values()) > 0 and figures.actions > 0
    with capsys.disabled():
        print(f"\n[{harness.backend}] {figures.line()}")
