"""Notifications across a kill -9 of the local stack: an outsourcing between two tenants goes
through its transitions, the stack is killed (no checkpoint saved, records in flight) and
started again on the same servers, and every transition was emailed to the other side at most
once, each logged once (the one window: a kill between the claim and SES's answer leaves a
notification ``pending``, never sent twice).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    StackProcess,
    descendants,
    running,
    stack_environment,
    start_stack,
    wait_for,
)
from tests.e2e.outsourcing import outsource_and_accept
from tests.e2e.test_restart import moto_endpoint, outliving_endpoints  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e

# What the other side is told, in order: (event, side told).
EXPECTED = [
    ("approved", "receiver"),
    ("completion_submitted", "lead"),
    ("rejected", "receiver"),
    ("completion_submitted", "lead"),
    ("accepted", "lead"),
    ("assigned", "receiver"),
]


def kill_9(stack: StackProcess) -> None:
    """SIGKILL the stack and every child's process group at once: nothing runs its cleanup."""
    tree = descendants(stack.proc.pid) | {stack.proc.pid}
    groups = {stack.proc.pid, *stack.info.get("pids", {}).values()}
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    stack.proc.wait(10)
    deadline = time.monotonic() + 10
    while (left := running(tree, groups)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"left running after kill -9: {left}"


def emails_sent(stack: StackProcess) -> int:
    """Recipients SES took (moto counts each address of each email)."""
    return int(stack.aws("ses").get_send_quota()["SentLast24Hours"])


def notification_log(stack: StackProcess, key: str) -> list[dict[str, Any]]:
    reply = stack.call("GET", "/v1/notifications?side=lead&limit=100", key)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def act(stack: StackProcess, key: str, outsourcing_id: str, event: str, **body: str) -> None:
    path = f"/v1/outsourcings/{outsourcing_id}/{event}"
    reply = stack.call("POST", path, key, body or None)
    assert reply.status_code == 200, reply.text


def test_each_transition_is_emailed_once_across_a_kill_9(
    outliving_endpoints: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    env = stack_environment(state_dir, **outliving_endpoints)
    # Given an outsourcing assigned, accepted and submitted, and the stack killed at once
    first = start_stack(env, state_dir / "first.log")
    try:
        deal = outsource_and_accept(first)
        act(first, deal.partner_key, deal.outsourcing_id, "submit-completion")
    finally:
        kill_9(first)
    # When the stack starts again on the same servers, and the lead rejects, the partner
    # submits again and the lead approves
    second = start_stack(env, state_dir / "second.log")
    try:
        act(second, deal.lead_key, deal.outsourcing_id, "reject", reason="Photo missing")
        act(second, deal.partner_key, deal.outsourcing_id, "submit-completion")
        act(second, deal.lead_key, deal.outsourcing_id, "approve")

        def settled() -> bool:
            found = notification_log(second, deal.lead_key)
            return len(found) == len(EXPECTED) and found[0]["status"] != "pending"

        assert wait_for(settled, timeout=60), second.output()[-3000:]
        logged = notification_log(second, deal.lead_key)
        sent = emails_sent(second)
    finally:
        second.stop()
    # Then each transition was told to the other side once, in order
    assert [(n["event"], n["side"]) for n in logged] == EXPECTED
    statuses = [n["status"] for n in logged]
    assert set(statuses) <= {"sent", "pending"}, statuses
    # And SES took one email per sent notification, plus the partner invitation: none twice
    # (a notification the kill caught between its claim and SES's answer is pending, and
    # counted at most once)
    pending = statuses.count("pending")
    assert statuses.count("sent") + 1 <= sent <= statuses.count("sent") + 1 + pending
    print(f"notifications: {len(logged)} logged, {sent - 1} emailed, {pending} pending")
