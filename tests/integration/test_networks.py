"""The network lane over HTTP: the Outsource Network list (validation naming the field,
permissions, the set-up it needs, isolation), and forwarding a ticket to an entry (one email
through SES with the rendered content, a link, or nothing; the internal note; the forwarded
record nothing can move; the ticket free at once; the daily mail limit; idempotency)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.container import reset_container
from chalicelib.domain.ids import new_id
from tests.bench.counting import count_dynamodb
from tests.integration.conftest import Harness, Reply
from tests.integration.network_support import (
    add_network,
    address,
    email_entry,
    forward,
    lead,
    notes,
    sent_to,
)


def _refused(reply: Reply, status: int, code: str, field: str | None = None) -> None:
    assert (reply.status_code, reply.error_code) == (status, code), reply.body
    if field is not None:
        assert reply.json["error"]["field"] == field, reply.body


# -- the list ---------------------------------------------------------------------------------


def test_entries_are_added_listed_read_and_changed_in_part(harness: Harness) -> None:
    # Given a lead with outsourcing set up
    tenant = lead(harness)
    # When it adds an email entry and a link entry
    mail = add_network(harness, tenant, email_entry(tenant, include_contact=True))
    link = add_network(
        harness,
        tenant,
        {"name": "Portal", "action": "link", "link_template": "https://v.example/new?t={title}"},
    )
    # Then both are listed, newest first, and each can be read
    listed = harness.get("/v1/networks", tenant.key).json
    assert [n["network_id"] for n in listed["items"]] == [link["network_id"], mail["network_id"]]
    assert listed["next_cursor"] is None
    one = harness.get(f"/v1/networks/{mail['network_id']}", tenant.key).json
    assert one == mail
    assert one["email"]["to"] == [address(tenant)]
    assert (one["active"], one["action"], one["organization"]) == (True, "email", "Vendor Inc")
    # When only the subject changes
    patched = harness.patch(
        f"/v1/networks/{mail['network_id']}", tenant.key, {"email": {"subject": "New {title}"}}
    )
    # Then the rest of the entry is as it was
    assert patched.status_code == 200, patched.body
    assert patched.json["email"] == {**mail["email"], "subject": "New {title}"}
    assert patched.json["name"] == "Vendor desk"
    # And a page of one has a cursor to the next
    first = harness.get("/v1/networks?limit=1", tenant.key).json
    second = harness.get(f"/v1/networks?limit=1&cursor={first['next_cursor']}", tenant.key).json
    assert [n["network_id"] for n in first["items"] + second["items"]] == [
        link["network_id"],
        mail["network_id"],
    ]


BAD_ENTRIES: list[tuple[dict[str, Any], str]] = [
    ({"to": ["not an address"]}, "email.to"),
    ({"to": ["a@b.example", "x@@y.example"]}, "email.to"),
    ({"to": ["victim@example.com\r\nBcc: all@example.com"]}, "email.to"),
    ({"to": [f"r{n}@vendor.example" for n in range(11)]}, "email.to"),
    ({"to": []}, "email.to"),
    ({"subject": "{__class__}"}, "email.subject"),
    ({"subject": "{title.__init__.__globals__}"}, "email.subject"),
    ({"subject": "{title!r}"}, "email.subject"),
    ({"subject": "{title:>99999}"}, "email.subject"),
    ({"subject": ""}, "email.subject"),
    ({"subject": "x" * 201}, "email.subject"),
    ({"body": "{0}"}, "email.body"),
    ({"body": "{}"}, "email.body"),
    ({"body": "{title:{description}}"}, "email.body"),
    ({"body": "unbalanced {title"}, "email.body"),
    ({"body": "unbalanced title}"}, "email.body"),
    ({"body": "{contact}"}, "email.body"),  # contact not included
    ({"body": "{attachments}"}, "email.body"),  # attachments not included
    ({"body": "{title}" * 2000}, "email.body"),  # 14,000 characters
]


@pytest.mark.parametrize(("email", "field"), BAD_ENTRIES)
def test_a_bad_email_entry_is_a_400_naming_the_field(
    harness: Harness, email: dict[str, Any], field: str
) -> None:
    tenant = lead(harness)
    reply = harness.post("/v1/networks", tenant.key, email_entry(tenant, **email))
    _refused(reply, 400, "validation_error", field)
    assert harness.get("/v1/networks", tenant.key).json["items"] == []


BAD_LINKS = [
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "{title}",
    "//evil.example/{title}",
    "ftp://files.example/{title}",
    "https://vendor.example{title}",  # the host must end before any placeholder
    "https://{site}.vendor.example/",
    "https://vendor.example:{title}/",
    "https://user@vendor.example/",
    "https://vendor.example/ {title}",
    "https://vendor.example/{ticket_number.real}",
    "https://vendor.example/{attachments}",  # download links never go into a URL
]


@pytest.mark.parametrize("template", BAD_LINKS)
def test_a_link_template_without_a_literal_scheme_and_host_is_refused(
    harness: Harness, template: str
) -> None:
    tenant = lead(harness)
    body = {"name": "Portal", "action": "link", "link_template": template}
    _refused(
        harness.post("/v1/networks", tenant.key, body), 400, "validation_error", "link_template"
    )


def test_a_change_must_leave_the_entry_valid_as_a_whole(harness: Harness) -> None:
    # Given an entry whose body uses the contact
    tenant = lead(harness)
    entry = add_network(
        harness, tenant, email_entry(tenant, include_contact=True, body="Call {contact}")
    )
    path = f"/v1/networks/{entry['network_id']}"
    # When a change would leave a template, or the action, without what it needs
    cases = [
        ({"email": {"include_contact": False}}, "email.body"),
        ({"action": "link"}, "link_template"),
        ({"email": None}, "email.to"),
        ({"email": {"to": []}}, "email.to"),
        ({"name": None}, "name"),
        ({"email": {"subject": None}}, "email.subject"),
        ({"link_template": "javascript:alert(1)"}, "link_template"),
        ({"colour": "red"}, "colour"),
    ]
    for body, field in cases:
        _refused(harness.patch(path, tenant.key, body), 400, "validation_error", field)
    # Then nothing changed
    assert harness.get(path, tenant.key).json == entry


def test_managing_the_list_needs_partner_management_and_outsourcing_set_up(
    harness: Harness,
) -> None:
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    path = f"/v1/networks/{entry['network_id']}"
    weak = harness.post("/v1/api-keys", tenant.key, {"name": "w", "permission": "outsource"}).json
    # A key that may outsource, but not manage partners, reads the list and changes nothing
    _refused(
        harness.post("/v1/networks", weak["api_key"], email_entry(tenant)), 403, "permission_denied"
    )
    _refused(harness.patch(path, weak["api_key"], {"name": "X"}), 403, "permission_denied")
    assert harness.get(path, weak["api_key"]).status_code == 200
    assert len(harness.get("/v1/networks", weak["api_key"]).json["items"]) == 1
    # A tenant without the agreement accepted adds none
    fresh = harness.create_tenant()
    _refused(harness.post("/v1/networks", fresh.key, email_entry(fresh)), 422, "agreement_required")
    # And switching outsourcing off stops changes too
    harness.request("PUT", "/v1/outsourcing/settings", key=tenant.key, json_body={"enabled": False})
    _refused(harness.patch(path, tenant.key, {"name": "X"}), 422, "outsourcing_disabled")


def test_another_tenants_unknown_or_malformed_entries_are_not_found(harness: Harness) -> None:
    owner, intruder = lead(harness), lead(harness)
    entry = add_network(harness, owner, email_entry(owner))
    ticket = harness.create_ticket(intruder)["ticket_id"]
    for network_id in (entry["network_id"], new_id(), "x", entry["network_id"].lower()):
        path = f"/v1/networks/{network_id}"
        _refused(harness.get(path, intruder.key), 404, "not_found")
        _refused(harness.patch(path, intruder.key, {"name": "Mine"}), 404, "not_found")
        _refused(forward(harness, intruder, ticket, network_id), 404, "not_found")
    assert harness.get("/v1/networks", intruder.key).json["items"] == []
    assert harness.get(f"/v1/networks/{entry['network_id']}", owner.key).json == entry
    assert sent_to(address(owner)) == []


# -- forwarding ---------------------------------------------------------------------------------


def test_forwarding_by_email_sends_one_email_and_notes_it(harness: Harness) -> None:
    # Given a ticket whose title tries to add a header line, and an email entry with the contact
    tenant = lead(harness)
    entry = add_network(
        harness,
        tenant,
        email_entry(
            tenant,
            include_contact=True,
            body="{{Ticket}} {ticket_number} ({priority}) at {site} for {organization}\n"
            "{description}\nContact: {contact}\nDue {complete_by}\n{instructions}",
        ),
    )
    ticket = harness.create_ticket(
        tenant,
        title="Printer\r\nBcc: all@example.com",
        description="Paper jam {title} {{x}}",
        priority="high",
        site="Main St",
        organization="Customer Co",
        contact="Ann, 555-0100",
    )
    # When the lead forwards it with instructions
    reply = forward(
        harness,
        tenant,
        ticket["ticket_id"],
        entry["network_id"],
        terms={"instructions": "Bring toner", "complete_by": "2099-01-01T00:00:00Z"},
    )
    # Then it is forwarded at once, without a link
    assert reply.status_code == 201, reply.body
    body = reply.json
    assert (body["status"], body["lane"], body["link"]) == ("forwarded", "network", None)
    assert body["counterpart"]["tenant_name"] == "Vendor desk"
    # And exactly one email went out, the subject on one line, the values as plain text
    sent = sent_to(address(tenant))
    assert len(sent) == 1
    number = ticket["number"]
    assert sent[0].subject == f"Ticket {number}: Printer Bcc: all@example.com"
    assert sent[0].body == (
        f"{{Ticket}} {number} (high) at Main St for Customer Co\nPaper jam {{title}} {{{{x}}}}\n"
        "Contact: Ann, 555-0100\nDue 2099-01-01T00:00:00.000Z\nBring toner"
    )
    # And the lead's ticket has an internal note saying what was sent, to whom, when
    (note,) = notes(harness, tenant, ticket["ticket_id"])
    assert note["internal"] is True
    assert note["text"].startswith('Forwarded to the network "Vendor desk" (Vendor Inc) at ')
    assert f"Email sent to {address(tenant)}." in note["text"]
    assert f"Subject: Ticket {number}: Printer Bcc: all@example.com" in note["text"]
    assert "Contact: Ann, 555-0100" in note["text"]
    # And the record is forwarded, with one history entry, on the lead's dashboards
    record = harness.get(f"/v1/outsourcings/{body['outsourcing_id']}", tenant.key).json
    assert (record["status"], record["lane"], record["lead_ticket_id"]) == (
        "forwarded",
        "network",
        ticket["ticket_id"],
    )
    assert [(h["event"], h["to_status"]) for h in record["history"]] == [("forward", "forwarded")]
    listed = harness.get("/v1/outsourcings?side=lead&status=forwarded", tenant.key).json
    assert [o["outsourcing_id"] for o in listed["items"]] == [body["outsourcing_id"]]
    summary = harness.get("/v1/outsourcings/summary?side=lead", tenant.key).json
    assert (summary["counts"]["forwarded"], summary["open"], summary["total"]) == (1, 0, 1)


def test_nothing_moves_a_forwarded_outsourcing_and_the_ticket_is_free_at_once(
    harness: Harness,
) -> None:
    # Given a ticket forwarded to an entry with action none
    tenant, service = lead(harness), harness.create_tenant()
    partnership = harness.partner(tenant, service)
    entry = add_network(harness, tenant, {"name": "Phone list", "action": "none"})
    ticket = harness.create_ticket(tenant)["ticket_id"]
    forwarded = forward(harness, tenant, ticket, entry["network_id"])
    assert forwarded.status_code == 201, forwarded.body
    outsourcing_id = forwarded.json["outsourcing_id"]
    # When anyone tries any transition on it
    for event, body in [
        ("cancel", None),
        ("approve", None),
        ("complete", None),
        ("reject", {"reason": "no"}),
        ("recall", {"reason": "no"}),
        ("accept", None),
        ("decline", {"reason": "no"}),
        ("submit-completion", None),
    ]:
        reply = harness.post(f"/v1/outsourcings/{outsourcing_id}/{event}", tenant.key, body)
        # Then each is an invalid transition
        _refused(reply, 409, "invalid_transition")
        _refused(
            harness.post(f"/v1/outsourcings/{outsourcing_id}/{event}", service.key, body),
            404,
            "not_found",
        )
    # And the note says nothing was sent, the ticket shows no open outsourcing
    (note,) = notes(harness, tenant, ticket)
    assert 'Nothing was sent: the action of this entry is "none".' in note["text"]
    assert harness.get(f"/v1/tickets/{ticket}", tenant.key).json["outsourcing"] is None
    # And the ticket can be forwarded again, then outsourced to a partner straight away
    assert forward(harness, tenant, ticket, entry["network_id"]).status_code == 201
    assert harness.outsource(tenant, ticket, partnership)["status"] == "assigned"
    # While that one is open, forwarding is refused like any other outsourcing
    _refused(forward(harness, tenant, ticket, entry["network_id"]), 409, "already_outsourced")
    assert (
        harness.get("/v1/outsourcings/summary?side=lead", tenant.key).json["counts"]["forwarded"]
        == 2
    )


def test_a_link_entry_returns_the_rendered_link_and_sends_nothing(harness: Harness) -> None:
    tenant = lead(harness)
    entry = add_network(
        harness,
        tenant,
        {
            "name": "Vendor portal",
            "action": "link",
            "link_template": "https://vendor.example/new?n={ticket_number}&t={title}#{site}",
            "email": {"to": [address(tenant)], "subject": "unused"},
        },
    )
    ticket = harness.create_ticket(tenant, title="a/b?c=d&e#f @evil.example", site="x y")
    reply = forward(harness, tenant, ticket["ticket_id"], entry["network_id"])
    assert reply.status_code == 201, reply.body
    expected = (
        f"https://vendor.example/new?n={ticket['number']}"
        "&t=a%2Fb%3Fc%3Dd%26e%23f%20%40evil.example#x%20y"
    )
    assert (reply.json["status"], reply.json["link"]) == ("forwarded", expected)
    assert sent_to(address(tenant)) == []
    (note,) = notes(harness, tenant, ticket["ticket_id"])
    assert expected in note["text"] and note["internal"] is True


def test_an_inactive_entry_takes_nothing(harness: Harness) -> None:
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    off = harness.patch(f"/v1/networks/{entry['network_id']}", tenant.key, {"active": False})
    assert off.json["active"] is False
    ticket = harness.create_ticket(tenant)["ticket_id"]
    _refused(forward(harness, tenant, ticket, entry["network_id"]), 422, "network_inactive")
    assert sent_to(address(tenant)) == []
    assert notes(harness, tenant, ticket) == []
    assert harness.get("/v1/outsourcings?side=lead", tenant.key).json["items"] == []


def test_terms_are_checked_and_accept_by_means_nothing_here(harness: Harness) -> None:
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant)["ticket_id"]
    for terms, status, code, field in [
        ({"accept_by": "2099-01-01T00:00:00Z"}, 422, "accept_by_not_applicable", "terms.accept_by"),
        ({"complete_by": "2001-01-01T00:00:00Z"}, 422, "deadline_in_past", "terms.complete_by"),
        ({"pricing": {"type": "weekly"}}, 400, "validation_error", "terms.pricing.type"),
    ]:
        reply = forward(harness, tenant, ticket, entry["network_id"], terms=terms)
        _refused(reply, status, code, field)
    assert sent_to(address(tenant)) == []
    assert harness.get("/v1/outsourcings?side=lead", tenant.key).json["items"] == []


def test_past_the_days_emails_forwarding_is_refused_and_nothing_recorded(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment allowing one email per tenant per day
    monkeypatch.setenv("MAIL_PER_TENANT_PER_DAY", "1")
    reset_container()
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant)["ticket_id"]
    assert forward(harness, tenant, ticket, entry["network_id"]).status_code == 201
    # When it forwards again
    again = forward(harness, tenant, ticket, entry["network_id"])
    # Then the limit refuses it, and only the first is sent and recorded
    _refused(again, 422, "email_limit_reached")
    assert len(sent_to(address(tenant))) == 1
    assert len(notes(harness, tenant, ticket)) == 1
    assert len(harness.get("/v1/outsourcings?side=lead", tenant.key).json["items"]) == 1


def test_a_failed_send_records_nothing(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a sender SES does not know (it refuses to send)
    monkeypatch.setenv("MAIL_FROM", "unverified@nowhere.example")
    reset_container()
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant)["ticket_id"]
    # When the lead forwards
    reply = forward(harness, tenant, ticket, entry["network_id"])
    # Then it is a clear error, and there is no record, no note, no email
    _refused(reply, 422, "email_not_sent")
    assert sent_to(address(tenant)) == []
    assert notes(harness, tenant, ticket) == []
    assert harness.get("/v1/outsourcings?side=lead", tenant.key).json["items"] == []


def test_a_repeated_request_with_the_same_key_forwards_once(harness: Harness) -> None:
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant)["ticket_id"]
    key = {"Idempotency-Key": f"fwd-{ticket}"}
    first = forward(harness, tenant, ticket, entry["network_id"], headers=key)
    again = forward(harness, tenant, ticket, entry["network_id"], headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == first.json
    assert len(sent_to(address(tenant))) == 1
    assert len(notes(harness, tenant, ticket)) == 1


def test_forwarding_needs_outsource_permission_and_the_set_up(harness: Harness) -> None:
    tenant = lead(harness)
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant)["ticket_id"]
    low = harness.post("/v1/api-keys", tenant.key, {"name": "l", "permission": "none"}).json
    body = {"network_id": entry["network_id"]}
    reply = harness.post(f"/v1/tickets/{ticket}/outsource", low["api_key"], body)
    _refused(reply, 403, "permission_denied")
    harness.request("PUT", "/v1/outsourcing/settings", key=tenant.key, json_body={"enabled": False})
    _refused(forward(harness, tenant, ticket, entry["network_id"]), 422, "outsourcing_disabled")
    assert sent_to(address(tenant)) == []


def test_a_page_of_the_list_is_one_query_and_a_forward_is_one_transaction(
    harness: Harness,
) -> None:
    # Given a lead with a few entries (one of them an email entry) and a ticket with items
    tenant = lead(harness)
    for n in range(4):
        add_network(harness, tenant, {"name": f"Entry {n}", "action": "none"})
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant)["ticket_id"]
    for text in ("a", "b", "c"):
        harness.post(f"/v1/tickets/{ticket}/notes", tenant.key, {"text": text})
    harness.get("/v1/networks", tenant.key)  # the key is verified (and cached) first
    # When it reads a page of the list, and forwards the ticket by email
    with count_dynamodb() as listing:
        page = harness.get("/v1/networks?limit=2", tenant.key)
    with count_dynamodb() as forwarding:
        forwarded = forward(harness, tenant, ticket, entry["network_id"])
    # Then the page is one Query, and the forward one transaction and the mail counter
    assert page.status_code == 200 and len(page.json["items"]) == 2
    assert (listing.calls["Query"], listing.scans, listing.writes) == (1, 0, 0)
    assert forwarded.status_code == 201, forwarded.body
    assert forwarding.calls["TransactWriteItems"] == 1
    assert forwarding.writes == 2 and forwarding.scans == 0


def test_the_forwarding_note_never_reaches_a_partner_who_takes_the_ticket_later(
    harness: Harness,
) -> None:
    # Given a ticket forwarded by email, then outsourced to a service partner who accepts it
    tenant, service = lead(harness), harness.create_tenant()
    partnership = harness.partner(tenant, service)
    entry = add_network(harness, tenant, email_entry(tenant))
    ticket = harness.create_ticket(tenant, description="Toner")["ticket_id"]
    assert forward(harness, tenant, ticket, entry["network_id"]).status_code == 201
    harness.post(f"/v1/tickets/{ticket}/notes", tenant.key, {"text": "Shared with the partner"})
    oid = harness.outsource(tenant, ticket, partnership)["outsourcing_id"]
    accepted = harness.post(f"/v1/outsourcings/{oid}/accept", service.key)
    assert accepted.status_code == 200, accepted.body
    harness.pump.drain()
    # Then the partner sees the shared note only: not the lead's record of the forwarding
    insourced = accepted.json["insourced_ticket_id"]
    items = harness.get(f"/v1/tickets/{insourced}/items", service.key).json["items"]
    assert [i.get("text") for i in items] == ["Shared with the partner"]
    rows = harness.dynamodb().scan(TableName=harness.table_name)["Items"]
    holding = [r["pk"]["S"] for r in rows if "Forwarded to the network" in json.dumps(r)]
    # (the note, and the lead's own change feed entry of it)
    assert holding and all(pk.startswith(f"T#{tenant.tenant_id}#") for pk in holding)
