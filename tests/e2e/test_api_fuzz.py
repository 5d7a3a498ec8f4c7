"""Schemathesis against the running local stack: requests generated from ``/v1/openapi.json``.

Every operation is called with generated requests (valid ones and invalid ones), authenticated
with a tenant's API key (the operator's on operator routes), its path ids sometimes those of real
things of that tenant, so that requests also reach the use cases. Every answer must be no 5xx, a
status its operation documents, and a body its schema allows.

Bounded here (a few examples per operation, deterministic); ``make fuzz`` runs the full fuzzer
(``FUZZ_MAX_EXAMPLES``, every phase, new examples each run). Only 127.0.0.1 is ever connected to.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

import app  # noqa: F401 - registers every route
from chalicelib.api.routing import REGISTRY, RouteSpec
from tests.e2e.harness import LOOPBACK, StackProcess, loopback_only

pytestmark = pytest.mark.e2e

FULL = os.environ.get("FUZZ_FULL") == "1"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100" if FULL else "3"))
# How often a path id is a real one of the tenant (else generated: mostly not found).
REAL_ID_PROBABILITY = 0.5
# What every answer is checked for (the others, off, judge behaviour rather than the contract).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.fixture(scope="module", autouse=True)
def _loopback_only() -> Iterator[None]:
    """Nothing in this module connects anywhere but 127.0.0.1."""
    with loopback_only():
        yield


def _ok(reply: Any, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json() if reply.content else None


@pytest.fixture(scope="module")
def real_ids(stack: StackProcess, tenant: tuple[str, str]) -> dict[str, list[str]]:
    """Ids of the tenant's things, by path parameter: a service partner (partnership), an
    outsourced ticket, a ticket with one item of each kind, a pending invitation, a spare key."""
    _, key = tenant
    _, partner_key = stack.create_tenant(f"Fuzz Partner {uuid.uuid4().hex[:6]}")
    version = _ok(stack.call("GET", "/v1/outsourcing/agreement", key))["version"]
    accept = {"version": version, "accepted_by": "Jane Admin"}
    _ok(stack.call("POST", "/v1/outsourcing/agreement/accept", key, accept))
    _ok(stack.call("PUT", "/v1/outsourcing/settings", key, {"enabled": True}))
    invite = {"email": "desk@partner.example.com", "company_name": "Fuzz Partner"}
    token = _ok(stack.call("POST", "/v1/partner-invitations", key, invite), 201)["token"]
    accepted = stack.call("POST", "/v1/partner-invitations/accept", partner_key, {"token": token})
    partnership = _ok(accepted, 201)["partnership_id"]
    pending = _ok(stack.call("POST", "/v1/partner-invitations", key, invite), 201)["id"]
    ticket = _ok(stack.call("POST", "/v1/tickets", key, {"title": "Fuzzed"}), 201)["ticket_id"]
    base = f"/v1/tickets/{ticket}"
    note = _ok(stack.call("POST", f"{base}/notes", key, {"text": "n"}), 201)["note_id"]
    entry = {"date": "2026-11-24", "hours_worked": "1"}
    entry_id = _ok(stack.call("POST", f"{base}/time-entries", key, entry), 201)["time_entry_id"]
    charge = _ok(stack.call("POST", f"{base}/charges", key, {"name": "c", "quantity": "1"}), 201)
    attachment = {"file_name": "a.txt", "content_type": "text/plain", "size": 1}
    upload = _ok(stack.call("POST", f"{base}/attachments", key, attachment), 201)
    outsourced = _ok(stack.call("POST", "/v1/tickets", key, {"title": "Out"}), 201)["ticket_id"]
    outsource = {"partnership_id": partnership, "terms": {"instructions": "Fix it"}}
    reply = stack.call("POST", f"/v1/tickets/{outsourced}/outsource", key, outsource)
    outsourcing = _ok(reply, 201)["outsourcing_id"]
    # A key of its own to revoke: the tenant's key must keep working for the whole run.
    spare = {"name": "spare", "permission": "none"}
    spare_key = _ok(stack.call("POST", "/v1/api-keys", key, spare), 201)["id"]
    return {
        "ticket_id": [ticket, outsourced],
        "note_id": [note],
        "entry_id": [entry_id],
        "charge_id": [charge["charge_id"]],
        "attachment_id": [upload["attachment_id"]],
        "partnership_id": [partnership],
        "outsourcing_id": [outsourcing],
        "invitation_id": [pending],
        "key_id": [spare_key],
    }


@pytest.fixture(scope="module")
def api_schema(stack: StackProcess, real_ids: dict[str, list[str]]) -> schemathesis.BaseSchema:
    """The stack's OpenAPI document, with the real ids, the checks and the bounds."""
    assert urlsplit(stack.base_url).hostname == LOOPBACK
    config = schemathesis.Config.from_dict(
        {
            "base-url": stack.base_url,
            "dictionaries": {name: {"values": ids} for name, ids in real_ids.items()},
            "parameters": {
                f"path.{name}": {"dictionary": name, "probability": REAL_ID_PROBABILITY}
                for name in real_ids
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "request-timeout": 10,
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{stack.base_url}/v1/openapi.json", config=config, timeout=10
    )
    servers = [urlsplit(server["url"]).hostname for server in schema.raw_schema["servers"]]
    assert set(servers) <= {LOOPBACK}, servers
    documented = {
        (path, method.upper()) for path, ops in schema.raw_schema["paths"].items() for method in ops
    }
    assert documented == {(route.path, route.method) for route in REGISTRY}
    return schema


def _cases(operation: Any) -> st.SearchStrategy[schemathesis.Case]:
    """Requests as the document allows them, and requests it does not (when there are any)."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.path_parameters or operation.query or operation.body:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


@pytest.mark.timeout(1800 if FULL else 300)
@pytest.mark.parametrize("route", REGISTRY, ids=lambda spec: f"{spec.method} {spec.path}")
def test_generated_requests_get_documented_answers_never_a_server_error(
    api_schema: schemathesis.BaseSchema,
    stack: StackProcess,
    tenant: tuple[str, str],
    route: RouteSpec,
) -> None:
    # Given requests generated from the route's operation in the OpenAPI document
    operation = api_schema[route.path][route.method]
    key = stack.operator_key if route.auth == "operator" else tenant[1]
    headers = {"Authorization": f"Bearer {key}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=not FULL,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if FULL else [])],
    )
    @given(case=_cases(operation))
    def send(case: schemathesis.Case) -> None:
        assert urlsplit(case.operation.schema.get_base_url()).hostname == LOOPBACK
        # When each is sent to the stack
        # Then the answer is no 5xx, a documented status, and matches that status's schema
        case.call_and_validate(headers=headers)

    send()
    if FULL:  # and the boundary cases schemathesis derives from the document
        for case in api_schema.iter_coverage_cases(
            operation,
            generation_modes=list(GenerationMode),
            generation_config=api_schema.config.generation_for(
                operation=operation, phase="coverage"
            ),
        ):
            case.call_and_validate(headers=headers)
