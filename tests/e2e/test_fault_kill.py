"""A kill -9 of the local stack under load: writers on both sides of a partner outsourcing keep
adding notes at a steady rate, and a subcontractor company's admin through the portal's form, the
stack is SIGKILLed mid-load (requests in flight, records not
yet delivered, the last checkpoint possibly behind) and started again on the same servers, the
writers carry on, and once the stream is drained every note has exactly one replica on the other
side (the portal's on the lead ticket) and nothing else is there; each transition was told to the
other side once, and no email went out again.

A note whose request the kill cut off may or may not have been written: it counts as written
when its side lists it, and then its replica must be there once too. Every note answered with a
201 must be listed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.domain.sync import replica_id
from tests.e2e.harness import (
    StackProcess,
    checkpoint,
    pump_stats,
    stack_environment,
    start_stack,
    stream_sequence_numbers,
    wait_for,
)
from tests.e2e.outsourcing import outsource_and_accept
from tests.e2e.test_notifications_restart import emails_sent, kill_9, notification_log
from tests.e2e.test_restart import moto_endpoint, outliving_endpoints  # noqa: F401 (fixtures)
from tests.load.clients import Portal
from tests.load.metrics import Recorder

pytestmark = pytest.mark.e2e

MOTO_LOSES_CONCURRENT_WRITES = (
    "on DynamoDB Local only: moto's server runs requests concurrently and answers a cancelled "
    "transaction by putting back a copy of the table taken before it, so writes answered in "
    "the meantime can vanish (measured: 41 of 2,178 puts lost beside 37 cancelled "
    "transactions); under this test's concurrent writers that shows as lost replicas that are "
    "moto's, not the engine's (README 'The fault proof')"
)
INTERVAL = 0.05  # seconds between one writer's notes
LOAD_SECONDS = 1.5  # of writing before the kill, and again after the restart
PASSWORD = "Correct-Horse-42"


@dataclass
class Writer:
    """One side adding notes to its ticket from a thread until told to stop."""

    name: str
    base_url: Callable[[], str]
    key: str
    ticket_id: str
    answered: list[str] = field(default_factory=list)  # note ids answered with 201
    refused: int = 0  # requests the dead or starting stack did not answer
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                reply = requests.post(
                    f"{self.base_url()}/v1/tickets/{self.ticket_id}/notes",
                    json={"text": f"{self.name} note {n}"},
                    headers={"Authorization": f"Bearer {self.key}"},
                    timeout=5,
                )
            except requests.RequestException:
                self.refused += 1
                self.stop.wait(0.1)
                continue
            if reply.status_code == 201:
                self.answered.append(reply.json()["note_id"])
            else:
                self.refused += 1
            self.stop.wait(INTERVAL)


@dataclass
class PortalWriter:
    """A subcontractor company's admin adding notes through the portal's form until told to
    stop (a form answers with a 303 and no id, so each note carries a marker)."""

    portal: Portal
    outsourcing_id: str
    answered: list[str] = field(default_factory=list)  # markers answered with 303
    tried: set[str] = field(default_factory=set)
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    name: str = "portal"

    def run(self) -> None:
        while not self.stop.is_set():
            marker = f"portal note {uuid.uuid4().hex[:12]}"
            self.tried.add(marker)
            try:
                reply = self.portal.request(
                    "POST",
                    "/portal/tickets/{oid}/notes",
                    {"text": marker},
                    expect=(303,),
                    params={"oid": self.outsourcing_id},
                )
            except requests.RequestException:
                self.refused += 1
                self.stop.wait(0.1)
                continue
            if reply.status_code == 303:
                self.answered.append(marker)
            else:
                self.refused += 1
            self.stop.wait(INTERVAL)


def portal_work(stack: StackProcess, lead_key: str) -> tuple[Portal, str, str]:
    """A company of the lead's, its admin signed in, and a ticket it accepted: (the admin's
    portal client, the outsourcing id, the lead ticket's id)."""
    email = f"admin@techs-{uuid.uuid4().hex[:8]}.example"
    added = stack.call(
        "POST",
        "/v1/subcontractors",
        lead_key,
        {"company_name": "Field Techs", "admin_email": email},
    )
    assert added.status_code == 201, added.text
    portal = Portal(stack.base_url, Recorder())
    portal.activate_and_sign_in(added.json()["activation_url"], email, PASSWORD)
    ticket = stack.call("POST", "/v1/tickets", lead_key, {"title": "Swap the office switch"})
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["ticket_id"]
    outsourced = stack.call(
        "POST",
        f"/v1/tickets/{ticket_id}/outsource",
        lead_key,
        {"subcontractor_id": added.json()["subcontractor_id"], "terms": {"instructions": "Go"}},
    )
    assert outsourced.status_code == 201, outsourced.text
    oid = outsourced.json()["outsourcing_id"]
    accepted = portal.post("/portal/tickets/{oid}/accept", {}, oid=oid)
    assert accepted.status_code == 303, accepted.text
    return portal, oid, ticket_id


def told(stack: StackProcess, key: str, expected: int) -> bool:
    """The lead's notification log holds ``expected`` notifications, each settled."""
    logged = notification_log(stack, key)
    return len(logged) == expected and all(n["status"] != "pending" for n in logged)


def notes(stack: StackProcess, key: str, ticket_id: str) -> list[dict[str, Any]]:
    """Every note the ticket shows, following the pages."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
        reply = stack.call("GET", f"/v1/tickets/{ticket_id}/items{query}", key)
        assert reply.status_code == 200, reply.text
        found += [i for i in reply.json()["items"] if i["kind"] == "note"]
        cursor = reply.json()["next_cursor"]
        if not cursor:
            return found


def stalled_pump_report(stack: StackProcess) -> str:
    """What a pump that stopped catching up was doing: its statistics, the stream's last
    position against the checkpoint, and every thread's stack (``kill -USR1``, faulthandler)."""
    os.kill(stack.info["pids"]["pump"], signal.SIGUSR1)
    time.sleep(1.0)
    numbers = stream_sequence_numbers(stack)
    log = stack.output_path.read_text(errors="replace").splitlines()
    return "\n".join(
        [
            "stream did not catch up:",
            f"  stream: {len(numbers)} records, last {max(numbers, default=None)}",
            f"  checkpoint: {checkpoint(stack)}",
            f"  pump: {pump_stats(stack)}",
            *log[-120:],
        ]
    )


def test_every_note_written_under_load_has_one_replica_across_a_kill_9(
    outliving_endpoints: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    if "DYNAMODB_ENDPOINT_URL" not in outliving_endpoints:
        pytest.skip(MOTO_LOSES_CONCURRENT_WRITES)
    state_dir = tmp_path / "state"
    env = stack_environment(state_dir, **outliving_endpoints)
    stacks: list[StackProcess] = [start_stack(env, state_dir / "first.log")]
    deal = outsource_and_accept(stacks[0])
    portal, portal_oid, portal_ticket = portal_work(stacks[0], deal.lead_key)
    assert wait_for(lambda: told(stacks[0], deal.lead_key, 4), timeout=60)
    emails_before = emails_sent(stacks[0])
    sides = {
        "lead": (deal.lead_key, deal.lead_ticket_id),
        "partner": (deal.partner_key, deal.insourced_ticket_id),
    }
    writers = [
        Writer(name, lambda: stacks[-1].base_url, key, ticket)
        for name, (key, ticket) in sides.items()
    ]
    portal_writer = PortalWriter(portal, portal_oid)
    every: list[Writer | PortalWriter] = [*writers, portal_writer]
    threads = [threading.Thread(target=w.run, name=f"writer-{w.name}") for w in every]
    try:
        # Given both sides writing notes at a steady rate
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        # When the stack is killed mid-load and started again on the same servers
        kill_9(stacks[0])
        before_restart = [len(w.answered) for w in every]
        stacks.append(start_stack(env, state_dir / "second.log"))
        time.sleep(LOAD_SECONDS)  # the writers carry on against the new stack
    finally:
        for each in every:
            each.stop.set()
        for thread in threads:
            thread.join(30)
    stack = stacks[-1]
    try:
        # Then, once the stream is drained, each side's notes have one replica on the other
        def listed() -> dict[str, list[dict[str, Any]]]:
            return {name: notes(stack, key, ticket) for name, (key, ticket) in sides.items()}

        def expected_replicas(shown: dict[str, list[dict[str, Any]]], of: str) -> list[str]:
            own = [n for n in shown[of] if n["origin"] == "local" and not n["internal"]]
            return sorted(replica_id(deal.outsourcing_id, n["item_id"]) for n in own)

        def replicas(shown: dict[str, list[dict[str, Any]]], on: str) -> list[str]:
            return sorted(n["item_id"] for n in shown[on] if n["origin"] == "partner")

        behind: list[tuple[int, int, int, int]] = []

        def caught_up() -> bool:
            shown = listed()
            counts = (
                len(replicas(shown, "partner")),
                len(expected_replicas(shown, "lead")),
                len(replicas(shown, "lead")),
                len(expected_replicas(shown, "partner")),
            )
            behind.append(counts)
            return replicas(shown, "partner") == expected_replicas(shown, "lead") and replicas(
                shown, "lead"
            ) == expected_replicas(shown, "partner")

        def portal_copies() -> Counter[str]:
            shown = notes(stack, deal.lead_key, portal_ticket)
            return Counter(n["text"] for n in shown if n["origin"] != "local")

        # (not asserted here: the figures below say what is missing or extra)
        if not wait_for(caught_up, timeout=120, interval=0.5):
            print(stalled_pump_report(stack))
        wait_for(lambda: set(portal_writer.answered) <= set(portal_copies()), timeout=30)
        time.sleep(1.0)  # anything the kill left in flight has landed by now
        shown = listed()
        on_lead = portal_copies()
        logged = notification_log(stack, deal.lead_key)
        sent = emails_sent(stack)
    finally:
        stack.stop()

    written = replicas_found = lost = duplicated = 0
    for writer, other in ((writers[0], "partner"), (writers[1], "lead")):
        own = Counter(n["item_id"] for n in shown[writer.name] if n["origin"] == "local")
        visible = {n["item_id"] for n in shown[writer.name] if n["origin"] == "local"}
        expected = Counter(replica_id(deal.outsourcing_id, i) for i in visible)
        theirs = Counter(n["item_id"] for n in shown[other] if n["origin"] == "partner")
        # every note answered with a 201 is listed once, and its replica is on the other side
        # once, with nothing else there
        lost += len(set(writer.answered) - set(own)) + sum((expected - theirs).values())
        for unlisted in set(writer.answered) - set(own):
            print(f"a {writer.name} note answered 201 is not listed", unlisted)
        for missing in expected - theirs:  # which note, and whether its writer got a 201
            print(f"no replica of a {writer.name} note", missing, behind[-1:], writer.answered[-3:])
        duplicated += sum((own - Counter(set(own))).values()) + sum((theirs - expected).values())
        written += len(own)
        replicas_found += sum(theirs.values())
    # every portal note answered with a 303 has one copy on the lead ticket; one whose request
    # the kill cut off has at most one; nothing else is there
    lost += sum(1 for m in portal_writer.answered if on_lead[m] == 0)
    for marker in (m for m in portal_writer.answered if on_lead[m] == 0):
        print("a portal note answered 303 has no copy on the lead ticket:", marker)
    duplicated += sum(c - 1 for c in on_lead.values() if c > 1)
    duplicated += sum(c for m, c in on_lead.items() if m not in portal_writer.tried)
    written += sum(1 for m in portal_writer.tried if on_lead[m])
    replicas_found += sum(on_lead.values())
    answered = sum(len(w.answered) for w in every)
    print(
        f"\nkill -9 under load: notes {written}, replicas {replicas_found}, lost {lost}, "
        f"duplicated {duplicated} (answered 201: {answered}, not answered around the kill: "
        f"{sum(w.refused for w in every)})"
    )
    assert lost == 0 and duplicated == 0
    assert written == replicas_found >= answered
    # The writers wrote on both stacks
    assert all(0 < b < len(w.answered) for b, w in zip(before_restart, every, strict=True))
    # And each transition was told once (an email at most once: a kill between the claim and
    # SES's answer leaves it pending)
    assert sorted((n["outsourcing_id"], n["event"], n["side"]) for n in logged) == sorted(
        (oid, event, side)
        for oid in (deal.outsourcing_id, portal_oid)
        for event, side in (("accepted", "lead"), ("assigned", "receiver"))
    )
    assert {n["status"] for n in logged} == {"sent"}
    # (they were sent before the load began: no email went out again across the kill)
    assert sent == emails_before
