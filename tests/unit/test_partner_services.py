"""Outsourcing set-up, partner invitations, partnerships and mappings against fakes."""

from __future__ import annotations

import hashlib
import math
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain import agreement
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.domain.partners import (
    DEFAULT_STATUS_MAP,
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
)
from chalicelib.domain.tenants import (
    DEFAULT_INVITATION_BODY,
    Actor,
    AgreementAcceptance,
    OutsourcingSettings,
)
from chalicelib.domain.tickets import TicketStatus
from chalicelib.ports import Email, Mailer, Paging
from chalicelib.service import outsourcing_setup, partners, tenants
from chalicelib.service.outbound_mail import Allowance
from chalicelib.service.partners import InvitePartner, IssuedInvitation, PartnerPorts
from chalicelib.service.tenants import NewTenant
from tests.unit.fakes import (
    FakeApiKeyRepository,
    FakeInvitationRepository,
    FakeMailer,
    FakeMailQuota,
    FakePartnershipRepository,
    FakeTenantRepository,
)

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
URLSAFE = set(string.ascii_letters + string.digits + "-_")


class FailingMailer:
    def send(self, email: Email) -> None:
        raise RuntimeError("mail server down")


@dataclass
class World:
    """Fake repositories and mailer, and shortcuts for the use cases under test."""

    tenants: FakeTenantRepository
    invitations: FakeInvitationRepository
    partnerships: FakePartnershipRepository
    mailer: FakeMailer
    quota: FakeMailQuota = field(default_factory=FakeMailQuota)
    mail_per_day: int = 200

    @property
    def ports(self) -> PartnerPorts:
        return self.ports_with(self.mailer)

    def ports_with(self, mailer: Mailer) -> PartnerPorts:
        return PartnerPorts(
            tenants=self.tenants,
            invitations=self.invitations,
            partnerships=self.partnerships,
            mailer=mailer,
            allowance=Allowance(self.quota, self.mail_per_day),
        )

    def tenant(self, name: str = "Lead IT", language: str = "en", *, enabled: bool = False) -> str:
        created = tenants.create_tenant(
            self.tenants,
            NewTenant(
                name=name,
                language=language,
                currency="USD",
                contact_email="ops@example.com",
                now=NOW,
            ),
        )
        if enabled:
            self.enable(created.tenant.tenant_id)
        return created.tenant.tenant_id

    def enable(self, tenant_id: str) -> None:
        outsourcing_setup.accept_agreement(
            self.tenants,
            tenant_id,
            version=agreement.CURRENT_VERSION,
            accepted_by="Jane Admin",
            now=NOW,
        )
        outsourcing_setup.update_settings(self.tenants, tenant_id, {"enabled": True})

    def invite(
        self, lead_id: str, *, now: datetime = NOW, target: str | None = None, **fields: Any
    ) -> IssuedInvitation:
        return partners.create_invitation(
            self.ports_with(fields.pop("mailer", self.mailer)),
            InvitePartner(
                actor=Actor(lead_id, label="admin (K1)"),
                email=fields.pop("email", "partner@example.com"),
                company_name=fields.pop("company_name", "Partner IT"),
                target_tenant_id=target,
                now=now,
            ),
        )

    def resend(self, lead_id: str, invitation_id: str, now: datetime = NOW) -> IssuedInvitation:
        return partners.resend_invitation(self.ports, lead_id, invitation_id, now)

    def accept(self, receiver_id: str, token: str, now: datetime = NOW) -> Partnership:
        return partners.accept_invitation(self.ports, receiver_id, token, now)

    def decline(self, receiver_id: str, token: str, now: datetime = NOW) -> Invitation:
        return partners.decline_invitation(self.ports, receiver_id, token, now)

    def stored(self, issued: IssuedInvitation) -> Invitation:
        invitation = issued.invitation
        return self.invitations.get(invitation.lead_tenant_id, invitation.invitation_id)


@pytest.fixture
def world() -> World:
    partnerships = FakePartnershipRepository()
    return World(
        tenants=FakeTenantRepository(FakeApiKeyRepository()),
        invitations=FakeInvitationRepository(partnerships),
        partnerships=partnerships,
        mailer=FakeMailer(),
    )


def _refusal(error: type[Exception], call: Any) -> str:
    with pytest.raises(error) as refused:
        call()
    code: str = refused.value.code  # type: ignore[attr-defined]
    return code


# -- Outsource Agreement and settings -----------------------------------------------------------


def test_accepting_the_agreement_records_who_when_and_which_version(world: World) -> None:
    tenant_id = world.tenant()
    updated = outsourcing_setup.accept_agreement(
        world.tenants,
        tenant_id,
        version=agreement.CURRENT_VERSION,
        accepted_by="Jane Admin",
        now=NOW,
    )
    expected = AgreementAcceptance(by="Jane Admin", at=NOW, version=agreement.CURRENT_VERSION)
    assert updated.agreement == expected
    assert world.tenants.get(tenant_id).agreement == expected
    assert world.tenants.get(tenant_id).outsourcing_enabled is False


def test_an_outdated_agreement_version_is_refused_and_nothing_is_recorded(world: World) -> None:
    tenant_id = world.tenant()
    code = _refusal(
        ConflictError,
        lambda: outsourcing_setup.accept_agreement(
            world.tenants, tenant_id, version="2020-01-01", accepted_by="Jane Admin", now=NOW
        ),
    )
    assert code == "agreement_outdated"
    assert world.tenants.get(tenant_id).agreement is None


def test_settings_change_only_the_fields_given(world: World) -> None:
    tenant_id = world.tenant()
    outsourcing_setup.update_settings(world.tenants, tenant_id, {"invitation_expiry_days": 3})
    outsourcing_setup.update_settings(world.tenants, tenant_id, {"enabled": True})
    tenant = world.tenants.get(tenant_id)
    assert tenant.outsourcing_enabled is True
    assert tenant.settings == OutsourcingSettings(invitation_expiry_days=3)
    outsourcing_setup.update_settings(
        world.tenants, tenant_id, {"invitation_template": "Use {{ token }}."}
    )
    tenant = world.tenants.get(tenant_id)
    assert tenant.settings.invitation_template == "Use {{ token }}."
    assert tenant.settings.invitation_expiry_days == 3
    assert tenant.outsourcing_enabled is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"enabled": None}, "enabled"),
        ({"invitation_template": None}, "invitation_template"),
        ({"invitation_subject": None}, "invitation_subject"),
        ({"invitation_expiry_days": None}, "invitation_expiry_days"),
        ({"invitation_template": "Hello {{ company }}: {{ token }}"}, "invitation_template"),
        ({"invitation_template": "Hello {{ company_name }}"}, "invitation_template"),
        ({"invitation_template": "{# {{ token }} #} no token"}, "invitation_template"),
        ({"invitation_template": "{% raw %}{{ token }}{% endraw %}"}, "invitation_template"),
        ({"invitation_template": "{% set token = 'x' %}{{ token }}"}, "invitation_template"),
        ({"invitation_template": "{{ token "}, "invitation_template"),
        ({"invitation_template": "{{ token }} {% if %}"}, "invitation_template"),
        ({"invitation_template": "{{ token }} {% endfor %}"}, "invitation_template"),
        ({"invitation_subject": "Join {{ inviter_name }}"}, "invitation_subject"),
        ({"invitation_subject": "Your token {{ token }}"}, "invitation_subject"),
        ({"invitation_subject": "Join {{ inviter"}, "invitation_subject"),
        ({"enabled": True, "invitation_template": "no token here"}, "invitation_template"),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_change_nothing(
    world: World, changes: dict[str, Any], field: str
) -> None:
    tenant_id = world.tenant()
    before = world.tenants.get(tenant_id)
    with pytest.raises(ValidationError) as refused:
        outsourcing_setup.update_settings(world.tenants, tenant_id, changes)
    assert refused.value.field == field
    assert world.tenants.get(tenant_id) == before


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("invitation_template", "{{ token | no_such_filter }}"),
        ("invitation_subject", "Join {{ inviter | no_such_filter }}"),
    ],
)
def test_a_template_with_an_unknown_filter_is_refused_naming_the_field(
    world: World, field: str, source: str
) -> None:
    tenant_id = world.tenant()
    with pytest.raises(ValidationError) as refused:
        outsourcing_setup.update_settings(world.tenants, tenant_id, {field: source})
    assert refused.value.field == field


def test_every_placeholder_may_be_used_in_a_template(world: World) -> None:
    tenant_id = world.tenant()
    template = "{{ inviter }} {{ company_name }} {{ email }} {{ expires_at }} {{ token | upper }}"
    subject = "{{ inviter }} {{ company_name }} {{ email }} {{ expires_at }}"
    outsourcing_setup.update_settings(
        world.tenants,
        tenant_id,
        {"invitation_template": template, "invitation_subject": subject},
    )
    settings = world.tenants.get(tenant_id).settings
    assert (settings.invitation_template, settings.invitation_subject) == (template, subject)


# -- creating invitations -----------------------------------------------------------------------


def test_inviting_needs_the_agreement_then_the_switch(world: World) -> None:
    # Given a tenant that has done nothing yet
    lead_id = world.tenant()
    # Then inviting needs the agreement first
    assert _refusal(RuleViolationError, lambda: world.invite(lead_id)) == "agreement_required"
    # And with the switch on but no agreement, still the agreement
    outsourcing_setup.update_settings(world.tenants, lead_id, {"enabled": True})
    assert _refusal(RuleViolationError, lambda: world.invite(lead_id)) == "agreement_required"
    # And with the agreement but the switch off, the switch
    outsourcing_setup.update_settings(world.tenants, lead_id, {"enabled": False})
    outsourcing_setup.accept_agreement(
        world.tenants,
        lead_id,
        version=agreement.CURRENT_VERSION,
        accepted_by="Jane Admin",
        now=NOW,
    )
    assert _refusal(RuleViolationError, lambda: world.invite(lead_id)) == "outsourcing_disabled"
    # And nothing was stored or sent on the way
    assert world.invitations.invitations == {}
    assert len(world.mailer) == 0


def test_an_acceptance_of_an_earlier_agreement_version_does_not_count(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    tenant = world.tenants.get(lead_id)
    world.tenants.update(
        tenant, {"agreement": AgreementAcceptance(by="Jane", at=NOW, version="2020-01-01")}
    )
    assert _refusal(RuleViolationError, lambda: world.invite(lead_id)) == "agreement_required"


def test_an_invitation_stores_only_a_hash_of_its_token(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    issued = world.invite(lead_id)
    stored = world.stored(issued)
    assert stored.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in repr(world.invitations.invitations)
    secret = issued.token.replace(lead_id, "").replace(stored.invitation_id, "")
    assert secret.removeprefix("pi_") not in repr(world.invitations.invitations)


def test_past_the_days_emails_no_invitation_is_created_or_resent(world: World) -> None:
    # Given a lead allowed two emails a day
    world.mail_per_day = 2
    lead_id = world.tenant(enabled=True)
    first = world.invite(lead_id)
    world.invite(lead_id)
    # When it invites once more, or resends
    with pytest.raises(RuleViolationError) as invite:
        world.invite(lead_id)
    with pytest.raises(RuleViolationError) as resend:
        partners.resend_invitation(world.ports, lead_id, first.invitation.invitation_id, NOW)
    # Then both are refused with a clear code, nothing was stored or sent, the old token works
    assert invite.value.code == resend.value.code == "email_limit_reached"
    assert len(world.invitations.invitations) == 2
    assert len(world.mailer) == 2
    stored = world.invitations.get(lead_id, first.invitation.invitation_id)
    assert (stored.sent_count, stored.token_hash) == (1, first.invitation.token_hash)
    # And another tenant's allowance is its own
    assert world.invite(world.tenant("Other IT", enabled=True)).token


def test_invitation_tokens_carry_at_least_128_random_bits(world: World) -> None:
    # Given many invitations of one lead (allowed more emails than a day's default)
    world.mail_per_day = 1000
    lead_id = world.tenant(enabled=True)
    issued = [world.invite(lead_id) for _ in range(300)]
    # When the parts the lead already knows (its id and the invitation id) are taken out
    secrets = [i.token.replace(lead_id, "").replace(i.invitation.invitation_id, "") for i in issued]
    # Then what is left differs every time, is URL-safe, and varies in every position
    assert len(set(secrets)) == len(secrets)
    assert {len(s) for s in secrets} == {len(secrets[0])}
    assert all(set(s) <= URLSAFE for s in secrets)
    bits = sum(math.log2(len({s[pos] for s in secrets})) for pos in range(len(secrets[0])))
    assert bits >= 128


def test_an_invitation_is_emailed_with_the_default_template(world: World) -> None:
    lead_id = world.tenant("Lead IT")
    world.enable(lead_id)
    issued = world.invite(lead_id, email="desk@partner.example.com", company_name="Partner IT")
    assert issued.invitation.email_status == "sent"
    assert len(world.mailer) == 1
    sent = world.mailer.sent[0]
    assert list(sent.to) == ["desk@partner.example.com"]
    assert sent.subject == "Lead IT invites Partner IT to work on outsourced tickets"
    assert issued.token in sent.text
    assert iso(NOW + timedelta(days=14)) in sent.text
    assert sent.text.startswith(DEFAULT_INVITATION_BODY.split("{{")[0])


def test_an_invitation_is_emailed_with_the_tenants_own_template(world: World) -> None:
    lead_id = world.tenant("Lead IT", enabled=True)
    outsourcing_setup.update_settings(
        world.tenants,
        lead_id,
        {
            "invitation_subject": "  {{ company_name }}, join {{ inviter }}  ",
            "invitation_template": (
                "Dear {{ company_name }} <{{ email }}>,\nyour token: {{ token }}\n"
                "valid until {{ expires_at }}. {{ inviter }}"
            ),
            "invitation_expiry_days": 3,
        },
    )
    issued = world.invite(lead_id, email="desk@partner.example.com", company_name="Partner IT")
    sent = world.mailer.sent[-1]
    assert sent.subject == "Partner IT, join Lead IT"
    assert sent.text == (
        f"Dear Partner IT <desk@partner.example.com>,\nyour token: {issued.token}\n"
        f"valid until {iso(NOW + timedelta(days=3))}. Lead IT"
    )


def test_an_invitation_expires_after_the_configured_days(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    assert world.invite(lead_id).invitation.expires_at == NOW + timedelta(days=14)
    outsourcing_setup.update_settings(world.tenants, lead_id, {"invitation_expiry_days": 1})
    assert world.invite(lead_id).invitation.expires_at == NOW + timedelta(days=1)


def test_an_invitation_stands_when_its_email_cannot_be_sent(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    issued = world.invite(lead_id, mailer=FailingMailer())
    assert issued.invitation.email_status == "failed"
    assert world.stored(issued).email_status == "failed"
    receiver_id = world.tenant("Service IT")
    assert world.accept(receiver_id, issued.token).active


def test_naming_the_target_tenant_checks_it_at_invitation_time(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    german = world.tenant("Dienstleister GmbH", "de")
    english = world.tenant("Service IT", "en")
    assert (
        _refusal(RuleViolationError, lambda: world.invite(lead_id, target=lead_id))
        == "self_partnership"
    )
    assert (
        _refusal(RuleViolationError, lambda: world.invite(lead_id, target=german))
        == "language_mismatch"
    )
    for unknown in (new_id(), "not-an-id"):
        with pytest.raises(NotFoundError) as missing:
            world.invite(lead_id, target=unknown)
        assert missing.value.field == "tenant_id"
    assert world.invitations.invitations == {}
    assert len(world.mailer) == 0
    assert world.invite(lead_id, target=english).invitation.target_tenant_id == english


def test_invitations_are_listed_newest_first_and_only_to_their_lead(world: World) -> None:
    lead_id, other_id = world.tenant(enabled=True), world.tenant(enabled=True)
    made = [world.invite(lead_id, now=NOW + timedelta(minutes=i)) for i in range(3)]
    world.invite(other_id)
    page = partners.list_invitations(world.ports, lead_id, Paging(10))
    assert [i.invitation_id for i in page.items] == [
        m.invitation.invitation_id for m in reversed(made)
    ]
    first = made[0].invitation.invitation_id
    assert partners.get_invitation(world.ports, lead_id, first).invitation_id == first
    for tenant_id, invitation_id in ((other_id, first), (lead_id, "x"), (lead_id, new_id())):
        with pytest.raises(NotFoundError):
            partners.get_invitation(world.ports, tenant_id, invitation_id)


# -- revoke and resend --------------------------------------------------------------------------


def test_a_revoked_invitation_cannot_be_used_or_revoked_again(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    issued = world.invite(lead_id)
    invitation_id = issued.invitation.invitation_id
    revoked = partners.revoke_invitation(world.ports, lead_id, invitation_id, NOW)
    assert revoked.status is InvitationStatus.REVOKED
    assert revoked.resolved_at == NOW
    for use in (world.accept, world.decline):
        assert (
            _refusal(RuleViolationError, lambda use=use: use(receiver_id, issued.token))
            == "invitation_revoked"
        )
    for again in (
        lambda: partners.revoke_invitation(world.ports, lead_id, invitation_id, NOW),
        lambda: world.resend(lead_id, invitation_id),
    ):
        assert _refusal(ConflictError, again) == "invalid_transition"


def test_an_accepted_invitation_cannot_be_revoked_or_resent(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    issued = world.invite(lead_id)
    world.accept(receiver_id, issued.token)
    invitation_id = issued.invitation.invitation_id
    for change in (
        lambda: partners.revoke_invitation(world.ports, lead_id, invitation_id, NOW),
        lambda: world.resend(lead_id, invitation_id),
    ):
        assert _refusal(ConflictError, change) == "invalid_transition"
    assert world.stored(issued).status is InvitationStatus.ACCEPTED


def test_resending_issues_a_new_token_and_kills_the_old_one(world: World) -> None:
    # Given an invitation that was emailed once
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    first = world.invite(lead_id)
    later = NOW + timedelta(days=2)
    # When it is resent two days later
    second = world.resend(lead_id, first.invitation.invitation_id, later)
    # Then a new token is emailed, with a new expiry counted from the resend
    assert second.token != first.token
    assert second.invitation.sent_count == 2
    assert second.invitation.expires_at == later + timedelta(days=14)
    assert len(world.mailer) == 2
    assert second.token in world.mailer.sent[-1].text
    assert first.token not in world.mailer.sent[-1].text
    # And the old token no longer works, while the new one does
    assert (
        _refusal(RuleViolationError, lambda: world.accept(receiver_id, first.token, later))
        == "invitation_invalid"
    )
    assert world.accept(receiver_id, second.token, later).active


def test_an_expired_invitation_can_be_resent(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    first = world.invite(lead_id)
    expired_at = NOW + timedelta(days=15)
    assert (
        _refusal(RuleViolationError, lambda: world.accept(receiver_id, first.token, expired_at))
        == "invitation_expired"
    )
    second = world.resend(lead_id, first.invitation.invitation_id, expired_at)
    assert second.invitation.status_at(expired_at) is InvitationStatus.PENDING
    assert world.accept(receiver_id, second.token, expired_at).active


def test_resending_needs_outsourcing_to_be_allowed(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    issued = world.invite(lead_id)
    outsourcing_setup.update_settings(world.tenants, lead_id, {"enabled": False})
    assert (
        _refusal(RuleViolationError, lambda: world.resend(lead_id, issued.invitation.invitation_id))
        == "outsourcing_disabled"
    )
    assert world.stored(issued).sent_count == 1
    assert len(world.mailer) == 1


# -- accepting and declining --------------------------------------------------------------------


def test_accepting_creates_both_sides_of_an_active_partnership(world: World) -> None:
    # Given a lead's invitation, and a receiver that never set up outsourcing itself
    lead_id = world.tenant("Lead IT", enabled=True)
    receiver_id = world.tenant("Service IT")
    issued = world.invite(lead_id)
    # When the receiver accepts it
    service = world.accept(receiver_id, issued.token, NOW + timedelta(hours=1))
    # Then the receiver sees the lead as its lead, with the default mapping
    assert service.tenant_id == receiver_id
    assert service.role is PartnerRole.LEAD
    assert (service.partner_tenant_id, service.partner_name) == (lead_id, "Lead IT")
    assert service.status is PartnershipStatus.ACTIVE
    assert service.mapping == PartnerMapping()
    # And the lead sees the receiver as its service partner under the same id
    lead = world.partnerships.get(lead_id, service.partnership_id)
    assert lead.role is PartnerRole.SERVICE
    assert (lead.partner_tenant_id, lead.partner_name) == (receiver_id, "Service IT")
    assert (lead.lead_tenant_id, lead.service_tenant_id) == (lead_id, receiver_id)
    # And the invitation records the outcome
    stored = world.stored(issued)
    assert stored.status is InvitationStatus.ACCEPTED
    assert stored.partnership_id == service.partnership_id
    assert stored.accepted_by_tenant_id == receiver_id
    assert stored.resolved_at == NOW + timedelta(hours=1)


def test_a_token_works_once(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    first, second = world.tenant("First IT"), world.tenant("Second IT")
    accepted, declined = world.invite(lead_id), world.invite(lead_id)
    world.accept(first, accepted.token)
    assert world.decline(first, declined.token).status is InvitationStatus.DECLINED
    for token in (accepted.token, declined.token):
        for receiver in (first, second):
            for use in (world.accept, world.decline):
                assert (
                    _refusal(RuleViolationError, lambda u=use, r=receiver, t=token: u(r, t))
                    == "invitation_used"
                )


def test_a_token_expires_at_its_expiry(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    issued = world.invite(lead_id)
    expiry = issued.invitation.expires_at
    for use in (world.accept, world.decline):
        assert (
            _refusal(RuleViolationError, lambda u=use: u(receiver_id, issued.token, expiry))
            == "invitation_expired"
        )
    assert world.stored(issued).status is InvitationStatus.PENDING
    assert world.accept(receiver_id, issued.token, expiry - timedelta(seconds=1)).active


def _forgeries(token: str, lead_id: str, invitation_id: str) -> list[str]:
    secret = token[-32:]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    return [
        "",
        "garbage",
        token[:-1],
        token + "A",
        token.upper() if token.upper() != token else token.lower(),
        token[: -len(secret)] + flipped,
        token.replace(invitation_id, new_id()),
        token.replace(lead_id, new_id()),
        "xx" + token[2:],
        "pi_" + "0" * (len(token) - 3),
        "pi_" + "!" * (len(token) - 3),
    ]


def test_forged_tokens_are_invalid(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    issued = world.invite(lead_id)
    for forged in _forgeries(issued.token, lead_id, issued.invitation.invitation_id):
        for use in (world.accept, world.decline):
            assert (
                _refusal(RuleViolationError, lambda u=use, f=forged: u(receiver_id, f))
                == "invitation_invalid"
            ), forged
    assert world.stored(issued).status is InvitationStatus.PENDING
    assert world.accept(receiver_id, issued.token).active


def test_a_lead_cannot_accept_its_own_invitation(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    issued = world.invite(lead_id)
    assert _refusal(RuleViolationError, lambda: world.accept(lead_id, issued.token)) == (
        "self_partnership"
    )
    assert world.stored(issued).status is InvitationStatus.PENDING
    assert world.partnerships.sides == {}


def test_a_language_mismatch_at_acceptance_leaves_the_invitation_usable(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    german, english = world.tenant("Dienstleister GmbH", "de"), world.tenant("Service IT")
    issued = world.invite(lead_id)
    assert _refusal(RuleViolationError, lambda: world.accept(german, issued.token)) == (
        "language_mismatch"
    )
    assert world.stored(issued).status is InvitationStatus.PENDING
    assert world.partnerships.sides == {}
    assert world.accept(english, issued.token).active


def test_an_invitation_naming_a_tenant_cannot_be_used_by_another(world: World) -> None:
    lead_id = world.tenant(enabled=True)
    named, other = world.tenant("Named IT"), world.tenant("Other IT")
    issued = world.invite(lead_id, target=named)
    for use in (world.accept, world.decline):
        assert (
            _refusal(RuleViolationError, lambda u=use: u(other, issued.token))
            == "invitation_for_another_tenant"
        )
    assert world.stored(issued).status is InvitationStatus.PENDING
    assert world.accept(named, issued.token).partner_tenant_id == lead_id


def test_a_pair_cannot_have_two_active_partnerships(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    first, second = world.invite(lead_id), world.invite(lead_id)
    first_id = world.accept(receiver_id, first.token).partnership_id
    assert _refusal(ConflictError, lambda: world.accept(receiver_id, second.token)) == (
        "already_exists"
    )
    assert world.stored(second).status is InvitationStatus.PENDING
    listed = partners.list_partnerships(world.ports, receiver_id, None, Paging(10)).items
    assert [p.partnership_id for p in listed] == [first_id]


def test_a_new_partnership_may_follow_a_deactivated_one(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Service IT")
    first = world.accept(receiver_id, world.invite(lead_id).token)
    partners.deactivate_partnership(world.ports, lead_id, first.partnership_id, NOW)
    second = world.accept(receiver_id, world.invite(lead_id).token)
    assert second.partnership_id != first.partnership_id
    listed = partners.list_partnerships(world.ports, receiver_id, None, Paging(10)).items
    assert {p.partnership_id: p.status for p in listed} == {
        first.partnership_id: PartnershipStatus.INACTIVE,
        second.partnership_id: PartnershipStatus.ACTIVE,
    }


def test_a_tenant_that_lost_the_race_learns_what_happened_to_the_invitation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invitation that another tenant declines while this one is accepting it
    lead_id = world.tenant(enabled=True)
    slow, fast = world.tenant("Slow IT"), world.tenant("Fast IT")
    issued = world.invite(lead_id)
    accept = world.invitations.accept

    def declined_meanwhile(invitation: Invitation, lead: Partnership, svc: Partnership) -> None:
        world.decline(fast, issued.token)
        accept(invitation, lead, svc)

    monkeypatch.setattr(world.invitations, "accept", declined_meanwhile)
    # When this tenant's acceptance is written
    code = _refusal(RuleViolationError, lambda: world.accept(slow, issued.token))
    # Then it is told the token was used, and no partnership exists
    assert code == "invitation_used"
    assert world.partnerships.sides == {}


def test_declining_uses_up_the_token_without_a_partnership(world: World) -> None:
    lead_id, receiver_id = world.tenant(enabled=True), world.tenant("Dienstleister", "de")
    issued = world.invite(lead_id)
    declined = world.decline(receiver_id, issued.token, NOW + timedelta(minutes=5))
    assert declined.status is InvitationStatus.DECLINED
    assert declined.resolved_at == NOW + timedelta(minutes=5)
    assert declined.accepted_by_tenant_id == receiver_id
    assert world.partnerships.sides == {}


# -- partnerships and mappings ------------------------------------------------------------------


def _partnered(world: World) -> tuple[str, str, str]:
    lead_id = world.tenant("Lead IT", enabled=True)
    service_id = world.tenant("Service IT")
    partnership_id = world.accept(service_id, world.invite(lead_id).token).partnership_id
    return lead_id, service_id, partnership_id


def test_each_side_lists_the_other_by_its_role(world: World) -> None:
    lead_id, service_id, partnership_id = _partnered(world)

    def listed(tenant_id: str, role: PartnerRole | None) -> list[tuple[str, PartnerRole]]:
        page = partners.list_partnerships(world.ports, tenant_id, role, Paging(10))
        return [(p.partnership_id, p.role) for p in page.items]

    assert listed(lead_id, PartnerRole.SERVICE) == [(partnership_id, PartnerRole.SERVICE)]
    assert listed(lead_id, PartnerRole.LEAD) == []
    assert listed(service_id, PartnerRole.LEAD) == [(partnership_id, PartnerRole.LEAD)]
    assert listed(service_id, PartnerRole.SERVICE) == []
    assert listed(service_id, None) == [(partnership_id, PartnerRole.LEAD)]


def test_service_partners_of_one_lead_never_see_each_other(world: World) -> None:
    lead_id, first_id, first = _partnered(world)
    second_id = world.tenant("Second IT")
    second = world.accept(second_id, world.invite(lead_id).token).partnership_id
    for tenant_id, foreign in ((first_id, second), (second_id, first)):
        page = partners.list_partnerships(world.ports, tenant_id, None, Paging(10))
        assert [p.partner_tenant_id for p in page.items] == [lead_id]
        for call in (
            lambda t=tenant_id, f=foreign: partners.get_partnership(world.ports, t, f),
            lambda t=tenant_id, f=foreign: partners.get_mapping(world.ports, t, f),
            lambda t=tenant_id, f=foreign: partners.deactivate_partnership(world.ports, t, f, NOW),
            lambda t=tenant_id, f=foreign: partners.set_mapping(
                world.ports, t, f, PartnerMapping()
            ),
        ):
            with pytest.raises(NotFoundError):
                call()


@pytest.mark.parametrize("side", ["lead", "service"])
def test_either_side_ends_the_partnership_for_both_once(world: World, side: str) -> None:
    lead_id, service_id, partnership_id = _partnered(world)
    actor = lead_id if side == "lead" else service_id
    ended = partners.deactivate_partnership(world.ports, actor, partnership_id, NOW)
    assert ended.status is PartnershipStatus.INACTIVE
    for tenant_id in (lead_id, service_id):
        seen = partners.get_partnership(world.ports, tenant_id, partnership_id)
        assert seen.status is PartnershipStatus.INACTIVE
        assert seen.deactivated_by_tenant_id == actor
        assert seen.deactivated_at == NOW
        assert (
            _refusal(
                ConflictError,
                lambda t=tenant_id: partners.deactivate_partnership(
                    world.ports, t, partnership_id, NOW
                ),
            )
            == "invalid_transition"
        )


def test_only_the_service_partner_has_a_mapping(world: World) -> None:
    lead_id, service_id, partnership_id = _partnered(world)
    assert partners.get_mapping(world.ports, service_id, partnership_id) == (PartnerMapping())
    with pytest.raises(NotFoundError):
        partners.get_mapping(world.ports, lead_id, partnership_id)
    with pytest.raises(NotFoundError):
        partners.set_mapping(world.ports, lead_id, partnership_id, PartnerMapping())


def test_a_mapping_replaces_the_previous_one_also_after_deactivation(world: World) -> None:
    lead_id, service_id, partnership_id = _partnered(world)
    partners.deactivate_partnership(world.ports, lead_id, partnership_id, NOW)
    mapping = PartnerMapping(
        organization="Lead Customer",
        queue="Partners",
        status_map={**DEFAULT_STATUS_MAP, OutsourceStatus.RECALLED: TicketStatus.NEW},
    )
    saved = partners.set_mapping(world.ports, service_id, partnership_id, mapping)
    assert saved == mapping
    assert partners.get_mapping(world.ports, service_id, partnership_id) == mapping
    partners.set_mapping(world.ports, service_id, partnership_id, PartnerMapping())
    assert partners.get_mapping(world.ports, service_id, partnership_id) == (PartnerMapping())


def test_a_mapping_of_a_status_an_insourced_ticket_never_has_is_refused(world: World) -> None:
    _, service_id, partnership_id = _partnered(world)
    bad = PartnerMapping(status_map={OutsourceStatus.ASSIGNED: TicketStatus.NEW})
    with pytest.raises(ValidationError) as refused:
        partners.set_mapping(world.ports, service_id, partnership_id, bad)
    assert refused.value.field == "status_map.assigned"
    assert partners.get_mapping(world.ports, service_id, partnership_id) == (PartnerMapping())


@pytest.mark.parametrize(
    "source",
    ['{% include "other.txt" %} {{ token }}', "{{ inviter() }} {{ token }}"],
)
def test_a_template_that_cannot_render_is_refused_when_saved(world: World, source: str) -> None:
    tenant_id = world.tenant()
    with pytest.raises(ValidationError) as refused:
        outsourcing_setup.update_settings(world.tenants, tenant_id, {"invitation_template": source})
    assert refused.value.field == "invitation_template"
