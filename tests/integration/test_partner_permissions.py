"""Every set-up and partner route against every permission level: 403 below the level it needs.

Each level gets one key on a lead and one on its service partner; every route is then called
with those keys, in an order where each allowed call succeeds (no route is only checked for
"not 403").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chalicelib.api.routing import REGISTRY
from chalicelib.domain.tenants import Permission
from tests.integration.conftest import Harness, Reply, Tenant

LEVELS = [p.value for p in Permission]


@dataclass
class World:
    """A lead and a service partner, each also holding a key of the level under test."""

    harness: Harness
    lead: Tenant
    service: Tenant
    lead_key: str
    service_key: str
    partnership_id: str
    invitation_id: str
    token_for_lead: str  # an invitation of the service partner, for the lead to accept
    token_to_decline: str  # another one, for the lead to decline


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    needs: Permission
    success: int
    call: Callable[[World], Reply]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _key(harness: Harness, tenant: Tenant, level: str) -> str:
    reply = harness.post("/v1/api-keys", tenant.key, {"name": level, "permission": level})
    assert reply.status_code == 201, reply.body
    key: str = reply.json["api_key"]
    return key


def _put(w: World, path: str, key: str, body: object) -> Reply:
    return w.harness.request("PUT", path, key=key, json_body=body)


INVITATION = {"email": "partner@example.com", "company_name": "Partner IT"}
ROUTES = [
    Route(
        "GET",
        "/v1/outsourcing/agreement",
        Permission.NONE,
        200,
        lambda w: w.harness.get("/v1/outsourcing/agreement", w.lead_key),
    ),
    Route(
        "POST",
        "/v1/outsourcing/agreement/accept",
        Permission.ALL,
        200,
        lambda w: w.harness.post(
            "/v1/outsourcing/agreement/accept",
            w.lead_key,
            {"version": "2026-11-01", "accepted_by": "Key holder"},
        ),
    ),
    Route(
        "GET",
        "/v1/outsourcing/settings",
        Permission.ALL,
        200,
        lambda w: w.harness.get("/v1/outsourcing/settings", w.lead_key),
    ),
    Route(
        "PUT",
        "/v1/outsourcing/settings",
        Permission.ALL,
        200,
        lambda w: _put(w, "/v1/outsourcing/settings", w.lead_key, {"enabled": True}),
    ),
    Route(
        "POST",
        "/v1/partner-invitations",
        Permission.PARTNER_MANAGEMENT,
        201,
        lambda w: w.harness.post("/v1/partner-invitations", w.lead_key, INVITATION),
    ),
    Route(
        "GET",
        "/v1/partner-invitations",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: w.harness.get("/v1/partner-invitations", w.lead_key),
    ),
    Route(
        "GET",
        "/v1/partner-invitations/{invitation_id}",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: w.harness.get(f"/v1/partner-invitations/{w.invitation_id}", w.lead_key),
    ),
    Route(
        "POST",
        "/v1/partner-invitations/{invitation_id}/resend",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: w.harness.post(f"/v1/partner-invitations/{w.invitation_id}/resend", w.lead_key),
    ),
    Route(
        "POST",
        "/v1/partner-invitations/{invitation_id}/revoke",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: w.harness.post(f"/v1/partner-invitations/{w.invitation_id}/revoke", w.lead_key),
    ),
    Route(
        "POST",
        "/v1/partner-invitations/accept",
        Permission.PARTNER_MANAGEMENT,
        201,
        lambda w: w.harness.post(
            "/v1/partner-invitations/accept", w.lead_key, {"token": w.token_for_lead}
        ),
    ),
    Route(
        "POST",
        "/v1/partner-invitations/decline",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: w.harness.post(
            "/v1/partner-invitations/decline", w.lead_key, {"token": w.token_to_decline}
        ),
    ),
    Route(
        "GET",
        "/v1/partners",
        Permission.NONE,
        200,
        lambda w: w.harness.get("/v1/partners", w.lead_key),
    ),
    Route(
        "GET",
        "/v1/partners/{partnership_id}",
        Permission.NONE,
        200,
        lambda w: w.harness.get(f"/v1/partners/{w.partnership_id}", w.lead_key),
    ),
    Route(
        "GET",
        "/v1/partners/{partnership_id}/mapping",
        Permission.NONE,
        200,
        lambda w: w.harness.get(f"/v1/partners/{w.partnership_id}/mapping", w.service_key),
    ),
    Route(
        "PUT",
        "/v1/partners/{partnership_id}/mapping",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: _put(
            w, f"/v1/partners/{w.partnership_id}/mapping", w.service_key, {"queue": "Partners"}
        ),
    ),
    Route(
        "POST",
        "/v1/partners/{partnership_id}/deactivate",
        Permission.PARTNER_MANAGEMENT,
        200,
        lambda w: w.harness.post(f"/v1/partners/{w.partnership_id}/deactivate", w.service_key),
    ),
]


def test_the_table_covers_every_set_up_and_partner_route() -> None:
    import app  # noqa: F401 - registers the routes

    declared = {
        (spec.method, spec.path)
        for spec in REGISTRY
        if spec.path.startswith(("/v1/outsourcing/agreement", "/v1/outsourcing/settings"))
        or spec.path.startswith(("/v1/partner-invitations", "/v1/partners"))
    }
    assert declared == {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("level", LEVELS)
def test_each_route_answers_403_below_its_level_and_works_from_it(
    harness: Harness, level: str
) -> None:
    # Given a lead and its service partner, both set up by their 'all' keys
    lead, service = harness.create_tenant("Lead IT"), harness.create_tenant("Service IT")
    harness.enable_outsourcing(lead)
    harness.enable_outsourcing(service)
    partnership_id = harness.post(
        "/v1/partner-invitations/accept", service.key, {"token": harness.invite(lead)["token"]}
    ).json["partnership_id"]
    world = World(
        harness=harness,
        lead=lead,
        service=service,
        lead_key=_key(harness, lead, level),
        service_key=_key(harness, service, level),
        partnership_id=partnership_id,
        invitation_id=harness.invite(lead)["id"],
        token_for_lead=harness.invite(service)["token"],
        token_to_decline=harness.invite(service)["token"],
    )
    held = Permission(level)
    outcomes = {}
    # When each route is called with the keys of this level
    for route in ROUTES:
        reply = route.call(world)
        outcomes[str(route)] = (reply.status_code, reply.error_code)
    # Then the routes below the level are refused with 403, and the others succeed
    expected = {
        str(route): (
            (route.success, None) if held.includes(route.needs) else (403, "permission_denied")
        )
        for route in ROUTES
    }
    assert outcomes == expected
