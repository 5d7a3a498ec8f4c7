"""Idempotency-Key on mutating POSTs: a repeat returns the first result."""

from __future__ import annotations

from tests.integration.conftest import Harness


def _tickets(harness: Harness, key: str) -> list[str]:
    return [t["ticket_id"] for t in harness.get("/v1/tickets", key).json["items"]]


def test_a_repeated_post_returns_the_first_result_and_creates_once(harness: Harness) -> None:
    tenant = harness.create_tenant()
    headers = {"Idempotency-Key": "create-printer-ticket-1"}
    first = harness.post("/v1/tickets", tenant.key, {"title": "Printer"}, headers=headers)
    second = harness.post("/v1/tickets", tenant.key, {"title": "Printer"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _tickets(harness, tenant.key) == [first.json["ticket_id"]]


def test_the_same_key_with_another_body_is_refused(harness: Harness) -> None:
    tenant = harness.create_tenant()
    headers = {"Idempotency-Key": "k1"}
    harness.post("/v1/tickets", tenant.key, {"title": "A"}, headers=headers)
    reply = harness.post("/v1/tickets", tenant.key, {"title": "B"}, headers=headers)
    assert reply.status_code == 422
    assert reply.json["error"]["code"] == "idempotency_key_reused"
    assert len(_tickets(harness, tenant.key)) == 1


def test_the_same_key_on_another_route_is_refused(harness: Harness) -> None:
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant)["ticket_id"]
    headers = {"Idempotency-Key": "k2"}
    assert (
        harness.post("/v1/tickets", tenant.key, {"title": "A"}, headers=headers).status_code == 201
    )
    reply = harness.post(f"/v1/tickets/{ticket}/notes", tenant.key, {"text": "A"}, headers=headers)
    assert reply.status_code == 422


def test_keys_belong_to_their_tenant(harness: Harness) -> None:
    a, b = harness.create_tenant(), harness.create_tenant()
    headers = {"Idempotency-Key": "shared-key"}
    first = harness.post("/v1/tickets", a.key, {"title": "A"}, headers=headers)
    other = harness.post("/v1/tickets", b.key, {"title": "A"}, headers=headers)
    assert other.status_code == 201
    assert other.json["ticket_id"] != first.json["ticket_id"]
    assert "Idempotent-Replayed" not in other.headers


def test_an_error_result_is_replayed_too(harness: Harness) -> None:
    tenant = harness.create_tenant()
    headers = {"Idempotency-Key": "note-on-missing-ticket"}
    path = "/v1/tickets/01HZZZZZZZZZZZZZZZZZZZZZZZ/notes"
    first = harness.post(path, tenant.key, {"text": "x"}, headers=headers)
    second = harness.post(path, tenant.key, {"text": "x"}, headers=headers)
    assert first.status_code == second.status_code == 404
    assert second.headers.get("Idempotent-Replayed") == "true"


def test_without_a_key_each_post_creates(harness: Harness) -> None:
    tenant = harness.create_tenant()
    harness.post("/v1/tickets", tenant.key, {"title": "A"})
    harness.post("/v1/tickets", tenant.key, {"title": "A"})
    assert len(_tickets(harness, tenant.key)) == 2


def test_a_malformed_key_is_a_400(harness: Harness) -> None:
    tenant = harness.create_tenant()
    reply = harness.post(
        "/v1/tickets", tenant.key, {"title": "A"}, headers={"Idempotency-Key": "x" * 256}
    )
    assert reply.status_code == 400
    assert reply.json["error"]["field"] == "Idempotency-Key"
    assert _tickets(harness, tenant.key) == []
