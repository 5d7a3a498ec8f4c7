"""Notifications through the real stream handler and moto's SES: one email to the other side per
transition, to the addresses the settings name (default: the primary contact), never a second
one for a replayed, retried or re-read stream, and a log each tenant reads about its own work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.ports import NotificationRepository
from chalicelib.service import outsourcing as service
from tests.integration.conftest import Harness, Tenant
from tests.integration.portal_support import add_company, sign_in
from tests.integration.sync_support import deliver, replay_whole_stream, stream_records
from tests.integration.test_outsourcing_lifecycle import (
    Deal,
    _outsource,
    _outsource_with_passed_deadline,
    _partners,
)
from tests.notification_contract import NotificationRepositoryContract


def outbox() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def mail_to(address: str) -> list[Any]:
    return [m for m in outbox() if address in m.destinations.get("ToAddresses", [])]


def subjects_to(address: str) -> list[str]:
    return [m.subject for m in mail_to(address)]


def contact(tenant: Tenant) -> str:
    return get_container().tenants.get(tenant.tenant_id).contact_email


def log(harness: Harness, tenant: Tenant, side: str = "lead", **query: Any) -> list[dict[str, Any]]:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    reply = harness.get(f"/v1/notifications?side={side}{extra}", tenant.key)
    assert reply.status_code == 200, reply.body
    items: list[dict[str, Any]] = reply.json["items"]
    return items


def _deal(harness: Harness, *path: str) -> Deal:
    lead, partner, partnership_id = _partners(harness)
    deal = _outsource(harness, lead, partner, partnership_id, *path, title="Backup failed")
    harness.pump.drain()
    return deal


# Each walk through the transition table: the events in order, and who is told about each.
WALKS: dict[str, list[tuple[str, str]]] = {
    "approved": [
        ("accept", "lead"),
        ("submit-completion", "lead"),
        ("reject", "receiver"),
        ("submit-completion", "lead"),
        ("approve", "receiver"),
    ],
    "declined": [("decline", "lead")],
    "canceled": [("cancel", "receiver")],
    "recalled": [("accept", "lead"), ("recall", "receiver")],
    "completed": [("accept", "lead"), ("complete", "receiver")],
}
HEADLINE = {
    "accept": "was accepted",
    "decline": "was declined",
    "submit-completion": "was submitted for approval",
    "approve": "was approved",
    "reject": "was rejected and is back in progress",
    "complete": "was completed",
    "recall": "was recalled",
    "cancel": "was canceled",
}


@pytest.mark.parametrize("walk", sorted(WALKS))
def test_every_transition_emails_the_other_side_once(harness: Harness, walk: str) -> None:
    # Given an outsourcing to a partner: the partner's contact was told it is assigned
    deal = _deal(harness)
    lead_mail, partner_mail = contact(deal.lead), contact(deal.partner)
    assert subjects_to(partner_mail) == ["Outsourced ticket was outsourced to you: Backup failed"]
    assert mail_to(lead_mail) == []
    expected = {"lead": [], "receiver": list(subjects_to(partner_mail))}
    number = deal.lead_ticket()["number"]
    for event, told in WALKS[walk]:
        # When one side acts
        deal.do(event)
        harness.pump.drain()
        # Then exactly the other side got one more email, saying what happened
        label = f"Ticket {number}" if told == "lead" else "Outsourced ticket"
        expected[told].append(f"{label} {HEADLINE[event]}: Backup failed")
        assert subjects_to(lead_mail) == expected["lead"], event
        assert subjects_to(partner_mail) == expected["receiver"], event
    # And each email (moto keeps the HTML part) names the outsourcing, and the reason where
    # there is one
    for message in mail_to(partner_mail) + mail_to(lead_mail):
        assert deal.outsourcing_id in message.body
    reasoned = [m for m in outbox() if "No parts" in m.body]
    assert len(reasoned) == sum(1 for e, _ in WALKS[walk] if e in ("decline", "reject", "recall"))
    # And the log of each side lists every email as sent
    told_lead = [n for n in log(harness, deal.lead) if n["side"] == "lead"]
    assert [n["status"] for n in told_lead] == ["sent"] * len(expected["lead"])
    assert all(n["to"] == [lead_mail] for n in told_lead)


def test_the_lead_completing_its_ticket_tells_the_partner(harness: Harness) -> None:
    # Given work in progress, and work not yet accepted
    accepted, waiting = _deal(harness, "accept"), _deal(harness)
    for deal in (accepted, waiting):
        # When the lead completes its own ticket
        reply = harness.patch(
            f"/v1/tickets/{deal.ticket_id}", deal.lead.key, {"status": "complete"}
        )
        assert reply.status_code == 200, reply.body
    harness.pump.drain()
    # Then the partner of accepted work hears it was completed, the other that it was canceled
    assert subjects_to(contact(accepted.partner))[-1] == (
        "Outsourced ticket was completed: Backup failed"
    )
    assert subjects_to(contact(waiting.partner))[-1] == (
        "Outsourced ticket was canceled: Backup failed"
    )


def test_expiry_tells_both_sides(harness: Harness) -> None:
    lead, partner, partnership_id = _partners(harness)
    deal = _outsource_with_passed_deadline(harness, lead, partner, partnership_id)
    harness.pump.drain()
    assert service.expire_due(get_container().outsourcing_ports, utcnow()) == 1
    harness.pump.drain()
    assert deal.status() == "expired"
    expired = "expired before it was accepted: Backup failed"
    assert [s for s in subjects_to(contact(lead)) if expired in s] != []
    assert [s for s in subjects_to(contact(partner)) if expired in s] != []
    assert len(mail_to(contact(lead))) == 1


def test_replays_retries_and_rereading_the_stream_send_nothing_new(harness: Harness) -> None:
    # Given an outsourcing that went through four transitions
    deal = _deal(harness, "accept", "submit-completion", "reject")
    harness.pump.drain()
    sent = len(outbox())
    logged = log(harness, deal.lead)
    assert [n["status"] for n in logged] == ["sent"] * 4
    # When every record is delivered again, twice in one batch, and the whole stream is re-read
    records = stream_records(harness)
    deliver(records + records)
    replay_whole_stream(harness)
    replay_whole_stream(harness)
    # Then no email was sent again, and the log is unchanged
    assert len(outbox()) == sent
    assert log(harness, deal.lead) == logged


def test_notification_addresses_per_event(harness: Harness) -> None:
    lead, partner, partnership_id = _partners(harness)
    # Given the lead wants acceptances sent to two desks, and declines to nobody
    reply = harness.request(
        "PUT",
        "/v1/outsourcing/settings",
        key=lead.key,
        json_body={
            "notifications": {"accepted": ["Desk@Lead.example", "noc@lead.example"], "declined": []}
        },
    )
    assert reply.status_code == 200, reply.body
    assert reply.json["notifications"] == {
        "accepted": ["desk@lead.example", "noc@lead.example"],
        "declined": [],
    }
    assert "completion_submitted" in reply.json["notification_events"]
    # When the partner accepts one outsourcing, declines another and submits the first
    first = _outsource(harness, lead, partner, partnership_id, "accept", "submit-completion")
    _outsource(harness, lead, partner, partnership_id, "decline")
    harness.pump.drain()
    # Then the acceptance went to both desks (one email), the submission to the contact
    [accepted] = mail_to("desk@lead.example")
    assert accepted.destinations["ToAddresses"] == ["desk@lead.example", "noc@lead.example"]
    assert "was accepted" in accepted.subject
    assert [s for s in subjects_to(contact(lead))] == [
        f"Ticket {first.lead_ticket()['number']} was submitted for approval: Printer offline"
    ]
    # And the decline was told to nobody, which the log says
    statuses = {(n["event"], n["status"]) for n in log(harness, lead) if n["side"] == "lead"}
    assert statuses == {
        ("accepted", "sent"),
        ("completion_submitted", "sent"),
        ("declined", "no_recipients"),
    }


@pytest.mark.parametrize(
    ("notifications", "field"),
    [
        ({"acepted": ["a@b.example"]}, "notifications.acepted"),
        ({"accepted": ["not an address"]}, "notifications.accepted.0"),
        ({"accepted": [f"u{i}@b.example" for i in range(11)]}, "notifications.accepted"),
        ({"accepted": "a@b.example"}, "notifications.accepted"),
        ([], "notifications"),
    ],
)
def test_bad_notification_settings_are_400_naming_the_field(
    harness: Harness, notifications: Any, field: str
) -> None:
    tenant = harness.create_tenant()
    reply = harness.request(
        "PUT",
        "/v1/outsourcing/settings",
        key=tenant.key,
        json_body={"notifications": notifications},
    )
    assert reply.status_code == 400, reply.body
    assert reply.json["error"]["code"] == "validation_error"
    assert reply.json["error"]["field"] == field
    unchanged = harness.get("/v1/outsourcing/settings", tenant.key).json
    assert unchanged["notifications"] == {}


def test_the_log_shows_the_other_sides_addresses_masked_and_each_tenant_only_its_own(
    harness: Harness,
) -> None:
    deal = _deal(harness, "accept")
    lead_mail, partner_mail = contact(deal.lead), contact(deal.partner)
    # The lead's log of its outsourcings: the partner told of the assignment, itself of the accept
    lead_log = log(harness, deal.lead)
    assert [(n["event"], n["side"]) for n in lead_log] == [
        ("accepted", "lead"),
        ("assigned", "receiver"),
    ]
    assert lead_log[0]["to"] == [lead_mail]
    assert lead_log[1]["to"] == [f"{partner_mail[0]}…@{partner_mail.split('@')[1]}"]
    # The partner's log of the work it received: the same two, its own address in full
    partner_log = log(harness, deal.partner, "receiver")
    assert [(n["event"], n["side"]) for n in partner_log] == [
        ("accepted", "lead"),
        ("assigned", "receiver"),
    ]
    assert partner_log[1]["to"] == [partner_mail]
    assert partner_mail not in str(lead_log) and lead_mail not in str(partner_log)
    # And the other lists are empty, as is a stranger's
    assert log(harness, deal.partner) == [] and log(harness, deal.lead, "receiver") == []
    stranger = harness.create_tenant()
    assert log(harness, stranger) == [] and log(harness, stranger, "receiver") == []


def test_the_log_pages_newest_first_and_refuses_forged_cursors(harness: Harness) -> None:
    deal = _deal(harness, "accept", "submit-completion", "reject", "submit-completion")
    whole = log(harness, deal.lead)
    assert len(whole) == 5
    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        reply = harness.get(
            "/v1/notifications?limit=2" + (f"&cursor={cursor}" if cursor else ""), deal.lead.key
        )
        assert reply.status_code == 200, reply.body
        seen += reply.json["items"]
        cursor = reply.json["next_cursor"]
        if not cursor:
            break
    assert seen == whole
    assert [n["at"] for n in whole] == sorted((n["at"] for n in whole), reverse=True)
    # A cursor of the lead's log is refused for the partner, for the other side, and forged
    first = harness.get("/v1/notifications?limit=2", deal.lead.key).json["next_cursor"]
    for key, side, cursor in (
        (deal.partner.key, "receiver", first),
        (deal.lead.key, "receiver", first),
        (deal.lead.key, "lead", first[:-3] + "AAA"),
        (deal.lead.key, "lead", "nonsense"),
    ):
        reply = harness.get(f"/v1/notifications?side={side}&cursor={cursor}", key)
        assert reply.status_code == 400, (side, reply.body)
        assert reply.json["error"]["field"] == "cursor"


@pytest.mark.parametrize("query", ["side=both", "limit=0", "limit=201", "limit=x", "colour=red"])
def test_bad_log_queries_are_400(harness: Harness, query: str) -> None:
    tenant = harness.create_tenant()
    reply = harness.get(f"/v1/notifications?{query}", tenant.key)
    assert reply.status_code == 400, reply.body


def test_portal_users_who_can_act_are_told(harness: Harness) -> None:
    # Given a company whose admin and one colleague may accept work, and a technician
    company = add_company(harness)
    company.colleague("Dispatch Desk", can_accept=True)
    company.colleague("Tech Nician")
    technician_email = "tech.nician@fieldtechsltd.example"
    before = len(outbox())
    # When the lead outsources work to the company
    oid = company.outsource(title="Swap the router")
    harness.pump.drain()
    # Then everyone who may accept it is told (one email), the technician is not
    [assigned] = outbox()[before:]
    assert sorted(assigned.destinations["ToAddresses"]) == [
        "admin@fieldtechsltd.example",
        "dispatch.desk@fieldtechsltd.example",
    ]
    assert f"/portal/tickets/{oid}" in assigned.body
    # When the admin accepts and reassigns it to the technician, and the lead rejects later
    company.accept(oid)
    harness.pump.drain()
    lead_mail = contact(company.lead)
    assert [s for s in subjects_to(lead_mail) if "was accepted" in s] != []
    users = get_container().portal_users.list(
        get_container().outsourcings.get(company.lead.tenant_id, oid).receiver_id, 10, None
    )
    tech_id = next(u.user_id for u in users.items if u.email == technician_email)
    moved = company.admin.post(f"/portal/tickets/{oid}/reassign", {"assignee_id": tech_id})
    assert moved.status_code == 303, moved.text
    submitted = sign_in(harness, technician_email).post(f"/portal/tickets/{oid}/submit-completion")
    assert submitted.status_code == 303, submitted.text
    harness.pump.drain()
    rejected = harness.post(
        f"/v1/outsourcings/{oid}/reject", company.lead.key, {"reason": "Photo missing"}
    )
    assert rejected.status_code == 200, rejected.body
    harness.pump.drain()
    # Then the rejection goes to the assignee only, with its reason and the portal link
    [told] = [m for m in outbox() if "rejected" in m.subject]
    assert told.destinations["ToAddresses"] == [technician_email]
    assert "Photo missing" in told.body
    # And the lead's log shows the company's addresses masked
    portal_entries = [n for n in log(harness, company.lead) if n["side"] == "receiver"]
    assert {n["event"] for n in portal_entries} == {"assigned", "rejected"}
    assert all("…@fieldtechsltd.example" in a for n in portal_entries for a in n["to"])


def test_notifications_count_against_the_daily_email_limit(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a lead allowed two emails a day
    from chalicelib.container import reset_container

    monkeypatch.setenv("MAIL_PER_TENANT_PER_DAY", "2")
    reset_container()
    deal = _deal(harness)  # the invitation took one, the assignment the second
    # When the lead causes two more transitions
    second = _outsource(harness, deal.lead, deal.partner, deal.partnership_id)
    second.do("cancel")
    harness.pump.drain()
    # Then they are not sent, and the log says why; the transitions happened
    assert second.status() == "canceled"
    failed = [n for n in log(harness, deal.lead) if n["status"] == "failed"]
    assert len(failed) == 2
    assert {n["error"] for n in failed} == {"daily email limit reached"}
    own = [n for n in log(harness, deal.partner, "receiver") if n["status"] == "failed"]
    assert [{**n, "to": None} for n in own] == [{**n, "to": None} for n in failed]
    assert [n["to"] for n in own] == [[contact(deal.partner)]] * 2


def test_a_deadline_passed_long_ago_still_tells_once(harness: Harness) -> None:
    lead, partner, partnership_id = _partners(harness)
    _outsource_with_passed_deadline(harness, lead, partner, partnership_id)
    ports = get_container().outsourcing_ports
    assert service.expire_due(ports, utcnow() + timedelta(days=1)) == 1
    assert service.expire_due(ports, utcnow() + timedelta(days=1)) == 0
    harness.pump.drain()
    harness.pump.drain()
    assert len([m for m in outbox() if "expired" in m.subject]) == 2


class TestDynamoNotifications(NotificationRepositoryContract):
    @pytest.fixture
    def notifications(self, harness: Harness) -> NotificationRepository:
        return get_container().notifications
