"""The Outsource Agreement, the outsourcing settings, and the set-up gate on inviting partners."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.container import get_container
from chalicelib.domain.tenants import AgreementAcceptance
from tests.integration.conftest import Harness, Reply, Tenant

CURRENT = "2026-11-01"
GOOD_TEMPLATE = "Hello {{ company_name }}, {{ inviter }} invites you: {{ token }}"


def put_settings(harness: Harness, tenant: Tenant, body: Any) -> Reply:
    return harness.request("PUT", "/v1/outsourcing/settings", key=tenant.key, json_body=body)


def accept_agreement(harness: Harness, tenant: Tenant, version: str = CURRENT) -> Reply:
    return harness.post(
        "/v1/outsourcing/agreement/accept",
        tenant.key,
        {"version": version, "accepted_by": "Jane Admin"},
    )


def invite(harness: Harness, tenant: Tenant) -> Reply:
    return harness.post(
        "/v1/partner-invitations",
        tenant.key,
        {"email": "partner@example.com", "company_name": "Partner IT"},
    )


def test_the_agreement_is_versioned_and_its_acceptance_records_who_when_and_which(
    harness: Harness,
) -> None:
    # Given a new tenant
    tenant = harness.create_tenant()
    document = harness.get("/v1/outsourcing/agreement", tenant.key)
    assert document.status_code == 200
    assert document.json["version"] == CURRENT
    assert CURRENT in document.json["text"]
    assert document.json["accepted"] is None
    assert document.json["accepted_current"] is False
    # When it accepts an outdated version
    stale = accept_agreement(harness, tenant, "2020-01-01")
    # Then it is refused, and nothing is recorded
    assert stale.status_code == 409
    assert stale.error_code == "agreement_outdated"
    assert stale.json["error"]["field"] == "version"
    assert harness.get("/v1/tenant", tenant.key).json["agreement"] is None
    # When it accepts the current version
    before = datetime.now(UTC)
    accepted = accept_agreement(harness, tenant)
    # Then who, when and which version are recorded
    assert accepted.status_code == 200
    record = accepted.json["accepted"]
    assert (record["by"], record["version"]) == ("Jane Admin", CURRENT)
    assert accepted.json["accepted_current"] is True
    at = datetime.fromisoformat(record["at"].replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= at <= datetime.now(UTC)
    assert harness.get("/v1/tenant", tenant.key).json["agreement"] == record
    assert harness.get("/v1/outsourcing/agreement", tenant.key).json["accepted"] == record


MALFORMED_ACCEPTANCES: list[tuple[dict[str, Any], str]] = [
    ({"version": CURRENT}, "accepted_by"),
    ({"accepted_by": "Jane Admin"}, "version"),
    ({"version": CURRENT, "accepted_by": ""}, "accepted_by"),
    ({"version": CURRENT, "accepted_by": None}, "accepted_by"),
    ({"version": None, "accepted_by": "Jane Admin"}, "version"),
    ({"version": CURRENT, "accepted_by": "Jane Admin", "by": "x"}, "by"),
]


def test_a_malformed_acceptance_is_refused_naming_the_field(harness: Harness) -> None:
    tenant = harness.create_tenant()
    for body, field in MALFORMED_ACCEPTANCES:
        reply = harness.post("/v1/outsourcing/agreement/accept", tenant.key, body)
        assert (reply.status_code, reply.error_code) == (400, "validation_error"), body
        assert reply.json["error"]["field"] == field, body
    assert harness.get("/v1/tenant", tenant.key).json["agreement"] is None


def test_inviting_needs_the_agreement_and_the_switch(harness: Harness) -> None:
    # Given a new tenant
    lead = harness.create_tenant()
    # Then inviting is refused until the agreement is accepted
    refused = invite(harness, lead)
    assert (refused.status_code, refused.error_code) == (422, "agreement_required")
    # And switching outsourcing on does not replace the agreement
    assert put_settings(harness, lead, {"enabled": True}).json["outsourcing_allowed"] is False
    refused = invite(harness, lead)
    assert (refused.status_code, refused.error_code) == (422, "agreement_required")
    # And with the agreement accepted but the switch off, the switch is missing
    assert put_settings(harness, lead, {"enabled": False}).status_code == 200
    assert accept_agreement(harness, lead).status_code == 200
    refused = invite(harness, lead)
    assert (refused.status_code, refused.error_code) == (422, "outsourcing_disabled")
    # And with both, the invitation is made
    assert put_settings(harness, lead, {"enabled": True}).json["outsourcing_allowed"] is True
    created = invite(harness, lead)
    assert created.status_code == 201
    # But resending needs the switch on as well
    assert put_settings(harness, lead, {"enabled": False}).status_code == 200
    resend = harness.post(f"/v1/partner-invitations/{created.json['id']}/resend", lead.key)
    assert (resend.status_code, resend.error_code) == (422, "outsourcing_disabled")
    assert harness.get("/v1/partner-invitations", lead.key).json["items"][0]["sent_count"] == 1


def test_an_acceptance_of_an_earlier_agreement_version_no_longer_counts(harness: Harness) -> None:
    # Given a tenant that accepted an earlier version of the agreement
    lead = harness.create_tenant()
    harness.enable_outsourcing(lead)
    tenants = get_container().tenants
    old = AgreementAcceptance(by="Jane Admin", at=datetime.now(UTC), version="2025-01-01")
    tenants.update(tenants.get(lead.tenant_id), {"agreement": old})
    # Then the agreement reads as not accepted in its current version
    document = harness.get("/v1/outsourcing/agreement", lead.key).json
    assert document["accepted"]["version"] == "2025-01-01"
    assert document["accepted_current"] is False
    # And inviting needs the current version
    refused = invite(harness, lead)
    assert (refused.status_code, refused.error_code) == (422, "agreement_required")
    assert accept_agreement(harness, lead).status_code == 200
    assert invite(harness, lead).status_code == 201


def test_insourcing_needs_neither_the_agreement_nor_the_switch(harness: Harness) -> None:
    lead, receiver, other = (harness.create_tenant() for _ in range(3))
    harness.enable_outsourcing(lead)
    accepted = harness.post(
        "/v1/partner-invitations/accept", receiver.key, {"token": harness.invite(lead)["token"]}
    )
    assert accepted.status_code == 201
    declined = harness.post(
        "/v1/partner-invitations/decline", other.key, {"token": harness.invite(lead)["token"]}
    )
    assert declined.status_code == 200
    for tenant in (receiver, other):
        body = harness.get("/v1/tenant", tenant.key).json
        assert (body["agreement"], body["outsourcing_enabled"]) == (None, False)


def test_settings_start_at_the_defaults_and_change_only_where_given(harness: Harness) -> None:
    # Given a new tenant
    tenant = harness.create_tenant()
    defaults = harness.get("/v1/outsourcing/settings", tenant.key)
    assert defaults.status_code == 200
    body = defaults.json
    assert body["enabled"] is False
    assert body["invitation_expiry_days"] == 14
    assert "{{ token }}" in body["invitation_template"]
    assert body["placeholders"] == ["company_name", "email", "expires_at", "inviter", "token"]
    assert (body["agreement_accepted"], body["outsourcing_allowed"]) == (False, False)
    # When single settings are changed one after the other
    assert put_settings(harness, tenant, {"invitation_expiry_days": 30}).status_code == 200
    changed = put_settings(
        harness,
        tenant,
        {"invitation_template": GOOD_TEMPLATE, "invitation_subject": "Join {{ inviter }}"},
    )
    assert changed.status_code == 200
    assert put_settings(harness, tenant, {"enabled": True}).status_code == 200
    assert put_settings(harness, tenant, {}).status_code == 200
    # Then each change is kept and the others stay as they were
    after = harness.get("/v1/outsourcing/settings", tenant.key).json
    assert after == {
        **body,
        "enabled": True,
        "invitation_expiry_days": 30,
        "invitation_template": GOOD_TEMPLATE,
        "invitation_subject": "Join {{ inviter }}",
    }
    assert harness.get("/v1/tenant", tenant.key).json["outsourcing_enabled"] is True


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"enabled": None}, "enabled"),
    ({"invitation_template": None}, "invitation_template"),
    ({"invitation_subject": None}, "invitation_subject"),
    ({"invitation_expiry_days": None}, "invitation_expiry_days"),
    ({"enabled": "true"}, "enabled"),
    ({"invitation_expiry_days": 0}, "invitation_expiry_days"),
    ({"invitation_expiry_days": 91}, "invitation_expiry_days"),
    ({"invitation_expiry_days": "14"}, "invitation_expiry_days"),
    ({"invitation_template": ""}, "invitation_template"),
    ({"invitation_template": "Hi {{ company }}: {{ token }}"}, "invitation_template"),
    ({"invitation_template": "Hi {{ company_name }}"}, "invitation_template"),
    ({"invitation_template": "Hi {# {{ token }} #}"}, "invitation_template"),
    ({"invitation_template": "{{ token "}, "invitation_template"),
    ({"invitation_template": "{{ token }} {% if %}"}, "invitation_template"),
    ({"invitation_template": "{{ token }} {% endif %}"}, "invitation_template"),
    ({"invitation_subject": "Join {{ inviter_name }}"}, "invitation_subject"),
    ({"invitation_subject": "Your token is {{ token }}"}, "invitation_subject"),
    ({"invitation_subject": "Join {{ inviter"}, "invitation_subject"),
    ({"enabled": True, "invitation_template": "no token"}, "invitation_template"),
    ({"expiry_days": 3}, "expiry_days"),
]


def test_bad_settings_are_refused_naming_the_field_and_change_nothing(harness: Harness) -> None:
    tenant = harness.create_tenant()
    before = harness.get("/v1/outsourcing/settings", tenant.key).json
    for body, field in BAD_SETTINGS:
        reply = put_settings(harness, tenant, body)
        assert reply.status_code == 400, (body, reply.body)
        assert reply.error_code == "validation_error", body
        assert reply.json["error"]["field"] == field, body
    assert harness.get("/v1/outsourcing/settings", tenant.key).json == before


def test_a_template_with_an_unknown_filter_is_refused_naming_the_field(harness: Harness) -> None:
    tenant = harness.create_tenant()
    for field, source in (
        ("invitation_template", "{{ token | no_such_filter }}"),
        ("invitation_subject", "Join {{ inviter | no_such_filter }}"),
    ):
        reply = put_settings(harness, tenant, {field: source})
        assert (reply.status_code, reply.error_code) == (400, "validation_error"), reply.body
        assert reply.json["error"]["field"] == field
