"""Helpers for the synchronisation tests: an outsourced ticket pair, item writes, both sides'
views, what each side should see of the other, and the raw stream records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from chalicelib.domain.sync import replica_id
from chalicelib.streams.handler import on_table_change
from infra.local.lambda_context import lambda_context
from infra.local.pump import StreamPump
from tests.integration.conftest import Harness, Tenant

SEGMENTS = {
    "note": "notes",
    "time_entry": "time-entries",
    "charge": "charges",
    "attachment": "attachments",
}
ID_FIELDS = {
    "note": "note_id",
    "time_entry": "time_entry_id",
    "charge": "charge_id",
    "attachment": "attachment_id",
}
NEW_FIELDS: dict[str, dict[str, Any]] = {
    "note": {"text": "Checked the cabling"},
    "time_entry": {"date": "2026-11-24", "hours_worked": "1.5", "summary": "Cabling"},
    "charge": {"name": "Cable", "quantity": "2", "unit_cost": "1.5", "unit_price": "4"},
}
CHANGED_FIELDS: dict[str, dict[str, Any]] = {
    "note": {"text": "Checked all cabling"},
    "time_entry": {"hours_worked": "2.25", "summary": "Cabling and patch panel"},
    "charge": {"quantity": "3", "unit_price": "4.5"},
    "attachment": {"file_name": "renamed.txt"},
}
# Service-partner notes and attachments land on the lead ticket as internal.
INTERNAL_ON_LEAD = frozenset({"note", "attachment"})
LEAD_EVENTS = frozenset({"approve", "reject", "complete", "recall", "cancel"})
NEEDS_REASON = frozenset({"reject", "recall", "decline"})


@dataclass
class Side:
    role: str  # "lead" or "receiver"
    tenant: Tenant
    ticket_id: str = ""

    @property
    def base(self) -> str:
        return f"/v1/tickets/{self.ticket_id}"


@dataclass
class Pair:
    """A lead ticket outsourced to a service partner (linked once the partner accepts)."""

    harness: Harness
    lead: Side
    receiver: Side
    outsourcing_id: str
    partnership_id: str
    lead_ticket: dict[str, Any] = field(default_factory=dict)

    def other(self, side: Side) -> Side:
        return self.receiver if side is self.lead else self.lead

    def act(self, event: str) -> dict[str, Any]:
        """One outsourcing transition, by the side that may make it."""
        side = self.lead if event in LEAD_EVENTS else self.receiver
        body = {"reason": f"{event} for a reason"} if event in NEEDS_REASON else None
        reply = self.harness.post(
            f"/v1/outsourcings/{self.outsourcing_id}/{event}", side.tenant.key, body
        )
        assert reply.status_code == 200, reply.body
        data: dict[str, Any] = reply.json
        return data

    def accept(self) -> None:
        self.receiver.ticket_id = self.act("accept")["insourced_ticket_id"]


def outsourced(
    harness: Harness,
    *,
    lead_currency: str = "USD",
    partner_currency: str = "USD",
    pricing: dict[str, str] | None = None,
    **ticket: Any,
) -> Pair:
    """A new lead ticket outsourced to a new service partner, not accepted yet."""
    lead = harness.create_tenant("Lead IT", currency=lead_currency)
    partner = harness.create_tenant("Partner IT", currency=partner_currency)
    partnership = harness.partner(lead, partner)
    return outsource_new_ticket(harness, lead, partner, partnership, pricing=pricing, ticket=ticket)


def outsource_new_ticket(
    harness: Harness,
    lead: Tenant,
    partner: Tenant,
    partnership: str,
    *,
    pricing: dict[str, str] | None = None,
    ticket: dict[str, Any] | None = None,
) -> Pair:
    created = harness.create_ticket(lead, **(ticket or {}))
    outsourcing = harness.outsource(
        lead,
        created["ticket_id"],
        partnership,
        instructions="Replace the switch",
        pricing=pricing or {"type": "hourly", "amount": "80"},
    )
    return Pair(
        harness=harness,
        lead=Side("lead", lead, created["ticket_id"]),
        receiver=Side("receiver", partner),
        outsourcing_id=outsourcing["outsourcing_id"],
        partnership_id=partnership,
        lead_ticket=created,
    )


def linked(harness: Harness, **kw: Any) -> Pair:
    """An outsourcing in progress, its start-up caught up."""
    pair = outsourced(harness, **kw)
    pair.accept()
    harness.pump.drain()
    return pair


# -- items -------------------------------------------------------------------------------------


def add(
    harness: Harness, side: Side, kind: str, *, internal: bool = False, **fields: Any
) -> dict[str, Any]:
    body = {**NEW_FIELDS[kind], **fields, "internal": internal}
    reply = harness.post(f"{side.base}/{SEGMENTS[kind]}", side.tenant.key, body)
    assert reply.status_code == 201, reply.body
    data: dict[str, Any] = reply.json
    return data


def edit(harness: Harness, side: Side, item: dict[str, Any], changes: dict[str, Any]) -> Any:
    reply = harness.patch(_item_path(side, item), side.tenant.key, changes)
    assert reply.status_code == 200, reply.body
    return reply.json


def remove(harness: Harness, side: Side, item: dict[str, Any]) -> None:
    reply = harness.delete(_item_path(side, item), side.tenant.key)
    assert reply.status_code == 204, reply.body


def _item_path(side: Side, item: dict[str, Any]) -> str:
    return f"{side.base}/{SEGMENTS[item['kind']]}/{item['item_id']}"


def attach(
    harness: Harness,
    side: Side,
    content: bytes = b"signed delivery note",
    *,
    file_name: str = "delivery.txt",
    internal: bool = False,
    uploaded: bool = True,
) -> dict[str, Any]:
    """An attachment declared for ``content``, uploaded by presigned POST if ``uploaded``."""
    size = len(content)
    reply = harness.post(
        f"{side.base}/attachments",
        side.tenant.key,
        {"file_name": file_name, "content_type": "text/plain", "size": size, "internal": internal},
    )
    assert reply.status_code == 201, reply.body
    created: dict[str, Any] = reply.json
    if uploaded:
        upload(created, content)
    return created


def upload(created: dict[str, Any], content: bytes) -> None:
    form = created["upload"]
    posted = requests.post(
        form["url"], data=form["fields"], files={"file": ("f", content)}, timeout=10
    )
    assert posted.status_code in (200, 201, 204), posted.text


def items(harness: Harness, side: Side) -> list[dict[str, Any]]:
    """Every live item of the side's ticket, following the pages."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
        reply = harness.get(f"{side.base}/items{query}", side.tenant.key)
        assert reply.status_code == 200, reply.body
        found.extend(reply.json["items"])
        cursor = reply.json["next_cursor"]
        if not cursor:
            return found


def local_items(harness: Harness, side: Side) -> dict[str, dict[str, Any]]:
    return {i["item_id"]: i for i in items(harness, side) if i["origin"] == "local"}


def replicas(harness: Harness, side: Side) -> dict[str, dict[str, Any]]:
    return {i["item_id"]: i for i in items(harness, side) if i["origin"] == "partner"}


def snapshot(pair: Pair) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both tickets' item lists (ids, versions, contents), as the API shows them."""
    return items(pair.harness, pair.lead), items(pair.harness, pair.receiver)


def replica_view(pair: Pair, item: dict[str, Any], from_side: Side) -> dict[str, Any]:
    """What the other side should show of a local item: the same item, read-only, marked as
    coming from the partner and written by its company (never its credential);
    service-partner notes and attachments as internal on the lead."""
    to = pair.other(from_side)
    new_id = replica_id(pair.outsourcing_id, item["item_id"])
    return {
        **item,
        "item_id": new_id,
        ID_FIELDS[item["kind"]]: new_id,
        "ticket_id": to.ticket_id,
        "origin": "partner",
        "read_only": True,
        "internal": from_side.role == "receiver" and item["kind"] in INTERNAL_ON_LEAD,
        "created_by": from_side.tenant.name,
    }


def expected_replicas(
    pair: Pair, from_side: Side, shared: Iterable[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The other side's replicas of ``shared`` (local items as last shared): the visible ones."""
    views = (replica_view(pair, i, from_side) for i in shared if not i["internal"])
    return {v["item_id"]: v for v in views}


def assert_in_sync(pair: Pair) -> None:
    """Each side shows exactly its own items plus one replica per visible item of the other."""
    shown = {side.role: items(pair.harness, side) for side in (pair.lead, pair.receiver)}
    for side in (pair.lead, pair.receiver):
        other = pair.other(side)
        own = (i for i in shown[other.role] if i["origin"] == "local")
        actual = {i["item_id"]: i for i in shown[side.role] if i["origin"] == "partner"}
        assert actual == expected_replicas(pair, other, own), f"replicas on the {side.role} side"


# -- files -------------------------------------------------------------------------------------


def objects(harness: Harness, prefix: str = "") -> dict[str, str]:
    """The bucket's objects under ``prefix``: key → ETag."""
    s3 = harness.s3()
    listed = s3.list_objects_v2(Bucket=harness.bucket_name, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed}


def download(harness: Harness, side: Side, attachment_id: str) -> tuple[dict[str, Any], bytes]:
    reply = harness.get(f"{side.base}/attachments/{attachment_id}", side.tenant.key)
    assert reply.status_code == 200, reply.body
    fetched = requests.get(reply.json["download_url"], timeout=10)
    assert fetched.status_code == 200, fetched.text
    return reply.json, fetched.content


# -- the stream --------------------------------------------------------------------------------


def streams_client(harness: Harness) -> Any:
    return boto3.client("dynamodbstreams", endpoint_url=harness.dynamodb_endpoint)


def stream_records(harness: Harness) -> list[dict[str, Any]]:
    """Every record of the table's stream in Lambda's shape, read without reacting to any."""
    seen: list[dict[str, Any]] = []

    def keep(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    StreamPump(streams_client(harness), harness.stream_arn, keep).drain()
    return seen


def deliver(records: list[dict[str, Any]]) -> None:
    """Hand ``records`` to the app's stream handler as one batch; every record must succeed."""
    result = on_table_change({"Records": records}, lambda_context("table_stream"))
    assert result == {"batchItemFailures": []}, result


def replay_whole_stream(harness: Harness) -> None:
    """A fresh consumer reads the whole stream from the start through the real handler."""
    StreamPump(streams_client(harness), harness.stream_arn, on_table_change).drain()


class RecordingHandler:
    """The app's stream handler, keeping every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.batches.append(list(event["Records"]))
        return on_table_change(event, context)
