"""Download links in emails forwarded to a network: one per shared, uploaded attachment of the
lead ticket, a 302 to a short-lived download while the link is valid and the attachment still
shared, and the same 404 for anything else (expired, tampered, unknown, deleted, internal)."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any
from urllib.parse import unquote

import pytest

from chalicelib.container import reset_container
from tests.integration.conftest import Harness, Reply, Tenant
from tests.integration.network_support import (
    FILE_LINK,
    add_network,
    address,
    attach,
    email_entry,
    forward,
    lead,
    notes,
    sent_to,
)


def _refused(reply: Reply) -> None:
    assert (reply.status_code, reply.error_code) == (404, "not_found"), reply.body


def _forward_with_files(harness: Harness, tenant: Tenant) -> tuple[dict[str, Any], str, str]:
    """A ticket with a shared uploaded file, an internal one and a shared one never uploaded,
    forwarded by email with {attachments}; the ticket, the shared file's key and its link."""
    entry = add_network(
        harness, tenant, email_entry(tenant, include_attachments=True, body="Files:\n{attachments}")
    )
    ticket = harness.create_ticket(tenant)
    ticket_id = ticket["ticket_id"]
    shared = attach(harness, tenant, ticket_id, "shared.txt", upload=True, internal=False)
    attach(harness, tenant, ticket_id, "private.txt", upload=True, internal=True)
    attach(harness, tenant, ticket_id, "missing.txt", upload=False, internal=False)
    reply = forward(harness, tenant, ticket_id, entry["network_id"])
    assert reply.status_code == 201, reply.body
    (email,) = sent_to(address(tenant))
    links = FILE_LINK.findall(email.body)
    assert len(links) == 1, email.body
    return {**ticket, "shared": shared}, shared["upload"]["fields"]["key"], links[0]


def _open(harness: Harness, path: str) -> Reply:
    return harness.get(path, None)


def test_the_email_links_each_shared_uploaded_file_and_the_link_redirects_to_it(
    harness: Harness,
) -> None:
    # Given a forwarded ticket with a shared, an internal and a never uploaded file
    tenant = lead(harness)
    ticket, key, path = _forward_with_files(harness, tenant)
    (email,) = sent_to(address(tenant))
    # Then the email names only the shared, uploaded file, with its link and how long it works
    assert "shared.txt: http://127.0.0.1:8000/files/fl_" in email.body
    assert "private.txt" not in email.body and "missing.txt" not in email.body
    assert "(links valid until " in email.body
    # And the link, without any credential, redirects to a short-lived download of that file
    opened = _open(harness, path)
    assert opened.status_code == 302, opened.body
    assert key in unquote(opened.headers["Location"])
    assert opened.headers["Cache-Control"] == "no-store"
    # And the note names the file, but holds no link
    (note,) = notes(harness, tenant, ticket["ticket_id"])
    assert "- shared.txt (download link)" in note["text"]
    assert "/files/" not in note["text"]
    # And the table holds only the token's hash, never the token
    token = path.rsplit("/", 1)[1]
    raw = json.dumps(harness.dynamodb().scan(TableName=harness.table_name)["Items"])
    assert token not in raw
    assert "P#FILE#" + hashlib.sha256(token.encode()).hexdigest() in raw


def test_a_tampered_unknown_or_malformed_link_is_not_found(harness: Harness) -> None:
    tenant = lead(harness)
    _, _, path = _forward_with_files(harness, tenant)
    last = path[-1]
    tampered = path[:-1] + ("A" if last != "A" else "B")
    for attempt in (
        tampered,
        "/files/fl_" + secrets.token_urlsafe(32),
        "/files/" + path.rsplit("/", 1)[1].removeprefix("fl_"),
        "/files/x",
        "/files/" + hashlib.sha256(path.rsplit("/", 1)[1].encode()).hexdigest(),
        path + "A",
    ):
        _refused(_open(harness, attempt))
    assert _open(harness, path).status_code == 302


def test_a_link_stops_working_while_its_file_is_internal_and_once_it_is_deleted(
    harness: Harness,
) -> None:
    tenant = lead(harness)
    ticket, _, path = _forward_with_files(harness, tenant)
    item = f"/v1/tickets/{ticket['ticket_id']}/attachments/{ticket['shared']['attachment_id']}"
    # Made internal: not found; shared again: it works again
    assert harness.patch(item, tenant.key, {"internal": True}).status_code == 200
    _refused(_open(harness, path))
    assert harness.patch(item, tenant.key, {"internal": False}).status_code == 200
    assert _open(harness, path).status_code == 302
    # Deleted: not found
    assert harness.delete(item, tenant.key).status_code == 204
    _refused(_open(harness, path))


def test_an_expired_link_is_not_found(harness: Harness) -> None:
    tenant = lead(harness)
    _, _, path = _forward_with_files(harness, tenant)
    token = path.rsplit("/", 1)[1]
    # Given the link's validity ended (as if its days had passed; DynamoDB's TTL may lag)
    harness.dynamodb().update_item(
        TableName=harness.table_name,
        Key={
            "pk": {"S": "P#FILE#" + hashlib.sha256(token.encode()).hexdigest()},
            "sk": {"S": "FILE"},
        },
        UpdateExpression="SET valid_until = :past",
        ExpressionAttributeValues={":past": {"S": "2001-01-01T00:00:00.000000+0000"}},
    )
    _refused(_open(harness, path))


def test_each_tenants_link_opens_only_its_own_file(harness: Harness) -> None:
    first, second = lead(harness), lead(harness)
    _, first_key, first_path = _forward_with_files(harness, first)
    _, second_key, second_path = _forward_with_files(harness, second)
    first_location = unquote(_open(harness, first_path).headers["Location"])
    second_location = unquote(_open(harness, second_path).headers["Location"])
    assert first_key in first_location and second_key not in first_location
    assert second_key in second_location and first_key not in second_location
    assert first_key.startswith(first.tenant_id + "/")
    # A credential changes nothing: the route knows the token only
    with_key = harness.get(first_path, second.key)
    assert first_key in unquote(with_key.headers["Location"])


def test_without_a_public_address_an_email_with_links_is_refused_before_sending(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment that knows neither its API's nor its portal's public address
    monkeypatch.setenv("API_BASE_URL", "/")
    monkeypatch.setenv("PORTAL_URL", "")
    reset_container()
    tenant = lead(harness)
    entry = add_network(
        harness, tenant, email_entry(tenant, include_attachments=True, body="{attachments}")
    )
    ticket = harness.create_ticket(tenant)["ticket_id"]
    attach(harness, tenant, ticket, "shared.txt", upload=True, internal=False)
    # When the lead forwards a ticket with a file to link
    reply = forward(harness, tenant, ticket, entry["network_id"])
    # Then it is refused as not configured, and nothing is sent or recorded
    assert (reply.status_code, reply.error_code) == (503, "not_configured"), reply.body
    assert sent_to(address(tenant)) == []
    assert notes(harness, tenant, ticket) == []
