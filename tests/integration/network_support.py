"""Helpers of the network lane's integration tests: a set-up lead, entries, forwarding, the
mail moto's SES recorded, and attachments with and without their file."""

from __future__ import annotations

import re
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.integration.conftest import Harness, Reply, Tenant

FILE_LINK = re.compile(r"http://127\.0\.0\.1:8000(/files/fl_[A-Za-z0-9_-]+)")


def lead(harness: Harness) -> Tenant:
    tenant = harness.create_tenant()
    harness.enable_outsourcing(tenant)
    return tenant


def address(tenant: Tenant, name: str = "desk") -> str:
    """An address no other test sends to (moto's SES keeps every test's mail)."""
    return f"{name}-{tenant.tenant_id.lower()}@vendor.example"


def email_entry(tenant: Tenant, **email: Any) -> dict[str, Any]:
    return {
        "name": "Vendor desk",
        "organization": "Vendor Inc",
        "action": "email",
        "email": {
            "to": [address(tenant)],
            "subject": "Ticket {ticket_number}: {title}",
            "body": "Please handle {title}.\n{description}\nDo: {instructions}",
            **email,
        },
    }


def add_network(harness: Harness, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    reply = harness.post("/v1/networks", tenant.key, body)
    assert reply.status_code == 201, reply.body
    created: dict[str, Any] = reply.json
    return created


def forward(harness: Harness, tenant: Tenant, ticket_id: str, network_id: str, **kw: Any) -> Reply:
    body = {"network_id": network_id, "terms": kw.pop("terms", {})}
    return harness.post(f"/v1/tickets/{ticket_id}/outsource", tenant.key, body, **kw)


def sent_to(to: str) -> list[Any]:
    """The messages moto's SES recorded for one recipient, oldest first."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [m for m in backend.sent_messages if to in m.destinations.get("ToAddresses", [])]


def attach(
    harness: Harness, tenant: Tenant, ticket_id: str, name: str, *, upload: bool, internal: bool
) -> dict[str, Any]:
    """An attachment on the ticket; its file put into S3 when ``upload``."""
    reply = harness.post(
        f"/v1/tickets/{ticket_id}/attachments",
        tenant.key,
        {"file_name": name, "content_type": "text/plain", "size": 5, "internal": internal},
    )
    assert reply.status_code == 201, reply.body
    created: dict[str, Any] = reply.json
    if upload:
        key = created["upload"]["fields"]["key"]
        harness.s3().put_object(Bucket=harness.bucket_name, Key=key, Body=b"hello")
    return created


def notes(harness: Harness, tenant: Tenant, ticket_id: str) -> list[dict[str, Any]]:
    items = harness.get(f"/v1/tickets/{ticket_id}/items", tenant.key).json["items"]
    return [i for i in items if i.get("kind") == "note"]
