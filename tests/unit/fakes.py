"""In-memory fakes of the ports, with the same observable rules as the DynamoDB adapters.

``tests/unit/test_repository_contract.py`` runs one contract against these fakes, and
``tests/integration/test_repository_contract.py`` runs it against DynamoDB, so the fakes cannot
drift from the real thing unnoticed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.fees import CurrencyTotal, FeeRecord, Month, MonthTotal
from chalicelib.domain.items import Item
from chalicelib.domain.outsourcing import ENDED, OutsourceStatus, Outsourcing, Side
from chalicelib.domain.partners import (
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
)
from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    LinkStatus,
    OneTimeLink,
    PortalSession,
    PortalUser,
    SubcontractorLink,
)
from chalicelib.domain.sync import Tombstone
from chalicelib.domain.tenants import ApiKey, Permission, Tenant
from chalicelib.domain.tickets import Ticket, TicketStatus
from chalicelib.ports import (
    CopyFilter,
    Email,
    IdempotencyRecord,
    Page,
    PresignedUpload,
    StoredResponse,
    ThrottleRule,
    TransitionPlan,
)


def _page(items: list[Any], limit: int, cursor: str | None) -> Page[Any]:
    if cursor is not None and not cursor.isdigit():
        raise ValidationError("The cursor is not valid for this list.", field="cursor")
    start = int(cursor or 0)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return Page(items=chunk, next_cursor=str(start + limit) if more else None)


class FakeTenantRepository:
    def __init__(self, keys: FakeApiKeyRepository | None = None) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.keys = keys

    def create_with_key(self, tenant: Tenant, key: ApiKey) -> None:
        if tenant.tenant_id in self.tenants:
            raise ConflictError("exists", code="already_exists")
        self.tenants[tenant.tenant_id] = tenant
        if self.keys is not None:
            self.keys.keys[(key.tenant_id, key.key_id)] = key

    def get(self, tenant_id: str) -> Tenant:
        if tenant_id not in self.tenants:
            raise NotFoundError("No such tenant.")
        return self.tenants[tenant_id]

    def update(self, tenant: Tenant, changes: Mapping[str, Any]) -> Tenant:
        stored = self.get(tenant.tenant_id)
        if stored.version != tenant.version:
            raise ConflictError("changed", code="version_conflict")
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.tenants[tenant.tenant_id] = updated
        return updated

    def __len__(self) -> int:
        return len(self.tenants)


class FakeApiKeyRepository:
    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], ApiKey] = {}
        self.reads = 0

    def add(self, key: ApiKey) -> None:
        self.keys[(key.tenant_id, key.key_id)] = key

    def get(self, tenant_id: str, key_id: str) -> ApiKey:
        self.reads += 1
        try:
            return self.keys[(tenant_id, key_id)]
        except KeyError as exc:
            raise NotFoundError("No such API key.") from exc

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        mine = sorted(
            (k for (t, _), k in self.keys.items() if t == tenant_id), key=lambda k: k.key_id
        )
        return _page(mine, limit, cursor)

    def revoke(self, key: ApiKey, at: datetime) -> ApiKey:
        stored = self.get(key.tenant_id, key.key_id)
        if not stored.active:
            raise NotFoundError("No such API key.")
        active_all = [
            k
            for (t, _), k in self.keys.items()
            if t == key.tenant_id and k.active and k.permission is Permission.ALL
        ]
        if stored.permission is Permission.ALL and len(active_all) <= 1:
            raise ConflictError("last all key", code="last_all_key")
        revoked = dataclasses.replace(stored, revoked_at=at)
        self.keys[(key.tenant_id, key.key_id)] = revoked
        return revoked


class FakeTicketRepository:
    def __init__(self) -> None:
        self.tickets: dict[tuple[str, str], Ticket] = {}
        self.counters: dict[tuple[str, date], int] = {}
        self.fail_next_updates = 0

    def next_number(self, tenant_id: str, day: date) -> int:
        self.counters[(tenant_id, day)] = self.counters.get((tenant_id, day), 0) + 1
        return self.counters[(tenant_id, day)]

    def add(self, ticket: Ticket) -> None:
        self.tickets[(ticket.tenant_id, ticket.ticket_id)] = ticket

    def get(self, tenant_id: str, ticket_id: str) -> Ticket:
        try:
            return self.tickets[(tenant_id, ticket_id)]
        except KeyError as exc:
            raise NotFoundError("No such ticket.") from exc

    def apply_lead_fields(
        self, owner_id: str, ticket_id: str, fields: Mapping[str, Any], lead_version: int
    ) -> bool:
        stored = self.get(owner_id, ticket_id)
        if stored.lead_version is not None and stored.lead_version >= lead_version:
            return False
        self.tickets[(owner_id, ticket_id)] = dataclasses.replace(
            stored, **fields, lead_version=lead_version, version=stored.version + 1
        )
        return True

    def update(self, ticket: Ticket, changes: Mapping[str, Any]) -> Ticket:
        stored = self.get(ticket.tenant_id, ticket.ticket_id)
        if self.fail_next_updates:
            self.fail_next_updates -= 1
            stored = dataclasses.replace(stored, version=stored.version + 1)
            self.tickets[(ticket.tenant_id, ticket.ticket_id)] = stored
        if stored.version != ticket.version:
            raise ConflictError("changed", code="version_conflict")
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.tickets[(ticket.tenant_id, ticket.ticket_id)] = updated
        return updated

    def list(
        self,
        tenant_id: str,
        *,
        status: TicketStatus | None,
        queue: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Ticket]:
        mine = [
            t
            for (owner, _), t in sorted(self.tickets.items(), reverse=True)
            if owner == tenant_id
            and (status is None or t.status is status)
            and (queue is None or t.queue == queue)
        ]
        return _page(mine, limit, cursor)

    def __len__(self) -> int:
        return len(self.tickets)


class FakeItemRepository:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Item | Tombstone] = {}

    def add(self, item: Item) -> None:
        key = (item.tenant_id, item.ticket_id, item.item_id)
        if key in self.items:
            raise ConflictError("exists", code="already_exists")
        self.items[key] = item

    def get(self, tenant_id: str, ticket_id: str, item_id: str) -> Item:
        item = self.items.get((tenant_id, ticket_id, item_id))
        if item is None or item.deleted:
            raise NotFoundError("No such item.")
        return item

    def update(self, item: Item, changes: Mapping[str, Any]) -> Item:
        stored = self.get(item.tenant_id, item.ticket_id, item.item_id)
        if stored.version != item.version:
            raise ConflictError("changed", code="version_conflict")
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.items[(item.tenant_id, item.ticket_id, item.item_id)] = updated
        return updated

    def list(
        self,
        tenant_id: str,
        ticket_id: str,
        limit: int,
        cursor: str | None,
        *,
        include_deleted: bool = False,
    ) -> Page[Item]:
        found = [
            i
            for (t, k, _), i in sorted(self.items.items())
            if t == tenant_id
            and k == ticket_id
            and isinstance(i, Item)  # a replica's tombstone is never listed
            and (include_deleted or not i.deleted)
        ]
        return _page(found, limit, cursor)

    def add_once(self, item: Item) -> bool:
        key = (item.tenant_id, item.ticket_id, item.item_id)
        if key in self.items:
            return False
        self.items[key] = item
        return True

    def put_replica(self, replica: Item | Tombstone) -> bool:
        assert replica.origin_version is not None
        key = (replica.tenant_id, replica.ticket_id, replica.item_id)
        stored = self.items.get(key)
        if stored is not None and (stored.origin_version or 0) >= replica.origin_version:
            return False
        self.items[key] = replica
        return True

    def __len__(self) -> int:
        return sum(1 for i in self.items.values() if not i.deleted)


class FakePartnershipRepository:
    """Both sides of each partnership, plus one pair record per (lead, service partner)."""

    def __init__(self) -> None:
        self.sides: dict[tuple[str, str], Partnership] = {}
        # (lead tenant id, service tenant id) -> (latest partnership id, its status)
        self.pairs: dict[tuple[str, str], tuple[str, PartnershipStatus]] = {}

    def get(self, tenant_id: str, partnership_id: str) -> Partnership:
        try:
            return self.sides[(tenant_id, partnership_id)]
        except KeyError as exc:
            raise NotFoundError("No such partnership.") from exc

    def list(
        self, tenant_id: str, role: PartnerRole | None, limit: int, cursor: str | None
    ) -> Page[Partnership]:
        mine = [
            p
            for (owner, _), p in sorted(self.sides.items())
            if owner == tenant_id and (role is None or p.role is role)
        ]
        return _page(mine, limit, cursor)

    def deactivate(self, partnership: Partnership, by_tenant_id: str, at: datetime) -> Partnership:
        keys = [
            (owner, partnership.partnership_id)
            for owner in (partnership.lead_tenant_id, partnership.service_tenant_id)
        ]
        pair = self.pairs.get((partnership.lead_tenant_id, partnership.service_tenant_id))
        sides = [self.sides.get(key) for key in keys]
        if (
            any(side is None or not side.active for side in sides)
            or pair is None
            or pair[0] != partnership.partnership_id
        ):
            raise ConflictError("This partnership is already inactive.", code="invalid_transition")
        for key, side in zip(keys, sides, strict=True):
            assert side is not None
            self.sides[key] = dataclasses.replace(
                side,
                status=PartnershipStatus.INACTIVE,
                deactivated_at=at,
                deactivated_by_tenant_id=by_tenant_id,
            )
        self.pairs[(partnership.lead_tenant_id, partnership.service_tenant_id)] = (
            partnership.partnership_id,
            PartnershipStatus.INACTIVE,
        )
        return self.sides[(partnership.tenant_id, partnership.partnership_id)]

    def set_mapping(self, partnership: Partnership, mapping: PartnerMapping) -> Partnership:
        stored = self.get(partnership.tenant_id, partnership.partnership_id)
        updated = dataclasses.replace(stored, mapping=mapping)
        self.sides[(partnership.tenant_id, partnership.partnership_id)] = updated
        return updated


class FakeInvitationRepository:
    """Invitations per lead; ``accept`` creates the partnership in ``partnerships``, atomically."""

    def __init__(self, partnerships: FakePartnershipRepository | None = None) -> None:
        self.invitations: dict[tuple[str, str], Invitation] = {}
        self.partnerships = (
            partnerships if partnerships is not None else FakePartnershipRepository()
        )

    def add(self, invitation: Invitation) -> None:
        key = (invitation.lead_tenant_id, invitation.invitation_id)
        if key in self.invitations:
            raise ConflictError("exists", code="already_exists")
        self.invitations[key] = invitation

    def get(self, lead_tenant_id: str, invitation_id: str) -> Invitation:
        try:
            return self.invitations[(lead_tenant_id, invitation_id)]
        except KeyError as exc:
            raise NotFoundError("No such invitation.") from exc

    def list(self, lead_tenant_id: str, limit: int, cursor: str | None) -> Page[Invitation]:
        mine = [
            i
            for (lead, _), i in sorted(self.invitations.items(), reverse=True)
            if lead == lead_tenant_id
        ]
        return _page(mine, limit, cursor)

    def _check_unchanged(self, invitation: Invitation) -> Invitation:
        stored = self.get(invitation.lead_tenant_id, invitation.invitation_id)
        if (
            stored.status is not InvitationStatus.PENDING
            or stored.token_hash != invitation.token_hash
            or stored.version != invitation.version
        ):
            raise ConflictError("The invitation was changed.", code="version_conflict")
        return stored

    def update(self, invitation: Invitation, changes: Mapping[str, Any]) -> Invitation:
        stored = self._check_unchanged(invitation)
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.invitations[(invitation.lead_tenant_id, invitation.invitation_id)] = updated
        return updated

    def accept(self, invitation: Invitation, lead: Partnership, service: Partnership) -> None:
        pair_key = (lead.tenant_id, service.tenant_id)
        pair = self.partnerships.pairs.get(pair_key)
        if pair is not None and pair[1] is PartnershipStatus.ACTIVE:
            raise ConflictError(
                "These tenants already have an active partnership.", code="already_exists"
            )
        self.update(
            invitation,
            {
                "status": InvitationStatus.ACCEPTED,
                "resolved_at": lead.created_at,
                "accepted_by_tenant_id": service.tenant_id,
                "partnership_id": lead.partnership_id,
            },
        )
        for side in (lead, service):
            self.partnerships.sides[(side.tenant_id, side.partnership_id)] = side
        self.partnerships.pairs[pair_key] = (lead.partnership_id, PartnershipStatus.ACTIVE)


class FakeOutsourcingRepository:
    """Both copies of each outsourcing, with the tickets and items of the same fakes: a
    transition is checked as a whole first and then written, so it is all or nothing."""

    def __init__(self, tickets: FakeTicketRepository, items: FakeItemRepository) -> None:
        self.tickets = tickets
        self.items = items
        self.copies: dict[tuple[str, str], Outsourcing] = {}
        self.status_counts: dict[tuple[str, Side], dict[OutsourceStatus, int]] = {}

    def _count(self, copy: Outsourcing, new: OutsourceStatus, old: OutsourceStatus | None) -> None:
        counts = self.status_counts.setdefault((copy.owner_id, copy.side), {})
        counts[new] = counts.get(new, 0) + 1
        if old is not None:
            counts[old] = counts.get(old, 0) - 1

    def create(self, lead: Outsourcing, receiver: Outsourcing, ticket: Ticket) -> None:
        stored = self.tickets.tickets.get((ticket.tenant_id, ticket.ticket_id))
        if stored is None or stored.outsourcing_status not in (None, *ENDED):
            raise ConflictError("already outsourced", code="already_outsourced")
        self.tickets.tickets[(ticket.tenant_id, ticket.ticket_id)] = dataclasses.replace(
            stored,
            outsourcing_id=lead.outsourcing_id,
            outsourcing_status=lead.status,
            outsourcing_side=Side.LEAD,
            peer_owner_id=receiver.owner_id,
            peer_ticket_id=None,
            shown_as=lead.lead_name,
            updated_at=lead.created_at,
            version=stored.version + 1,
        )
        for copy in (lead, receiver):
            self.copies[(copy.owner_id, copy.outsourcing_id)] = copy
            self._count(copy, copy.status, None)

    def get(self, owner_id: str, outsourcing_id: str) -> Outsourcing:
        try:
            return self.copies[(owner_id, outsourcing_id)]
        except KeyError as exc:
            raise NotFoundError("No such outsourcing.") from exc

    def list(
        self,
        owner_id: str,
        side: Side,
        status: OutsourceStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Outsourcing]:
        mine = [
            c
            for (owner, _), c in sorted(self.copies.items(), reverse=True)
            if owner == owner_id and c.side is side and (status is None or c.status is status)
        ]
        return _page(mine, limit, cursor)

    def _check(self, plan: TransitionPlan) -> None:
        for copy in plan.copies:
            stored = self.copies.get((copy.owner_id, copy.outsourcing_id))
            if stored is None or stored.status is not plan.expected:
                raise ConflictError("changed meanwhile", code="invalid_transition")
        for change in plan.ticket_changes:
            ticket = self.tickets.tickets.get((change.ticket.tenant_id, change.ticket.ticket_id))
            if (
                ticket is None
                or ticket.outsourcing_id != plan.outsourcing_id
                or (change.guard_version and ticket.version != change.ticket.version)
            ):
                raise ConflictError("ticket changed", code="version_conflict")
        for item in plan.new_items:
            if (item.tenant_id, item.ticket_id, item.item_id) in self.items.items:
                raise ConflictError("item exists", code="version_conflict")

    def apply(self, plan: TransitionPlan) -> None:
        self._check(plan)
        for copy in plan.copies:
            stored = self.copies[(copy.owner_id, copy.outsourcing_id)]
            self.copies[(copy.owner_id, copy.outsourcing_id)] = dataclasses.replace(
                stored,
                status=plan.new_status,
                updated_at=plan.entry.at,
                history=(*copy.history, plan.entry),
                version=stored.version + 1,
                **plan.copy_changes,
            )
            self._count(copy, plan.new_status, plan.expected)
        for change in plan.ticket_changes:
            key = (change.ticket.tenant_id, change.ticket.ticket_id)
            ticket = self.tickets.tickets[key]
            self.tickets.tickets[key] = dataclasses.replace(
                ticket, **change.changes, version=ticket.version + 1
            )
        for ticket in plan.new_tickets:
            self.tickets.add(ticket)
        for item in plan.new_items:
            self.items.add(item)

    def counts(self, owner_id: str, side: Side) -> dict[OutsourceStatus, int]:
        counts = self.status_counts.get((owner_id, side), {})
        return {status: counts.get(status, 0) for status in OutsourceStatus}

    def due_for_expiry(self, now: datetime, days_back: int) -> Sequence[Outsourcing]:
        earliest = (now - timedelta(days=days_back)).astimezone(UTC).date()
        due = [
            c
            for c in self.copies.values()
            if c.side is Side.LEAD
            and c.status is OutsourceStatus.ASSIGNED
            and c.terms.accept_by is not None
            and c.terms.accept_by <= now
            and c.terms.accept_by.astimezone(UTC).date() >= earliest
        ]
        return sorted(due, key=lambda c: (c.terms.accept_by, c.owner_id, c.outsourcing_id))

    def find(
        self, owner_id: str, wanted: CopyFilter, limit: int, cursor: str | None
    ) -> Page[Outsourcing]:
        text = (wanted.text or "").lower()
        mine = [
            c
            for (owner, _), c in sorted(self.copies.items(), reverse=True)
            if owner == owner_id
            and c.side is Side.RECEIVER
            and (wanted.assignee_id is None or c.assignee_id == wanted.assignee_id)
            and (wanted.status is None or c.status is wanted.status)
            and (
                not text
                or any(
                    text in (part or "").lower()
                    for part in (
                        c.ticket.number,
                        c.ticket.title,
                        c.ticket.site,
                        c.ticket.organization,
                    )
                )
            )
        ]
        return _page(mine, limit, cursor)

    def assign(self, copy: Outsourcing, assignee_id: str, at: datetime) -> Outsourcing:
        stored = self.get(copy.owner_id, copy.outsourcing_id)
        if stored.status is not copy.status:
            raise ConflictError("changed", code="invalid_transition")
        updated = dataclasses.replace(
            stored, assignee_id=assignee_id, updated_at=at, version=stored.version + 1
        )
        self.copies[(copy.owner_id, copy.outsourcing_id)] = updated
        return updated

    def __len__(self) -> int:
        return len(self.copies)


def _searchable(copy: Outsourcing) -> str:
    found = (copy.ticket.number, copy.ticket.title, copy.ticket.site, copy.ticket.organization)
    return " ".join(part for part in found if part).lower()


class FakeIdempotencyStore:
    """Claims lapse ``lease`` seconds after they were made unless finished (``now`` is settable)."""

    def __init__(self, lease: float = 60) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self.claimed_at: dict[tuple[str, str], float] = {}
        self.lease = lease
        self.now = 0.0

    def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        existing = self.records.get((tenant_id, key))
        lapsed = (
            existing is not None
            and existing.response is None
            and existing.fingerprint == fingerprint
            and self.now > self.claimed_at[(tenant_id, key)] + self.lease
        )
        if existing is not None and not lapsed:
            return existing
        self.records[(tenant_id, key)] = IdempotencyRecord(fingerprint=fingerprint, response=None)
        self.claimed_at[(tenant_id, key)] = self.now
        return None

    def finish(self, tenant_id: str, key: str, response: StoredResponse) -> None:
        record = self.records[(tenant_id, key)]
        self.records[(tenant_id, key)] = dataclasses.replace(record, response=response)

    def abandon(self, tenant_id: str, key: str) -> None:
        self.records.pop((tenant_id, key), None)


class FakeFileStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.deleted: list[str] = []

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        return PresignedUpload(
            url="https://files.invalid/upload",
            fields={"key": key, "Content-Type": content_type, "size": str(size)},
            expires_at=datetime.fromtimestamp(expires_in),
        )

    def presign_download(self, key: str, file_name: str, expires_in: int) -> str:
        return f"https://files.invalid/{key}?download={file_name}&expires={expires_in}"

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)
        self.deleted.append(key)

    def copy(self, source_key: str, target_key: str) -> None:
        if source_key not in self.objects:
            raise FileNotFoundError(source_key)
        self.objects[target_key] = self.objects[source_key]

    def exists(self, key: str) -> bool:
        return key in self.objects

    def __contains__(self, key: object) -> bool:
        return key in self.objects


class FakeMailQuota:
    """Emails counted per tenant and day."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, date], int] = {}

    def take(self, tenant_id: str, day: date, limit: int) -> bool:
        counted = self.sent.get((tenant_id, day), 0)
        if counted >= limit:
            return False
        self.sent[(tenant_id, day)] = counted + 1
        return True


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> None:
        self.sent.append(email)

    def __len__(self) -> int:
        return len(self.sent)


class FakeSubcontractorRepository:
    """Companies, and leads' relationships with them (the users' claims live in the users fake,
    which this one writes the admin into when a company is created)."""

    def __init__(self, users: FakePortalUserRepository) -> None:
        self.users = users
        self.companies: dict[str, Company] = {}
        self.links: dict[tuple[str, str], SubcontractorLink] = {}

    def create_company(self, company: Company, admin: PortalUser, link: SubcontractorLink) -> None:
        if company.company_id in self.companies:
            raise ConflictError("exists", code="already_exists")
        self.users.add(admin)  # the email claim decides, as in the transaction
        self.companies[company.company_id] = company
        self.links[(link.lead_tenant_id, link.subcontractor_id)] = link

    def add_link(self, link: SubcontractorLink) -> None:
        self.links[(link.lead_tenant_id, link.subcontractor_id)] = link

    def get_company(self, company_id: str) -> Company:
        if company_id not in self.companies:
            raise NotFoundError("No such company.")
        return self.companies[company_id]

    def update_company(self, company: Company, changes: Mapping[str, Any]) -> Company:
        stored = self.get_company(company.company_id)
        if stored.version != company.version:
            raise ConflictError("changed", code="version_conflict")
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.companies[company.company_id] = updated
        return updated

    def get_link(self, lead_tenant_id: str, subcontractor_id: str) -> SubcontractorLink:
        try:
            return self.links[(lead_tenant_id, subcontractor_id)]
        except KeyError as exc:
            raise NotFoundError("No such subcontractor.") from exc

    def list_links(
        self, lead_tenant_id: str, limit: int, cursor: str | None
    ) -> Page[SubcontractorLink]:
        mine = [
            link
            for (lead, _), link in sorted(self.links.items(), reverse=True)
            if lead == lead_tenant_id
        ]
        return _page(mine, limit, cursor)

    def deactivate_link(self, link: SubcontractorLink, at: datetime) -> SubcontractorLink:
        stored = self.get_link(link.lead_tenant_id, link.subcontractor_id)
        if not stored.active:
            raise ConflictError("inactive", code="invalid_transition")
        ended = dataclasses.replace(stored, status=LinkStatus.INACTIVE, deactivated_at=at)
        self.links[(link.lead_tenant_id, link.subcontractor_id)] = ended
        return ended


class FakePortalUserRepository:
    def __init__(self) -> None:
        self.users: dict[tuple[str, str], PortalUser] = {}
        self.emails: dict[str, tuple[str, str]] = {}
        self.links: dict[tuple[str, str, LinkPurpose], OneTimeLink] = {}

    def add(self, user: PortalUser) -> None:
        if user.email in self.emails:
            raise ConflictError("taken", code="email_in_use", field="email")
        self.users[(user.company_id, user.user_id)] = user
        self.emails[user.email] = (user.company_id, user.user_id)

    def get(self, company_id: str, user_id: str) -> PortalUser:
        try:
            return self.users[(company_id, user_id)]
        except KeyError as exc:
            raise NotFoundError("No such user.") from exc

    def find_by_email(self, email: str) -> PortalUser | None:
        found = self.emails.get(email)
        return self.users.get(found) if found else None

    def list(self, company_id: str, limit: int, cursor: str | None) -> Page[PortalUser]:
        mine = [u for (c, _), u in sorted(self.users.items()) if c == company_id]
        return _page(mine, limit, cursor)

    def update(self, user: PortalUser, changes: Mapping[str, Any]) -> PortalUser:
        stored = self.get(user.company_id, user.user_id)
        if stored.version != user.version:
            raise ConflictError("changed", code="version_conflict")
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.users[(user.company_id, user.user_id)] = updated
        return updated

    def put_link(self, link: OneTimeLink) -> None:
        self.links[(link.company_id, link.user_id, link.purpose)] = link

    def get_link(self, company_id: str, user_id: str, purpose: LinkPurpose) -> OneTimeLink:
        try:
            return self.links[(company_id, user_id, purpose)]
        except KeyError as exc:
            raise NotFoundError("No such link.") from exc

    def use_link(self, link: OneTimeLink, at: datetime) -> None:
        stored = self.get_link(link.company_id, link.user_id, link.purpose)
        if stored.used_at is not None or stored.token_hash != link.token_hash:
            raise ConflictError("used", code="link_used")
        self.links[(link.company_id, link.user_id, link.purpose)] = dataclasses.replace(
            stored, used_at=at
        )


class FakeSessionStore:
    def __init__(self) -> None:
        self.sessions: dict[tuple[str, str], PortalSession] = {}

    def add(self, session: PortalSession) -> None:
        self.sessions[(session.company_id, session.session_id)] = session

    def get(self, company_id: str, session_id: str) -> PortalSession:
        try:
            return self.sessions[(company_id, session_id)]
        except KeyError as exc:
            raise NotFoundError("No such session.") from exc

    def touch(self, session: PortalSession, at: datetime) -> None:
        key = (session.company_id, session.session_id)
        if key in self.sessions:
            self.sessions[key] = dataclasses.replace(self.sessions[key], last_seen_at=at)

    def delete(self, session: PortalSession) -> None:
        self.sessions.pop((session.company_id, session.session_id), None)


class FakeSignInThrottle:
    def __init__(self) -> None:
        self.failures: dict[str, list[datetime]] = {}
        self.locks: dict[str, datetime] = {}

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        until = self.locks.get(key)
        return until if until is not None and until > now else None

    def failed(self, key: str, now: datetime, rule: ThrottleRule) -> None:
        window = timedelta(seconds=rule.window_seconds)
        recent = [t for t in self.failures.get(key, []) if t > now - window] + [now]
        self.failures[key] = recent
        if len(recent) >= rule.limit:
            self.locks[key] = now + timedelta(seconds=rule.lock_seconds)

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class FakeIdentityProvider:
    """Passwords by email, as the user pool keeps them."""

    def __init__(self) -> None:
        self.passwords: dict[str, str | None] = {}
        self.disabled: set[str] = set()

    def create_user(self, email: str) -> None:
        self.passwords.setdefault(email, None)

    def set_password(self, email: str, password: str) -> None:
        self.passwords[email] = password

    def verify(self, email: str, password: str) -> bool:
        return (
            email not in self.disabled
            and self.passwords.get(email) is not None
            and self.passwords[email] == password
        )

    def disable(self, email: str) -> None:
        self.disabled.add(email)

    def enable(self, email: str) -> None:
        self.disabled.discard(email)


class FakeFeeRepository:
    """Fees per (tenant, outsourcing), each counted once in its month's total per currency."""

    def __init__(self) -> None:
        self.fees: dict[tuple[str, str], FeeRecord] = {}
        self.totals: dict[tuple[str, Month, str], tuple[int, Decimal]] = {}

    def add(self, fee: FeeRecord) -> bool:
        if (fee.tenant_id, fee.outsourcing_id) in self.fees:
            return False
        self.fees[(fee.tenant_id, fee.outsourcing_id)] = fee
        key = (fee.tenant_id, fee.month, fee.currency)
        counted, amount = self.totals.get(key, (0, Decimal(0)))
        self.totals[key] = (counted + 1, amount + fee.amount)
        return True

    def list(self, tenant_id: str, month: Month, limit: int, cursor: str | None) -> Page[FeeRecord]:
        mine = sorted(
            (f for (t, _), f in self.fees.items() if t == tenant_id and f.month == month),
            key=lambda f: (f.accepted_at, f.outsourcing_id),
        )
        return _page(mine, limit, cursor)

    def total(self, tenant_id: str, month: Month) -> MonthTotal:
        found = sorted(
            (currency, counted, amount)
            for (t, m, currency), (counted, amount) in self.totals.items()
            if t == tenant_id and m == month
        )
        return MonthTotal(
            tenant_id=tenant_id,
            month=month,
            by_currency=tuple(CurrencyTotal(c, n, a) for c, n, a in found),
        )

    def __len__(self) -> int:
        return len(self.fees)


class FakeBrowserUploads:
    """Upload forms of a FakeFileStore that send the browser to a page afterwards (the same
    objects: an upload through one is seen by the other)."""

    def __init__(self, files: FakeFileStore) -> None:
        self.files = files
        self.redirects: list[str] = []

    def redirecting(self, url: str) -> FakeFileStore:
        self.redirects.append(url)
        redirecting = _RedirectingFileStore(url)
        redirecting.objects = self.files.objects
        redirecting.deleted = self.files.deleted
        return redirecting


class _RedirectingFileStore(FakeFileStore):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        upload = super().presign_upload(key, content_type, size, expires_in)
        fields = {**upload.fields, "success_action_redirect": self.url}
        return dataclasses.replace(upload, fields=fields)
