"""Restarting the stack against the same endpoints continues the stream; it never replays it.

Servers the stack starts itself are in memory (DynamoDB Local with ``-inMemory``, moto), so a
restart of the default stack starts from an empty table with a new stream; to keep data across
restarts, servers that outlive the stack are given with AWS_ENDPOINT_URL (and
DYNAMODB_ENDPOINT_URL), as here.
"""

from __future__ import annotations

import json
import os
import signal
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
from tests.e2e.test_stack import (
    INSTALLED,
    WHY_NOT,
    create_ticket,
    stored_objects,
    upload_attachment,
)
from tests.integration.dynamodb_local import DynamoDBLocal

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


@pytest.fixture(params=["moto", "dynamodb-local"])
def outliving_endpoints(
    request: pytest.FixtureRequest, moto_endpoint: str
) -> Iterator[dict[str, str]]:
    """Endpoints of servers that outlive the stacks: moto for everything, or moto plus a
    DynamoDB Local for DynamoDB and its stream."""
    if request.param == "moto":
        yield {"AWS_ENDPOINT_URL": moto_endpoint}
        return
    if INSTALLED is None:
        pytest.skip(f"DynamoDB Local cannot run here: {WHY_NOT}")
    server = DynamoDBLocal()
    try:
        yield {"AWS_ENDPOINT_URL": moto_endpoint, "DYNAMODB_ENDPOINT_URL": server.endpoint}
    finally:
        server.stop()


def test_restart_continues_from_the_checkpoint(
    outliving_endpoints: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    env = stack_environment(state_dir, **outliving_endpoints)

    first = start_stack(env, state_dir / "first.log")
    assert first.info["moto_started"] is False
    assert first.info["aws_endpoint"] == outliving_endpoints["AWS_ENDPOINT_URL"]
    assert first.info["dynamodb_endpoint"] == outliving_endpoints.get(
        "DYNAMODB_ENDPOINT_URL", outliving_endpoints["AWS_ENDPOINT_URL"]
    )
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
    in_stream = stream_sequence_numbers(second)  # the servers outlive the stacks
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


def test_restarting_the_default_stack_starts_empty_and_replays_nothing(tmp_path: Path) -> None:
    """The stack's own servers are in memory: a restart (after Ctrl-C) has a new table and stream,
    the old stream's checkpoints are dropped, and nothing is handed to the handler twice."""
    state_dir = tmp_path / "state"
    env = stack_environment(state_dir)

    first = start_stack(env, state_dir / "first.log")
    try:
        tenant_id, key = first.create_tenant()
        make_changes(first, key, tenant_id, notes=1)
    finally:
        first.stop(signal.SIGINT)  # what Ctrl-C sends; every child (java included) is gone
    assert pump_stats(first)["state"] == "stopped"

    second = start_stack(env, state_dir / "second.log")
    try:
        assert second.info["dynamodb_engine"] == first.info["dynamodb_engine"]
        assert second.info["stream_arn"] != first.info["stream_arn"]
        checkpoints = json.loads((state_dir / "checkpoints.json").read_text())
        assert first.info["stream_arn"] not in checkpoints
        # The first run's data went with its servers.
        assert second.call("GET", "/v1/api-keys", key).status_code == 401
        tenant_id, key = second.create_tenant()
        make_changes(second, key, tenant_id, notes=1)
        in_stream = stream_sequence_numbers(second)
    finally:
        second.stop(signal.SIGINT)
    stats = pump_stats(second)
    # Every record of the new stream once, none of the old one's.
    assert stats["replayed"] == 0
    assert stats["failures"] == 0
    assert stats["processed"] == stats["delivered"] == len(in_stream)
