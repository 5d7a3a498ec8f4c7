from __future__ import annotations

from tests.integration.conftest import Harness


def test_health_answers_without_a_key(harness: Harness) -> None:
    reply = harness.get("/health", None)
    assert reply.status_code == 200
    assert reply.json == {"status": "ok"}


def test_tenant_can_create_a_ticket_with_a_note(harness: Harness) -> None:
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant)
    assert ticket["number"].startswith("T")
    reply = harness.post(f"/v1/tickets/{ticket['ticket_id']}/notes", tenant.key, {"text": "hi"})
    assert reply.status_code == 201, reply.body
    items = harness.get(f"/v1/tickets/{ticket['ticket_id']}/items", tenant.key)
    assert [i["text"] for i in items.json["items"]] == ["hi"]
