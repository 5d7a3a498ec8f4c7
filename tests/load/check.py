"""The end of a load run: wait until the stream pump has drained, count every item on both sides
of every lane, then submit and approve some lanes and check both sides follow.

A side must hold exactly the items written there (internal ones included) plus one replica of
each of the other side's non-internal items, and nothing else: not an internal item of the
other side, not a second copy. On the API, a side's own items say ``origin: local``, the
replicas ``origin: partner`` and ``read_only``. The portal's ticket pages (every page of items)
are read as HTML, where the markers are counted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.harness import StackProcess, checkpoint, stream_sequence_numbers
from tests.load.clients import Api, Portal
from tests.load.workload import MARKER, Ledger, Written
from tests.load.world import Lane, Side, Tenant

DRAIN_SECONDS = 180.0
SETTLE_SECONDS = 1.0
# The same client, timed into the checks' recorder rather than the load's.
Checker = Callable[[Any], Any]
_LATER = '<a href="/portal/tickets/{oid}?items='


def drain(stack: StackProcess, timeout: float = DRAIN_SECONDS) -> float:
    """Wait until the pump's checkpoint is the stream's last record and stays so (a replica it
    writes is a record too); the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    caught_up_at: int | None = None
    while time.monotonic() < deadline:
        latest = max(stream_sequence_numbers(stack), default=0)
        if (checkpoint(stack) or 0) >= latest:
            if caught_up_at == latest:
                return time.monotonic() - started
            caught_up_at = latest
        else:
            caught_up_at = None
        time.sleep(SETTLE_SECONDS)
    raise AssertionError(f"the pump did not drain in {timeout:.0f} s:\n{stack.output()[-3000:]}")


@dataclass
class Tally:
    checked: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, expected: set[str], found: Counter[str]) -> None:
        self.checked += len(expected)
        lost = expected - set(found)
        extra = sum(n - 1 for m, n in found.items() if m in expected and n > 1)
        strangers = {m: n for m, n in found.items() if m not in expected}
        self.lost += len(lost)
        self.duplicated += extra + sum(strangers.values())
        if lost:
            self.problems.append(f"{where}: lost {len(lost)} ({sorted(lost)[:3]})")
        if extra:
            self.problems.append(f"{where}: {extra} duplicated")
        if strangers:
            self.problems.append(
                f"{where}: {len(strangers)} not expected ({sorted(strangers)[:3]})"
            )


def api_items(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = api.ok("GET", "/v1/tickets/{ticket_id}/items", ticket_id=ticket_id, query=query)
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def marker_of(item: dict[str, Any]) -> str | None:
    text = {"note": "text", "time_entry": "summary", "charge": "name"}.get(item["kind"], "")
    found = MARKER.search(str(item.get(text) or ""))
    return found.group(0) if found else None


def portal_markers(portal: Portal, oid: str) -> Counter[str]:
    """Every marker on the ticket's portal pages, following "Later items"."""
    found: Counter[str] = Counter()
    query = ""
    for _ in range(1000):
        page = portal.request("GET", "/portal/tickets/{oid}", query=query, params={"oid": oid})
        assert page.status_code == 200, page.text[:500]
        found.update(MARKER.findall(page.text))
        start = page.text.find(_LATER.format(oid=oid))
        if start < 0:
            return found
        href = page.text[start + len('<a href="') : page.text.index('"', start + 9)]
        query = "?" + href.split("?", 1)[1].replace("&amp;", "&")
    raise AssertionError("too many pages")


def expected_on(side: Side, written: list[Written]) -> set[str]:
    return {w.marker for w in written if w.side == side or not w.internal}


def check_api_side(
    tally: Tally, lane: Lane, side: Side, api: Api, ticket_id: str, written: list[Written]
) -> list[dict[str, Any]]:
    items = api_items(api, ticket_id)
    own = {w.marker for w in written if w.side == side}
    found: Counter[str] = Counter()
    for item in items:
        marker = marker_of(item)
        if marker is None:
            tally.problems.append(f"{lane.name} {side}: an item without a marker: {item}")
            continue
        found[marker] += 1
        mine = marker in own
        if item["origin"] != ("local" if mine else "partner") or item["read_only"] == mine:
            tally.problems.append(f"{lane.name} {side}: {marker} has the wrong origin: {item}")
    tally.add(f"{lane.name} {side}", expected_on(side, written), found)
    return items


def check_counts(tenants: list[Tenant], ledger: Ledger, check: Checker) -> Tally:
    """Exact counts on both sides of every lane (``check`` swaps in the checking recorder)."""
    tally = Tally()
    for tenant in tenants:
        for lane in tenant.lanes:
            written = ledger.of(lane.name)
            check_api_side(tally, lane, "lead", check(lane.lead), lane.lead_ticket_id, written)
            if lane.partner is not None:
                partner = check(lane.partner)
                check_api_side(tally, lane, "receiver", partner, lane.insourced_ticket_id, written)
            if lane.portal is not None:
                found = portal_markers(check(lane.portal), lane.outsourcing_id)
                tally.add(f"{lane.name} portal", expected_on("receiver", written), found)
    return tally


def _status(api: Api, oid: str) -> str:
    return str(api.ok("GET", "/v1/outsourcings/{oid}", oid=oid)["status"])


def _eventually(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def _submit(lane: Lane, check: Checker) -> None:
    oid = lane.outsourcing_id
    if lane.partner is not None:
        check(lane.partner).ok("POST", "/v1/outsourcings/{oid}/submit-completion", oid=oid)
    elif lane.portal is not None:
        reply = check(lane.portal).post("/portal/tickets/{oid}/submit-completion", {}, oid=oid)
        assert reply.status_code == 303, reply.text[:500]


def _approve(lane: Lane, check: Checker) -> None:
    lead, oid = check(lane.lead), lane.outsourcing_id
    _eventually(lambda: _status(lead, oid) == "waiting_approval", f"{lane.name} submitted")
    lead.ok("POST", "/v1/outsourcings/{oid}/approve", oid=oid)


def _complete_on_receiver(lane: Lane, check: Checker) -> None:
    oid = lane.outsourcing_id
    if lane.partner is not None:
        partner = check(lane.partner)
        _eventually(lambda: _status(partner, oid) == "complete", f"{lane.name} complete")
    elif lane.portal is not None:
        portal = check(lane.portal)
        _eventually(
            lambda: "status-complete" in portal.get("/portal/tickets/{oid}", oid=oid).text,
            f"{lane.name} complete in the portal",
        )


def submit_and_approve(lanes: list[Lane], check: Checker, tally: Tally) -> int:
    """The receiver submits, the lead approves once it sees it; both sides end ``complete`` and
    the lead's ticket gains exactly one item, the cost charge. The number of lanes done."""
    before = {lane.name: len(api_items(check(lane.lead), lane.lead_ticket_id)) for lane in lanes}
    for lane in lanes:
        _submit(lane, check)
    for lane in lanes:
        _approve(lane, check)
    for lane in lanes:
        _complete_on_receiver(lane, check)
        after = api_items(check(lane.lead), lane.lead_ticket_id)
        new = [i for i in after if marker_of(i) is None]
        costs = [i for i in new if i["kind"] == "charge" and i["created_by"] == "system"]
        if len(after) != before[lane.name] + 1 or len(costs) != 1:
            tally.problems.append(
                f"{lane.name}: {len(after) - before[lane.name]} new items at approval, "
                f"{len(costs)} cost charges (want 1 and 1)"
            )
    return len(lanes)
