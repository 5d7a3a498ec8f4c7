"""Subcontractors as the lead manages them: adding a company (or linking an existing one), the
activation link shown once, permissions, isolation between leads, and ending a relationship."""

from __future__ import annotations

import json

from tests.integration.conftest import Harness, Tenant
from tests.integration.portal_support import (
    Browser,
    activate,
    add_company,
    sent_links,
    sign_in,
)


def _lead(harness: Harness) -> Tenant:
    lead = harness.create_tenant()
    harness.enable_outsourcing(lead)
    return lead


def _raw(harness: Harness) -> str:
    return json.dumps(harness.dynamodb().scan(TableName=harness.table_name)["Items"])


def test_adding_a_company_shows_its_activation_link_once_and_emails_it(harness: Harness) -> None:
    # Given a lead with outsourcing set up
    lead = _lead(harness)
    body = {"company_name": "Fixit Ltd", "admin_email": "Boss@Fixit.example"}
    headers = {"Idempotency-Key": "add-fixit"}
    # When it adds a subcontractor, and repeats the request
    first = harness.post("/v1/subcontractors", lead.key, body, headers=headers)
    again = harness.post("/v1/subcontractors", lead.key, body, headers=headers)
    # Then the company is added once, its admin email lower-cased, the link emailed and shown once
    assert first.status_code == again.status_code == 201
    url = first.json["activation_url"]
    assert url.startswith("http://127.0.0.1:8000/portal/activate?token=pl_")
    assert (first.json["admin_email"], first.json["status"]) == ("boss@fixit.example", "active")
    assert again.json == {**first.json, "activation_url": None}
    assert again.headers["Idempotent-Secrets-Withheld"] == "activation_url"
    assert sent_links("boss@fixit.example") == [url]
    listed = harness.get("/v1/subcontractors", lead.key).json["items"]
    assert [s["subcontractor_id"] for s in listed] == [first.json["subcontractor_id"]]
    # And the link's secret is stored nowhere, and works once
    secret = url.split("token=", 1)[1]
    assert secret not in _raw(harness) and secret[-20:] not in _raw(harness)
    assert activate(harness, url).status_code == 303
    used = Browser(harness).get("/portal/activate", token=secret)
    assert used.status_code == 422  # a used link is refused
    assert sign_in(harness, "BOSS@fixit.example").signed_in


def test_a_second_lead_adding_the_same_admin_links_the_existing_company(harness: Harness) -> None:
    # Given a company working for one lead
    company = add_company(harness, name="Fixit Ltd")
    other_lead = _lead(harness)
    # When another lead adds a subcontractor with the same admin email
    reply = harness.post(
        "/v1/subcontractors",
        other_lead.key,
        {"company_name": "A name of their own", "admin_email": company.admin_email.upper()},
    )
    # Then it is linked to the same company (its name kept), with no activation link
    assert reply.status_code == 201, reply.body
    assert reply.json["activation_url"] is None
    assert reply.json["company_name"] == "Fixit Ltd"
    assert reply.json["subcontractor_id"] != company.subcontractor_id
    # And each lead sees only its own relationship
    for lead, expected in ((company.lead, company.subcontractor_id), (other_lead, None)):
        ids = [
            s["subcontractor_id"] for s in harness.get("/v1/subcontractors", lead.key).json["items"]
        ]
        assert len(ids) == 1 and (expected is None or ids == [expected])
    mine = f"/v1/subcontractors/{company.subcontractor_id}"
    assert harness.get(mine, other_lead.key).status_code == 404
    gone = harness.post(f"{mine}/deactivate", other_lead.key)
    assert gone.status_code == 404
    assert harness.get(mine, company.lead.key).json["status"] == "active"


def test_a_colleagues_email_cannot_stand_for_a_new_company(harness: Harness) -> None:
    company = add_company(harness, name="Fixit Ltd")
    company.colleague("Tom Tech")
    reply = harness.post(
        "/v1/subcontractors",
        _lead(harness).key,
        {"company_name": "Tom's own", "admin_email": "tom.tech@fixitltd.example"},
    )
    assert (reply.status_code, reply.error_code) == (409, "email_in_use")


def test_adding_needs_partner_management_and_the_agreement(harness: Harness) -> None:
    lead = harness.create_tenant()
    body = {"company_name": "Fixit Ltd", "admin_email": "boss@fixit.example"}
    refused = harness.post("/v1/subcontractors", lead.key, body)
    assert (refused.status_code, refused.error_code) == (422, "agreement_required")
    harness.enable_outsourcing(lead)
    weak = harness.post("/v1/api-keys", lead.key, {"name": "w", "permission": "outsource"}).json
    denied = harness.post("/v1/subcontractors", weak["api_key"], body)
    assert denied.status_code == 403
    assert harness.get("/v1/subcontractors", lead.key).json["items"] == []


def test_an_ended_relationship_takes_no_new_work_and_open_work_goes_on(harness: Harness) -> None:
    # Given a company with one outsourcing assigned to it
    company = add_company(harness, name="Fixit Ltd")
    open_work = company.outsource()
    # When the lead ends the relationship
    ended = harness.post(
        f"/v1/subcontractors/{company.subcontractor_id}/deactivate", company.lead.key
    )
    assert (ended.status_code, ended.json["status"]) == (200, "inactive")
    again = harness.post(
        f"/v1/subcontractors/{company.subcontractor_id}/deactivate", company.lead.key
    )
    assert again.status_code == 409
    # Then no new ticket can be outsourced to it
    ticket = harness.create_ticket(company.lead)["ticket_id"]
    refused = harness.post(
        f"/v1/tickets/{ticket}/outsource",
        company.lead.key,
        {"subcontractor_id": company.subcontractor_id},
    )
    assert (refused.status_code, refused.error_code) == (422, "subcontractor_inactive")
    # And the open work can still be accepted and worked
    company.accept(open_work)
    assert harness.get(f"/v1/outsourcings/{open_work}", company.lead.key).json["status"] == (
        "in_progress"
    )
