"""Notes, time entries, charges and attachments over HTTP."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.adapters.dynamo.items import DynamoItemRepository
from chalicelib.domain.clock import utcnow
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Note, Origin
from tests.integration.conftest import Harness, Tenant

KINDS = [
    ("notes", "note_id", {"text": "Checked the cabling"}, {"text": "Checked all cabling"}),
    (
        "time-entries",
        "time_entry_id",
        {"date": "2026-11-24", "hours_worked": "2.5", "work_type": "Remote"},
        {"hours_billable": "2"},
    ),
    (
        "charges",
        "charge_id",
        {"name": "Cable", "quantity": "3", "unit_cost": "1.5", "unit_price": "4"},
        {"unit_price": "4.5"},
    ),
]


def _ticket(harness: Harness) -> tuple[Tenant, str]:
    tenant = harness.create_tenant()
    return tenant, f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}"


@pytest.mark.parametrize(("segment", "id_field", "create", "change"), KINDS)
def test_item_lifecycle(
    harness: Harness,
    segment: str,
    id_field: str,
    create: dict[str, Any],
    change: dict[str, Any],
) -> None:
    tenant, base = _ticket(harness)
    # Given a new item
    created = harness.post(f"{base}/{segment}", tenant.key, create)
    assert created.status_code == 201, created.body
    item = created.json
    assert item["origin"] == "local"
    assert item["read_only"] is False
    assert item["internal"] is False
    path = f"{base}/{segment}/{item[id_field]}"
    # When it is edited
    edited = harness.patch(path, tenant.key, change)
    # Then the change shows, and the version moves
    assert edited.status_code == 200, edited.body
    for name, value in change.items():
        assert str(edited.json[name]).rstrip("0").rstrip(".") == value.rstrip("0").rstrip(".")
    assert edited.json["version"] == item["version"] + 1
    assert harness.get(path, tenant.key).json == edited.json
    # When it is deleted it is gone everywhere
    assert harness.delete(path, tenant.key).status_code == 204
    assert harness.get(path, tenant.key).status_code == 404
    assert harness.patch(path, tenant.key, change).status_code == 404
    assert harness.delete(path, tenant.key).status_code == 404
    assert harness.get(f"{base}/items", tenant.key).json["items"] == []


def test_time_entry_billable_hours_default_to_worked(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    reply = harness.post(
        f"{base}/time-entries", tenant.key, {"date": "2026-11-24", "hours_worked": 1.25}
    )
    assert reply.status_code == 201
    assert reply.json["hours_worked"] == "1.25"
    assert reply.json["hours_billable"] == "1.25"


def test_charges_are_in_the_tickets_currency_with_exact_decimals(harness: Harness) -> None:
    tenant = harness.create_tenant(currency="CHF")
    base = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}"
    reply = harness.post(
        f"{base}/charges",
        tenant.key,
        {"name": "Licence", "quantity": "1", "unit_cost": "0.1", "unit_price": "19.99"},
    )
    assert reply.status_code == 201
    assert reply.json["currency"] == "CHF"
    assert reply.json["unit_price"] == "19.99"
    assert reply.json["unit_cost"] == "0.10"
    assert reply.json["billable"] is True


@pytest.mark.parametrize(
    ("segment", "body", "field"),
    [
        ("notes", {}, "text"),
        ("notes", {"text": ""}, "text"),
        ("notes", {"text": "x" * 32001}, "text"),
        ("notes", {"text": "ok", "internal": "yes"}, "internal"),
        ("notes", {"text": "ok", "origin": "partner"}, "origin"),
        ("time-entries", {"date": "2026-11-24"}, "hours_worked"),
        ("time-entries", {"date": "2026-13-01", "hours_worked": 1}, "date"),
        ("time-entries", {"date": "2026-11-24", "hours_worked": 0}, "hours_worked"),
        ("time-entries", {"date": "2026-11-24", "hours_worked": 25}, "hours_worked"),
        ("time-entries", {"date": "2026-11-24", "hours_worked": "NaN"}, "hours_worked"),
        (
            "time-entries",
            {"date": "2026-11-24", "hours_worked": 1, "hours_billable": -1},
            "hours_billable",
        ),
        ("charges", {"name": "x", "quantity": 0}, "quantity"),
        ("charges", {"name": "x", "quantity": 1, "unit_price": "-1"}, "unit_price"),
        ("charges", {"name": "x", "quantity": 1, "unit_price": "1e400"}, "unit_price"),
        ("charges", {"name": "x", "quantity": 1, "unit_cost": "0.00001"}, "unit_cost"),
        ("charges", {"quantity": 1}, "name"),
        ("attachments", {"file_name": "a.txt", "content_type": "text/plain"}, "size"),
        ("attachments", {"file_name": "", "content_type": "text/plain", "size": 1}, "file_name"),
        ("attachments", {"file_name": "a", "content_type": "text", "size": 1}, "content_type"),
        ("attachments", {"file_name": "a", "content_type": "text/plain", "size": 0}, "size"),
    ],
)
def test_bad_item_input_is_a_400_naming_the_field(
    harness: Harness, segment: str, body: dict[str, Any], field: str
) -> None:
    tenant, base = _ticket(harness)
    reply = harness.post(f"{base}/{segment}", tenant.key, body)
    assert reply.status_code == 400, reply.body
    assert reply.json["error"]["field"] == field
    assert harness.get(f"{base}/items", tenant.key).json["items"] == []


def test_items_on_a_missing_ticket_are_404(harness: Harness) -> None:
    tenant = harness.create_tenant()
    base = "/v1/tickets/01HZZZZZZZZZZZZZZZZZZZZZZZ"
    assert harness.post(f"{base}/notes", tenant.key, {"text": "x"}).status_code == 404
    assert harness.get(f"{base}/items", tenant.key).status_code == 404


def test_an_item_is_only_found_under_its_own_kind_and_ticket(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    other = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}"
    note_id = harness.post(f"{base}/notes", tenant.key, {"text": "x"}).json["note_id"]
    assert harness.get(f"{base}/charges/{note_id}", tenant.key).status_code == 404
    assert harness.patch(f"{base}/charges/{note_id}", tenant.key, {"name": "y"}).status_code == 404
    assert harness.get(f"{other}/notes/{note_id}", tenant.key).status_code == 404
    assert harness.get(f"{base}/notes/{note_id}", tenant.key).status_code == 200


def test_items_list_every_kind_newest_last_across_pages(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    made = []
    for index in range(3):
        made.append(harness.post(f"{base}/notes", tenant.key, {"text": f"n{index}"}).json)
        made.append(
            harness.post(
                f"{base}/time-entries", tenant.key, {"date": "2026-11-24", "hours_worked": 1}
            ).json
        )
    made.append(harness.post(f"{base}/charges", tenant.key, {"name": "c", "quantity": 1}).json)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = harness.get(f"{base}/items{query}", tenant.key).json
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [i["item_id"] for i in seen] == [i["item_id"] for i in made]
    assert [i["kind"] for i in seen] == [i["kind"] for i in made]


def test_internal_flag_is_kept_and_editable(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    note = harness.post(f"{base}/notes", tenant.key, {"text": "x", "internal": True}).json
    assert note["internal"] is True
    flipped = harness.patch(f"{base}/notes/{note['note_id']}", tenant.key, {"internal": False})
    assert flipped.json["internal"] is False


def test_replicas_from_the_other_side_are_read_only(harness: Harness) -> None:
    # Given a replica (as the synchronisation writes it) on a ticket
    tenant, base = _ticket(harness)
    ticket_id = base.rsplit("/", 1)[1]
    now = utcnow()
    replica = Note(
        tenant_id=tenant.tenant_id,
        ticket_id=ticket_id,
        item_id=new_id(),
        origin=Origin.PARTNER,
        origin_tenant=new_id(),
        origin_item_id=new_id(),
        origin_version=1,
        outsourcing_id=new_id(),
        text="from the partner",
        created_at=now,
        updated_at=now,
    )
    DynamoItemRepository().add(replica)
    path = f"{base}/notes/{replica.item_id}"
    # Then it is listed as read-only and cannot be changed or deleted
    listed = harness.get(f"{base}/items", tenant.key).json["items"]
    assert listed[0]["origin"] == "partner"
    assert listed[0]["read_only"] is True
    for reply in (
        harness.patch(path, tenant.key, {"text": "mine now"}),
        harness.patch(path, tenant.key, {"internal": True}),
        harness.delete(path, tenant.key),
    ):
        assert reply.status_code == 409
        assert reply.json["error"]["code"] == "replica_read_only"
    assert harness.get(path, tenant.key).json["text"] == "from the partner"


def _policy(fields: dict[str, str]) -> dict[str, Any]:
    encoded = fields["policy"]
    policy: dict[str, Any] = json.loads(base64.b64decode(encoded))
    return policy


def test_attachment_upload_is_signed_for_exactly_the_declared_file(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    reply = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "report.pdf", "content_type": "application/pdf", "size": 1234},
    )
    assert reply.status_code == 201, reply.body
    body = reply.json
    upload = body["upload"]
    assert body["attachment_id"] == body["item_id"]
    assert upload["fields"]["key"].startswith(f"{tenant.tenant_id}/")
    policy = _policy(upload["fields"])
    conditions = policy["conditions"]
    assert ["content-length-range", 1234, 1234] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"bucket": harness.bucket_name} in conditions
    assert {"key": upload["fields"]["key"]} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    remaining = (expires - datetime.now(UTC)).total_seconds()
    assert 800 < remaining <= 900


def test_attachment_round_trip_through_s3(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    content = b"hello, attachment"
    created = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "notes.txt", "content_type": "text/plain", "size": len(content)},
    ).json
    upload = created["upload"]
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("notes.txt", content)}, timeout=10
    )
    assert posted.status_code in (200, 201, 204)
    fetched = harness.get(f"{base}/attachments/{created['attachment_id']}", tenant.key)
    assert fetched.status_code == 200
    assert fetched.json["file_name"] == "notes.txt"
    downloaded = requests.get(fetched.json["download_url"], timeout=10)
    assert downloaded.content == content
    assert "notes.txt" in fetched.json["download_url"]


def test_attachment_limits(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    too_big = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "big.zip", "content_type": "application/zip", "size": 25 * 1024**2 + 1},
    )
    assert too_big.status_code == 413
    assert too_big.json["error"]["field"] == "size"
    exe = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "x.exe", "content_type": "application/x-msdownload", "size": 10},
    )
    assert exe.status_code == 400
    assert exe.json["error"]["field"] == "content_type"
    assert harness.get(f"{base}/items", tenant.key).json["items"] == []


def test_deleting_an_attachment_deletes_its_file_through_the_stream(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    created = harness.post(
        f"{base}/attachments",
        tenant.key,
        {"file_name": "a.txt", "content_type": "text/plain", "size": 3},
    ).json
    upload = created["upload"]
    requests.post(
        upload["url"], data=upload["fields"], files={"file": ("a.txt", b"abc")}, timeout=5
    )
    s3 = harness.s3()
    key = upload["fields"]["key"]
    assert s3.list_objects_v2(Bucket=harness.bucket_name, Prefix=key)["KeyCount"] == 1
    harness.pump.drain()
    assert s3.list_objects_v2(Bucket=harness.bucket_name, Prefix=key)["KeyCount"] == 1
    assert (
        harness.delete(f"{base}/attachments/{created['attachment_id']}", tenant.key).status_code
        == 204
    )
    harness.pump.drain()
    assert s3.list_objects_v2(Bucket=harness.bucket_name, Prefix=key)["KeyCount"] == 0


@pytest.mark.parametrize(
    ("segment", "create", "change", "field"),
    [
        ("notes", {"text": "x"}, {"text": None}, "text"),
        ("notes", {"text": "x"}, {"internal": None}, "internal"),
        (
            "time-entries",
            {"date": "2026-11-24", "hours_worked": 1},
            {"hours_worked": None},
            "hours_worked",
        ),
        ("charges", {"name": "c", "quantity": 1}, {"quantity": None}, "quantity"),
    ],
)
def test_null_cannot_clear_a_required_item_field(
    harness: Harness, segment: str, create: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    tenant, base = _ticket(harness)
    item = harness.post(f"{base}/{segment}", tenant.key, create).json
    reply = harness.patch(f"{base}/{segment}/{item['item_id']}", tenant.key, change)
    assert reply.status_code == 400
    assert reply.json["error"]["field"] == field


def test_null_clears_an_optional_item_field(harness: Harness) -> None:
    tenant, base = _ticket(harness)
    entry = harness.post(
        f"{base}/time-entries",
        tenant.key,
        {"date": "2026-11-24", "hours_worked": 1, "work_type": "Remote"},
    ).json
    reply = harness.patch(
        f"{base}/time-entries/{entry['item_id']}", tenant.key, {"work_type": None}
    )
    assert reply.status_code == 200
    assert reply.json["work_type"] is None
