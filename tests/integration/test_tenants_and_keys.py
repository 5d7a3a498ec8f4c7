"""Operator, tenants and API keys over HTTP."""

from __future__ import annotations

import threading

import boto3
import pytest

from chalicelib.adapters.dynamo.tenants import DynamoApiKeyRepository
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ConflictError
from chalicelib.domain.tenants import Permission
from chalicelib.service.api_keys import mint_key
from tests.integration.conftest import OPERATOR_KEY, Harness

PERMISSIONS = ["none", "outsource", "partner_management", "all"]


def test_operator_creates_a_tenant_that_reads_itself(harness: Harness) -> None:
    # Given / When
    tenant = harness.create_tenant("Acme IT", language="de", currency="EUR")
    # Then
    reply = harness.get("/v1/tenant", tenant.key)
    assert reply.status_code == 200
    body = reply.json
    assert body["tenant_id"] == tenant.tenant_id
    assert body["name"] == "Acme IT"
    assert body["language"] == "de"
    assert body["currency"] == "EUR"
    assert body["outsourcing_enabled"] is False
    assert body["agreement"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "english"),
        ("language", "EN"),
        ("currency", "usd"),
        ("currency", "EURO"),
        ("contact_email", "not-an-email"),
        ("name", ""),
        ("name", "x" * 201),
        ("name", 42),
    ],
)
def test_tenant_creation_rejects_bad_fields(harness: Harness, field: str, value: object) -> None:
    body = {"name": "Acme", "language": "en", "currency": "USD", "contact_email": "a@b.example"}
    body[field] = value
    reply = harness.post("/v1/admin/tenants", OPERATOR_KEY, body)
    assert reply.status_code == 400
    assert reply.json["error"]["code"] == "validation_error"
    assert reply.json["error"]["field"] == field


def test_admin_routes_need_the_operator_credential(harness: Harness) -> None:
    tenant = harness.create_tenant()
    body = {"name": "X", "language": "en", "currency": "USD", "contact_email": "a@b.example"}
    assert harness.post("/v1/admin/tenants", None, body).status_code == 401
    assert harness.post("/v1/admin/tenants", "wrong", body).status_code == 401
    assert harness.post("/v1/admin/tenants", tenant.key, body).status_code == 403


def test_tenant_routes_refuse_missing_malformed_and_operator_credentials(harness: Harness) -> None:
    assert harness.get("/v1/tenant", None).status_code == 401
    assert harness.get("/v1/tenant", "tk_garbage").status_code == 401
    assert harness.get("/v1/tenant", OPERATOR_KEY).status_code == 401
    reply = harness.request("GET", "/v1/tenant", headers={"Authorization": "Basic abc"})
    assert reply.status_code == 401
    assert reply.json["error"]["code"] == "unauthenticated"


def test_a_key_with_a_wrong_secret_is_refused(harness: Harness) -> None:
    tenant = harness.create_tenant()
    forged = tenant.key[:-4] + ("AAAA" if not tenant.key.endswith("AAAA") else "BBBB")
    assert harness.get("/v1/tenant", forged).status_code == 401


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_created_keys_work_and_carry_their_permission(harness: Harness, permission: str) -> None:
    tenant = harness.create_tenant()
    reply = harness.post("/v1/api-keys", tenant.key, {"name": "tech", "permission": permission})
    assert reply.status_code == 201
    assert reply.json["permission"] == permission
    assert harness.get("/v1/tenant", reply.json["api_key"]).status_code == 200
    listed = harness.get("/v1/api-keys", tenant.key).json["items"]
    assert {k["permission"] for k in listed} >= {permission, "all"}
    assert all("api_key" not in k and "key_hash" not in k for k in listed)


@pytest.mark.parametrize("permission", ["none", "outsource", "partner_management"])
def test_only_all_keys_manage_keys(harness: Harness, permission: str) -> None:
    tenant = harness.create_tenant()
    weak = harness.post("/v1/api-keys", tenant.key, {"name": "w", "permission": permission})
    weak_key = weak.json["api_key"]
    refused = harness.post("/v1/api-keys", weak_key, {"name": "x", "permission": "none"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "permission_denied"
    assert harness.get("/v1/api-keys", weak_key).status_code == 403
    assert harness.delete(f"/v1/api-keys/{weak.json['id']}", weak_key).status_code == 403


def test_key_permission_must_be_known(harness: Harness) -> None:
    tenant = harness.create_tenant()
    reply = harness.post("/v1/api-keys", tenant.key, {"name": "x", "permission": "root"})
    assert reply.status_code == 400
    assert reply.json["error"]["field"] == "permission"


def test_revoked_key_stops_working(harness: Harness) -> None:
    tenant = harness.create_tenant()
    created = harness.post("/v1/api-keys", tenant.key, {"name": "t", "permission": "none"}).json
    assert harness.get("/v1/tenant", created["api_key"]).status_code == 200
    assert harness.delete(f"/v1/api-keys/{created['id']}", tenant.key).status_code == 204
    assert harness.get("/v1/tenant", created["api_key"]).status_code == 401
    listed = {k["id"]: k for k in harness.get("/v1/api-keys", tenant.key).json["items"]}
    assert listed[created["id"]]["active"] is False
    assert harness.delete(f"/v1/api-keys/{created['id']}", tenant.key).status_code == 404


def test_the_last_all_key_cannot_be_revoked(harness: Harness) -> None:
    tenant = harness.create_tenant()
    first_id = harness.get("/v1/api-keys", tenant.key).json["items"][0]["id"]
    reply = harness.delete(f"/v1/api-keys/{first_id}", tenant.key)
    assert reply.status_code == 409
    assert reply.json["error"]["code"] == "last_all_key"
    second = harness.post("/v1/api-keys", tenant.key, {"name": "b", "permission": "all"}).json
    assert harness.delete(f"/v1/api-keys/{first_id}", tenant.key).status_code == 204
    last = harness.delete(f"/v1/api-keys/{second['id']}", second["api_key"])
    assert last.status_code == 409
    assert harness.get("/v1/tenant", second["api_key"]).status_code == 200


def test_racing_revocations_of_two_all_keys_leave_one(race_harness: Harness) -> None:
    harness = race_harness
    # Given a tenant with exactly two active 'all' keys
    tenant = harness.create_tenant()
    repo = DynamoApiKeyRepository()
    extra = mint_key(tenant.tenant_id, name="b", permission=Permission.ALL, now=utcnow())
    repo.add(extra.key)
    keys = [k for k in repo.list(tenant.tenant_id, 10, None).items if k.active]
    assert len(keys) == 2
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def revoke(index: int) -> None:
        barrier.wait()
        try:
            repo.revoke(keys[index], utcnow())
            outcomes.append("revoked")
        except ConflictError as exc:
            outcomes.append(exc.code)

    # When both are revoked at the same moment
    threads = [threading.Thread(target=revoke, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one revocation wins and one 'all' key stays active
    assert sorted(outcomes) == ["last_all_key", "revoked"]
    assert sum(k.active for k in repo.list(tenant.tenant_id, 10, None).items) == 1


def test_keys_are_stored_only_as_hashes(harness: Harness) -> None:
    tenant = harness.create_tenant()
    created = harness.post("/v1/api-keys", tenant.key, {"name": "t", "permission": "none"}).json
    dynamodb = boto3.client("dynamodb", endpoint_url=harness.dynamodb_endpoint)
    rows = dynamodb.scan(TableName=harness.table_name)["Items"]
    dump = repr(rows)
    assert tenant.key not in dump
    assert created["api_key"] not in dump
    assert created["api_key"][-43:] not in dump


def test_another_tenants_key_id_is_not_found(harness: Harness) -> None:
    a, b = harness.create_tenant(), harness.create_tenant()
    a_key = harness.post("/v1/api-keys", a.key, {"name": "t", "permission": "none"}).json
    assert harness.delete(f"/v1/api-keys/{a_key['id']}", b.key).status_code == 404
    assert harness.get("/v1/tenant", a_key["api_key"]).status_code == 200
    b_ids = {k["id"] for k in harness.get("/v1/api-keys", b.key).json["items"]}
    assert a_key["id"] not in b_ids


def test_a_204_has_no_body_at_all(harness: Harness) -> None:
    # A body after a 204 (Chalice would write "null") corrupts the next response read from a
    # kept-alive connection.
    tenant = harness.create_tenant()
    created = harness.post("/v1/api-keys", tenant.key, {"name": "spare", "permission": "none"})
    reply = harness.delete(f"/v1/api-keys/{created.json['id']}", tenant.key)
    assert reply.status_code == 204
    assert reply.body == b""
