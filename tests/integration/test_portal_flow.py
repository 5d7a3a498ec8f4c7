"""The Subcontractor Portal end to end: a company's admin activates, signs in, accepts work,
records notes, time, charges and a file, submits completion; the lead sees it all and approves;
the portal then shows the work read-only, printable and invoiced."""

from __future__ import annotations

import re

import requests

from tests.integration.conftest import Harness
from tests.integration.portal_support import add_company, upload_through_form

FUTURE = "2099-06-30T17:00:00Z"


def _lead_items(harness: Harness, key: str, ticket_id: str) -> list[dict[str, object]]:
    reply = harness.get(f"/v1/tickets/{ticket_id}/items", key)
    assert reply.status_code == 200, reply.body
    items: list[dict[str, object]] = reply.json["items"]
    return items


def test_a_company_works_a_ticket_from_acceptance_to_approval(harness: Harness) -> None:
    # Given a lead that outsourced a ticket, hourly, to a subcontractor whose admin signed in
    company = add_company(harness)
    oid = company.outsource(
        instructions="Bring a ladder",
        pricing={"type": "hourly", "amount": "80"},
        authorized_hours="4",
        complete_by=FUTURE,
    )
    admin = company.admin
    ticket_page = f"/portal/tickets/{oid}"

    # When the admin lists the work and opens the ticket
    listed = admin.get("/portal/")
    opened = admin.get(ticket_page)
    # Then the list links to it and the work order shows the terms and the end customer
    assert listed.status_code == 200 and ticket_page in listed.text
    assert opened.status_code == 200
    for shown in ("Bring a ladder", "Main St 1, 2nd floor", "Ann Smith", "Smith &amp; Co"):
        assert shown in opened.text
    assert "Accept the work" in opened.text

    # When the admin accepts it and records a note, time, a charge and a file
    accepted = admin.post(f"{ticket_page}/accept")
    assert admin.follow(accepted).text.count("You accepted the work") == 1
    for path, fields in (
        ("notes", {"text": "On site, switch replaced"}),
        ("time-entries", {"date": "2026-12-01", "hours_worked": "1.5", "summary": "Swap"}),
        ("charges", {"name": "Patch cable", "quantity": "2", "unit_price": "4", "billable": "on"}),
    ):
        assert admin.post(f"{ticket_page}/{path}", fields).status_code == 303
    declared = admin.post(
        f"{ticket_page}/attachments",
        {"file_name": "report.pdf", "content_type": "application/pdf", "size": "11"},
    )
    assert declared.status_code == 303
    upload_page = admin.follow(declared)
    posted = upload_through_form(upload_page, b"%PDF-report")
    # Then S3 sends the browser back to the ticket page, which shows everything
    assert posted.status_code == 303
    back = posted.headers["Location"]
    assert back.startswith(f"http://127.0.0.1:8000{ticket_page}?done=uploaded")
    shown = admin.get(ticket_page, done="uploaded", bucket="b", key="k", etag="e")
    assert "The file was uploaded." in shown.text
    for text in ("On site, switch replaced", "Patch cable", "1.50 h worked", "report.pdf"):
        assert text in shown.text
    # And the file downloads through a presigned link
    attachment_id = re.search(r"/attachments/([0-9A-Z]{26})/upload", declared.headers["Location"])
    assert attachment_id is not None
    download = admin.get(f"{ticket_page}/attachments/{attachment_id.group(1)}")
    assert download.status_code == 303
    assert requests.get(download.headers["Location"], timeout=10).content == b"%PDF-report"

    # When the changes travel, the lead sees them, and the lead's own note reaches the portal
    harness.pump.drain()
    lead_ticket = company.lead_tickets[oid]
    kinds = sorted(str(i["kind"]) for i in _lead_items(harness, company.lead.key, lead_ticket))
    assert kinds == ["attachment", "charge", "note", "time_entry"]
    lead_note = harness.post(
        f"/v1/tickets/{lead_ticket}/notes", company.lead.key, {"text": "Customer asks: 9am"}
    )
    assert lead_note.status_code == 201
    harness.pump.drain()
    assert "Customer asks: 9am" in admin.get(ticket_page).text

    # When the company submits completion and the lead approves
    assert admin.post(f"{ticket_page}/submit-completion").status_code == 303
    harness.pump.drain()
    approved = harness.post(f"/v1/outsourcings/{oid}/approve", company.lead.key)
    assert approved.status_code == 200, approved.body
    harness.pump.drain()

    # Then the portal shows the work complete and read-only, and adding to it is refused
    done = admin.get(ticket_page)
    assert "status-complete" in done.text and "read-only" in done.text
    assert "Add note" not in done.text
    refused = admin.post(f"{ticket_page}/notes", {"text": "one more"})
    assert refused.status_code == 409 and "read-only" in refused.text
    # And it still prints: the work order and the invoice (1.5 h x 80 + 2 x 4 = 128 USD)
    printed = admin.get(f"{ticket_page}/work-order")
    assert printed.status_code == 200 and "On site, switch replaced" in printed.text
    invoice = admin.get(f"{ticket_page}/invoice")
    assert invoice.status_code == 200
    assert "120.00 USD" in invoice.text and "128.00 USD" in invoice.text
