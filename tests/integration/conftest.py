"""Integration tier: the real app through ``chalice.test.Client`` on moto, and on DynamoDB Local.

Every test runs twice, once per DynamoDB backend (``backend`` parameter): moto's in-process
DynamoDB, and Amazon's DynamoDB Local over 127.0.0.1. S3, SES and Cognito are moto in both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.container import reset_container
from infra.local.pump import StreamPump
from infra.local.resources import Clients, provision
from tests.integration.dynamodb_local import DynamoDBLocal

OPERATOR_KEY = "op_" + "x" * 40
BACKENDS = ("moto", "dynamodb-local")


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    server = DynamoDBLocal()
    yield server
    server.stop()


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def error_code(self) -> str | None:
        data = self.json
        return data["error"]["code"] if isinstance(data, dict) and "error" in data else None


@dataclass
class Tenant:
    tenant_id: str
    key: str
    name: str


@dataclass
class Harness:
    """The app, its AWS resources, and helpers to call it like a client would."""

    backend: str
    client: Client
    table_name: str
    bucket_name: str
    stream_arn: str
    dynamodb_endpoint: str | None
    pump: StreamPump
    _counter: list[int] = field(default_factory=lambda: [0])

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json_body: Any = None,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        body: bytes | str | None = raw
        if json_body is not None:
            body = json.dumps(json_body)
        response = self.client.http.request(method, path, headers=sent, body=body or b"")
        return Reply(response.status_code, dict(response.headers), response.body or b"")

    def get(self, path: str, key: str | None, **kw: Any) -> Reply:
        return self.request("GET", path, key=key, **kw)

    def post(self, path: str, key: str | None, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, key=key, json_body=body, **kw)

    def patch(self, path: str, key: str | None, body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, key=key, json_body=body, **kw)

    def delete(self, path: str, key: str | None, **kw: Any) -> Reply:
        return self.request("DELETE", path, key=key, **kw)

    def create_tenant(
        self, name: str | None = None, language: str = "en", currency: str = "USD"
    ) -> Tenant:
        self._counter[0] += 1
        name = name or f"Provider {self._counter[0]}"
        reply = self.post(
            "/v1/admin/tenants",
            OPERATOR_KEY,
            {
                "name": name,
                "language": language,
                "currency": currency,
                "contact_email": f"ops{self._counter[0]}@provider.example.com",
            },
        )
        assert reply.status_code == 201, reply.body
        return Tenant(reply.json["tenant_id"], reply.json["api_key"], name)

    def create_ticket(self, tenant: Tenant, **fields: Any) -> dict[str, Any]:
        reply = self.post("/v1/tickets", tenant.key, {"title": "Printer offline", **fields})
        assert reply.status_code == 201, reply.body
        data: dict[str, Any] = reply.json
        return data

    def enable_outsourcing(self, tenant: Tenant) -> None:
        """Accept the current agreement and switch outsourcing on."""
        version = self.get("/v1/outsourcing/agreement", tenant.key).json["version"]
        accepted = self.post(
            "/v1/outsourcing/agreement/accept",
            tenant.key,
            {"version": version, "accepted_by": "Jane Admin"},
        )
        assert accepted.status_code == 200, accepted.body
        enabled = self.request(
            "PUT", "/v1/outsourcing/settings", key=tenant.key, json_body={"enabled": True}
        )
        assert enabled.status_code == 200, enabled.body

    def invite(self, lead: Tenant, **fields: Any) -> dict[str, Any]:
        body = {"email": "partner@example.com", "company_name": "Partner IT", **fields}
        reply = self.post("/v1/partner-invitations", lead.key, body)
        assert reply.status_code == 201, reply.body
        data: dict[str, Any] = reply.json
        return data

    def partner(self, lead: Tenant, service: Tenant) -> str:
        """Make ``service`` a service partner of ``lead``; returns the partnership id."""
        self.enable_outsourcing(lead)
        token = self.invite(lead)["token"]
        reply = self.post("/v1/partner-invitations/accept", service.key, {"token": token})
        assert reply.status_code == 201, reply.body
        partnership_id: str = reply.json["partnership_id"]
        return partnership_id

    def outsource(
        self, lead: Tenant, ticket_id: str, partnership_id: str, **terms: Any
    ) -> dict[str, Any]:
        reply = self.post(
            f"/v1/tickets/{ticket_id}/outsource",
            lead.key,
            {"partnership_id": partnership_id, "terms": terms},
        )
        assert reply.status_code == 201, reply.body
        data: dict[str, Any] = reply.json
        return data

    def dynamodb(self) -> Any:
        return boto3.client("dynamodb", endpoint_url=self.dynamodb_endpoint)

    def s3(self) -> Any:
        return boto3.client("s3")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def harness(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    with _harness(backend, request, monkeypatch) as built:
        yield built


@pytest.fixture
def race_harness(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """For tests of racing writes: DynamoDB Local only.

    moto applies a conditional write or a transaction as a check followed by a write, with no
    lock between them, so two threads can both pass a condition; Amazon's engine serialises them.
    """
    with _harness("dynamodb-local", request, monkeypatch) as built:
        yield built


@contextmanager
def _harness(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    endpoint = (
        request.getfixturevalue("dynamodb_local").endpoint if backend == "dynamodb-local" else None
    )
    suffix = uuid.uuid4().hex[:12]
    table_name, bucket_name = f"it-{suffix}", f"it-files-{suffix}"
    env = {
        "TABLE_NAME": table_name,
        "BUCKET_NAME": bucket_name,
        "OPERATOR_KEY": OPERATOR_KEY,
        "MAIL_FROM": "no-reply@outsourcing.test",
        "API_BASE_URL": "http://127.0.0.1:8000",
    }
    if endpoint:
        env["DYNAMODB_ENDPOINT_URL"] = endpoint
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        reset_container()
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
        provisioned = provision(
            Clients(
                dynamodb=dynamodb,
                s3=boto3.client("s3"),
                ses=boto3.client("ses"),
                cognito=boto3.client("cognito-idp"),
            ),
            table_name=table_name,
            bucket_name=bucket_name,
            mail_from=env["MAIL_FROM"],
        )
        # The portal's users live in the pool (made now: its ids exist only once it does).
        monkeypatch.setenv("USER_POOL_ID", provisioned.user_pool_id or "")
        monkeypatch.setenv("USER_POOL_CLIENT_ID", provisioned.user_pool_client_id or "")
        reset_container()
        from app import app

        pump = StreamPump(
            boto3.client("dynamodbstreams", endpoint_url=endpoint),
            provisioned.stream_arn,
            app.on_table_change if hasattr(app, "on_table_change") else _stream_handler(),
            max_attempts=3,
        )
        with Client(app) as client:
            yield Harness(
                backend=backend,
                client=client,
                table_name=table_name,
                bucket_name=bucket_name,
                stream_arn=provisioned.stream_arn,
                dynamodb_endpoint=endpoint,
                pump=pump,
            )
        if endpoint:
            dynamodb.delete_table(TableName=table_name)
        reset_container()


def _stream_handler() -> Any:
    from chalicelib.streams.handler import on_table_change

    return on_table_change
