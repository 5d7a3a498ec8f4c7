"""Restarting the stack against the same endpoint continues the stream; it never replays it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.processes import Child, free_port, start_moto, wait_for_endpoint
from tests.e2e.harness import (
    StackProcess,
    checkpoint,
    pump_stats,
    stack_environment,
    start_stack,
    stream_sequence_numbers,
    wait_for,
)
from tests.e2e.test_stack import create_ticket, stored_objects, upload_attachment

pytestmark = pytest.mark.e2e


@pytest.fixture
def moto_endpoint(tmp_path: Path) -> Iterator[str]:
    """A moto server that outlives the stacks using it."""
    port = free_port()
    with (tmp_path / "moto.log").open("ab") as log:
        moto: Child = start_moto(port, env=dict(os.environ), log=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_endpoint(endpoint, timeout=30, abort=lambda: not moto.alive())
        yield endpoint
    finally:
        moto.stop()


def make_changes(stack: StackProcess, key: str, tenant_id: str, notes: int) -> None:
    """A ticket, notes and a deleted attachment; returns once the pump has caught up."""
    ticket_id = create_ticket(stack, key)
    for n in range(notes):
        reply = stack.call("POST", f"/v1/tickets/{ticket_id}/notes", key, {"text": f"note {n}"})
        assert reply.status_code == 201, reply.text
    attachment_id = upload_attachment(stack, key, ticket_id)["attachment_id"]
    path = f"/v1/tickets/{ticket_id}/attachments/{attachment_id}"
    assert stack.call("DELETE", path, key).status_code == 204
    prefix = f"{tenant_id}/{ticket_id}/{attachment_id}/"
    assert wait_for(lambda: not stored_objects(stack, prefix), timeout=10)
    latest = max(stream_sequence_numbers(stack))
    assert wait_for(lambda: checkpoint(stack) == latest, timeout=10), stack.output()[-3000:]


def test_restart_continues_from_the_checkpoint(moto_endpoint: str, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    env = stack_environment(state_dir, AWS_ENDPOINT_URL=moto_endpoint)

    first = start_stack(env, state_dir / "first.log")
    assert first.info["moto_started"] is False
    assert first.info["aws_endpoint"] == moto_endpoint
    try:
        tenant_id, key = first.create_tenant()
        make_changes(first, key, tenant_id, notes=3)
    finally:
        first.stop()
    first_stats = pump_stats(first)
    stopped_at = checkpoint(first)
    assert stopped_at is not None
    assert first_stats["state"] == "stopped"
    assert first_stats["replayed"] == 0
    assert first_stats["failures"] == 0

    second = start_stack(env, state_dir / "second.log")
    try:
        assert second.info["stream_arn"] == first.info["stream_arn"]
        make_changes(second, key, tenant_id, notes=2)
    finally:
        second.stop()
    second_stats = pump_stats(second)

    # Nothing at or below the first run's checkpoint was handed to the handler again ...
    assert second_stats["replayed"] == 0
    assert int(second_stats["first_sequence_number"]) > stopped_at
    assert second_stats["failures"] == 0
    assert second_stats["retried"] == 0
    # ... and between them the two runs processed each record of the stream exactly once.
    in_stream = stream_sequence_numbers(second)  # moto outlives the stacks
    assert first_stats["processed"] + second_stats["processed"] == len(in_stream)
    assert first_stats["delivered"] + second_stats["delivered"] == len(in_stream)
    assert int(first_stats["last_sequence_number"]) == stopped_at
    assert int(second_stats["last_sequence_number"]) == max(in_stream)
    final = [
        line
        for line in second.output().splitlines()
        if line.startswith("pump: delivered") and "state=stopped" in line
    ]
    assert len(final) == 1
    assert " replayed=0 " in final[0]
