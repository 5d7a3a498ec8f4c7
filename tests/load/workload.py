"""The timed part of a load run: workers acting as leads, partners and portal users at once,
and a poller timing how long each note takes to become readable on the other side.

Every item written carries a unique marker (``mk-`` and 16 hex digits) in its text, summary or
name, so the final check can count each one on both sides, including the portal's pages, which
answer a form with a redirect and no id. About one write in ten is internal: it must stay on
its own side.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from chalicelib.domain.sync import replica_id
from tests.load.clients import Api
from tests.load.metrics import LagClock, Recorder
from tests.load.world import Lane, Side, Tenant

MARKER = re.compile(r"mk-[0-9a-f]{16}(?![0-9a-f])")
INTERNAL_SHARE = 0.1
POLL_PAUSE = 0.02
# Notes timed at once: the poller asks for each in turn, so its resolution is about this many
# round trips; a note written while this many are in flight is not timed (its count is checked).
TIMED_AT_ONCE = 3
ITEM_LIMIT = "?limit=100"


def new_marker() -> str:
    return f"mk-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class Written:
    """One item a side wrote (a 201 from the API, a 303 from a portal form)."""

    lane: str
    side: Side
    kind: str  # note | time_entry | charge
    internal: bool
    marker: str


@dataclass
class Ledger:
    """Everything written, thread-safe."""

    items: list[Written] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, written: Written) -> None:
        with self._lock:
            self.items.append(written)

    def of(self, lane: str) -> list[Written]:
        with self._lock:
            return [w for w in self.items if w.lane == lane]


@dataclass
class Poll:
    """A replica to look for: the other side's key, its ticket, the replica's id."""

    api: Api
    ticket_id: str
    note_id: str


@dataclass
class Workload:
    tenants: list[Tenant]
    recorder: Recorder
    ledger: Ledger = field(default_factory=Ledger)
    lag: LagClock = field(default_factory=LagClock)
    polls: dict[str, Poll] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- writing over the API ----------------------------------------------------------------

    def _api_write(self, lane: Lane, side: Side, rng: random.Random) -> None:
        api = lane.lead if side == "lead" else lane.partner
        assert api is not None
        ticket_id = lane.lead_ticket_id if side == "lead" else lane.insourced_ticket_id
        marker, internal = new_marker(), rng.random() < INTERNAL_SHARE
        kind = rng.choices(["note", "time_entry", "charge"], weights=[3, 1, 1])[0]
        body: dict[str, Any]
        if kind == "note":
            template, body = "/v1/tickets/{ticket_id}/notes", {"text": f"load note {marker}"}
        elif kind == "time_entry":
            template = "/v1/tickets/{ticket_id}/time-entries"
            body = {"date": "2026-12-01", "hours_worked": "0.25", "summary": marker}
        else:
            template = "/v1/tickets/{ticket_id}/charges"
            body = {"name": marker, "quantity": "1", "unit_price": "5"}
        body["internal"] = internal
        reply = api.call("POST", template, body, expect=(201,), ticket_id=ticket_id)
        if reply.status_code != 201:
            return
        written_at = time.monotonic()
        self.ledger.add(Written(lane.name, side, kind, internal, marker))
        timed = kind == "note" and not internal and lane.kind == "partner"
        if timed and len(self.lag.pending()) < TIMED_AT_ONCE:
            other = lane.partner if side == "lead" else lane.lead
            other_ticket = lane.insourced_ticket_id if side == "lead" else lane.lead_ticket_id
            assert other is not None
            note_id = replica_id(lane.outsourcing_id, reply.json()["note_id"])
            with self._lock:
                self.polls[marker] = Poll(other, other_ticket, note_id)
            self.lag.wrote(marker, written_at)

    def _api_read(self, api: Api, side: str, ticket_id: str, rng: random.Random) -> None:
        choice = rng.random()
        if choice < 0.5:
            api.call("GET", "/v1/tickets/{ticket_id}/items", query=ITEM_LIMIT, ticket_id=ticket_id)
        elif choice < 0.75:
            api.call("GET", "/v1/outsourcings", query=f"?side={side}")
        elif choice < 0.9:
            api.call("GET", "/v1/outsourcings/summary", query=f"?side={side}")
        else:
            api.call("GET", "/v1/tickets/{ticket_id}", ticket_id=ticket_id)

    def lead_step(self, tenant: Tenant, rng: random.Random) -> None:
        lane = rng.choice(tenant.lanes)
        if rng.random() < 0.5:
            self._api_write(lane, "lead", rng)
        else:
            self._api_read(tenant.lead, "lead", lane.lead_ticket_id, rng)

    def partner_step(self, tenant: Tenant, rng: random.Random) -> None:
        lane = tenant.partner_lane
        if rng.random() < 0.5:
            self._api_write(lane, "receiver", rng)
        else:
            self._api_read(tenant.partner, "receiver", lane.insourced_ticket_id, rng)

    # -- the portal ------------------------------------------------------------------------

    def portal_step(self, tenant: Tenant, rng: random.Random) -> None:
        lane, portal = tenant.portal_lane, tenant.portal
        oid = lane.outsourcing_id
        choice = rng.random()
        if choice < 0.2:
            portal.get("/portal/")
            return
        if choice < 0.5:
            portal.get("/portal/tickets/{oid}", oid=oid)
            return
        marker, internal = new_marker(), rng.random() < INTERNAL_SHARE
        kind = rng.choices(["note", "time_entry", "charge"], weights=[3, 1, 1])[0]
        if kind == "note":
            template, form = "/portal/tickets/{oid}/notes", {"text": f"portal note {marker}"}
        elif kind == "time_entry":
            template = "/portal/tickets/{oid}/time-entries"
            form = {"date": "2026-12-01", "hours_worked": "0.25", "summary": marker}
        else:
            template = "/portal/tickets/{oid}/charges"
            form = {"name": marker, "quantity": "1", "unit_price": "5"}
        if internal:
            form["internal"] = "on"
        if portal.post(template, form, oid=oid).status_code == 303:
            self.ledger.add(Written(lane.name, "receiver", kind, internal, marker))

    # -- running ---------------------------------------------------------------------------

    def actors(self) -> list[Callable[[random.Random], None]]:
        found: list[Callable[[random.Random], None]] = []
        for tenant in self.tenants:
            found += [
                partial(self.lead_step, tenant),
                partial(self.partner_step, tenant),
                partial(self.portal_step, tenant),
            ]
        return found

    def _work(self, owned: list[Callable[[random.Random], None]], seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            step = rng.choice(owned)
            try:
                step(rng)
            except requests.RequestException as exc:
                self.recorder.record("(no answer)", 0.0, 0, False, repr(exc))

    def poll_until(self, deadline: float) -> None:
        """Look for each pending replica until it is there or ``deadline`` passes."""
        while time.monotonic() < deadline and not self.abort.is_set():
            pending = self.lag.pending()
            if self.stop.is_set() and not pending:
                return
            for marker in pending:
                with self._lock:
                    poll = self.polls[marker]
                try:
                    reply = poll.api.call(
                        "GET",
                        "/v1/tickets/{ticket_id}/notes/{note_id}",
                        expect=(200, 404),
                        ticket_id=poll.ticket_id,
                        note_id=poll.note_id,
                    )
                except requests.RequestException as exc:
                    self.recorder.record("(no answer)", 0.0, 0, False, repr(exc))
                    continue
                if reply.status_code == 200:
                    self.lag.saw(marker, time.monotonic())
            time.sleep(POLL_PAUSE)

    def run(self, workers: int, seconds: float, lag_grace: float = 60.0) -> tuple[float, int]:
        """Drive the workers for ``seconds``: the actual duration and the requests sent in it.
        Each actor belongs to one worker (a portal user's cookies are not shared between
        threads). The poller goes on (up to ``lag_grace``) until every note it waits for is
        there."""
        actors = self.actors()
        workers = max(1, min(workers, len(actors)))
        owned = [actors[w::workers] for w in range(workers)]
        pool = ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="load")
        started = time.monotonic()
        futures = []
        try:
            poller = pool.submit(self.poll_until, started + seconds + lag_grace)
            futures = [pool.submit(self._work, mine, n) for n, mine in enumerate(owned)]
            self.stop.wait(seconds)
            self.stop.set()
            for future in futures:
                future.result()
            elapsed, sent = time.monotonic() - started, self.recorder.requests
            poller.result()
        except BaseException:
            self.abort.set()
            raise
        finally:
            self.stop.set()
            pool.shutdown(wait=True)
        return elapsed, sent
