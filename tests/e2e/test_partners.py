"""Partner invitations and partnerships through the local stack over HTTP."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.harness import StackProcess

pytestmark = pytest.mark.e2e


def create_tenant(stack: StackProcess, name: str, language: str) -> tuple[str, str]:
    reply = stack.call(
        "POST",
        "/v1/admin/tenants",
        stack.operator_key,
        {
            "name": name,
            "language": language,
            "currency": "EUR",
            "contact_email": f"ops-{uuid.uuid4().hex[:6]}@provider.example.com",
        },
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["tenant_id"], reply.json()["api_key"]


def enable_outsourcing(stack: StackProcess, key: str) -> None:
    version = stack.call("GET", "/v1/outsourcing/agreement", key).json()["version"]
    accepted = stack.call(
        "POST",
        "/v1/outsourcing/agreement/accept",
        key,
        {"version": version, "accepted_by": "Jane Admin"},
    )
    assert accepted.status_code == 200, accepted.text
    enabled = stack.call("PUT", "/v1/outsourcing/settings", key, {"enabled": True})
    assert enabled.status_code == 200, enabled.text


def invite(stack: StackProcess, key: str, company_name: str) -> str:
    reply = stack.call(
        "POST",
        "/v1/partner-invitations",
        key,
        {"email": "desk@partner.example.com", "company_name": company_name},
    )
    assert reply.status_code == 201, reply.text
    token: str = reply.json()["token"]
    return token


def test_two_tenants_become_partners_and_a_third_of_another_language_cannot(
    stack: StackProcess,
) -> None:
    # Given a lead that set up outsourcing, and a receiver of the same language
    suffix = uuid.uuid4().hex[:6]
    lead_id, lead_key = create_tenant(stack, f"Lead IT {suffix}", "en")
    service_id, service_key = create_tenant(stack, f"Service IT {suffix}", "en")
    enable_outsourcing(stack, lead_key)
    # When the lead invites and the receiver accepts the token
    accepted = stack.call(
        "POST",
        "/v1/partner-invitations/accept",
        service_key,
        {"token": invite(stack, lead_key, "Service IT")},
    )
    # Then both list one active partnership, each naming the other in its role
    assert accepted.status_code == 201, accepted.text
    partnership_id = accepted.json()["partnership_id"]
    [as_lead] = stack.call("GET", "/v1/partners?role=service", lead_key).json()["items"]
    assert (as_lead["partnership_id"], as_lead["role"], as_lead["status"]) == (
        partnership_id,
        "service",
        "active",
    )
    assert (as_lead["tenant_id"], as_lead["tenant_name"]) == (service_id, f"Service IT {suffix}")
    [as_service] = stack.call("GET", "/v1/partners?role=lead", service_key).json()["items"]
    assert (as_service["partnership_id"], as_service["role"], as_service["status"]) == (
        partnership_id,
        "lead",
        "active",
    )
    assert (as_service["tenant_id"], as_service["tenant_name"]) == (lead_id, f"Lead IT {suffix}")
    # When a tenant working in German accepts another invitation of the lead
    _, german_key = create_tenant(stack, f"Dienstleister {suffix}", "de")
    refused = stack.call(
        "POST",
        "/v1/partner-invitations/accept",
        german_key,
        {"token": invite(stack, lead_key, "Dienstleister")},
    )
    # Then it is refused for the language, and no partnership appears
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "language_mismatch"
    assert stack.call("GET", "/v1/partners", german_key).json()["items"] == []
    assert len(stack.call("GET", "/v1/partners", lead_key).json()["items"]) == 1
