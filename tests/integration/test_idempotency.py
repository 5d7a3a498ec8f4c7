"""Idempotency-Key on mutating POSTs: a repeat returns the first result."""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.adapters.dynamo.idempotency import DynamoIdempotencyStore
from chalicelib.container import get_container, reset_container
from chalicelib.ports import StoredResponse
from chalicelib.service.idempotency import fingerprint
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


# -- secrets shown once are never stored or replayed -------------------------------------------


def _raw_partition(harness: Harness, tenant_id: str) -> str:
    """Every attribute of every record in the tenant's own partition, as text."""
    items = harness.dynamodb().query(
        TableName=harness.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant_id}"}},
    )["Items"]
    return json.dumps(items)


def test_a_replayed_api_key_creation_withholds_the_key_and_stores_no_secret(
    harness: Harness,
) -> None:
    # Given a tenant creating an API key with an Idempotency-Key
    tenant = harness.create_tenant()
    headers = {"Idempotency-Key": "new-key-1"}
    body = {"name": "integration", "permission": "outsource"}
    # When the request is repeated
    first = harness.post("/v1/api-keys", tenant.key, body, headers=headers)
    second = harness.post("/v1/api-keys", tenant.key, body, headers=headers)
    # Then the first shows the key once; the repeat names the same key, without its secret
    assert first.status_code == second.status_code == 201
    secret = first.json["api_key"]
    assert secret.startswith("tk_")
    assert second.json == {**first.json, "api_key": None}
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Idempotent-Secrets-Withheld"] == "api_key"
    # And one key exists, the secret works, and no record holds it
    listed = harness.get("/v1/api-keys", tenant.key).json["items"]
    assert [k["id"] for k in listed if k["name"] == "integration"] == [first.json["id"]]
    assert harness.get("/v1/tenant", secret).status_code == 200
    assert secret not in _raw_partition(harness, tenant.tenant_id)
    assert secret[-20:] not in _raw_partition(harness, tenant.tenant_id)


def test_replayed_invitations_and_resends_withhold_the_token(harness: Harness) -> None:
    # Given a lead inviting a partner, and resending, each with an Idempotency-Key
    lead = harness.create_tenant()
    harness.enable_outsourcing(lead)
    body = {"email": "partner@example.com", "company_name": "Partner IT"}
    invite = {"Idempotency-Key": "invite-1"}
    created = harness.post("/v1/partner-invitations", lead.key, body, headers=invite)
    replayed = harness.post("/v1/partner-invitations", lead.key, body, headers=invite)
    path = f"/v1/partner-invitations/{created.json['id']}/resend"
    resend = {"Idempotency-Key": "resend-1"}
    resent = harness.post(path, lead.key, headers=resend)
    resent_again = harness.post(path, lead.key, headers=resend)
    # Then each secret is shown once, and neither is stored
    assert created.json["token"] and resent.json["token"]
    assert replayed.json == {**created.json, "token": None}
    assert resent_again.json == {**resent.json, "token": None}
    assert resent_again.headers["Idempotent-Secrets-Withheld"] == "token"
    raw = _raw_partition(harness, lead.tenant_id)
    assert created.json["token"] not in raw
    assert resent.json["token"] not in raw
    # And the replays changed nothing: one invitation, sent twice, the second token valid
    invitations = harness.get("/v1/partner-invitations", lead.key).json["items"]
    assert [(i["id"], i["sent_count"]) for i in invitations] == [(created.json["id"], 2)]
    partner = harness.create_tenant()
    accepted = harness.post(
        "/v1/partner-invitations/accept", partner.key, {"token": resent.json["token"]}
    )
    assert accepted.status_code == 201


# -- a claim left by a crash does not block its key for the whole TTL --------------------------


def test_a_key_claimed_by_a_crashed_request_is_free_after_the_lease(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose claims last one second, and a key claimed by a request that
    # then died (it never finished nor released its claim)
    monkeypatch.setenv("IDEMPOTENCY_LEASE_SECONDS", "1")
    reset_container()
    tenant = harness.create_tenant()
    body = json.dumps({"title": "Printer"}).encode()
    claimed = fingerprint("POST", "/v1/tickets" + json.dumps({}, sort_keys=True), body)
    assert get_container().idempotency.begin(tenant.tenant_id, "crashed-1", claimed) is None
    headers = {"Idempotency-Key": "crashed-1"}
    # When the client repeats it while the claim holds, it is told to wait
    busy = harness.post("/v1/tickets", tenant.key, {"title": "Printer"}, headers=headers)
    assert (busy.status_code, busy.error_code) == (409, "idempotency_in_progress")
    # Then once the lease has lapsed, the repeat runs, once
    time.sleep(1.2)
    ran = harness.post("/v1/tickets", tenant.key, {"title": "Printer"}, headers=headers)
    again = harness.post("/v1/tickets", tenant.key, {"title": "Printer"}, headers=headers)
    assert ran.status_code == again.status_code == 201
    assert again.json == ran.json
    assert _tickets(harness, tenant.key) == [ran.json["ticket_id"]]


def test_a_lapsed_claim_is_taken_only_by_the_same_request(harness: Harness) -> None:
    # Given a store whose claims lapse at once, and a stuck claim
    store = DynamoIdempotencyStore(ttl_seconds=3600, lease_seconds=0)
    tenant_id = harness.create_tenant().tenant_id
    assert store.begin(tenant_id, "stuck", "request-a") is None
    time.sleep(0.01)
    # When another request uses the key, it gets the existing claim (so: reused, 422)
    other = store.begin(tenant_id, "stuck", "request-b")
    assert other is not None and other.fingerprint == "request-a"
    # Then the same request may take the lapsed claim over; a finished one is never taken
    assert store.begin(tenant_id, "stuck", "request-a") is None
    store.finish(tenant_id, "stuck", StoredResponse(201, {"ok": True}, {}))
    time.sleep(0.01)
    done = store.begin(tenant_id, "stuck", "request-a")
    assert done is not None and done.response == StoredResponse(201, {"ok": True}, {})
