"""A cursor is accepted back only as its list gave it: exactly that query's key attributes (the
table's pk and sk; for an index, that index's two as well), each a string, of the caller's own
list. Anything else is a 400 naming the cursor, on every list, never a 500 from the engine."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamo import cursor as cursors
from tests.integration.conftest import Harness, Tenant


@dataclass(frozen=True)
class Listing:
    path: str  # with a query string; the cursor is appended
    owner: Tenant  # has at least two entries in this list
    other: Tenant  # another tenant, for whom the owner's cursor is not valid
    other_path: str  # the same list of the other tenant


def _listings(harness: Harness) -> list[Listing]:
    """Every list endpoint (and each index it can query), each with two entries or more."""
    lead, service, second_lead = (harness.create_tenant() for _ in range(3))
    harness.partner(lead, service)
    harness.partner(lead, harness.create_tenant())
    harness.partner(second_lead, service)  # the service partner has two leads
    partnership = harness.get("/v1/partners?role=service", lead.key).json["items"][0]
    tickets = [harness.create_ticket(lead, queue="Desk")["ticket_id"] for _ in range(3)]
    for ticket in tickets[:2]:
        harness.outsource(lead, ticket, partnership["partnership_id"])
    for text in ("first", "second"):
        note = harness.post(f"/v1/tickets/{tickets[0]}/notes", lead.key, {"text": text})
        assert note.status_code == 201, note.body
    key = harness.post("/v1/api-keys", lead.key, {"name": "second", "permission": "none"})
    assert key.status_code == 201, key.body
    for name in ("first", "second"):
        entry = {"name": name, "action": "none"}
        assert harness.post("/v1/networks", lead.key, entry).status_code == 201
    others_ticket = harness.create_ticket(second_lead)["ticket_id"]
    harness.pump.drain()  # the change feed is written by the stream
    lists = [
        ("/v1/networks?", lead),
        ("/v1/tickets?", lead),
        ("/v1/tickets?status=new&", lead),
        ("/v1/tickets?queue=Desk&", lead),
        ("/v1/tickets?status=new&queue=Desk&", lead),
        (f"/v1/tickets/{tickets[0]}/items?", lead),
        ("/v1/api-keys?", lead),
        ("/v1/partner-invitations?", lead),
        ("/v1/partners?", lead),
        ("/v1/partners?role=service&", lead),
        ("/v1/partners?role=lead&", service),
        ("/v1/outsourcings?side=lead&", lead),
        ("/v1/outsourcings?side=lead&status=assigned&", lead),
        ("/v1/outsourcings?side=receiver&", service),
        ("/v1/outsourcings?side=receiver&status=assigned&", service),
        ("/v1/changes?", lead),
    ]
    return [
        Listing(path, owner, second_lead, path.replace(tickets[0], others_ticket))
        for path, owner in lists
    ]


def _first_cursor(harness: Harness, listing: Listing) -> dict[str, Any]:
    reply = harness.get(f"{listing.path}limit=1", listing.owner.key)
    assert reply.status_code == 200, (listing.path, reply.body)
    encoded = reply.json["next_cursor"]
    assert encoded, f"{listing.path} has one page only"
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


def _encode(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refusals(
    harness: Harness, listing: Listing, forged: list[Any], *, by_other: bool = False
) -> list[tuple[str, Any, int, Any]]:
    """The forged cursors that were not a 400 validation_error naming the cursor."""
    path, key = (
        (listing.other_path, listing.other.key) if by_other else (listing.path, listing.owner.key)
    )
    wrong = []
    for value in forged:
        encoded = value if isinstance(value, str) else _encode(value)
        reply = harness.get(f"{path}limit=1&cursor={encoded}", key)
        error = reply.json.get("error", {}) if isinstance(reply.json, dict) else {}
        if (reply.status_code, error.get("code"), error.get("field")) != (
            400,
            "validation_error",
            "cursor",
        ):
            wrong.append((path, value, reply.status_code, reply.json))
    return wrong


def test_each_list_takes_back_its_own_cursor(harness: Harness) -> None:
    # Given every list with more than one page
    listings = _listings(harness)
    for listing in listings:
        real = _first_cursor(harness, listing)
        # When its cursor is sent back as it came
        reply = harness.get(
            f"{listing.path}limit=1&cursor={cursors.encode(real)}", listing.owner.key
        )
        # Then the next page is served
        assert reply.status_code == 200, (listing.path, reply.body)


def test_a_cursor_with_an_extra_attribute_is_a_400_on_every_list(harness: Harness) -> None:
    # Given each list's real cursor
    wrong = []
    for listing in _listings(harness):
        real = _first_cursor(harness, listing)
        unused_index = next(f"gsi{n}" for n in (1, 2, 3) if f"gsi{n}pk" not in real)
        # When it comes back with one more attribute: another index's key, or a plain attribute
        forged = [
            {**real, f"{unused_index}pk": {"S": "T#X"}},
            {**real, f"{unused_index}pk": {"S": "T#X"}, f"{unused_index}sk": {"S": "X"}},
            {**real, "version": {"S": "1"}},
            {**real, "type": {"S": "ticket"}},
        ]
        wrong += _refusals(harness, listing, forged)
    # Then each is refused naming the cursor
    assert wrong == []


def test_a_cursor_missing_an_attribute_is_a_400_on_every_list(harness: Harness) -> None:
    # Given each list's real cursor
    wrong = []
    for listing in _listings(harness):
        real = _first_cursor(harness, listing)
        # When it comes back without one of its attributes (each in turn), or without all but one
        forged: list[Any] = [{k: v for k, v in real.items() if k != name} for name in real]
        forged += [{name: value} for name, value in real.items()]
        wrong += _refusals(harness, listing, forged)
    # Then each is refused naming the cursor
    assert wrong == []


def test_another_tenants_cursor_is_a_400_on_every_list(harness: Harness) -> None:
    # Given each list's real cursor, of the tenant that owns the entries
    wrong = []
    for listing in _listings(harness):
        real = _first_cursor(harness, listing)
        # When another tenant sends it to the same list
        wrong += _refusals(harness, listing, [real], by_other=True)
    # Then it is refused naming the cursor (and nothing of the owner's is shown)
    assert wrong == []


def test_a_cursor_with_wrongly_typed_values_is_a_400_on_every_list(harness: Harness) -> None:
    # Given each list's real cursor
    wrong = []
    for listing in _listings(harness):
        real = _first_cursor(harness, listing)
        # When one of its values (each in turn) comes back with another type or shape
        forged: list[Any] = []
        for name, typed in real.items():
            text = typed["S"]
            for other in (
                {"N": "1"},
                {"S": 1},
                {"S": ""},
                {"S": text + "\ud800"},  # no UTF-8 for a lone surrogate
                {"S": [text]},
                {"B": base64.b64encode(text.encode()).decode()},
                {"SS": [text]},
                {"NULL": True},
                {"S": text, "N": "1"},
                {"s": text},
                text,
                None,
            ):
                forged.append({**real, name: other})
        forged += [[real], "null", _encode(list(real)), _encode(None)]
        wrong += _refusals(harness, listing, forged)
    # Then each is refused naming the cursor
    assert wrong == []
