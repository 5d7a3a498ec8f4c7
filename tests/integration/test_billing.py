"""Fee plans and billing over HTTP: the operator's fee plan, a month's fees with its total in
pages, the CSV export, a tenant's own fees, and who may read what."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.service import fees as fee_service
from tests.integration.conftest import OPERATOR_KEY, Harness, Tenant
from tests.integration.fee_support import (
    NOVEMBER_DAY,
    Work,
    accept,
    assign,
    bill,
    set_plan,
    whole_bill,
)

PLAN_PATH = "/v1/admin/tenants/{}/fee-plan"


def _metered(harness: Harness, lead: Tenant, *names: str) -> list[Work]:
    """One accepted outsourcing per company name, an hour apart, metered by the stream."""
    works = [assign(harness, lead, company_name=name) for name in names]
    for hours, work in enumerate(works):
        accept(work, NOVEMBER_DAY + timedelta(hours=hours))
    harness.pump.drain()
    return works


def _own_fees(harness: Harness, tenant: Tenant, query: str = "month=2026-11") -> Any:
    reply = harness.get(f"/v1/outsourcing/fees?{query}", tenant.key)
    assert reply.status_code == 200, reply.body
    return reply.json


# -- fee plans -----------------------------------------------------------------------------------


def test_the_operator_sets_replaces_and_reads_a_fee_plan(harness: Harness) -> None:
    # Given a tenant without a fee plan
    tenant = harness.create_tenant()
    path = PLAN_PATH.format(tenant.tenant_id)
    missing = harness.get(path, OPERATOR_KEY)
    assert (missing.status_code, missing.error_code) == (404, "fee_plan_not_set")
    # When the operator sets one (amount as a string), then replaces it (amount as a number)
    first = set_plan(harness, tenant, "12.5", "EUR")
    assert first.status_code == 200, first.body
    assert {k: first.json[k] for k in ("tenant_id", "amount", "currency")} == {
        "tenant_id": tenant.tenant_id,
        "amount": "12.50",
        "currency": "EUR",
    }
    second = set_plan(harness, tenant, 0.0001, "USD")
    assert second.status_code == 200, second.body
    # Then the tenant's plan is the latest, with when it was set
    read = harness.get(path, OPERATOR_KEY)
    assert read.status_code == 200
    assert read.json == second.json
    assert (read.json["amount"], read.json["currency"]) == ("0.0001", "USD")
    assert read.json["set_at"].endswith("Z")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-1", "currency": "EUR"}, "amount"),
        ({"amount": "1.23456", "currency": "EUR"}, "amount"),
        ({"amount": "ten", "currency": "EUR"}, "amount"),
        ({"amount": "NaN", "currency": "EUR"}, "amount"),
        ({"amount": True, "currency": "EUR"}, "amount"),
        ({"amount": "1", "currency": "eur"}, "currency"),
        ({"amount": "1", "currency": "EURO"}, "currency"),
        ({"currency": "EUR"}, "amount"),
        ({"amount": "1"}, "currency"),
        ({"amount": "1", "currency": "EUR", "extra": 1}, "extra"),
    ],
)
def test_a_fee_plan_that_is_not_a_price_is_a_400_naming_the_field(
    harness: Harness, body: dict[str, Any], field: str
) -> None:
    tenant = harness.create_tenant()
    reply = harness.request(
        "PUT", PLAN_PATH.format(tenant.tenant_id), key=OPERATOR_KEY, json_body=body
    )
    assert (reply.status_code, reply.error_code) == (400, "validation_error"), reply.body
    assert reply.json["error"]["field"] == field
    assert harness.get(PLAN_PATH.format(tenant.tenant_id), OPERATOR_KEY).status_code == 404


@pytest.mark.parametrize("tenant_id", ["01HZZZZZZZZZZZZZZZZZZZZZZZ", "nope"])
def test_a_fee_plan_of_an_unknown_tenant_is_a_404(harness: Harness, tenant_id: str) -> None:
    body = {"amount": "1", "currency": "EUR"}
    path = PLAN_PATH.format(tenant_id)
    assert harness.request("PUT", path, key=OPERATOR_KEY, json_body=body).status_code == 404
    assert harness.get(path, OPERATOR_KEY).status_code == 404


def test_only_the_operator_sets_or_reads_fee_plans(harness: Harness) -> None:
    # Given a tenant with its own 'all' key
    tenant = harness.create_tenant()
    path = PLAN_PATH.format(tenant.tenant_id)
    body = {"amount": "0", "currency": "EUR"}
    # Then its own key is refused (403), and no key is a 401
    assert harness.request("PUT", path, key=tenant.key, json_body=body).status_code == 403
    assert harness.get(path, tenant.key).status_code == 403
    assert harness.request("PUT", path, key=None, json_body=body).status_code == 401
    assert harness.get(path, None).status_code == 401
    assert harness.get(path, OPERATOR_KEY).status_code == 404  # still no plan


# -- billing as JSON -----------------------------------------------------------------------------


def test_billing_pages_the_month_and_every_page_carries_the_months_total(
    harness: Harness,
) -> None:
    # Given three metered acceptances in November
    lead = harness.create_tenant()
    set_plan(harness, lead, "4.1", "GBP")
    works = _metered(harness, lead, "A Ltd", "B Ltd", "C Ltd")
    # When the operator reads the month a page of one at a time
    pages: list[Any] = []
    cursor = ""
    while True:
        reply = bill(harness, lead, query=f"&limit=1&cursor={cursor}" if cursor else "&limit=1")
        assert reply.status_code == 200, reply.body
        pages.append(reply.json)
        cursor = reply.json["next_cursor"]
        if not cursor:
            break
    # Then each fee is on one page, oldest first, and each page carries the whole month's total
    seen = [fee["outsourcing_id"] for page in pages for fee in page["items"]]
    assert seen == [w.outsourcing_id for w in works]
    assert {str(page["total"]) for page in pages} == {
        str({"count": 3, "amount": "12.30", "currency": "GBP"})
    }


def test_a_tenants_fees_route_shows_its_own_fees_only(harness: Harness) -> None:
    # Given two leads, each with metered acceptances
    first, second = harness.create_tenant("First IT"), harness.create_tenant("Second IT")
    set_plan(harness, first, "1", "USD")
    set_plan(harness, second, "2", "USD")
    mine = _metered(harness, first, "Alpha", "Beta")
    theirs = _metered(harness, second, "Gamma")
    # When each reads its own fees of the month
    own = _own_fees(harness, first)
    other = _own_fees(harness, second)
    # Then each sees exactly its own, with its own total, as the operator's bill shows them
    assert [f["outsourcing_id"] for f in own["items"]] == [w.outsourcing_id for w in mine]
    assert [f["outsourcing_id"] for f in other["items"]] == [w.outsourcing_id for w in theirs]
    assert own["total"] == {"count": 2, "amount": "2.00", "currency": "USD"}
    assert other["total"] == {"count": 1, "amount": "2.00", "currency": "USD"}
    assert own == bill(harness, first).json
    # And a tenant cannot name another tenant on its route
    spoofed = harness.get(
        f"/v1/outsourcing/fees?month=2026-11&tenant_id={second.tenant_id}", first.key
    )
    assert (spoofed.status_code, spoofed.error_code) == (400, "validation_error")


def test_a_tenants_own_fees_default_to_the_current_month(harness: Harness) -> None:
    # Given work accepted now, and work accepted in November 2026
    lead = harness.create_tenant()
    now, november = assign(harness, lead), assign(harness, lead)
    accept(now, utcnow())
    accept(november, NOVEMBER_DAY)
    harness.pump.drain()
    # When the tenant reads its fees without naming a month
    body = _own_fees(harness, lead, "")
    # Then it gets this month's
    assert body["month"] == f"{utcnow():%Y-%m}"
    assert [f["outsourcing_id"] for f in body["items"]] == [now.outsourcing_id]


def test_billing_is_the_operators_and_own_fees_need_the_all_permission(
    harness: Harness,
) -> None:
    # Given a tenant with an 'all' key and a key that may only outsource
    tenant = harness.create_tenant()
    weak = harness.post("/v1/api-keys", tenant.key, {"name": "w", "permission": "outsource"})
    assert weak.status_code == 201, weak.body
    billing = f"/v1/billing/fees?tenant_id={tenant.tenant_id}&month=2026-11"
    own = "/v1/outsourcing/fees?month=2026-11"
    # Then billing refuses the tenant's key (403) and no key (401)
    assert harness.get(billing, tenant.key).status_code == 403
    assert harness.get(billing, None).status_code == 401
    assert harness.get(billing, OPERATOR_KEY).status_code == 200
    # And a tenant's own fees need its 'all' key: not a lower one, no key, or the operator's
    assert harness.get(own, weak.json["api_key"]).status_code == 403
    assert harness.get(own, None).status_code == 401
    assert harness.get(own, OPERATOR_KEY).status_code == 401
    assert harness.get(own, tenant.key).status_code == 200


def test_bad_months_unknown_tenants_and_foreign_cursors_are_refused_never_a_500(
    harness: Harness,
) -> None:
    # Given two tenants with two fees each in November, and one in December
    lead, other = harness.create_tenant(), harness.create_tenant()
    _metered(harness, lead, "A", "B")
    _metered(harness, other, "C", "D")
    december = assign(harness, lead)
    accept(december, NOVEMBER_DAY + timedelta(days=30))
    harness.pump.drain()
    november_cursor = bill(harness, lead, query="&limit=1").json["next_cursor"]
    others_cursor = bill(harness, other, query="&limit=1").json["next_cursor"]
    own_cursor = _own_fees(harness, lead, "month=2026-11&limit=1")["next_cursor"]
    assert november_cursor and others_cursor and own_cursor
    base = f"/v1/billing/fees?tenant_id={lead.tenant_id}"
    refused = {
        # not calendar months
        f"{base}&month=2026-13": 400,
        f"{base}&month=2026-00": 400,
        f"{base}&month=abc": 400,
        f"{base}&month=0000-01": 400,
        f"{base}&month=2026-1": 400,
        base: 400,
        "/v1/billing/fees?month=2026-11": 400,
        # tenants that do not exist (or cannot)
        "/v1/billing/fees?tenant_id=01HZZZZZZZZZZZZZZZZZZZZZZZ&month=2026-11": 404,
        "/v1/billing/fees?tenant_id=x&month=2026-11": 404,
        # cursors of another month or another tenant
        f"{base}&month=2026-12&cursor={november_cursor}": 400,
        f"{base}&month=2026-11&cursor={others_cursor}": 400,
        f"{base}&month=2026-11&cursor=abc": 400,
        # formats there are not, and a cursor for the whole-month export
        f"{base}&month=2026-11&format=xml": 400,
        f"{base}&month=2026-11&format=csv&cursor={november_cursor}": 400,
        f"{base}&month=2026-11&limit=101": 400,
    }
    answered = {path: harness.get(path, OPERATOR_KEY).status_code for path in refused}
    assert answered == refused
    # And on a tenant's own route, the same months and another tenant's cursor are refused
    for query in ("month=2026-13", "month=abc", f"month=2026-11&cursor={others_cursor}"):
        reply = harness.get(f"/v1/outsourcing/fees?{query}", lead.key)
        assert (reply.status_code, reply.error_code) == (400, "validation_error"), query
    reply = harness.get(f"/v1/outsourcing/fees?month=2026-11&cursor={own_cursor}", other.key)
    assert reply.status_code == 400


# -- the CSV export ------------------------------------------------------------------------------


def test_the_csv_export_opens_as_csv_with_its_total_and_neutralised_formulas(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a month of fees, one for a company whose name looks like a formula, one with a quote,
    # a comma and a line break in its name, read by the export two at a time
    monkeypatch.setattr(fee_service, "EXPORT_PAGE", 2)
    lead = harness.create_tenant()
    set_plan(harness, lead, "9.99", "EUR")
    evil = '=HYPERLINK("http://evil.example","Click")'
    odd = 'Smith, "Q" & Sons\nField Service'
    works = _metered(harness, lead, evil, odd, "Müller Technik", "-1+1")
    # When the operator exports the month
    reply = bill(harness, lead, query="&format=csv")
    # Then it is a CSV attachment named after the tenant and the month
    assert reply.status_code == 200, reply.body
    headers = {name.lower(): value for name, value in reply.headers.items()}
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-disposition"] == (
        f'attachment; filename="fees-{lead.tenant_id}-2026-11.csv"'
    )
    assert reply.body.count(b"\r\n") >= 6
    rows = list(csv.DictReader(io.StringIO(reply.body.decode("utf-8"), newline="")))
    # With every fee of the month in order, the names as text, and a total that adds up
    fees, totals = rows[:-1], rows[-1:]
    assert [r["outsourcing_id"] for r in fees] == [w.outsourcing_id for w in works]
    assert [r["company_name"] for r in fees] == ["'" + evil, odd, "Müller Technik", "'-1+1"]
    assert [(r["record"], r["count"], r["amount"], r["currency"]) for r in totals] == [
        ("total", "4", "39.96", "EUR")
    ]
    assert sum(Decimal(r["amount"]) for r in fees) == Decimal(totals[0]["amount"])
    assert whole_bill(harness, lead)[0]["company_name"] == evil  # JSON keeps the name as it is


def test_the_openapi_document_describes_billing_as_json_or_csv(harness: Harness) -> None:
    document = harness.get("/v1/openapi.json", None).json
    operation = document["paths"]["/v1/billing/fees"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FeeStatementOut"
    }
    assert {"400", "401", "403", "404"} <= set(operation["responses"])
    own = document["paths"]["/v1/outsourcing/fees"]["get"]
    assert {"400", "401", "403"} <= set(own["responses"])
