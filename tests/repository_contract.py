"""One contract for the repositories, run against the fakes (unit) and DynamoDB (integration)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Note
from chalicelib.domain.tenants import Permission, Tenant
from chalicelib.domain.tickets import Ticket, TicketStatus
from chalicelib.ports import (
    ApiKeyRepository,
    IdempotencyStore,
    ItemRepository,
    StoredResponse,
    TenantRepository,
    TicketRepository,
)
from chalicelib.service.api_keys import mint_key


@dataclass
class Repos:
    tenants: TenantRepository
    keys: ApiKeyRepository
    tickets: TicketRepository
    items: ItemRepository
    idempotency: IdempotencyStore


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
        repos.items.delete(notes[1], utcnow())
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
