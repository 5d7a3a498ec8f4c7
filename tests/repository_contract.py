"""One contract for the repositories, run against the fakes (unit) and DynamoDB (integration)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.fees import CurrencyTotal, FeeRecord, Month
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Note, Origin
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    PricingType,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.outsourcing import OutsourceStatus as S
from chalicelib.domain.partners import (
    DEFAULT_STATUS_MAP,
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
)
from chalicelib.domain.tenants import AgreementAcceptance, OutsourcingSettings, Permission, Tenant
from chalicelib.domain.tickets import Ticket, TicketStatus
from chalicelib.ports import (
    ApiKeyRepository,
    FeeRepository,
    IdempotencyStore,
    InvitationRepository,
    ItemRepository,
    OutsourcingRepository,
    PartnershipRepository,
    StoredResponse,
    TenantRepository,
    TicketChange,
    TicketRepository,
    TransitionPlan,
)
from chalicelib.service.api_keys import mint_key


@dataclass
class Repos:
    tenants: TenantRepository
    keys: ApiKeyRepository
    tickets: TicketRepository
    items: ItemRepository
    idempotency: IdempotencyStore
    invitations: InvitationRepository
    partnerships: PartnershipRepository
    outsourcings: OutsourcingRepository


def _tenant() -> Tenant:
    return Tenant(
        tenant_id=new_id(),
        name="Acme",
        language="en",
        currency="USD",
        contact_email="ops@acme.example",
        created_at=utcnow(),
        active_all_keys=1,
    )


def _ticket(tenant_id: str, **fields: object) -> Ticket:
    now = utcnow()
    base = {
        "tenant_id": tenant_id,
        "ticket_id": new_id(),
        "number": "T20261125.0001",
        "title": "t",
        "currency": "USD",
        "created_at": now,
        "updated_at": now,
    }
    return Ticket(**{**base, **fields})  # type: ignore[arg-type]


def _note(tenant_id: str, ticket_id: str, text: str = "n") -> Note:
    now = utcnow()
    return Note(
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        item_id=new_id(),
        text=text,
        created_at=now,
        updated_at=now,
    )


def _invitation(lead_tenant_id: str, **fields: object) -> Invitation:
    now = utcnow().replace(microsecond=0)
    base = {
        "lead_tenant_id": lead_tenant_id,
        "invitation_id": new_id(),
        "email": "partner@example.com",
        "company_name": "Partner IT",
        "token_hash": "a" * 64,
        "status": InvitationStatus.PENDING,
        "expires_at": now + timedelta(days=14),
        "created_at": now,
        "created_by": "admin",
    }
    return Invitation(**{**base, **fields})  # type: ignore[arg-type]


def _sides(invitation: Invitation, service_tenant_id: str) -> tuple[Partnership, Partnership]:
    """Both sides of the partnership that accepting ``invitation`` creates."""
    lead_tenant_id = invitation.lead_tenant_id
    common = {
        "partnership_id": new_id(),
        "status": PartnershipStatus.ACTIVE,
        "created_at": utcnow().replace(microsecond=0),
        "lead_tenant_id": lead_tenant_id,
        "service_tenant_id": service_tenant_id,
        "invitation_id": invitation.invitation_id,
    }
    lead = Partnership(
        tenant_id=lead_tenant_id,
        role=PartnerRole.SERVICE,
        partner_tenant_id=service_tenant_id,
        partner_name="Service IT",
        **common,  # type: ignore[arg-type]
    )
    service = Partnership(
        tenant_id=service_tenant_id,
        role=PartnerRole.LEAD,
        partner_tenant_id=lead_tenant_id,
        partner_name="Lead IT",
        mapping=PartnerMapping(),
        **common,  # type: ignore[arg-type]
    )
    return lead, service


def _partner(repos: Repos, lead_tenant_id: str, service_tenant_id: str) -> Partnership:
    """A new active partnership through an accepted invitation; returns the lead's side."""
    invitation = _invitation(lead_tenant_id)
    repos.invitations.add(invitation)
    lead, service = _sides(invitation, service_tenant_id)
    repos.invitations.accept(invitation, lead, service)
    return lead


class RepositoryContract:
    """Subclasses provide the ``repos`` fixture."""

    @pytest.fixture
    def repos(self) -> Repos:
        raise NotImplementedError

    def test_tenant_round_trip_and_missing(self, repos: Repos) -> None:
        tenant = _tenant()
        key = mint_key(tenant.tenant_id, name="k", permission=Permission.ALL, now=utcnow()).key
        repos.tenants.create_with_key(tenant, key)
        assert repos.tenants.get(tenant.tenant_id).name == "Acme"
        assert repos.keys.get(tenant.tenant_id, key.key_id).key_hash == key.key_hash
        with pytest.raises(NotFoundError):
            repos.tenants.get(new_id())

    def test_the_last_all_key_cannot_be_revoked(self, repos: Repos) -> None:
        tenant = _tenant()
        first = mint_key(tenant.tenant_id, name="a", permission=Permission.ALL, now=utcnow()).key
        repos.tenants.create_with_key(tenant, first)
        weak = mint_key(tenant.tenant_id, name="w", permission=Permission.NONE, now=utcnow()).key
        repos.keys.add(weak)
        assert repos.keys.revoke(weak, utcnow()).revoked_at is not None
        with pytest.raises(ConflictError) as refused:
            repos.keys.revoke(first, utcnow())
        assert refused.value.code == "last_all_key"
        second = mint_key(tenant.tenant_id, name="b", permission=Permission.ALL, now=utcnow()).key
        repos.keys.add(second)
        repos.keys.revoke(first, utcnow())
        listed = repos.keys.list(tenant.tenant_id, 10, None).items
        assert {k.key_id: k.active for k in listed} == {
            first.key_id: False,
            weak.key_id: False,
            second.key_id: True,
        }

    def test_ticket_numbers_count_per_tenant_and_day(self, repos: Repos) -> None:
        a, b = new_id(), new_id()
        day = date(2026, 11, 25)
        assert [repos.tickets.next_number(a, day) for _ in range(3)] == [1, 2, 3]
        assert repos.tickets.next_number(b, day) == 1
        assert repos.tickets.next_number(a, day + timedelta(days=1)) == 1

    def test_ticket_update_is_guarded_by_version(self, repos: Repos) -> None:
        ticket = _ticket(new_id())
        repos.tickets.add(ticket)
        updated = repos.tickets.update(ticket, {"title": "new"})
        assert updated.version == ticket.version + 1
        assert repos.tickets.get(ticket.tenant_id, ticket.ticket_id).title == "new"
        with pytest.raises(ConflictError) as stale:
            repos.tickets.update(ticket, {"title": "stale"})
        assert stale.value.code == "version_conflict"
        assert repos.tickets.get(ticket.tenant_id, ticket.ticket_id).title == "new"

    def test_another_tenants_ticket_is_not_found(self, repos: Repos) -> None:
        ticket = _ticket(new_id())
        repos.tickets.add(ticket)
        with pytest.raises(NotFoundError):
            repos.tickets.get(new_id(), ticket.ticket_id)

    def test_ticket_lists_page_newest_first_and_filter(self, repos: Repos) -> None:
        tenant_id = new_id()
        made = []
        for index in range(5):
            status = TicketStatus.NEW if index % 2 else TicketStatus.IN_PROGRESS
            ticket = _ticket(tenant_id, status=status, queue="Q" if index < 2 else None)
            repos.tickets.add(ticket)
            made.append(ticket)
        repos.tickets.add(_ticket(new_id()))
        seen, cursor = [], None
        while True:
            page = repos.tickets.list(tenant_id, status=None, queue=None, limit=2, cursor=cursor)
            seen.extend(t.ticket_id for t in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [t.ticket_id for t in reversed(made)]
        new = repos.tickets.list(
            tenant_id, status=TicketStatus.NEW, queue=None, limit=10, cursor=None
        )
        assert {t.ticket_id for t in new.items} == {made[1].ticket_id, made[3].ticket_id}
        queued = repos.tickets.list(tenant_id, status=None, queue="Q", limit=10, cursor=None)
        assert {t.ticket_id for t in queued.items} == {made[0].ticket_id, made[1].ticket_id}

    def test_items_live_list_oldest_first_and_deletes_are_hidden(self, repos: Repos) -> None:
        tenant_id, ticket_id = new_id(), new_id()
        notes = [_note(tenant_id, ticket_id, f"n{i}") for i in range(3)]
        for note in notes:
            repos.items.add(note)
        repos.items.update(notes[1], {"deleted": True, "updated_at": utcnow()})
        listed = repos.items.list(tenant_id, ticket_id, 10, None).items
        assert [i.item_id for i in listed] == [notes[0].item_id, notes[2].item_id]
        with pytest.raises(NotFoundError):
            repos.items.get(tenant_id, ticket_id, notes[1].item_id)
        with pytest.raises(NotFoundError):
            repos.items.get(new_id(), ticket_id, notes[0].item_id)

    def test_item_update_is_guarded_by_version(self, repos: Repos) -> None:
        note = _note(new_id(), new_id())
        repos.items.add(note)
        updated = repos.items.update(note, {"text": "new"})
        assert updated.version == 2
        assert isinstance(updated, Note)
        assert updated.text == "new"
        with pytest.raises(ConflictError):
            repos.items.update(note, {"text": "stale"})
        with pytest.raises(ConflictError):
            repos.items.add(dataclasses.replace(note, text="again"))

    def test_idempotency_claims_once(self, repos: Repos) -> None:
        tenant_id = new_id()
        assert repos.idempotency.begin(tenant_id, "k", "f1") is None
        pending = repos.idempotency.begin(tenant_id, "k", "f2")
        assert pending is not None
        assert pending.fingerprint == "f1"
        assert pending.response is None
        repos.idempotency.finish(tenant_id, "k", StoredResponse(201, {"a": 1}, {}))
        done = repos.idempotency.begin(tenant_id, "k", "f1")
        assert done is not None
        assert done.response == StoredResponse(201, {"a": 1}, {})
        assert repos.idempotency.begin(new_id(), "k", "f1") is None
        repos.idempotency.abandon(tenant_id, "k")
        assert repos.idempotency.begin(tenant_id, "k", "f3") is None

    def test_tenant_update_applies_changes_and_is_guarded_by_version(self, repos: Repos) -> None:
        # Given a stored tenant
        tenant = _tenant()
        key = mint_key(tenant.tenant_id, name="k", permission=Permission.ALL, now=utcnow()).key
        repos.tenants.create_with_key(tenant, key)
        accepted = AgreementAcceptance(
            by="Jane Admin", at=utcnow().replace(microsecond=0), version="2026-11-01"
        )
        settings = OutsourcingSettings(
            invitation_subject="Join {{ inviter }}",
            invitation_template="Token: {{ token }}",
            invitation_expiry_days=3,
        )
        # When the switch, the agreement and the settings change
        updated = repos.tenants.update(
            tenant, {"outsourcing_enabled": True, "agreement": accepted, "settings": settings}
        )
        # Then they are stored, and the version moved on
        stored = repos.tenants.get(tenant.tenant_id)
        for seen in (updated, stored):
            assert seen.outsourcing_enabled is True
            assert seen.agreement == accepted
            assert seen.settings == settings
            assert seen.name == "Acme"
            assert seen.version == tenant.version + 1
        # And a change based on the old version is refused and leaves the tenant alone
        with pytest.raises(ConflictError) as stale:
            repos.tenants.update(tenant, {"outsourcing_enabled": False})
        assert stale.value.code == "version_conflict"
        assert repos.tenants.get(tenant.tenant_id).outsourcing_enabled is True

    def test_invitation_round_trip_is_per_lead(self, repos: Repos) -> None:
        lead_id = new_id()
        invitation = _invitation(lead_id, target_tenant_id=new_id())
        repos.invitations.add(invitation)
        stored = repos.invitations.get(lead_id, invitation.invitation_id)
        assert dataclasses.replace(stored, version=1) == invitation
        with pytest.raises(NotFoundError):
            repos.invitations.get(new_id(), invitation.invitation_id)
        with pytest.raises(NotFoundError):
            repos.invitations.get(lead_id, new_id())

    def test_invitations_list_newest_first_in_pages(self, repos: Repos) -> None:
        lead_id = new_id()
        made = [_invitation(lead_id) for _ in range(3)]
        for invitation in made:
            repos.invitations.add(invitation)
        repos.invitations.add(_invitation(new_id()))
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = repos.invitations.list(lead_id, 2, cursor)
            seen.extend(i.invitation_id for i in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [i.invitation_id for i in reversed(made)]

    def test_invitation_update_needs_it_pending_with_the_same_token_hash(
        self, repos: Repos
    ) -> None:
        # Given a pending invitation whose token was replaced (a resend)
        invitation = _invitation(new_id())
        repos.invitations.add(invitation)
        resent = repos.invitations.update(invitation, {"token_hash": "b" * 64, "sent_count": 2})
        assert resent.token_hash == "b" * 64
        assert resent.sent_count == 2
        # When a change is based on the old token
        with pytest.raises(ConflictError) as old_token:
            repos.invitations.update(
                dataclasses.replace(resent, token_hash=invitation.token_hash),
                {"status": InvitationStatus.REVOKED},
            )
        # Then it is refused
        assert old_token.value.code == "version_conflict"
        # And once it is no longer pending, nothing changes it any more
        revoked = repos.invitations.update(
            resent, {"status": InvitationStatus.REVOKED, "resolved_at": utcnow()}
        )
        assert revoked.status is InvitationStatus.REVOKED
        with pytest.raises(ConflictError) as not_pending:
            repos.invitations.update(revoked, {"email_status": "sent"})
        assert not_pending.value.code == "version_conflict"
        stored = repos.invitations.get(invitation.lead_tenant_id, invitation.invitation_id)
        assert stored.status is InvitationStatus.REVOKED
        assert stored.token_hash == "b" * 64

    def test_an_expiry_can_be_moved_while_pending(self, repos: Repos) -> None:
        invitation = _invitation(new_id())
        repos.invitations.add(invitation)
        past = invitation.created_at - timedelta(days=1)
        repos.invitations.update(invitation, {"expires_at": past})
        stored = repos.invitations.get(invitation.lead_tenant_id, invitation.invitation_id)
        assert stored.expires_at == past
        assert stored.status_at(utcnow()) is InvitationStatus.EXPIRED

    def test_accept_creates_both_sides_and_uses_up_the_invitation(self, repos: Repos) -> None:
        # Given a pending invitation
        lead_id, service_id = new_id(), new_id()
        invitation = _invitation(lead_id)
        repos.invitations.add(invitation)
        lead, service = _sides(invitation, service_id)
        # When it is accepted
        repos.invitations.accept(invitation, lead, service)
        # Then each tenant holds its side
        stored_lead = repos.partnerships.get(lead_id, lead.partnership_id)
        assert dataclasses.replace(stored_lead, version=lead.version) == lead
        stored_service = repos.partnerships.get(service_id, service.partnership_id)
        assert stored_service.role is PartnerRole.LEAD
        assert stored_service.mapping == PartnerMapping()
        # And the invitation records the outcome
        used = repos.invitations.get(lead_id, invitation.invitation_id)
        assert used.status is InvitationStatus.ACCEPTED
        assert used.partnership_id == lead.partnership_id
        assert used.accepted_by_tenant_id == service_id
        assert used.resolved_at == lead.created_at
        # And the same invitation cannot be accepted again, not even by another tenant
        other_lead, other_service = _sides(invitation, new_id())
        with pytest.raises(ConflictError) as again:
            repos.invitations.accept(invitation, other_lead, other_service)
        assert again.value.code == "version_conflict"
        with pytest.raises(NotFoundError):
            repos.partnerships.get(other_service.tenant_id, other_service.partnership_id)

    def test_accepting_with_a_replaced_token_is_refused(self, repos: Repos) -> None:
        invitation = _invitation(new_id())
        repos.invitations.add(invitation)
        repos.invitations.update(invitation, {"token_hash": "c" * 64})
        lead, service = _sides(invitation, new_id())
        with pytest.raises(ConflictError) as refused:
            repos.invitations.accept(
                dataclasses.replace(
                    repos.invitations.get(invitation.lead_tenant_id, invitation.invitation_id),
                    token_hash=invitation.token_hash,
                ),
                lead,
                service,
            )
        assert refused.value.code == "version_conflict"
        with pytest.raises(NotFoundError):
            repos.partnerships.get(lead.tenant_id, lead.partnership_id)
        stored = repos.invitations.get(invitation.lead_tenant_id, invitation.invitation_id)
        assert stored.status is InvitationStatus.PENDING

    def test_a_pair_has_at_most_one_active_partnership(self, repos: Repos) -> None:
        # Given an active partnership between a lead and a service partner
        lead_id, service_id = new_id(), new_id()
        _partner(repos, lead_id, service_id)
        # When a second invitation of the same lead is accepted by the same tenant
        second = _invitation(lead_id)
        repos.invitations.add(second)
        lead, service = _sides(second, service_id)
        with pytest.raises(ConflictError) as refused:
            repos.invitations.accept(second, lead, service)
        # Then it is refused, and nothing of it is stored
        assert refused.value.code == "already_exists"
        assert repos.invitations.get(lead_id, second.invitation_id).status is (
            InvitationStatus.PENDING
        )
        with pytest.raises(NotFoundError):
            repos.partnerships.get(service_id, service.partnership_id)
        with pytest.raises(NotFoundError):
            repos.partnerships.get(lead_id, lead.partnership_id)
        # But the service partner may lead the reverse partnership, and others may join the lead
        _partner(repos, service_id, lead_id)
        _partner(repos, lead_id, new_id())

    def test_after_deactivation_the_pair_may_partner_again(self, repos: Repos) -> None:
        # Given a pending invitation refused because the pair was already partnered
        lead_id, service_id = new_id(), new_id()
        first = _partner(repos, lead_id, service_id)
        second = _invitation(lead_id)
        repos.invitations.add(second)
        lead, service = _sides(second, service_id)
        with pytest.raises(ConflictError):
            repos.invitations.accept(second, lead, service)
        # When the first partnership ends
        repos.partnerships.deactivate(first, lead_id, utcnow())
        # Then the pending invitation can be accepted into a new, active partnership
        repos.invitations.accept(second, lead, service)
        assert repos.partnerships.get(service_id, service.partnership_id).active
        assert not repos.partnerships.get(service_id, first.partnership_id).active
        # And the pair again has only one active partnership
        third = _invitation(lead_id)
        repos.invitations.add(third)
        with pytest.raises(ConflictError) as refused:
            repos.invitations.accept(third, *_sides(third, service_id))
        assert refused.value.code == "already_exists"

    def test_partnerships_list_by_role_oldest_first_and_per_tenant(self, repos: Repos) -> None:
        # Given a tenant that leads two service partners and is the service partner of a third
        me, service_a, service_b, my_lead = new_id(), new_id(), new_id(), new_id()
        first = _partner(repos, me, service_a)
        second = _partner(repos, me, service_b)
        led = _partner(repos, my_lead, me)

        def ids(tenant_id: str, role: PartnerRole | None) -> list[str]:
            seen: list[str] = []
            cursor: str | None = None
            while True:
                page = repos.partnerships.list(tenant_id, role, 1, cursor)
                seen.extend(p.partnership_id for p in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    return seen

        # Then its lists show the other side's role, oldest first
        assert ids(me, PartnerRole.SERVICE) == [first.partnership_id, second.partnership_id]
        assert ids(me, PartnerRole.LEAD) == [led.partnership_id]
        assert ids(me, None) == [first.partnership_id, second.partnership_id, led.partnership_id]
        # And a service partner sees only its own lead, never the other service partner
        assert ids(service_a, None) == [first.partnership_id]
        assert ids(service_a, PartnerRole.SERVICE) == []
        with pytest.raises(NotFoundError):
            repos.partnerships.get(service_a, second.partnership_id)
        with pytest.raises(NotFoundError):
            repos.partnerships.get(new_id(), first.partnership_id)

    def test_deactivation_ends_both_sides_once(self, repos: Repos) -> None:
        # Given an active partnership
        lead_id, service_id = new_id(), new_id()
        lead = _partner(repos, lead_id, service_id)
        service = repos.partnerships.get(service_id, lead.partnership_id)
        at = utcnow().replace(microsecond=0)
        # When the service partner ends it
        ended = repos.partnerships.deactivate(service, service_id, at)
        # Then both sides are inactive, naming who ended it and when
        assert ended.status is PartnershipStatus.INACTIVE
        for tenant_id in (lead_id, service_id):
            side = repos.partnerships.get(tenant_id, lead.partnership_id)
            assert side.status is PartnershipStatus.INACTIVE
            assert side.deactivated_at == at
            assert side.deactivated_by_tenant_id == service_id
        # And ending it again, from either side, is refused
        for stale in (lead, service):
            with pytest.raises(ConflictError):
                repos.partnerships.deactivate(stale, stale.tenant_id, utcnow())
        # And the service partner's mapping can still be changed
        mapping = PartnerMapping(queue="Ended partners")
        repos.partnerships.set_mapping(
            repos.partnerships.get(service_id, lead.partnership_id), mapping
        )
        stored = repos.partnerships.get(service_id, lead.partnership_id)
        assert stored.mapping == mapping
        assert stored.status is PartnershipStatus.INACTIVE

    def test_the_mapping_is_stored_on_the_service_side(self, repos: Repos) -> None:
        lead_id, service_id = new_id(), new_id()
        lead = _partner(repos, lead_id, service_id)
        mapping = PartnerMapping(
            organization="Acme Corp",
            queue="Partners",
            work_type="Remote",
            resource=None,
            status_map={
                **DEFAULT_STATUS_MAP,
                OutsourceStatus.RECALLED: TicketStatus.NEW,
            },
        )
        saved = repos.partnerships.set_mapping(
            repos.partnerships.get(service_id, lead.partnership_id), mapping
        )
        assert saved.mapping == mapping
        stored = repos.partnerships.get(service_id, lead.partnership_id)
        assert stored.mapping == mapping
        assert stored.active
        assert repos.partnerships.get(lead_id, lead.partnership_id).mapping is None


class SyncRepositoryContract(RepositoryContract):
    """What synchronisation needs from the repositories: replicas, tombstones, once-only adds."""

    def test_a_replica_is_written_only_when_its_origin_is_newer(self, repos: Repos) -> None:
        note = _note(new_id(), new_id(), "v1")
        replica = dataclasses.replace(
            note,
            origin=Origin.PARTNER,
            origin_tenant=new_id(),
            origin_item_id=new_id(),
            origin_version=2,
            version=2,
        )
        assert repos.items.put_replica(replica) is True
        assert repos.items.put_replica(replica) is False  # a replay writes nothing
        older = dataclasses.replace(replica, text="old", origin_version=1, version=1)
        assert repos.items.put_replica(older) is False
        newer = dataclasses.replace(replica, text="new", origin_version=3, version=3)
        assert repos.items.put_replica(newer) is True
        stored = repos.items.get(note.tenant_id, note.ticket_id, note.item_id)
        assert isinstance(stored, Note)
        assert stored.text == "new"
        assert stored.origin_version == 3
        assert stored.read_only

    def test_tombstones_are_listed_only_when_asked(self, repos: Repos) -> None:
        tenant_id, ticket_id = new_id(), new_id()
        live, gone = _note(tenant_id, ticket_id, "live"), _note(tenant_id, ticket_id, "gone")
        repos.items.add(live)
        repos.items.add(gone)
        repos.items.update(gone, {"deleted": True, "updated_at": utcnow()})
        visible = repos.items.list(tenant_id, ticket_id, 10, None).items
        everything = repos.items.list(tenant_id, ticket_id, 10, None, include_deleted=True).items
        assert [i.item_id for i in visible] == [live.item_id]
        assert {i.item_id: i.deleted for i in everything} == {
            live.item_id: False,
            gone.item_id: True,
        }

    def test_add_once_adds_once(self, repos: Repos) -> None:
        note = _note(new_id(), new_id())
        assert repos.items.add_once(note) is True
        assert repos.items.add_once(dataclasses.replace(note, text="again")) is False
        stored = repos.items.get(note.tenant_id, note.ticket_id, note.item_id)
        assert isinstance(stored, Note)
        assert stored.text == note.text

    def test_lead_fields_apply_only_when_newer(self, repos: Repos) -> None:
        ticket = _ticket(new_id(), title="original")
        repos.tickets.add(ticket)
        key = (ticket.tenant_id, ticket.ticket_id)
        assert repos.tickets.apply_lead_fields(*key, {"title": "v3"}, 3) is True
        assert repos.tickets.apply_lead_fields(*key, {"title": "v2"}, 2) is False
        assert repos.tickets.apply_lead_fields(*key, {"title": "v3 again"}, 3) is False
        stored = repos.tickets.get(*key)
        assert stored.title == "v3"
        assert stored.lead_version == 3
        assert stored.version > ticket.version


# -- outsourcings ------------------------------------------------------------------------------


def _copies(
    ticket: Ticket, receiver_id: str, *, accept_by: datetime | None = None, at: datetime
) -> tuple[Outsourcing, Outsourcing]:
    """Both copies of a new outsourcing of ``ticket`` (status assigned)."""
    entry = HistoryEntry(
        event="outsource", from_status=None, to_status=S.ASSIGNED, at=at, by=Side.LEAD, actor="a"
    )
    lead = Outsourcing(
        owner_id=ticket.tenant_id,
        side=Side.LEAD,
        outsourcing_id=new_id(),
        lane=Lane.PARTNER,
        status=S.ASSIGNED,
        lead_tenant_id=ticket.tenant_id,
        lead_ticket_id=ticket.ticket_id,
        receiver_id=receiver_id,
        partnership_id=new_id(),
        terms=Terms(
            accept_by=accept_by,
            instructions="Swap the switch",
            pricing_type=PricingType.HOURLY,
            pricing_amount=Decimal("80.5"),
            authorized_hours=Decimal("4"),
            bill_customer_rate=Decimal("120"),
        ),
        currency="USD",
        ticket=TicketSnapshot(number=ticket.number, title=ticket.title, site="Main office"),
        lead_name="Lead IT",
        receiver_name="Service IT",
        created_at=at,
        updated_at=at,
        history=(entry,),
    )
    receiver = dataclasses.replace(
        lead,
        owner_id=receiver_id,
        side=Side.RECEIVER,
        terms=dataclasses.replace(lead.terms, bill_customer_rate=None),
    )
    return lead, receiver


def _move(
    copies: tuple[Outsourcing, Outsourcing],
    expected: S,
    new: S,
    *,
    at: datetime,
    **extra: object,
) -> TransitionPlan:
    entry = HistoryEntry(event="e", from_status=expected, to_status=new, at=at, by=Side.LEAD)
    return TransitionPlan(
        outsourcing_id=copies[0].outsourcing_id,
        copies=copies,
        expected=expected,
        new_status=new,
        entry=entry,
        **extra,  # type: ignore[arg-type]
    )


class OutsourcingRepositoryContract(SyncRepositoryContract):
    """Both copies of an outsourcing and the tickets it links change together, or not at all."""

    def _outsourced(
        self, repos: Repos, *, accept_by: datetime | None = None
    ) -> tuple[Ticket, Outsourcing, Outsourcing]:
        ticket = _ticket(new_id())
        repos.tickets.add(ticket)
        lead, receiver = _copies(ticket, new_id(), accept_by=accept_by, at=utcnow())
        repos.outsourcings.create(lead, receiver, ticket)
        return repos.tickets.get(ticket.tenant_id, ticket.ticket_id), lead, receiver

    def test_create_stores_both_copies_links_the_ticket_and_counts(self, repos: Repos) -> None:
        # When a ticket is outsourced
        ticket, lead, receiver = self._outsourced(repos)
        # Then each side reads its own copy, the lead ticket points at it, and both sides count it
        assert repos.outsourcings.get(lead.owner_id, lead.outsourcing_id) == dataclasses.replace(
            lead, version=repos.outsourcings.get(lead.owner_id, lead.outsourcing_id).version
        )
        mine = repos.outsourcings.get(receiver.owner_id, receiver.outsourcing_id)
        assert (mine.side, mine.terms.bill_customer_rate) == (Side.RECEIVER, None)
        assert mine.terms.pricing_amount == Decimal("80.5")
        assert mine.ticket.site == "Main office"
        assert (ticket.outsourcing_id, ticket.outsourcing_status, ticket.outsourcing_side) == (
            lead.outsourcing_id,
            S.ASSIGNED,
            Side.LEAD,
        )
        assert ticket.peer_owner_id == receiver.owner_id
        assert repos.outsourcings.counts(lead.owner_id, Side.LEAD)[S.ASSIGNED] == 1
        assert repos.outsourcings.counts(receiver.owner_id, Side.RECEIVER)[S.ASSIGNED] == 1
        assert repos.outsourcings.counts(receiver.owner_id, Side.LEAD)[S.ASSIGNED] == 0

    def test_another_owners_copy_is_not_found(self, repos: Repos) -> None:
        _, lead, _ = self._outsourced(repos)
        with pytest.raises(NotFoundError):
            repos.outsourcings.get(new_id(), lead.outsourcing_id)

    def test_a_ticket_with_an_open_outsourcing_is_not_outsourced_twice(self, repos: Repos) -> None:
        # Given an outsourced ticket
        ticket, lead, receiver = self._outsourced(repos)
        # When it is outsourced again while the first is open
        again = _copies(ticket, receiver.owner_id, at=utcnow())
        with pytest.raises(ConflictError) as refused:
            repos.outsourcings.create(*again, ticket)
        # Then it is refused and nothing of the second exists
        assert refused.value.code == "already_outsourced"
        with pytest.raises(NotFoundError):
            repos.outsourcings.get(ticket.tenant_id, again[0].outsourcing_id)
        assert repos.outsourcings.counts(ticket.tenant_id, Side.LEAD)[S.ASSIGNED] == 1
        # And once the first has ended (its ticket says so), the ticket may be outsourced again
        ended = TicketChange(ticket=ticket, changes={"outsourcing_status": S.CANCELED})
        repos.outsourcings.apply(
            _move((lead, receiver), S.ASSIGNED, S.CANCELED, at=utcnow(), ticket_changes=[ended])
        )
        repos.outsourcings.create(*again, repos.tickets.get(ticket.tenant_id, ticket.ticket_id))
        assert repos.tickets.get(ticket.tenant_id, ticket.ticket_id).outsourcing_id == (
            again[0].outsourcing_id
        )

    def test_apply_moves_both_copies_tickets_new_records_and_counts(self, repos: Repos) -> None:
        # Given an assigned outsourcing
        ticket, lead, receiver = self._outsourced(repos)
        now = utcnow()
        insourced = _ticket(receiver.owner_id, outsourcing_id=lead.outsourcing_id)
        charge = dataclasses.replace(_note(ticket.tenant_id, ticket.ticket_id, "cost"))
        plan = _move(
            (lead, receiver),
            S.ASSIGNED,
            S.IN_PROGRESS,
            at=now,
            copy_changes={"insourced_ticket_id": insourced.ticket_id},
            ticket_changes=[
                TicketChange(
                    ticket=ticket,
                    changes={
                        "outsourcing_status": S.IN_PROGRESS,
                        "peer_ticket_id": insourced.ticket_id,
                    },
                )
            ],
            new_tickets=[insourced],
            new_items=[charge],
        )
        # When the transition is applied
        repos.outsourcings.apply(plan)
        # Then both copies moved, with the history entry and the change, and everything else
        for copy in (lead, receiver):
            stored = repos.outsourcings.get(copy.owner_id, copy.outsourcing_id)
            assert stored.status is S.IN_PROGRESS
            assert [h.to_status for h in stored.history] == [S.ASSIGNED, S.IN_PROGRESS]
            assert stored.insourced_ticket_id == insourced.ticket_id
            assert stored.version > copy.version
        lead_ticket = repos.tickets.get(ticket.tenant_id, ticket.ticket_id)
        assert (lead_ticket.outsourcing_status, lead_ticket.peer_ticket_id) == (
            S.IN_PROGRESS,
            insourced.ticket_id,
        )
        assert repos.tickets.get(receiver.owner_id, insourced.ticket_id).title == insourced.title
        assert repos.items.get(ticket.tenant_id, ticket.ticket_id, charge.item_id).item_id
        counts = repos.outsourcings.counts(lead.owner_id, Side.LEAD)
        assert (counts[S.ASSIGNED], counts[S.IN_PROGRESS]) == (0, 1)
        counts = repos.outsourcings.counts(receiver.owner_id, Side.RECEIVER)
        assert (counts[S.ASSIGNED], counts[S.IN_PROGRESS]) == (0, 1)

    def test_a_transition_from_a_stale_status_changes_nothing(self, repos: Repos) -> None:
        # Given an outsourcing that was already canceled
        ticket, lead, receiver = self._outsourced(repos)
        repos.outsourcings.apply(_move((lead, receiver), S.ASSIGNED, S.CANCELED, at=utcnow()))
        # When an accept planned from the old status arrives
        late = _move(
            (lead, receiver),
            S.ASSIGNED,
            S.IN_PROGRESS,
            at=utcnow(),
            ticket_changes=[TicketChange(ticket=ticket, changes={"title": "changed"})],
            new_tickets=[_ticket(receiver.owner_id)],
        )
        with pytest.raises(ConflictError) as lost:
            repos.outsourcings.apply(late)
        # Then it loses, and neither copy, ticket nor count moved
        assert lost.value.code == "invalid_transition"
        assert repos.outsourcings.get(lead.owner_id, lead.outsourcing_id).status is S.CANCELED
        assert repos.tickets.get(ticket.tenant_id, ticket.ticket_id).title == ticket.title
        with pytest.raises(NotFoundError):
            repos.tickets.get(receiver.owner_id, late.new_tickets[0].ticket_id)
        counts = repos.outsourcings.counts(lead.owner_id, Side.LEAD)
        assert (counts[S.CANCELED], counts[S.IN_PROGRESS]) == (1, 0)

    def test_a_guarded_ticket_edit_on_a_stale_version_changes_nothing(self, repos: Repos) -> None:
        # Given an outsourced ticket edited after it was read
        ticket, lead, receiver = self._outsourced(repos)
        repos.tickets.update(ticket, {"title": "edited meanwhile"})
        # When a transition carries a version-guarded edit of the old read
        plan = _move(
            (lead, receiver),
            S.ASSIGNED,
            S.CANCELED,
            at=utcnow(),
            ticket_changes=[
                TicketChange(
                    ticket=ticket, changes={"status": TicketStatus.COMPLETE}, guard_version=True
                )
            ],
        )
        with pytest.raises(ConflictError) as lost:
            repos.outsourcings.apply(plan)
        # Then it is a version conflict and the outsourcing did not move
        assert lost.value.code == "version_conflict"
        assert repos.outsourcings.get(lead.owner_id, lead.outsourcing_id).status is S.ASSIGNED
        assert repos.tickets.get(ticket.tenant_id, ticket.ticket_id).title == "edited meanwhile"

    def test_lists_page_by_side_and_status_newest_first(self, repos: Repos) -> None:
        # Given three outsourcings of one lead, one of them canceled
        lead_id, receiver_id = new_id(), new_id()
        made: list[tuple[Outsourcing, Outsourcing]] = []
        for _ in range(3):
            ticket = _ticket(lead_id)
            repos.tickets.add(ticket)
            copies = _copies(ticket, receiver_id, at=utcnow())
            repos.outsourcings.create(*copies, ticket)
            made.append(copies)
        repos.outsourcings.apply(_move(made[1], S.ASSIGNED, S.CANCELED, at=utcnow()))
        ids = [lead.outsourcing_id for lead, _ in made]

        def listed(owner: str, side: Side, status: S | None) -> list[str]:
            found, cursor = [], None
            while True:
                page = repos.outsourcings.list(owner, side, status, 2, cursor)
                found += [o.outsourcing_id for o in page.items]
                if page.next_cursor is None:
                    return found
                cursor = page.next_cursor

        # Then each side lists its own copies, newest first, also by status
        assert listed(lead_id, Side.LEAD, None) == ids[::-1]
        assert listed(lead_id, Side.LEAD, S.ASSIGNED) == [ids[2], ids[0]]
        assert listed(lead_id, Side.LEAD, S.CANCELED) == [ids[1]]
        assert listed(receiver_id, Side.RECEIVER, None) == ids[::-1]
        assert listed(lead_id, Side.RECEIVER, None) == []
        assert listed(receiver_id, Side.LEAD, None) == []

    def test_due_for_expiry_finds_assigned_lead_copies_past_their_deadline(
        self, repos: Repos
    ) -> None:
        # Given outsourcings whose accept-by deadline passed, has not passed, and passed long ago
        now = utcnow()
        _, passed, _ = self._outsourced(repos, accept_by=now - timedelta(minutes=5))
        _, later, _ = self._outsourced(repos, accept_by=now + timedelta(minutes=5))
        _, ancient, _ = self._outsourced(repos, accept_by=now - timedelta(days=10))
        _, moved, moved_receiver = self._outsourced(repos, accept_by=now - timedelta(minutes=1))
        repos.outsourcings.apply(_move((moved, moved_receiver), S.ASSIGNED, S.DECLINED, at=now))
        # When the expiry job looks back three days
        due = {c.outsourcing_id for c in repos.outsourcings.due_for_expiry(now, 3)}
        # Then only the lead copy that is still assigned and due within that window is found
        mine = {passed.outsourcing_id, later.outsourcing_id, ancient.outsourcing_id}
        mine.add(moved.outsourcing_id)
        assert due & mine == {passed.outsourcing_id}
        found = [c for c in repos.outsourcings.due_for_expiry(now, 3) if c == passed]
        assert found and all(c.side is Side.LEAD for c in found)
        assert passed.outsourcing_id in {
            c.outsourcing_id for c in repos.outsourcings.due_for_expiry(now + timedelta(days=1), 3)
        }


# -- fees --------------------------------------------------------------------------------------


def _fee(tenant_id: str, accepted_at: datetime, **fields: object) -> FeeRecord:
    base: dict[str, object] = {
        "tenant_id": tenant_id,
        "outsourcing_id": new_id(),
        "subcontractor_id": new_id(),
        "company_id": new_id(),
        "company_name": 'Müller & Söhne, "Field" Service',
        "accepted_at": accepted_at,
        "amount": Decimal("12.3456"),
        "currency": "EUR",
    }
    return FeeRecord(**{**base, **fields})  # type: ignore[arg-type]


class FeeRepositoryContract:
    """Subclasses provide the ``fees`` fixture: exactly one fee per acceptance, counted once."""

    NOVEMBER = Month(2026, 11)

    @pytest.fixture
    def fees(self) -> FeeRepository:
        raise NotImplementedError

    @staticmethod
    def _listed(fees: FeeRepository, tenant_id: str, month: Month, limit: int) -> list[str]:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = fees.list(tenant_id, month, limit, cursor)
            seen += [f.outsourcing_id for f in page.items]
            if page.next_cursor is None:
                return seen
            cursor = page.next_cursor

    def test_a_fee_is_stored_once_and_counted_once(self, fees: FeeRepository) -> None:
        # Given a metered acceptance
        fee = _fee(new_id(), datetime(2026, 11, 25, 9, 30, 15, 123000, tzinfo=UTC))
        assert fees.add(fee) is True
        # When the same acceptance is written again, even priced differently
        again = dataclasses.replace(fee, amount=Decimal(99), company_name="Other")
        assert fees.add(again) is False
        # Then there is one fee, as first written, and the month counts it once
        assert fees.list(fee.tenant_id, self.NOVEMBER, 10, None).items == [fee]
        assert fees.total(fee.tenant_id, self.NOVEMBER).by_currency == (
            CurrencyTotal("EUR", 1, Decimal("12.3456")),
        )

    def test_every_field_round_trips(self, fees: FeeRepository) -> None:
        # Given a fee without a subcontractor relationship and without a fee plan
        fee = _fee(
            new_id(),
            datetime(2026, 11, 2, tzinfo=UTC),
            subcontractor_id=None,
            amount=Decimal(0),
            currency="USD",
            fee_plan_set=False,
        )
        # When it is stored and listed
        fees.add(fee)
        (stored,) = fees.list(fee.tenant_id, self.NOVEMBER, 10, None).items
        # Then it reads back as written
        assert stored == fee
        assert stored.subcontractor_id is None
        assert stored.fee_plan_set is False
        assert fees.total(fee.tenant_id, self.NOVEMBER).by_currency == (
            CurrencyTotal("USD", 1, Decimal(0)),
        )

    def test_a_month_lists_its_fees_oldest_first_in_pages_and_sums_them(
        self, fees: FeeRepository
    ) -> None:
        # Given three fees of one tenant in November, entered out of order
        tenant_id = new_id()
        days = [datetime(2026, 11, day, 8, tzinfo=UTC) for day in (20, 3, 11)]
        made = [_fee(tenant_id, day, amount=Decimal("10.5")) for day in days]
        for fee in made:
            fees.add(fee)
        # When the month is listed a page of two at a time
        listed = self._listed(fees, tenant_id, self.NOVEMBER, 2)
        # Then every fee is there once, oldest acceptance first, and the total sums them
        by_time = sorted(made, key=lambda f: f.accepted_at)
        assert listed == [f.outsourcing_id for f in by_time]
        assert fees.total(tenant_id, self.NOVEMBER).by_currency == (
            CurrencyTotal("EUR", 3, Decimal("31.5")),
        )

    def test_months_are_utc_calendar_months(self, fees: FeeRepository) -> None:
        # Given fees accepted just before and just after midnight UTC at the end of November
        tenant_id = new_id()
        late = _fee(tenant_id, datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC))
        early_local = datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
        first = _fee(tenant_id, datetime(2026, 12, 1, tzinfo=UTC))
        for fee in (late, _fee(tenant_id, early_local), first):
            fees.add(fee)
        # Then the one accepted at 01:00+02:00 (23:00 UTC) is November's, the other December's
        assert len(self._listed(fees, tenant_id, self.NOVEMBER, 10)) == 2
        assert self._listed(fees, tenant_id, Month(2026, 12), 10) == [first.outsourcing_id]
        assert fees.total(tenant_id, self.NOVEMBER).by_currency[0].count == 2
        assert fees.total(tenant_id, Month(2026, 12)).by_currency[0].count == 1
        assert fees.total(tenant_id, Month(2026, 10)).by_currency == ()

    def test_a_tenants_fees_are_its_own(self, fees: FeeRepository) -> None:
        # Given a fee of one tenant
        mine, other = new_id(), new_id()
        fees.add(_fee(mine, datetime(2026, 11, 5, tzinfo=UTC)))
        # Then another tenant lists and totals nothing for that month
        assert fees.list(other, self.NOVEMBER, 10, None).items == []
        assert fees.total(other, self.NOVEMBER).by_currency == ()

    def test_currencies_are_totalled_apart(self, fees: FeeRepository) -> None:
        # Given fees in two currencies in one month (the plan's currency changed)
        tenant_id = new_id()
        for amount, currency in (("5", "EUR"), ("7.25", "USD"), ("0.0001", "USD")):
            fees.add(
                _fee(
                    tenant_id,
                    datetime(2026, 11, 9, tzinfo=UTC),
                    amount=Decimal(amount),
                    currency=currency,
                )
            )
        # Then each currency has its own count and sum
        assert fees.total(tenant_id, self.NOVEMBER).by_currency == (
            CurrencyTotal("EUR", 1, Decimal(5)),
            CurrencyTotal("USD", 2, Decimal("7.2501")),
        )
