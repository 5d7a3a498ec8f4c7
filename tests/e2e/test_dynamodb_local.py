"""The stack with DynamoDB on Amazon's DynamoDB Local and every other service on its moto."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import StackProcess, stack_environment, start_stack, wait_for
from tests.e2e.test_stack import create_ticket, stored_objects, upload_attachment
from tests.integration.dynamodb_local import DynamoDBLocal, jar_directory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        jar_directory() is None or shutil.which("java") is None,
        reason="DynamoDB Local is not installed (npm ci, Java 17)",
    ),
]


@pytest.fixture
def stack_on_dynamodb_local(tmp_path: Path) -> Iterator[StackProcess]:
    server = DynamoDBLocal()
    try:
        env = stack_environment(tmp_path, DYNAMODB_ENDPOINT_URL=server.endpoint)
        stack = start_stack(env, tmp_path / "output.log")
        try:
            yield stack
        finally:
            stack.stop()
    finally:
        server.stop()


def test_stream_reactions_run_on_dynamodb_local(stack_on_dynamodb_local: StackProcess) -> None:
    stack = stack_on_dynamodb_local
    assert stack.info["moto_started"] is True
    assert stack.info["dynamodb_endpoint"] == stack.env["DYNAMODB_ENDPOINT_URL"]
    assert stack.info["dynamodb_endpoint"] != stack.info["aws_endpoint"]
    assert f"DynamoDB:      {stack.info['dynamodb_endpoint']}" in stack.output()
    # The table lives in DynamoDB Local only.
    assert stack.info["table_name"] in stack.aws("dynamodb").list_tables()["TableNames"]

    tenant_id, key = stack.create_tenant()
    ticket_id = create_ticket(stack, key)
    attachment_id = upload_attachment(stack, key, ticket_id)["attachment_id"]
    prefix = f"{tenant_id}/{ticket_id}/{attachment_id}/"
    assert stored_objects(stack, prefix)
    path = f"/v1/tickets/{ticket_id}/attachments/{attachment_id}"
    assert stack.call("DELETE", path, key).status_code == 204
    assert wait_for(lambda: not stored_objects(stack, prefix), timeout=10), stack.output()[-3000:]
