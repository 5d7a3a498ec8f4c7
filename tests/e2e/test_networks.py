"""Forwarding to a network through the local stack over HTTP: the email in the stack's SES, its
download link on the stack's own address, redirecting to the file in the stack's S3."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests

from tests.e2e.harness import StackProcess
from tests.e2e.test_partners import enable_outsourcing
from tests.e2e.test_stack import CONTENT, create_ticket, upload_attachment

pytestmark = pytest.mark.e2e


def _sent_bodies(stack: StackProcess, to: str) -> list[str]:
    reply = requests.get(f"{stack.info['aws_endpoint']}/moto-api/data.json", timeout=10)
    assert reply.status_code == 200, reply.text[:500]
    messages = json.loads(reply.text).get("ses", {}).get("Message", [])
    return [
        str(m.get("body", ""))
        for m in messages
        if to in (m.get("destinations") or {}).get("ToAddresses", [])
    ]


def test_a_ticket_forwarded_by_email_links_its_file_on_the_stacks_own_address(
    stack: StackProcess,
) -> None:
    # Given a lead with an email entry that includes attachments, and a ticket with a file
    _, key = stack.create_tenant(f"Lead {uuid.uuid4().hex[:6]}")
    enable_outsourcing(stack, key)
    to = f"desk-{uuid.uuid4().hex[:8]}@vendor.example"
    entry = stack.call(
        "POST",
        "/v1/networks",
        key,
        {
            "name": "Vendor desk",
            "action": "email",
            "email": {
                "to": [to],
                "subject": "Ticket {ticket_number}",
                "body": "{title}\n{attachments}",
                "include_attachments": True,
            },
        },
    )
    assert entry.status_code == 201, entry.text
    ticket_id = create_ticket(stack, key, "Toner empty")
    upload_attachment(stack, key, ticket_id, "report.txt")
    # When the lead forwards the ticket
    forwarded = stack.call(
        "POST",
        f"/v1/tickets/{ticket_id}/outsource",
        key,
        {"network_id": entry.json()["network_id"]},
    )
    # Then it is forwarded, and one email carries a link on the stack's address
    assert forwarded.status_code == 201, forwarded.text
    assert forwarded.json()["status"] == "forwarded"
    (body,) = _sent_bodies(stack, to)
    links = re.findall(re.escape(stack.base_url) + r"/files/fl_[A-Za-z0-9_-]+", body)
    assert len(links) == 1, body
    # And the link, with no credential, redirects to the file itself
    opened = requests.get(links[0], allow_redirects=False, timeout=10)
    assert opened.status_code == 302, opened.text
    assert requests.get(opened.headers["Location"], timeout=10).content == CONTENT
    tampered = links[0][:-1] + ("A" if links[0][-1] != "A" else "B")
    assert requests.get(tampered, allow_redirects=False, timeout=10).status_code == 404
    # And the ticket is free to be outsourced again at once
    ticket = stack.call("GET", f"/v1/tickets/{ticket_id}", key).json()
    assert ticket["outsourcing"] is None
