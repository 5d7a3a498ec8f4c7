"""Which DynamoDB the stack uses: DynamoDB Local by default, moto as the fallback, or an endpoint
given with DYNAMODB_ENDPOINT_URL (here a DynamoDB Local that outlives the stack)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import StackProcess, stack_environment, start_stack, wait_for
from tests.e2e.test_stack import create_ticket, stored_objects, upload_attachment
from tests.integration.dynamodb_local import DynamoDBLocal, jar_directory

pytestmark = pytest.mark.e2e

needs_dynamodb_local = pytest.mark.skipif(
    jar_directory() is None or shutil.which("java") is None,
    reason="DynamoDB Local is not installed (npm ci, Java 17)",
)
# A PATH on which the stack finds its Python but no java.
WITHOUT_JAVA = str(Path(sys.executable).parent)


def stream_reaction_removes_a_deleted_attachments_file(stack: StackProcess) -> None:
    """API write -> table stream -> pump -> the app's stream handler -> S3 (on moto)."""
    tenant_id, key = stack.create_tenant()
    ticket_id = create_ticket(stack, key)
    attachment_id = upload_attachment(stack, key, ticket_id)["attachment_id"]
    prefix = f"{tenant_id}/{ticket_id}/{attachment_id}/"
    assert stored_objects(stack, prefix)
    path = f"/v1/tickets/{ticket_id}/attachments/{attachment_id}"
    assert stack.call("DELETE", path, key).status_code == 204
    assert wait_for(lambda: not stored_objects(stack, prefix), timeout=10), stack.output()[-3000:]


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


@needs_dynamodb_local
def test_dynamodb_endpoint_url_is_used_instead_of_starting_one(
    stack_on_dynamodb_local: StackProcess,
) -> None:
    stack = stack_on_dynamodb_local
    assert stack.info["moto_started"] is True
    assert stack.info["dynamodb_engine"] == "DYNAMODB_ENDPOINT_URL"
    assert "dynamodb-local" not in stack.info["pids"]
    assert stack.info["dynamodb_endpoint"] == stack.env["DYNAMODB_ENDPOINT_URL"]
    assert stack.info["dynamodb_endpoint"] != stack.info["aws_endpoint"]
    assert f"DynamoDB:      {stack.info['dynamodb_endpoint']}  (DYNAMODB_ENDPOINT_URL)" in (
        stack.output()
    )
    # The table lives in DynamoDB Local only.
    assert stack.info["table_name"] in stack.aws("dynamodb").list_tables()["TableNames"]
    stream_reaction_removes_a_deleted_attachments_file(stack)


def test_without_java_dynamodb_runs_on_moto_and_the_stack_says_so(tmp_path: Path) -> None:
    stack = start_stack(stack_environment(tmp_path, PATH=WITHOUT_JAVA), tmp_path / "output.log")
    try:
        assert stack.info["dynamodb_engine"] == "moto"
        assert stack.info["dynamodb_endpoint"] == stack.info["aws_endpoint"]
        assert "dynamodb-local" not in stack.info["pids"]
        output = stack.output()
        said_at_start = (
            "stack: DynamoDB Local is not used (Java not found): DynamoDB and its stream"
        )
        assert said_at_start in output
        assert output.index(said_at_start) < output.index("stack: started process=moto")
        assert f"DynamoDB:      moto (Java not found) at {stack.info['aws_endpoint']}" in output
        stream_reaction_removes_a_deleted_attachments_file(stack)
    finally:
        stack.stop()


def test_local_dynamodb_moto_chooses_moto(tmp_path: Path) -> None:
    env = stack_environment(tmp_path, LOCAL_DYNAMODB="moto")
    stack = start_stack(env, tmp_path / "output.log")
    try:
        assert stack.info["dynamodb_engine"] == "moto"
        assert stack.info["dynamodb_endpoint"] == stack.info["aws_endpoint"]
        assert "DynamoDB:      moto (LOCAL_DYNAMODB=moto) at " in stack.output()
        assert stack.call("GET", "/health").status_code == 200
    finally:
        stack.stop()


def test_local_dynamodb_required_without_java_fails_at_start(tmp_path: Path) -> None:
    env = stack_environment(tmp_path, PATH=WITHOUT_JAVA, LOCAL_DYNAMODB="dynamodb-local")
    with pytest.raises(AssertionError, match="exited with 1") as failure:
        start_stack(env, tmp_path / "output.log")
    assert "DynamoDB Local cannot run: Java not found" in str(failure.value)
