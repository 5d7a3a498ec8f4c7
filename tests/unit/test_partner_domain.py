"""Domain rules of the Outsource Agreement, invitations, partnerships and mappings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import agreement
from chalicelib.domain.errors import ConflictError, RuleViolationError, ValidationError
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.domain.partners import (
    DEFAULT_INVITATION_DAYS,
    DEFAULT_STATUS_MAP,
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
    check_can_partner,
    check_deactivatable,
    check_resendable,
    check_revocable,
    check_same_language,
    check_status_map,
    check_token_usable,
)
from chalicelib.domain.tenants import (
    DEFAULT_INVITATION_BODY,
    DEFAULT_INVITATION_SUBJECT,
    INVITATION_PLACEHOLDERS,
    AgreementAcceptance,
    OutsourcingSettings,
    Tenant,
)
from chalicelib.domain.tickets import TicketStatus

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
MAPPABLE = list(DEFAULT_STATUS_MAP)
NOT_MAPPABLE = [s for s in OutsourceStatus if s not in DEFAULT_STATUS_MAP]


def _tenant(tenant_id: str = "LEAD", language: str = "en", **fields: object) -> Tenant:
    base = {
        "tenant_id": tenant_id,
        "name": f"{tenant_id} IT",
        "language": language,
        "currency": "USD",
        "contact_email": "ops@example.com",
        "created_at": NOW,
    }
    return Tenant(**{**base, **fields})  # type: ignore[arg-type]


def _invitation(**fields: object) -> Invitation:
    base = {
        "lead_tenant_id": "LEAD",
        "invitation_id": "INV",
        "email": "partner@example.com",
        "company_name": "Partner IT",
        "token_hash": "h" * 64,
        "status": InvitationStatus.PENDING,
        "expires_at": NOW + timedelta(days=DEFAULT_INVITATION_DAYS),
        "created_at": NOW,
    }
    return Invitation(**{**base, **fields})  # type: ignore[arg-type]


def _partnership(**fields: object) -> Partnership:
    base = {
        "tenant_id": "LEAD",
        "partnership_id": "P",
        "role": PartnerRole.SERVICE,
        "partner_tenant_id": "SERVICE",
        "partner_name": "Service IT",
        "status": PartnershipStatus.ACTIVE,
        "created_at": NOW,
        "lead_tenant_id": "LEAD",
        "service_tenant_id": "SERVICE",
    }
    return Partnership(**{**base, **fields})  # type: ignore[arg-type]


# -- Outsource Agreement ------------------------------------------------------------------------


def test_the_agreement_text_names_its_version() -> None:
    assert agreement.CURRENT_VERSION in agreement.TEXT


@pytest.mark.parametrize(
    ("accepted_version", "enabled", "refusal"),
    [
        (None, False, "agreement_required"),
        (None, True, "agreement_required"),
        ("2020-01-01", True, "agreement_required"),
        (agreement.CURRENT_VERSION, False, "outsourcing_disabled"),
        (agreement.CURRENT_VERSION, True, None),
    ],
)
def test_outsourcing_needs_the_current_agreement_and_the_switch_on(
    accepted_version: str | None, enabled: bool, refusal: str | None
) -> None:
    acceptance = (
        AgreementAcceptance(by="Jane Admin", at=NOW, version=accepted_version)
        if accepted_version
        else None
    )
    tenant = _tenant(agreement=acceptance, outsourcing_enabled=enabled)
    assert agreement.is_accepted(tenant) is (accepted_version == agreement.CURRENT_VERSION)
    if refusal is None:
        agreement.ensure_outsourcing_allowed(tenant)
    else:
        with pytest.raises(RuleViolationError) as refused:
            agreement.ensure_outsourcing_allowed(tenant)
        assert refused.value.code == refusal


@pytest.mark.parametrize("version", ["2020-01-01", "", agreement.CURRENT_VERSION + " ", "latest"])
def test_only_the_current_agreement_version_can_be_accepted(version: str) -> None:
    agreement.ensure_current_version(agreement.CURRENT_VERSION)
    with pytest.raises(ConflictError) as refused:
        agreement.ensure_current_version(version)
    assert refused.value.code == "agreement_outdated"
    assert refused.value.field == "version"


def test_default_settings_invite_with_a_token_for_fourteen_days() -> None:
    settings = OutsourcingSettings()
    assert settings.invitation_expiry_days == DEFAULT_INVITATION_DAYS == 14
    assert settings.invitation_subject == DEFAULT_INVITATION_SUBJECT
    assert settings.invitation_template == DEFAULT_INVITATION_BODY
    assert "{{ token }}" in DEFAULT_INVITATION_BODY
    assert "token" not in DEFAULT_INVITATION_SUBJECT
    assert {"inviter", "company_name", "email", "token", "expires_at"} == INVITATION_PLACEHOLDERS


# -- invitations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "offset", "seen"),
    [
        (InvitationStatus.PENDING, timedelta(seconds=-1), InvitationStatus.PENDING),
        (InvitationStatus.PENDING, timedelta(0), InvitationStatus.EXPIRED),
        (InvitationStatus.PENDING, timedelta(days=1), InvitationStatus.EXPIRED),
        (InvitationStatus.ACCEPTED, timedelta(days=1), InvitationStatus.ACCEPTED),
        (InvitationStatus.DECLINED, timedelta(days=1), InvitationStatus.DECLINED),
        (InvitationStatus.REVOKED, timedelta(days=1), InvitationStatus.REVOKED),
        (InvitationStatus.REVOKED, timedelta(days=-1), InvitationStatus.REVOKED),
    ],
)
def test_a_pending_invitation_reads_as_expired_from_its_expiry_on(
    stored: InvitationStatus, offset: timedelta, seen: InvitationStatus
) -> None:
    invitation = _invitation(status=stored)
    assert invitation.status_at(invitation.expires_at + offset) is seen


@pytest.mark.parametrize(
    ("stored", "offset", "refusal"),
    [
        (InvitationStatus.PENDING, timedelta(microseconds=-1), None),
        (InvitationStatus.PENDING, timedelta(0), "invitation_expired"),
        (InvitationStatus.ACCEPTED, timedelta(days=-1), "invitation_used"),
        (InvitationStatus.DECLINED, timedelta(days=-1), "invitation_used"),
        (InvitationStatus.ACCEPTED, timedelta(days=1), "invitation_used"),
        (InvitationStatus.REVOKED, timedelta(days=-1), "invitation_revoked"),
        (InvitationStatus.REVOKED, timedelta(days=1), "invitation_revoked"),
    ],
)
def test_a_token_is_usable_once_before_expiry_unless_revoked(
    stored: InvitationStatus, offset: timedelta, refusal: str | None
) -> None:
    invitation = _invitation(status=stored)
    now = invitation.expires_at + offset
    if refusal is None:
        check_token_usable(invitation, now)
    else:
        with pytest.raises(RuleViolationError) as refused:
            check_token_usable(invitation, now)
        assert refused.value.code == refusal


@pytest.mark.parametrize("check", [check_revocable, check_resendable])
def test_only_pending_invitations_can_be_revoked_or_resent_even_when_expired(
    check: Callable[[Invitation, datetime], None],
) -> None:
    check(_invitation(), NOW)
    check(_invitation(), NOW + timedelta(days=30))  # expired but still stored as pending
    for status in (InvitationStatus.ACCEPTED, InvitationStatus.DECLINED, InvitationStatus.REVOKED):
        with pytest.raises(ConflictError) as refused:
            check(_invitation(status=status), NOW)
        assert refused.value.code == "invalid_transition"
        assert status.value in refused.value.message


# -- joining two tenants ------------------------------------------------------------------------


def test_a_tenant_cannot_partner_with_itself() -> None:
    lead = _tenant("LEAD")
    with pytest.raises(RuleViolationError) as refused:
        check_can_partner(lead, lead, _invitation())
    assert refused.value.code == "self_partnership"
    with pytest.raises(RuleViolationError) as named_itself:
        check_can_partner(lead, lead, _invitation(target_tenant_id="LEAD"))
    assert named_itself.value.code == "self_partnership"


def test_an_invitation_naming_a_tenant_is_only_for_that_tenant() -> None:
    lead, named, other = _tenant("LEAD"), _tenant("NAMED"), _tenant("OTHER")
    invitation = _invitation(target_tenant_id="NAMED")
    check_can_partner(lead, named, invitation)
    with pytest.raises(RuleViolationError) as refused:
        check_can_partner(lead, other, invitation)
    assert refused.value.code == "invitation_for_another_tenant"
    check_can_partner(lead, other, _invitation(target_tenant_id=None))


@pytest.mark.parametrize(("lead_language", "receiver_language"), [("en", "de"), ("de", "en")])
def test_partners_must_share_a_language(lead_language: str, receiver_language: str) -> None:
    lead = _tenant("LEAD", lead_language)
    receiver = _tenant("SERVICE", receiver_language)
    checks: list[Callable[[], None]] = [
        lambda: check_same_language(lead, receiver),
        lambda: check_can_partner(lead, receiver, _invitation()),
    ]
    for check in checks:
        with pytest.raises(RuleViolationError) as refused:
            check()
        assert refused.value.code == "language_mismatch"
        assert f"'{lead_language}'" in refused.value.message
        assert f"'{receiver_language}'" in refused.value.message
    check_can_partner(lead, _tenant("SAME", lead_language), _invitation())


# -- partnerships and mappings ------------------------------------------------------------------


def test_roles_name_the_other_side_and_are_opposites() -> None:
    assert PartnerRole.LEAD.opposite is PartnerRole.SERVICE
    assert PartnerRole.SERVICE.opposite is PartnerRole.LEAD


def test_only_an_active_partnership_can_be_deactivated() -> None:
    active = _partnership()
    assert active.active
    check_deactivatable(active)
    inactive = dataclasses.replace(active, status=PartnershipStatus.INACTIVE)
    assert not inactive.active
    with pytest.raises(ConflictError) as refused:
        check_deactivatable(inactive)
    assert refused.value.code == "invalid_transition"


def test_a_new_mapping_files_by_the_default_status_map_and_nothing_else() -> None:
    assert DEFAULT_STATUS_MAP == {
        OutsourceStatus.IN_PROGRESS: TicketStatus.IN_PROGRESS,
        OutsourceStatus.WAITING_APPROVAL: TicketStatus.WAITING,
        OutsourceStatus.COMPLETE: TicketStatus.COMPLETE,
        OutsourceStatus.RECALLED: TicketStatus.COMPLETE,
    }
    mapping = PartnerMapping()
    assert (mapping.organization, mapping.queue, mapping.work_type, mapping.resource) == (
        None,
        None,
        None,
        None,
    )
    assert mapping.status_map == DEFAULT_STATUS_MAP
    assert mapping.ticket_status_for(OutsourceStatus.RECALLED) is TicketStatus.COMPLETE
    assert mapping.ticket_status_for(OutsourceStatus.ASSIGNED) is None


def test_mappings_do_not_share_the_default_status_map() -> None:
    first = PartnerMapping()
    assert isinstance(first.status_map, dict)
    first.status_map[OutsourceStatus.COMPLETE] = TicketStatus.NEW
    assert PartnerMapping().status_map[OutsourceStatus.COMPLETE] is TicketStatus.COMPLETE
    assert DEFAULT_STATUS_MAP[OutsourceStatus.COMPLETE] is TicketStatus.COMPLETE


@pytest.mark.parametrize("status", MAPPABLE)
def test_every_insourced_status_may_be_mapped_to_any_ticket_status(
    status: OutsourceStatus,
) -> None:
    for ticket_status in TicketStatus:
        check_status_map({status: ticket_status})


@pytest.mark.parametrize("status", NOT_MAPPABLE)
def test_statuses_an_insourced_ticket_never_has_cannot_be_mapped(status: OutsourceStatus) -> None:
    with pytest.raises(ValidationError) as refused:
        check_status_map({**DEFAULT_STATUS_MAP, status: TicketStatus.COMPLETE})
    assert refused.value.field == f"status_map.{status.value}"
