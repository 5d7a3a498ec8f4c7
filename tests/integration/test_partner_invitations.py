"""Partner invitations over HTTP: issue, email, list, revoke, resend, accept and decline."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.container import get_container, reset_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import new_id
from chalicelib.service import partners
from tests.integration.conftest import Harness, Reply, Tenant

ACCEPT = "/v1/partner-invitations/accept"
DECLINE = "/v1/partner-invitations/decline"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sent_emails(to: str) -> list[Any]:
    """The messages moto's SES recorded for one recipient, oldest first."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [m for m in backend.sent_messages if to in m.destinations.get("ToAddresses", [])]


def use(harness: Harness, path: str, tenant: Tenant, token: str) -> Reply:
    return harness.post(path, tenant.key, {"token": token})


def expire(lead: Tenant, invitation_id: str) -> None:
    """Move an invitation's expiry into the past, as time would."""
    invitations = get_container().invitations
    invitation = invitations.get(lead.tenant_id, invitation_id)
    invitations.update(invitation, {"expires_at": utcnow() - timedelta(minutes=1)})


@pytest.fixture
def lead(harness: Harness) -> Tenant:
    tenant = harness.create_tenant("Lead IT")
    harness.enable_outsourcing(tenant)
    return tenant


def test_an_invitation_shows_its_token_once_and_stores_only_its_hash(
    harness: Harness, lead: Tenant
) -> None:
    # When a lead invites a provider
    before = datetime.now(UTC)
    created = harness.invite(lead, email="desk@partner.example.com", company_name="Partner IT")
    # Then the answer holds the token, pending for 14 days
    token = created["token"]
    assert created["status"] == "pending"
    assert (created["email"], created["company_name"]) == ("desk@partner.example.com", "Partner IT")
    assert created["email_status"] == "sent"
    expires = parse_time(created["expires_at"])
    assert expires - parse_time(created["created_at"]) == timedelta(days=14)
    assert before + timedelta(days=14) - timedelta(seconds=1) <= expires
    # And neither the list nor the invitation shows the token again
    listed = harness.get("/v1/partner-invitations", lead.key)
    one = harness.get(f"/v1/partner-invitations/{created['id']}", lead.key)
    assert one.status_code == 200
    assert one.json == {k: v for k, v in created.items() if k != "token"}
    assert listed.json["items"] == [one.json]
    for reply in (listed, one):
        assert token not in reply.text
        assert "token" not in reply.json.get("items", [reply.json])[0]
    # And the table holds neither the token nor its secret part
    rows = harness.dynamodb().scan(TableName=harness.table_name)["Items"]
    dump = repr(rows)
    secret = token.replace(lead.tenant_id, "").replace(created["id"], "").removeprefix("pi_")
    assert len(secret) >= 22
    assert token not in dump
    assert secret not in dump
    assert secret[: len(secret) // 2] not in dump


def test_an_invitation_is_emailed_with_the_default_template(harness: Harness, lead: Tenant) -> None:
    created = harness.invite(lead, email="desk@partner.example.com", company_name="Partner IT")
    [message] = sent_emails("desk@partner.example.com")
    assert message.source == "no-reply@outsourcing.test"
    assert message.subject == "Lead IT invites Partner IT to work on outsourced tickets"
    assert created["token"] in message.body
    assert created["expires_at"] in message.body
    assert "Lead IT invites Partner IT" in message.body


def test_an_invitation_is_emailed_with_the_tenants_template_and_expiry(
    harness: Harness, lead: Tenant
) -> None:
    # Given a lead with its own invitation email and a 3-day expiry
    settings = harness.request(
        "PUT",
        "/v1/outsourcing/settings",
        key=lead.key,
        json_body={
            "invitation_subject": "{{ company_name }}: join {{ inviter }}",
            "invitation_template": (
                "Dear {{ company_name }} ({{ email }}),\n"
                "paste {{ token }} to accept before {{ expires_at }}.\n-- {{ inviter }}"
            ),
            "invitation_expiry_days": 3,
        },
    )
    assert settings.status_code == 200
    # When it invites
    created = harness.invite(lead, email="desk@partner.example.com", company_name="Partner IT")
    # Then the invitation expires in 3 days, and the email is its template filled in
    expires = created["expires_at"]
    assert parse_time(expires) - parse_time(created["created_at"]) == timedelta(days=3)
    [message] = sent_emails("desk@partner.example.com")
    assert message.subject == "Partner IT: join Lead IT"
    assert message.body == (
        "Dear Partner IT (desk@partner.example.com),\n"
        f"paste {created['token']} to accept before {expires}.\n-- Lead IT"
    )


def test_invitations_are_listed_newest_first_in_pages(harness: Harness, lead: Tenant) -> None:
    made = [harness.invite(lead, company_name=f"Partner {i}")["id"] for i in range(3)]
    first = harness.get("/v1/partner-invitations?limit=2", lead.key).json
    assert [i["id"] for i in first["items"]] == made[:0:-1]
    cursor = first["next_cursor"]
    assert cursor
    rest = harness.get(f"/v1/partner-invitations?limit=2&cursor={cursor}", lead.key).json
    assert [i["id"] for i in rest["items"]] == [made[0]]
    assert rest["next_cursor"] is None


def test_accepting_makes_a_partnership_and_the_token_works_once(
    harness: Harness, lead: Tenant
) -> None:
    # Given an invitation, and two other tenants
    receiver, other = harness.create_tenant("Service IT"), harness.create_tenant()
    created = harness.invite(lead)
    # When the receiver accepts it
    accepted = use(harness, ACCEPT, receiver, created["token"])
    # Then it becomes a service partner of the lead
    assert accepted.status_code == 201
    assert accepted.json["role"] == "lead"
    assert (accepted.json["tenant_name"], accepted.json["status"]) == ("Lead IT", "active")
    invitation = harness.get(f"/v1/partner-invitations/{created['id']}", lead.key).json
    assert invitation["status"] == "accepted"
    assert invitation["partnership_id"] == accepted.json["partnership_id"]
    # And the token cannot be used again, by anyone, either way
    for tenant in (receiver, other):
        for path in (ACCEPT, DECLINE):
            again = use(harness, path, tenant, created["token"])
            assert (again.status_code, again.error_code) == (422, "invitation_used"), path


def test_declining_uses_up_the_token(harness: Harness, lead: Tenant) -> None:
    receiver = harness.create_tenant()
    created = harness.invite(lead)
    declined = use(harness, DECLINE, receiver, created["token"])
    assert declined.status_code == 200
    assert declined.json == {"id": created["id"], "status": "declined"}
    for path in (ACCEPT, DECLINE):
        again = use(harness, path, receiver, created["token"])
        assert (again.status_code, again.error_code) == (422, "invitation_used"), path
    invitation = harness.get(f"/v1/partner-invitations/{created['id']}", lead.key).json
    assert (invitation["status"], invitation["partnership_id"]) == ("declined", None)
    assert harness.get("/v1/partners", receiver.key).json["items"] == []


def test_a_revoked_invitation_is_dead(harness: Harness, lead: Tenant) -> None:
    receiver = harness.create_tenant()
    created = harness.invite(lead)
    revoked = harness.post(f"/v1/partner-invitations/{created['id']}/revoke", lead.key)
    assert (revoked.status_code, revoked.json["status"]) == (200, "revoked")
    for path in (ACCEPT, DECLINE):
        refused = use(harness, path, receiver, created["token"])
        assert (refused.status_code, refused.error_code) == (422, "invitation_revoked"), path
    for action in ("revoke", "resend"):
        again = harness.post(f"/v1/partner-invitations/{created['id']}/{action}", lead.key)
        assert (again.status_code, again.error_code) == (409, "invalid_transition"), action
    assert harness.get(f"/v1/partner-invitations/{created['id']}", lead.key).json["status"] == (
        "revoked"
    )


def test_an_accepted_invitation_cannot_be_revoked_or_resent(harness: Harness, lead: Tenant) -> None:
    receiver = harness.create_tenant()
    created = harness.invite(lead)
    assert use(harness, ACCEPT, receiver, created["token"]).status_code == 201
    for action in ("revoke", "resend"):
        refused = harness.post(f"/v1/partner-invitations/{created['id']}/{action}", lead.key)
        assert (refused.status_code, refused.error_code) == (409, "invalid_transition"), action
    assert harness.get("/v1/partners", receiver.key).json["items"][0]["status"] == "active"


def test_resending_emails_a_new_token_and_kills_the_old_one(harness: Harness, lead: Tenant) -> None:
    # Given an emailed invitation
    receiver = harness.create_tenant()
    created = harness.invite(lead, email="desk@partner.example.com")
    # When it is resent
    resent = harness.post(f"/v1/partner-invitations/{created['id']}/resend", lead.key)
    # Then a new token is issued and emailed
    assert resent.status_code == 200
    new_token = resent.json["token"]
    assert new_token != created["token"]
    assert (resent.json["id"], resent.json["status"], resent.json["sent_count"]) == (
        created["id"],
        "pending",
        2,
    )
    first, second = sent_emails("desk@partner.example.com")
    assert created["token"] in first.body
    assert new_token in second.body
    assert created["token"] not in second.body
    # And the old token is dead while the new one works
    old = use(harness, ACCEPT, receiver, created["token"])
    assert (old.status_code, old.error_code) == (422, "invitation_invalid")
    assert use(harness, ACCEPT, receiver, new_token).status_code == 201


def test_an_expired_invitation_is_refused_until_resent(harness: Harness, lead: Tenant) -> None:
    # Given an invitation past its expiry
    receiver = harness.create_tenant()
    created = harness.invite(lead)
    expire(lead, created["id"])
    # Then it reads as expired and its token is refused
    assert harness.get(f"/v1/partner-invitations/{created['id']}", lead.key).json["status"] == (
        "expired"
    )
    for path in (ACCEPT, DECLINE):
        refused = use(harness, path, receiver, created["token"])
        assert (refused.status_code, refused.error_code) == (422, "invitation_expired"), path
    # When the lead resends it
    resent = harness.post(f"/v1/partner-invitations/{created['id']}/resend", lead.key)
    # Then it is pending again for 14 days, and the new token works
    assert (resent.status_code, resent.json["status"]) == (200, "pending")
    assert parse_time(resent.json["expires_at"]) > datetime.now(UTC) + timedelta(days=13)
    assert use(harness, ACCEPT, receiver, resent.json["token"]).status_code == 201


def test_forged_and_garbage_tokens_are_invalid(harness: Harness, lead: Tenant) -> None:
    # Given a real invitation
    receiver = harness.create_tenant()
    created = harness.invite(lead)
    token = created["token"]
    secret = token[-32:]
    forgeries = [
        "garbage",
        token[:-1],
        token + "A",
        token.swapcase(),
        token[:-32] + secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        token[:-32] + "A" * 32,
        token.replace(created["id"], new_id()),
        token.replace(lead.tenant_id, receiver.tenant_id),
        "pi_" + "0" * (len(token) - 3),
        "pi_" + "\u00e9" * (len(token) - 3),
    ]
    # Then every forgery is refused the same way, whichever way it is used
    for forged in forgeries:
        for path in (ACCEPT, DECLINE):
            refused = use(harness, path, receiver, forged)
            assert (refused.status_code, refused.error_code) == (422, "invitation_invalid"), forged
    for malformed in ("", "x" * 201):
        refused = use(harness, ACCEPT, receiver, malformed)
        assert (refused.status_code, refused.json["error"]["field"]) == (400, "token")
    # And the real token still works
    assert use(harness, ACCEPT, receiver, token).status_code == 201


def test_a_tenant_cannot_partner_with_itself(harness: Harness, lead: Tenant) -> None:
    named_itself = harness.post(
        "/v1/partner-invitations",
        lead.key,
        {"email": "me@example.com", "company_name": "Me", "tenant_id": lead.tenant_id},
    )
    assert (named_itself.status_code, named_itself.error_code) == (422, "self_partnership")
    created = harness.invite(lead)
    refused = use(harness, ACCEPT, lead, created["token"])
    assert (refused.status_code, refused.error_code) == (422, "self_partnership")
    assert harness.get(f"/v1/partner-invitations/{created['id']}", lead.key).json["status"] == (
        "pending"
    )
    assert harness.get("/v1/partners", lead.key).json["items"] == []


def test_a_pair_never_gets_a_second_active_partnership(harness: Harness, lead: Tenant) -> None:
    # Given a service partner of the lead, and a second invitation of the lead
    receiver = harness.create_tenant()
    first, second = harness.invite(lead), harness.invite(lead)
    assert use(harness, ACCEPT, receiver, first["token"]).status_code == 201
    # When the service partner accepts the second one too
    refused = use(harness, ACCEPT, receiver, second["token"])
    # Then it is refused, and each side still has one partnership
    assert (refused.status_code, refused.error_code) == (409, "already_exists")
    assert len(harness.get("/v1/partners", receiver.key).json["items"]) == 1
    assert len(harness.get("/v1/partners", lead.key).json["items"]) == 1
    assert harness.get(f"/v1/partner-invitations/{second['id']}", lead.key).json["status"] == (
        "pending"
    )


def test_after_deactivation_a_new_invitation_makes_a_new_partnership(
    harness: Harness, lead: Tenant
) -> None:
    # Given a partnership that the lead ended
    receiver = harness.create_tenant()
    first = harness.partner(lead, receiver)
    assert harness.post(f"/v1/partners/{first}/deactivate", lead.key).status_code == 200
    # When the receiver accepts a new invitation of the same lead
    again = use(harness, ACCEPT, receiver, harness.invite(lead)["token"])
    # Then a second, active partnership exists beside the inactive one
    assert again.status_code == 201
    second = again.json["partnership_id"]
    assert second != first
    for tenant in (lead, receiver):
        items = harness.get("/v1/partners", tenant.key).json["items"]
        assert {p["partnership_id"]: p["status"] for p in items} == {
            first: "inactive",
            second: "active",
        }


def test_partners_must_share_a_language_at_acceptance(harness: Harness, lead: Tenant) -> None:
    # Given an invitation that names no tenant
    german = harness.create_tenant("Dienstleister GmbH", language="de")
    english = harness.create_tenant("Service IT", language="en")
    created = harness.invite(lead)
    # When a tenant of another language accepts it
    refused = use(harness, ACCEPT, german, created["token"])
    # Then it is refused, with a message naming both languages
    assert (refused.status_code, refused.error_code) == (422, "language_mismatch")
    assert "'en'" in refused.json["error"]["message"]
    assert "'de'" in refused.json["error"]["message"]
    # And the invitation stays usable by a tenant of the same language
    assert harness.get("/v1/partners", german.key).json["items"] == []
    assert use(harness, ACCEPT, english, created["token"]).status_code == 201


def test_a_named_target_is_checked_when_inviting(harness: Harness, lead: Tenant) -> None:
    german = harness.create_tenant("Dienstleister GmbH", language="de")
    body = {"email": "desk@partner.example.com", "company_name": "Partner"}
    mismatch = harness.post(
        "/v1/partner-invitations", lead.key, {**body, "tenant_id": german.tenant_id}
    )
    assert (mismatch.status_code, mismatch.error_code) == (422, "language_mismatch")
    for unknown in (new_id(), "no-such-tenant"):
        missing = harness.post("/v1/partner-invitations", lead.key, {**body, "tenant_id": unknown})
        assert missing.status_code == 404, unknown
        assert missing.json["error"]["field"] == "tenant_id"
    assert harness.get("/v1/partner-invitations", lead.key).json["items"] == []
    assert sent_emails("desk@partner.example.com") == []


def test_an_invitation_naming_a_tenant_cannot_be_used_by_another(
    harness: Harness, lead: Tenant
) -> None:
    named, other = harness.create_tenant("Named IT"), harness.create_tenant("Other IT")
    created = harness.invite(lead, tenant_id=named.tenant_id)
    assert created["tenant_id"] == named.tenant_id
    for path in (ACCEPT, DECLINE):
        refused = use(harness, path, other, created["token"])
        assert (refused.status_code, refused.error_code) == (
            422,
            "invitation_for_another_tenant",
        ), path
    accepted = use(harness, ACCEPT, named, created["token"])
    assert accepted.status_code == 201


# -- racing acceptances (DynamoDB Local: it serialises conditional writes as AWS does) ---------


def _race(monkeypatch: pytest.MonkeyPatch, receivers: list[Tenant], token: str) -> list[str]:
    """Accept ``token`` from one thread per receiver; all threads have read the invitation and
    checked the rules before any of them writes, so the writes really race."""
    container = get_container()
    invitations = container.invitations
    write = invitations.accept
    started = threading.Barrier(len(receivers))
    writing = threading.Barrier(len(receivers), timeout=10)

    def racing_write(*args: Any) -> None:
        writing.wait()
        write(*args)

    monkeypatch.setattr(invitations, "accept", racing_write)
    outcomes: list[str] = []

    def accept(receiver: Tenant) -> None:
        started.wait()
        try:
            partners.accept_invitation(container.partner_ports, receiver.tenant_id, token, utcnow())
            outcomes.append("accepted")
        except DomainError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # an unexpected failure is an outcome too
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=accept, args=(r,)) for r in receivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_tenants_accepting_one_token_at_once_make_one_partnership(
    race_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = race_harness
    # Given one invitation and two tenants holding its token
    lead = harness.create_tenant("Lead IT")
    harness.enable_outsourcing(lead)
    first, second = harness.create_tenant(), harness.create_tenant()
    created = harness.invite(lead)
    # When both accept it at the same moment
    outcomes = _race(monkeypatch, [first, second], created["token"])
    # Then exactly one wins, and the other is told the token was used
    assert sorted(outcomes) == ["accepted", "invitation_used"]
    assert len(harness.get("/v1/partners", lead.key).json["items"]) == 1
    service_sides = [harness.get("/v1/partners", t.key).json["items"] for t in (first, second)]
    assert sorted(len(items) for items in service_sides) == [0, 1]


def test_one_tenant_accepting_one_token_twice_at_once_makes_one_partnership(
    race_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = race_harness
    lead = harness.create_tenant("Lead IT")
    harness.enable_outsourcing(lead)
    receiver = harness.create_tenant()
    created = harness.invite(lead)
    outcomes = _race(monkeypatch, [receiver, receiver], created["token"])
    assert outcomes.count("accepted") == 1
    assert set(outcomes) - {"accepted"} <= {"invitation_used", "already_exists"}
    assert len(harness.get("/v1/partners", receiver.key).json["items"]) == 1
    assert len(harness.get("/v1/partners", lead.key).json["items"]) == 1


# -- outbound email is limited per tenant and day ------------------------------------------------


def test_past_the_days_emails_invitations_are_refused_and_nothing_is_stored(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment allowing two emails per tenant per day, and a lead that sent them
    monkeypatch.setenv("MAIL_PER_TENANT_PER_DAY", "2")
    reset_container()
    lead = harness.create_tenant()
    harness.enable_outsourcing(lead)
    first = harness.invite(lead, email="limit-a@partner.example.com")
    harness.invite(lead, email="limit-b@partner.example.com")
    # When it invites once more, or resends
    third = harness.post(
        "/v1/partner-invitations",
        lead.key,
        {"email": "limit-c@partner.example.com", "company_name": "Partner IT"},
    )
    resent = harness.post(f"/v1/partner-invitations/{first['id']}/resend", lead.key)
    # Then both are a 422 naming the limit, no invitation or email was added
    assert (third.status_code, third.error_code) == (422, "email_limit_reached")
    assert (resent.status_code, resent.error_code) == (422, "email_limit_reached")
    listed = harness.get("/v1/partner-invitations", lead.key).json["items"]
    assert sorted(i["email"] for i in listed) == [
        "limit-a@partner.example.com",
        "limit-b@partner.example.com",
    ]
    assert sent_emails("limit-c@partner.example.com") == []
    assert len(sent_emails("limit-a@partner.example.com")) == 1
    # And another tenant still has its own allowance
    other = harness.create_tenant()
    harness.enable_outsourcing(other)
    assert harness.invite(other, email="limit-d@partner.example.com")["token"]
