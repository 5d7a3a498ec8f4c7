"""Every status a route answers is one its OpenAPI operation documents.

Each registered route is driven, in a world where it can succeed, to the errors every route of
its kind can give (no or a bad credential, a low permission, unknown ids, a bad query or body, a
body too large or not JSON, a reused Idempotency-Key) and to those of its use case (valid
requests by each side, twice, so that a second one meets the state the first left). Whatever it
answers must be in its documented responses, and never a 5xx.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import app  # noqa: F401 - registers every route
from chalicelib.api.models import networks, outsourcing, partners, tenants, tickets
from chalicelib.api.routing import REGISTRY, RouteSpec
from chalicelib.domain.ids import new_id
from tests.integration.conftest import OPERATOR_KEY, Harness
from tests.integration.samples import valid_body

# Bodies beyond the sample that reach a use case's own errors ({name}: an id of the world).
MORE_BODIES: dict[type[Any], list[dict[str, Any]]] = {
    partners.InvitationCreate: [
        {"email": "p@example.com", "company_name": "P", "tenant_id": "{unknown}"},
        {"email": "p@example.com", "company_name": "P", "tenant_id": "{lead_tenant}"},
        {"email": "p@example.com", "company_name": "P", "tenant_id": "{partner_tenant}"},
    ],
    partners.InvitationToken: [{"token": "{token}"}],
    outsourcing.OutsourceRequest: [
        {"partnership_id": "{partnership_id}"},
        {"partnership_id": "{partnership_id}", "terms": {"accept_by": "2001-01-01T00:00:00Z"}},
        {"subcontractor_id": "{unknown}"},
        {"network_id": "{network_id}"},
        {"network_id": "{network_id}", "terms": {"accept_by": "2099-01-01T00:00:00Z"}},
        {"network_id": "{unknown}"},
    ],
    networks.NetworkPatch: [
        {"action": "link"},
        {"active": False},
        {"email": {"include_attachments": True, "body": "{attachments}"}},
    ],
    tenants.AgreementAccept: [{"version": "2001-01-01", "accepted_by": "Jane Admin"}],
    tenants.SettingsUpdate: [{"invitation_template": "no placeholder"}, {"enabled": False}],
    tickets.TicketUpdate: [{"status": "complete"}],
    tenants.ApiKeyCreate: [{"name": "all", "permission": "all"}],
}


@dataclass
class World:
    """A lead with a service partner, an outsourced ticket, a ticket with items, a pending
    invitation; plus a low-permission key of the lead and a tenant with nothing set up."""

    keys: dict[str, str | None]  # caller name -> bearer key
    ids: dict[str, list[str]]  # path parameter -> real ids to try
    values: dict[str, str]  # placeholders in bodies


def _world(harness: Harness) -> World:
    lead, partner, fresh = harness.create_tenant(), harness.create_tenant(), harness.create_tenant()
    partnership = harness.partner(lead, partner)
    ticket = harness.create_ticket(lead)["ticket_id"]
    base = f"/v1/tickets/{ticket}"
    item_ids = {
        "note_id": harness.post(f"{base}/notes", lead.key, {"text": "n"}).json["note_id"],
        "entry_id": harness.post(
            f"{base}/time-entries", lead.key, {"date": "2026-11-24", "hours_worked": 1}
        ).json["time_entry_id"],
        "charge_id": harness.post(f"{base}/charges", lead.key, {"name": "c", "quantity": 1}).json[
            "charge_id"
        ],
        "attachment_id": harness.post(
            f"{base}/attachments",
            lead.key,
            {"file_name": "a.txt", "content_type": "text/plain", "size": 1},
        ).json["attachment_id"],
    }
    outsourced = harness.create_ticket(lead)["ticket_id"]
    outsourcing_id = harness.outsource(lead, outsourced, partnership)["outsourcing_id"]
    invitation = harness.invite(lead)
    network = harness.post(
        "/v1/networks",
        lead.key,
        {
            "name": "Vendor desk",
            "action": "email",
            "email": {
                "to": ["desk@vendor.example"],
                "subject": "{title}",
                "body": "{attachments}",
                "include_attachments": True,
            },
        },
    ).json["network_id"]
    low = harness.post("/v1/api-keys", lead.key, {"name": "low", "permission": "none"}).json
    all_keys = [
        k["id"]
        for k in harness.get("/v1/api-keys", lead.key).json["items"]
        if k["permission"] == "all"
    ]
    return World(
        keys={
            "lead": lead.key,
            "low": low["api_key"],
            "partner": partner.key,
            "fresh": fresh.key,
            "operator": OPERATOR_KEY,
            "nobody": None,
        },
        ids={
            "ticket_id": [ticket, outsourced],
            "partnership_id": [partnership],
            "outsourcing_id": [outsourcing_id],
            "invitation_id": [invitation["id"]],
            "network_id": [network],
            "key_id": [low["id"], *all_keys],
            "tenant_id": [lead.tenant_id],
            **{name: [value] for name, value in item_ids.items()},
        },
        values={
            "unknown": new_id(),
            "lead_tenant": lead.tenant_id,
            "partner_tenant": partner.tenant_id,
            "token": invitation["token"],
            "partnership_id": partnership,
            "network_id": network,
        },
    )


@dataclass(frozen=True)
class Attempt:
    what: str
    caller: str
    path: str
    body: bytes
    headers: dict[str, str]


def _paths(spec: RouteSpec, world: World) -> Iterator[tuple[str, str]]:
    """(what, path): with the world's ids, then with unknown and malformed ids."""
    names = re.findall(r"{(\w+)}", spec.path)
    # An id this world has none of (a route newer than this test) is tried as an unknown one.
    for chosen in itertools.product(*(world.ids.get(name, [new_id()]) for name in names)):
        yield "real ids", _fill(spec.path, dict(zip(names, chosen, strict=True)))
    if names:
        yield "unknown ids", _fill(spec.path, dict.fromkeys(names, new_id()))
        yield "malformed ids", _fill(spec.path, dict.fromkeys(names, "x"))


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)


def _bodies(spec: RouteSpec, world: World) -> list[bytes]:
    if spec.body is None:
        return [b""]
    bodies = [valid_body(spec.body), *MORE_BODIES.get(spec.body, [])]
    encoded = [json.dumps(body) for body in bodies]
    for name, value in world.values.items():
        encoded = [text.replace("{" + name + "}", value) for text in encoded]
    return [text.encode() for text in encoded]


def _attempts(spec: RouteSpec, world: World) -> Iterator[Attempt]:
    callers = {
        # The low-permission key first: the lead may revoke it, or end what it would be refused
        "tenant": ["nobody", "operator", "low", "fresh", "partner", "lead"],
        "operator": ["operator", "lead", "nobody"],
        "none": ["nobody", "lead"],
    }[spec.auth]
    json_type = {"Content-Type": "application/json"}
    queries = ["?unknown=1"] + (["?limit=0", "?cursor=abc", "?side=receiver"] if spec.query else [])
    bodies = _bodies(spec, world)
    for (what, path), caller in itertools.product(list(_paths(spec, world)), callers):
        for body in bodies:
            yield Attempt(f"{what}, body {body[:60]!r}", caller, path, body, json_type)
    for what, path in _paths(spec, world):
        for caller in ("lead", "partner") if spec.auth == "tenant" else callers[:1]:
            for body in bodies:  # again: now in the state the first requests left
                yield Attempt(f"{what}, repeated", caller, path, body, json_type)
            for query in queries:
                yield Attempt(f"{what}, query {query}", caller, path + query, bodies[0], json_type)
            yield Attempt(f"{what}, not JSON", caller, path, b"{", json_type)
            yield Attempt(f"{what}, a JSON list", caller, path, b"[]", json_type)
            yield Attempt(f"{what}, too large", caller, path, b" " * (1024 * 1024 + 1), json_type)
            if spec.body is not None:
                yield Attempt(
                    f"{what}, text/plain", caller, path, bodies[0], {"Content-Type": "text/plain"}
                )
            if spec.idempotent:
                key = {"Idempotency-Key": new_id(), **json_type}
                yield Attempt(f"{what}, first with a key", caller, path, bodies[0], key)
                # Another request: other bytes (the same JSON, so that it is valid too)
                other = b" " + bodies[0] if spec.body is not None else b"{}"
                yield Attempt(f"{what}, key reused", caller, path, other, key)
                yield Attempt(
                    f"{what}, bad key",
                    caller,
                    path,
                    bodies[0],
                    {"Idempotency-Key": "has spaces", **json_type},
                )


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: f"{s.method} {s.path}")
@pytest.mark.parametrize("backend", ["moto"], indirect=True)
def test_every_status_a_route_answers_is_documented(harness: Harness, spec: RouteSpec) -> None:
    # Given the route's documented responses, and a world where it can succeed
    operation = harness.get("/v1/openapi.json", None).json["paths"][spec.path][spec.method.lower()]
    documented = {int(status) for status in operation["responses"]}
    world = _world(harness)
    # When it is driven to every error we know of
    answered: dict[int, str] = {}
    for attempt in _attempts(spec, world):
        key = world.keys[attempt.caller]
        reply = harness.request(
            spec.method, attempt.path, key=key, raw=attempt.body, headers=attempt.headers
        )
        answered.setdefault(reply.status_code, f"{attempt.caller}: {attempt.what}: {reply.body!r}")
    # Then each status it answered is documented, and none is a server error
    undocumented = {status: why for status, why in answered.items() if status not in documented}
    assert undocumented == {}
    assert max(answered) < 500
