"""Tenant isolation: every tenant route, called with another tenant's ids, is a 404.

The routes come from the route registry, so a new route is covered as soon as it exists.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import app  # noqa: F401 - registers every route
from chalicelib.api.routing import REGISTRY, RouteSpec
from tests.integration.conftest import Harness, Tenant
from tests.integration.samples import valid_body

TENANT_ROUTES = [spec for spec in REGISTRY if spec.auth == "tenant"]
WITH_IDS = [spec for spec in TENANT_ROUTES if "{" in spec.path]
LISTS = [spec for spec in TENANT_ROUTES if "{" not in spec.path and spec.method == "GET"]


def _owned_things(harness: Harness, owner: Tenant) -> dict[str, str]:
    """One of everything, owned by ``owner``, by path parameter name."""
    ticket = harness.create_ticket(owner)["ticket_id"]
    base = f"/v1/tickets/{ticket}"
    note = harness.post(f"{base}/notes", owner.key, {"text": "secret"}).json["note_id"]
    entry = harness.post(
        f"{base}/time-entries", owner.key, {"date": "2026-11-24", "hours_worked": 1}
    ).json["time_entry_id"]
    charge = harness.post(f"{base}/charges", owner.key, {"name": "c", "quantity": 1}).json[
        "charge_id"
    ]
    attachment = harness.post(
        f"{base}/attachments",
        owner.key,
        {"file_name": "a.txt", "content_type": "text/plain", "size": 3},
    ).json["attachment_id"]
    key = harness.post("/v1/api-keys", owner.key, {"name": "k", "permission": "none"}).json["id"]
    partner = harness.create_tenant()
    partnership = harness.partner(owner, partner)
    invitation = harness.invite(owner)["id"]
    outsourced = harness.create_ticket(owner)["ticket_id"]
    outsourcing = harness.outsource(owner, outsourced, partnership)["outsourcing_id"]
    subcontractor = harness.post(
        "/v1/subcontractors",
        owner.key,
        {
            "company_name": "Fixit Ltd",
            "admin_email": f"admin-{owner.tenant_id.lower()}@fixit.example",
        },
    ).json["subcontractor_id"]
    network = harness.post(
        "/v1/networks",
        owner.key,
        {"name": "Vendor desk", "action": "link", "link_template": "https://v.example/{title}"},
    ).json["network_id"]
    forwarded = harness.create_ticket(owner)["ticket_id"]
    harness.post(f"/v1/tickets/{forwarded}/outsource", owner.key, {"network_id": network})
    harness.pump.drain()  # the change feed is written by the stream
    return {
        "network_id": network,
        "subcontractor_id": subcontractor,
        "outsourcing_id": outsourcing,
        "partnership_id": partnership,
        "invitation_id": invitation,
        "ticket_id": ticket,
        "note_id": note,
        "entry_id": entry,
        "charge_id": charge,
        "attachment_id": attachment,
        "key_id": key,
    }


def _fill(spec: RouteSpec, ids: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ids:
            raise AssertionError(f"no sample id for {{{name}}} in {spec.path}")
        return ids[name]

    return re.sub(r"{(\w+)}", replace, spec.path)


def _snapshot(harness: Harness, owner: Tenant, ids: dict[str, str]) -> Any:
    base = f"/v1/tickets/{ids['ticket_id']}"
    return (
        harness.get(base, owner.key).json,
        harness.get(f"{base}/items", owner.key).json,
        harness.get("/v1/api-keys", owner.key).json,
        harness.get("/v1/partner-invitations", owner.key).json,
        harness.get("/v1/partners", owner.key).json,
        harness.get("/v1/tenant", owner.key).json,
        harness.get("/v1/outsourcings?side=lead", owner.key).json,
        harness.get("/v1/subcontractors", owner.key).json,
        harness.get("/v1/changes?limit=100", owner.key).json,
        harness.get("/v1/networks", owner.key).json,
    )


def test_every_tenant_route_with_an_id_is_covered() -> None:
    assert len(WITH_IDS) >= 15
    assert {s.path for s in WITH_IDS} >= {
        "/v1/tickets/{ticket_id}",
        "/v1/api-keys/{key_id}",
        "/v1/networks/{network_id}",
    }


def test_another_tenants_ids_are_not_found_on_every_route(harness: Harness) -> None:
    # Given tenant A owns one of everything, and tenant B has an all-powerful key
    owner, intruder = harness.create_tenant(), harness.create_tenant()
    ids = _owned_things(harness, owner)
    harness.enable_outsourcing(intruder)
    before = _snapshot(harness, owner, ids)
    outcomes = {}
    # When B calls every route with A's ids and a valid body
    for spec in WITH_IDS:
        reply = harness.request(
            spec.method, _fill(spec, ids), key=intruder.key, json_body=valid_body(spec.body)
        )
        outcomes[f"{spec.method} {spec.path}"] = (reply.status_code, reply.error_code)
    # Then every answer is a plain 404, and nothing of A's changed
    assert outcomes == {name: (404, "not_found") for name in outcomes}
    assert _snapshot(harness, owner, ids) == before


@pytest.mark.parametrize("spec", LISTS, ids=lambda s: s.path)
def test_lists_never_show_another_tenants_things(harness: Harness, spec: RouteSpec) -> None:
    owner, other = harness.create_tenant(), harness.create_tenant()
    ids = _owned_things(harness, owner)
    reply = harness.get(spec.path, other.key)
    assert reply.status_code == 200
    text = reply.text
    for value in ids.values():
        assert value not in text
    assert owner.tenant_id not in text


def test_the_change_feed_shows_the_owners_things_to_the_owner_only(harness: Harness) -> None:
    # Given tenant A owns one of everything (logged in its feed), and tenant B has a ticket
    owner, other = harness.create_tenant(), harness.create_tenant()
    ids = _owned_things(harness, owner)
    theirs = harness.create_ticket(other)["ticket_id"]
    harness.pump.drain()
    owners_feed = harness.get("/v1/changes?limit=100", owner.key)
    others_feed = harness.get("/v1/changes?limit=100", other.key)
    # Then A's feed holds A's objects, and B's holds its own ticket and nothing of A's
    logged = {e["object"]["id"] for e in owners_feed.json["items"]}
    assert {ids[name] for name in ("ticket_id", "note_id", "outsourcing_id")} <= logged
    assert [e["object"]["id"] for e in others_feed.json["items"]] == [theirs]
    for value in (*ids.values(), owner.tenant_id):
        assert value not in others_feed.text
    # And A's cursor is no cursor of B's
    cursor = owners_feed.json["next_cursor"]
    refused = harness.get(f"/v1/changes?cursor={cursor}", other.key)
    assert (refused.status_code, refused.error_code) == (400, "validation_error")
