"""Two tenants over HTTP: outsource, accept, 50 notes on each side at once, submit, approve."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.harness import StackProcess, wait_for
from tests.e2e.outsourcing import outsource_and_accept

NOTES = 50


def _all_items(stack: StackProcess, key: str, ticket_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = stack.call("GET", f"/v1/tickets/{ticket_id}/items{query}", key).json()
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return found


@pytest.mark.e2e
def test_fifty_notes_each_side_arrive_exactly_once(stack: StackProcess) -> None:
    # Given a ticket outsourced to a partner and accepted
    work = outsource_and_accept(stack)
    lead_texts = {f"lead note {n}" for n in range(NOTES)}
    partner_texts = {f"partner note {n}" for n in range(NOTES)}

    def post(args: tuple[str, str, str]) -> int:
        key, ticket_id, text = args
        reply = stack.call("POST", f"/v1/tickets/{ticket_id}/notes", key, {"text": text})
        return reply.status_code

    # When both sides write 50 notes at the same time
    jobs = [(work.lead_key, work.lead_ticket_id, t) for t in sorted(lead_texts)] + [
        (work.partner_key, work.insourced_ticket_id, t) for t in sorted(partner_texts)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, jobs))
    assert statuses == [201] * (2 * NOTES)

    # Then each side ends up with its own 50 and the other's 50, each exactly once
    def notes(key: str, ticket_id: str) -> list[dict[str, Any]]:
        return [i for i in _all_items(stack, key, ticket_id) if i["kind"] == "note"]

    assert wait_for(
        lambda: (
            len(notes(work.lead_key, work.lead_ticket_id)) == 2 * NOTES
            and len(notes(work.partner_key, work.insourced_ticket_id)) == 2 * NOTES
        ),
        timeout=60,
        interval=0.5,
    ), "notes did not arrive"
    # And the work is submitted and approved
    submitted = stack.call(
        "POST", f"/v1/outsourcings/{work.outsourcing_id}/submit-completion", work.partner_key
    )
    assert submitted.status_code == 200, submitted.text
    approved = stack.call("POST", f"/v1/outsourcings/{work.outsourcing_id}/approve", work.lead_key)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "complete"
    assert wait_for(
        lambda: any(
            i["kind"] == "charge" for i in _all_items(stack, work.lead_key, work.lead_ticket_id)
        ),
        timeout=30,
    ), "the cost charge did not appear"

    lead_notes = notes(work.lead_key, work.lead_ticket_id)
    partner_notes = notes(work.partner_key, work.insourced_ticket_id)
    mine = [n for n in lead_notes if n["origin"] == "local"]
    theirs = [n for n in lead_notes if n["origin"] == "partner"]
    assert sorted(n["text"] for n in mine) == sorted(lead_texts)
    assert sorted(n["text"] for n in theirs) == sorted(partner_texts)
    assert all(n["internal"] and n["read_only"] for n in theirs)
    assert sorted(n["text"] for n in partner_notes if n["origin"] == "local") == sorted(
        partner_texts
    )
    assert sorted(n["text"] for n in partner_notes if n["origin"] == "partner") == sorted(
        lead_texts
    )
    lead_items = _all_items(stack, work.lead_key, work.lead_ticket_id)
    assert len(lead_items) == 2 * NOTES + 1
    assert len(_all_items(stack, work.partner_key, work.insourced_ticket_id)) == 2 * NOTES
    both = [
        stack.call("GET", f"/v1/outsourcings/{work.outsourcing_id}", key).json()["status"]
        for key in (work.lead_key, work.partner_key)
    ]
    assert both == ["complete", "complete"]
