"""The local stack over HTTP: API, presigned S3 transfers on moto, and stream reactions."""

from __future__ import annotations

import os
import re
from typing import Any

import boto3
import pytest
import requests

from infra.local import dynamodb_local
from tests.e2e.harness import StackProcess, checkpoint, stream_sequence_numbers, wait_for

pytestmark = pytest.mark.e2e

# What the stack will find with the PATH it inherits from this process.
INSTALLED, WHY_NOT = dynamodb_local.find(os.environ)
CONTENT = b"Serial number: PR-4711\nToner replaced, test page printed.\n"


def create_ticket(stack: StackProcess, key: str, title: str = "Printer offline") -> str:
    reply = stack.call("POST", "/v1/tickets", key, {"title": title})
    assert reply.status_code == 201, reply.text
    ticket_id: str = reply.json()["ticket_id"]
    return ticket_id


def upload_attachment(
    stack: StackProcess, key: str, ticket_id: str, name: str = "report.txt"
) -> dict[str, Any]:
    """Declare an attachment, then upload its file with the presigned POST."""
    reply = stack.call(
        "POST",
        f"/v1/tickets/{ticket_id}/attachments",
        key,
        {"file_name": name, "content_type": "text/plain", "size": len(CONTENT)},
    )
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    upload = created["upload"]
    assert upload["url"].startswith(stack.info["aws_endpoint"])
    sent = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": (name, CONTENT, "text/plain")},
        timeout=10,
    )
    assert sent.status_code in {200, 201, 204}, sent.text
    return created


def stored_objects(stack: StackProcess, prefix: str) -> list[str]:
    listing = stack.aws("s3").list_objects_v2(Bucket=stack.info["bucket_name"], Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_health_answers_ok(stack: StackProcess) -> None:
    reply = requests.get(f"{stack.base_url}/health", timeout=5)
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


def test_ready_banner_names_urls_key_and_endpoint(stack: StackProcess) -> None:
    output = stack.output()
    assert "stack: ready" in output
    assert f"API:           {stack.base_url}" in output
    assert f"Portal:        {stack.base_url}/portal/" in output
    assert stack.operator_key in output
    assert stack.info["aws_endpoint"] in output
    assert stack.info["moto_started"] is True
    engine = f"DynamoDB:      {stack.info['dynamodb_label']} at {stack.info['dynamodb_endpoint']}"
    assert engine in output


@pytest.mark.skipif(INSTALLED is None, reason=f"DynamoDB Local cannot run here: {WHY_NOT}")
def test_default_stack_runs_dynamodb_on_dynamodb_local(stack: StackProcess) -> None:
    """Amazon's engine by default: the table and its stream are in DynamoDB Local, not moto."""
    info = stack.info
    assert info["dynamodb_engine"] == "dynamodb-local"
    assert info["dynamodb_endpoint"].startswith("http://127.0.0.1:")
    assert info["dynamodb_endpoint"] != info["aws_endpoint"]
    assert "dynamodb-local" in info["pids"]  # a child of the stack, stopped with it
    assert ":ddblocal:" in info["stream_arn"]  # DynamoDB Local's stream ARNs name this region
    assert INSTALLED is not None
    banner = f"DynamoDB:      {INSTALLED.label} at {info['dynamodb_endpoint']}"
    assert banner in stack.output()
    assert re.fullmatch(
        r"DynamoDB:      DynamoDB Local 10\.3\.0 \(Java \d+\) at http://127\.0\.0\.1:\d+", banner
    )
    assert info["table_name"] in stack.aws("dynamodb").list_tables()["TableNames"]
    on_moto = boto3.client(
        "dynamodb", endpoint_url=info["aws_endpoint"], region_name=info["region"]
    )
    assert info["table_name"] not in on_moto.list_tables()["TableNames"]


def test_operator_key_is_required_to_create_tenants(stack: StackProcess) -> None:
    body = {"name": "X", "language": "en", "currency": "USD", "contact_email": "x@x.example.com"}
    reply = stack.call("POST", "/v1/admin/tenants", "op_wrong", body)
    assert reply.status_code == 401


def test_ticket_with_note_and_attachment(stack: StackProcess, tenant: tuple[str, str]) -> None:
    tenant_id, key = tenant
    ticket_id = create_ticket(stack, key)

    note = stack.call("POST", f"/v1/tickets/{ticket_id}/notes", key, {"text": "Toner replaced"})
    assert note.status_code == 201, note.text

    created = upload_attachment(stack, key, ticket_id)
    attachment_id = created["attachment_id"]
    assert stored_objects(stack, f"{tenant_id}/{ticket_id}/{attachment_id}/")

    read = stack.call("GET", f"/v1/tickets/{ticket_id}/attachments/{attachment_id}", key)
    assert read.status_code == 200, read.text
    download = requests.get(read.json()["download_url"], timeout=10)
    assert download.status_code == 200
    assert download.content == CONTENT

    items = stack.call("GET", f"/v1/tickets/{ticket_id}/items", key)
    assert items.status_code == 200, items.text
    listed = [(i["kind"], i["item_id"]) for i in items.json()["items"]]
    assert listed == [("note", note.json()["note_id"]), ("attachment", attachment_id)]

    order = stack.call("GET", f"/v1/tickets/{ticket_id}/work-order", key)
    assert order.status_code == 200, order.text
    assert order.headers["Content-Type"].startswith("text/html")
    assert "Toner replaced" in order.text


def test_deleting_an_attachment_removes_its_file_through_the_stream(
    stack: StackProcess, tenant: tuple[str, str]
) -> None:
    tenant_id, key = tenant
    ticket_id = create_ticket(stack, key, "Scanner jams")
    attachment_id = upload_attachment(stack, key, ticket_id, "jam.txt")["attachment_id"]
    prefix = f"{tenant_id}/{ticket_id}/{attachment_id}/"
    assert stored_objects(stack, prefix)

    deleted = stack.call("DELETE", f"/v1/tickets/{ticket_id}/attachments/{attachment_id}", key)
    assert deleted.status_code == 204, deleted.text
    gone = stack.call("GET", f"/v1/tickets/{ticket_id}/attachments/{attachment_id}", key)
    assert gone.status_code == 404

    # Only the pump, handing the deletion to the app's stream handler, removes the file.
    assert wait_for(lambda: not stored_objects(stack, prefix), timeout=10), stack.output()[-3000:]
    # And it has checkpointed everything the stream holds so far.
    latest = max(stream_sequence_numbers(stack))
    assert wait_for(lambda: (checkpoint(stack) or 0) >= latest, timeout=10)
