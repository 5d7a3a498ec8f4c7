"""Tickets over HTTP: creation, numbering, edits, lists and the work order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Harness


def test_only_a_title_is_needed_and_defaults_apply(harness: Harness) -> None:
    tenant = harness.create_tenant(currency="EUR")
    ticket = harness.create_ticket(tenant, title="Mail server down")
    assert ticket["title"] == "Mail server down"
    assert ticket["priority"] == "medium"
    assert ticket["status"] == "new"
    assert ticket["source"] == "local"
    assert ticket["currency"] == "EUR"
    assert ticket["original_number"] is None


def test_numbers_are_per_tenant_and_count_up_per_day(harness: Harness) -> None:
    a, b = harness.create_tenant(), harness.create_tenant()
    today = datetime.now(UTC).strftime("%Y%m%d")
    first = harness.create_ticket(a)["number"]
    second = harness.create_ticket(a)["number"]
    other = harness.create_ticket(b)["number"]
    assert first == f"T{today}.0001"
    assert second == f"T{today}.0002"
    assert other == f"T{today}.0001"


def test_all_fields_round_trip(harness: Harness) -> None:
    tenant = harness.create_tenant()
    fields = {
        "title": "Replace switch",
        "description": "Core switch in rack 2",
        "priority": "critical",
        "status": "in_progress",
        "queue": "Network",
        "complete_by": "2026-12-01T17:00:00Z",
        "organization": "Contoso",
        "contact": "Jane Roe",
        "site": "Berlin HQ",
    }
    created = harness.create_ticket(tenant, **fields)
    fetched = harness.get(f"/v1/tickets/{created['ticket_id']}", tenant.key).json
    for name, value in fields.items():
        if name == "complete_by":
            assert fetched[name] == "2026-12-01T17:00:00.000Z"
        else:
            assert fetched[name] == value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": 5}, "title"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "status": "closed"}, "status"),
        ({"title": "ok", "complete_by": "tomorrow"}, "complete_by"),
        ({"title": "ok", "queue": ["a"]}, "queue"),
        ({"title": "ok", "description": "x" * 8001}, "description"),
        ({"title": "ok", "colour": "red"}, "colour"),
        ({"title": "ok", "ticket_id": "01HXXXXXXXXXXXXXXXXXXXXXXX"}, "ticket_id"),
    ],
)
def test_bad_ticket_input_is_a_400_naming_the_field(
    harness: Harness, body: dict[str, object], field: str
) -> None:
    tenant = harness.create_tenant()
    reply = harness.post("/v1/tickets", tenant.key, body)
    assert reply.status_code == 400, reply.body
    assert reply.json["error"]["code"] == "validation_error"
    assert reply.json["error"]["field"] == field


@pytest.mark.parametrize("raw", ['{"title": "x"', "[]", '"title"', "null", "{title: 1}", "\xff"])
def test_malformed_or_non_object_bodies_are_a_400(harness: Harness, raw: str) -> None:
    tenant = harness.create_tenant()
    reply = harness.request("POST", "/v1/tickets", key=tenant.key, raw=raw.encode("latin-1"))
    assert reply.status_code == 400
    assert reply.json["error"]["field"] == "body"


def test_an_oversize_body_is_a_413(harness: Harness) -> None:
    tenant = harness.create_tenant()
    raw = '{"title": "' + "x" * (1024 * 1024 + 10) + '"}'
    reply = harness.request("POST", "/v1/tickets", key=tenant.key, raw=raw)
    assert reply.status_code == 413
    assert reply.json["error"]["code"] == "too_large"


def test_a_non_json_content_type_is_refused_in_the_error_shape(harness: Harness) -> None:
    tenant = harness.create_tenant()
    reply = harness.request(
        "POST",
        "/v1/tickets",
        key=tenant.key,
        raw="title=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 415
    assert reply.json["error"]["code"] == "unsupported_media_type"


def test_patch_changes_only_the_given_fields_and_null_clears(harness: Harness) -> None:
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant, queue="Network", site="HQ", priority="low")
    path = f"/v1/tickets/{ticket['ticket_id']}"
    reply = harness.patch(path, tenant.key, {"priority": "high", "queue": None})
    assert reply.status_code == 200
    body = reply.json
    assert body["priority"] == "high"
    assert body["queue"] is None
    assert body["site"] == "HQ"
    assert body["version"] == ticket["version"] + 1
    assert harness.get(path, tenant.key).json == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"priority": None}, "priority"),
        ({"status": None}, "status"),
        ({"number": "T1"}, "number"),
        ({"source": "insourced"}, "source"),
    ],
)
def test_patch_refuses_bad_changes(harness: Harness, body: dict[str, object], field: str) -> None:
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant)
    reply = harness.patch(f"/v1/tickets/{ticket['ticket_id']}", tenant.key, body)
    assert reply.status_code == 400
    assert reply.json["error"]["field"] == field


def test_unknown_and_malformed_ticket_ids_are_404(harness: Harness) -> None:
    tenant = harness.create_tenant()
    assert harness.get("/v1/tickets/01HZZZZZZZZZZZZZZZZZZZZZZZ", tenant.key).status_code == 404
    reply = harness.get("/v1/tickets/not-an-id", tenant.key)
    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "not_found"


def _walk(harness: Harness, key: str, query: str) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        reply = harness.get(f"/v1/tickets?{query}{suffix}", key)
        assert reply.status_code == 200, reply.body
        pages.append([t["ticket_id"] for t in reply.json["items"]])
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return pages


def test_list_pages_through_every_ticket_once_newest_first(harness: Harness) -> None:
    tenant = harness.create_tenant()
    created = [harness.create_ticket(tenant, title=f"t{i}")["ticket_id"] for i in range(5)]
    pages = _walk(harness, tenant.key, "limit=2")
    flat = [ticket_id for page in pages for ticket_id in page]
    assert flat == list(reversed(created))
    assert all(len(page) <= 2 for page in pages)


def test_list_filters_by_status_and_queue(harness: Harness) -> None:
    tenant = harness.create_tenant()
    a = harness.create_ticket(tenant, status="new", queue="Network")["ticket_id"]
    b = harness.create_ticket(tenant, status="in_progress", queue="Network")["ticket_id"]
    c = harness.create_ticket(tenant, status="in_progress", queue="Desk")["ticket_id"]
    d = harness.create_ticket(tenant, status="new")["ticket_id"]

    def ids(query: str) -> set[str]:
        return {t for page in _walk(harness, tenant.key, query) for t in page}

    assert ids("status=new") == {a, d}
    assert ids("status=in_progress") == {b, c}
    assert ids("queue=Network") == {a, b}
    assert ids("status=in_progress&queue=Desk") == {c}
    harness.patch(f"/v1/tickets/{d}", tenant.key, {"status": "complete", "queue": "Desk"})
    assert ids("status=new") == {a}
    assert ids("status=complete") == {d}
    assert ids("queue=Desk") == {c, d}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=closed", "status"),
        ("cursor=%%%", "cursor"),
        ("cursor=eyJmb28iOiAxfQ", "cursor"),
        ("sort=title", "sort"),
        ("limit=1&limit=2", "limit"),
    ],
)
def test_bad_list_parameters_are_a_400(harness: Harness, query: str, field: str) -> None:
    tenant = harness.create_tenant()
    reply = harness.get(f"/v1/tickets?{query}", tenant.key)
    assert reply.status_code == 400, reply.body
    assert reply.json["error"]["field"] == field


def test_a_cursor_only_works_for_the_list_it_came_from(harness: Harness) -> None:
    a, b = harness.create_tenant(), harness.create_tenant()
    for _ in range(3):
        harness.create_ticket(a, status="new")
        harness.create_ticket(b)
    cursor = harness.get("/v1/tickets?limit=1", a.key).json["next_cursor"]
    assert cursor
    assert harness.get(f"/v1/tickets?cursor={cursor}", b.key).status_code == 400
    assert harness.get(f"/v1/tickets?status=new&cursor={cursor}", a.key).status_code == 400
    assert harness.get(f"/v1/tickets?cursor={cursor}", a.key).status_code == 200


def test_work_order_prints_the_ticket_without_internal_items(harness: Harness) -> None:
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant, title="<script>alert(1)</script> Router")
    base = f"/v1/tickets/{ticket['ticket_id']}"
    harness.post(f"{base}/notes", tenant.key, {"text": "Replaced the PSU"})
    harness.post(f"{base}/notes", tenant.key, {"text": "Customer is difficult", "internal": True})
    harness.post(f"{base}/time-entries", tenant.key, {"date": "2026-11-20", "hours_worked": "1.5"})
    harness.post(
        f"{base}/charges",
        tenant.key,
        {"name": "PSU", "quantity": "2", "unit_price": "40.00", "unit_cost": "25"},
    )
    reply = harness.get(f"{base}/work-order", tenant.key)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    html = reply.text
    assert ticket["number"] in html
    assert "Replaced the PSU" in html
    assert "Customer is difficult" not in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert re.search(r"80\.00\s+USD", html)
    assert "1.5" in html
