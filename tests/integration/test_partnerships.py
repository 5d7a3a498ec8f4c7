"""Partnerships over HTTP across two and three tenants: roles, privacy, deactivation, mappings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Harness, Reply, Tenant

DEFAULT_STATUS_MAP = {
    "in_progress": "in_progress",
    "waiting_approval": "waiting",
    "complete": "complete",
    "recalled": "complete",
}
DEFAULT_MAPPING = {
    "organization": None,
    "queue": None,
    "work_type": None,
    "resource": None,
    "status_map": DEFAULT_STATUS_MAP,
}


def put_mapping(harness: Harness, tenant: Tenant, partnership_id: str, body: Any) -> Reply:
    return harness.request(
        "PUT", f"/v1/partners/{partnership_id}/mapping", key=tenant.key, json_body=body
    )


def mapping(harness: Harness, tenant: Tenant, partnership_id: str) -> dict[str, Any]:
    reply = harness.get(f"/v1/partners/{partnership_id}/mapping", tenant.key)
    assert reply.status_code == 200, reply.body
    data: dict[str, Any] = reply.json
    return data


def listed(harness: Harness, tenant: Tenant, role: str | None = None) -> list[dict[str, Any]]:
    reply = harness.get("/v1/partners" + (f"?role={role}" if role else ""), tenant.key)
    assert reply.status_code == 200, reply.body
    items: list[dict[str, Any]] = reply.json["items"]
    return items


@pytest.fixture
def pair(harness: Harness) -> tuple[Tenant, Tenant, str]:
    """A lead, its service partner, and their partnership id."""
    lead, service = harness.create_tenant("Lead IT"), harness.create_tenant("Service IT")
    return lead, service, harness.partner(lead, service)


def test_each_side_lists_the_other_by_its_role(
    harness: Harness, pair: tuple[Tenant, Tenant, str]
) -> None:
    lead, service, partnership_id = pair
    # The lead sees a service partner
    [seen_by_lead] = listed(harness, lead, "service")
    assert {k: seen_by_lead[k] for k in ("partnership_id", "role", "tenant_id", "status")} == {
        "partnership_id": partnership_id,
        "role": "service",
        "tenant_id": service.tenant_id,
        "status": "active",
    }
    assert seen_by_lead["tenant_name"] == "Service IT"
    assert listed(harness, lead, "lead") == []
    # The service partner sees its lead
    [seen_by_service] = listed(harness, service, "lead")
    assert (seen_by_service["role"], seen_by_service["tenant_name"]) == ("lead", "Lead IT")
    assert seen_by_service["tenant_id"] == lead.tenant_id
    assert listed(harness, service, "service") == []
    # Unfiltered lists and single reads agree
    assert listed(harness, lead) == [seen_by_lead]
    assert listed(harness, service) == [seen_by_service]
    assert harness.get(f"/v1/partners/{partnership_id}", lead.key).json == seen_by_lead
    assert harness.get(f"/v1/partners/{partnership_id}", service.key).json == seen_by_service
    bad_role = harness.get("/v1/partners?role=partner", lead.key)
    assert (bad_role.status_code, bad_role.json["error"]["field"]) == (400, "role")


def test_service_partners_of_one_lead_never_learn_of_each_other(harness: Harness) -> None:
    # Given a lead with two service partners
    lead = harness.create_tenant("Lead IT")
    first = harness.create_tenant("First Service IT")
    second = harness.create_tenant("Second Service IT")
    first_id = harness.partner(lead, first)
    second_id = harness.partner(lead, second)
    # Then the lead sees both
    assert {p["partnership_id"] for p in listed(harness, lead, "service")} == {first_id, second_id}
    # And each service partner sees only the lead
    for me, mine, other, theirs in (
        (first, first_id, second, second_id),
        (second, second_id, first, first_id),
    ):
        reply = harness.get("/v1/partners", me.key)
        assert [p["partnership_id"] for p in reply.json["items"]] == [mine]
        assert other.tenant_id not in reply.text
        assert other.name not in reply.text
        # And the other's partnership does not exist for it, whatever it tries
        for attempt in (
            harness.get(f"/v1/partners/{theirs}", me.key),
            harness.get(f"/v1/partners/{theirs}/mapping", me.key),
            put_mapping(harness, me, theirs, {"queue": "Stolen"}),
            harness.post(f"/v1/partners/{theirs}/deactivate", me.key),
        ):
            assert (attempt.status_code, attempt.error_code) == (404, "not_found")
    # And nothing the attempts could have changed did change
    assert mapping(harness, second, second_id) == {"partnership_id": second_id, **DEFAULT_MAPPING}
    assert {p["status"] for p in listed(harness, lead)} == {"active"}


@pytest.mark.parametrize("side", ["lead", "service"])
def test_either_side_ends_the_partnership_for_both_once(
    harness: Harness, pair: tuple[Tenant, Tenant, str], side: str
) -> None:
    lead, service, partnership_id = pair
    actor = lead if side == "lead" else service
    # When one side deactivates it
    ended = harness.post(f"/v1/partners/{partnership_id}/deactivate", actor.key)
    # Then both sides see it inactive
    assert ended.status_code == 200, ended.body
    assert ended.json["status"] == "inactive"
    assert ended.json["deactivated_at"]
    for tenant in (lead, service):
        seen = harness.get(f"/v1/partners/{partnership_id}", tenant.key).json
        assert seen["status"] == "inactive"
        assert seen["deactivated_at"] == ended.json["deactivated_at"]
    # And neither side can deactivate it again
    for tenant in (lead, service):
        again = harness.post(f"/v1/partners/{partnership_id}/deactivate", tenant.key)
        assert (again.status_code, again.error_code) == (409, "invalid_transition")


def test_the_mapping_belongs_to_the_service_partner_and_starts_at_the_defaults(
    harness: Harness, pair: tuple[Tenant, Tenant, str]
) -> None:
    lead, service, partnership_id = pair
    assert mapping(harness, service, partnership_id) == {
        "partnership_id": partnership_id,
        **DEFAULT_MAPPING,
    }
    for attempt in (
        harness.get(f"/v1/partners/{partnership_id}/mapping", lead.key),
        put_mapping(harness, lead, partnership_id, {"queue": "Lead's idea"}),
    ):
        assert (attempt.status_code, attempt.error_code) == (404, "not_found")
    assert mapping(harness, service, partnership_id)["queue"] is None


def test_a_mapping_put_replaces_the_fields_and_keeps_unnamed_status_defaults(
    harness: Harness, pair: tuple[Tenant, Tenant, str]
) -> None:
    _, service, partnership_id = pair
    # When every field and two statuses are set
    first = put_mapping(
        harness,
        service,
        partnership_id,
        {
            "organization": "Lead IT Customers",
            "queue": "Partners",
            "work_type": "Remote",
            "resource": "Sam Tech",
            "status_map": {"complete": "waiting", "recalled": "new"},
        },
    )
    # Then the named statuses override the defaults and the others keep theirs
    expected = {
        "partnership_id": partnership_id,
        "organization": "Lead IT Customers",
        "queue": "Partners",
        "work_type": "Remote",
        "resource": "Sam Tech",
        "status_map": {**DEFAULT_STATUS_MAP, "complete": "waiting", "recalled": "new"},
    }
    assert first.status_code == 200
    assert first.json == expected
    assert mapping(harness, service, partnership_id) == expected
    # When a later put names only the queue
    second = put_mapping(harness, service, partnership_id, {"queue": "Partner work"})
    # Then it replaces the whole mapping: the rest is back to the defaults
    replaced = {"partnership_id": partnership_id, **DEFAULT_MAPPING, "queue": "Partner work"}
    assert second.json == replaced
    assert mapping(harness, service, partnership_id) == replaced


BAD_MAPPINGS: list[tuple[dict[str, Any], str]] = [
    ({"status_map": {"assigned": "new"}}, "status_map"),
    ({"status_map": {"declined": "complete"}}, "status_map"),
    ({"status_map": {"finished": "complete"}}, "status_map"),
    ({"status_map": {"complete": "done"}}, "status_map"),
    ({"status_map": {"complete": None}}, "status_map"),
    ({"status_map": {"complete": 3}}, "status_map"),
    ({"status_map": ["complete"]}, "status_map"),
    ({"queue": 7}, "queue"),
    ({"organization": "x" * 201}, "organization"),
    ({"billing_organization": "Acme"}, "billing_organization"),
]


def test_bad_mappings_are_refused_naming_the_field_and_change_nothing(
    harness: Harness, pair: tuple[Tenant, Tenant, str]
) -> None:
    _, service, partnership_id = pair
    assert put_mapping(harness, service, partnership_id, {"queue": "Partners"}).status_code == 200
    before = mapping(harness, service, partnership_id)
    for body, field in BAD_MAPPINGS:
        reply = put_mapping(harness, service, partnership_id, body)
        assert (reply.status_code, reply.error_code) == (400, "validation_error"), body
        assert reply.json["error"]["field"].split(".")[0] == field, body
    assert mapping(harness, service, partnership_id) == before


def test_the_mapping_can_be_changed_after_the_partnership_ended(
    harness: Harness, pair: tuple[Tenant, Tenant, str]
) -> None:
    lead, service, partnership_id = pair
    assert harness.post(f"/v1/partners/{partnership_id}/deactivate", lead.key).status_code == 200
    changed = put_mapping(
        harness, service, partnership_id, {"queue": "Former partners", "status_map": {}}
    )
    assert changed.status_code == 200
    assert mapping(harness, service, partnership_id) == {
        "partnership_id": partnership_id,
        **DEFAULT_MAPPING,
        "queue": "Former partners",
    }
    assert harness.get(f"/v1/partners/{partnership_id}", service.key).json["status"] == "inactive"
