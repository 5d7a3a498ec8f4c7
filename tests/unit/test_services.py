"""Use cases against fakes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.domain.attachments import UploadPolicy
from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RuleViolationError,
    TooLargeError,
    ValidationError,
)
from chalicelib.domain.items import ItemKind, Note, Origin
from chalicelib.domain.tenants import Actor, Permission
from chalicelib.domain.tickets import TicketStatus
from chalicelib.ports import StoredResponse
from chalicelib.service import api_keys, items, tenants, tickets
from chalicelib.service.api_keys import KeyPorts, NewKey
from chalicelib.service.idempotency import IdempotentRequest, fingerprint, run_idempotent
from chalicelib.service.items import AddAttachment, AddItem, ItemPorts, ItemRef
from chalicelib.service.outsourcing import OutsourcingPorts
from chalicelib.service.tenants import NewTenant
from tests.unit.fakes import (
    FakeApiKeyRepository,
    FakeFileStore,
    FakeIdempotencyStore,
    FakeItemRepository,
    FakePartnershipRepository,
    FakePortalUserRepository,
    FakeSubcontractorRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> FakeApiKeyRepository:
    return FakeApiKeyRepository()


@pytest.fixture
def tenant_repo(keys: FakeApiKeyRepository) -> FakeTenantRepository:
    return FakeTenantRepository(keys)


def _tenant(tenant_repo: FakeTenantRepository) -> tenants.CreatedTenant:
    return tenants.create_tenant(
        tenant_repo,
        NewTenant(
            name="Acme",
            language="en",
            currency="EUR",
            contact_email="ops@acme.example",
            now=NOW,
        ),
    )


def _ticket_ports(
    tenant_repo: FakeTenantRepository,
    ticket_repo: FakeTicketRepository,
    item_repo: FakeItemRepository | None = None,
) -> OutsourcingPorts:
    """The ticket use cases' ports; these tests never reach an outsourcing."""
    return OutsourcingPorts(
        tenants=tenant_repo,
        tickets=ticket_repo,
        partnerships=FakePartnershipRepository(),
        outsourcings=None,  # type: ignore[arg-type]
        items=item_repo if item_repo is not None else FakeItemRepository(),
        subcontractors=FakeSubcontractorRepository(FakePortalUserRepository()),
    )


def _item_ports(
    tenant_repo: FakeTenantRepository,
    ticket_repo: FakeTicketRepository,
    item_repo: FakeItemRepository,
    files: FakeFileStore | None = None,
    policy: UploadPolicy | None = None,
    link_seconds: int = 900,
) -> ItemPorts:
    return ItemPorts(
        tenants=tenant_repo,
        tickets=ticket_repo,
        items=item_repo,
        files=files if files is not None else FakeFileStore(),
        upload_policy=policy or UploadPolicy(max_bytes=10, content_types=frozenset()),
        link_seconds=link_seconds,
    )


# -- authentication -----------------------------------------------------------------------------


def test_a_new_tenant_key_authenticates_as_all(
    tenant_repo: FakeTenantRepository, keys: FakeApiKeyRepository
) -> None:
    created = _tenant(tenant_repo)
    principal = api_keys.authenticate(
        KeyPorts(keys, api_keys.AuthCache(30)), created.issued.token, None
    )
    assert principal.tenant_id == created.tenant.tenant_id
    assert principal.permission is Permission.ALL
    assert not principal.operator
    assert created.issued.key.key_hash == api_keys.hash_token(created.issued.token)
    assert created.issued.token not in repr(keys.keys)


def test_the_operator_token_is_recognised_only_exactly(keys: FakeApiKeyRepository) -> None:
    cache = api_keys.AuthCache(30)
    assert api_keys.authenticate(KeyPorts(keys, cache), "op-secret", "op-secret").operator
    with pytest.raises(AuthenticationError):
        api_keys.authenticate(KeyPorts(keys, cache), "op-secret2", "op-secret")
    with pytest.raises(AuthenticationError):
        api_keys.authenticate(KeyPorts(keys, cache), "op-secret", None)


@pytest.mark.parametrize(
    "token",
    ["", "tk_", "tk_" + "U" * 52 + "0" * 43, "xx_" + "0" * 95, "tk_" + "!" * 95, "tk_short"],
)
def test_malformed_tokens_are_refused_without_a_read(
    keys: FakeApiKeyRepository, token: str
) -> None:
    with pytest.raises(AuthenticationError):
        api_keys.authenticate(KeyPorts(keys, api_keys.AuthCache(30)), token, None)
    assert keys.reads == 0


def test_a_wrong_secret_for_a_real_key_is_refused(
    tenant_repo: FakeTenantRepository, keys: FakeApiKeyRepository
) -> None:
    token = _tenant(tenant_repo).issued.token
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError):
        api_keys.authenticate(KeyPorts(keys, api_keys.AuthCache(30)), forged, None)


def test_verified_keys_are_cached_for_the_ttl_only(
    tenant_repo: FakeTenantRepository, keys: FakeApiKeyRepository
) -> None:
    token = _tenant(tenant_repo).issued.token
    clock = Clock()
    cache = api_keys.AuthCache(30, clock=clock)
    for _ in range(5):
        api_keys.authenticate(KeyPorts(keys, cache), token, None)
    assert keys.reads == 1
    clock.now += 31
    api_keys.authenticate(KeyPorts(keys, cache), token, None)
    assert keys.reads == 2


def test_revocation_elsewhere_is_seen_within_the_cache_ttl(
    tenant_repo: FakeTenantRepository, keys: FakeApiKeyRepository
) -> None:
    created = _tenant(tenant_repo)
    tenant_id = created.tenant.tenant_id
    weak = api_keys.create_key(
        KeyPorts(keys, api_keys.AuthCache(30)),
        NewKey(tenant_id, name="w", permission=Permission.NONE, now=NOW),
    )
    clock = Clock()
    other_process = api_keys.AuthCache(30, clock=clock)
    api_keys.authenticate(KeyPorts(keys, other_process), weak.token, None)
    api_keys.revoke_key(KeyPorts(keys, api_keys.AuthCache(30)), tenant_id, weak.key.key_id, NOW)
    clock.now += 31
    with pytest.raises(AuthenticationError):
        api_keys.authenticate(KeyPorts(keys, other_process), weak.token, None)


def test_revocation_in_this_process_is_immediate(
    tenant_repo: FakeTenantRepository, keys: FakeApiKeyRepository
) -> None:
    created = _tenant(tenant_repo)
    tenant_id = created.tenant.tenant_id
    weak = api_keys.create_key(
        KeyPorts(keys, api_keys.AuthCache(30)),
        NewKey(tenant_id, name="w", permission=Permission.NONE, now=NOW),
    )
    cache = api_keys.AuthCache(30)
    api_keys.authenticate(KeyPorts(keys, cache), weak.token, None)
    api_keys.revoke_key(KeyPorts(keys, cache), tenant_id, weak.key.key_id, NOW)
    with pytest.raises(AuthenticationError):
        api_keys.authenticate(KeyPorts(keys, cache), weak.token, None)


def test_revoking_an_unknown_or_malformed_key_is_not_found(
    tenant_repo: FakeTenantRepository, keys: FakeApiKeyRepository
) -> None:
    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    with pytest.raises(NotFoundError):
        api_keys.revoke_key(KeyPorts(keys, api_keys.AuthCache(30)), tenant_id, "nope", NOW)


# -- idempotency --------------------------------------------------------------------------------


def test_idempotent_runs_once_and_replays() -> None:
    store = FakeIdempotencyStore()
    calls: list[int] = []

    def run() -> StoredResponse:
        calls.append(1)
        return StoredResponse(201, {"n": len(calls)}, {})

    first = run_idempotent(store, IdempotentRequest("t", "k", "f"), run)
    second = run_idempotent(store, IdempotentRequest("t", "k", "f"), run)
    assert first == (StoredResponse(201, {"n": 1}, {}), False)
    assert second == (StoredResponse(201, {"n": 1}, {}), True)
    assert len(calls) == 1


def test_idempotency_refuses_reuse_and_in_flight_repeats() -> None:
    store = FakeIdempotencyStore()
    store.begin("t", "k", fingerprint("POST", "/a", b"{}"))
    with pytest.raises(ConflictError) as busy:
        run_idempotent(
            store, IdempotentRequest("t", "k", fingerprint("POST", "/a", b"{}")), lambda: None
        )  # type: ignore[arg-type,return-value]
    assert busy.value.code == "idempotency_in_progress"
    with pytest.raises(RuleViolationError) as reused:
        run_idempotent(
            store, IdempotentRequest("t", "k", fingerprint("POST", "/a", b"{ }")), lambda: None
        )  # type: ignore[arg-type,return-value]
    assert reused.value.code == "idempotency_key_reused"


def test_a_crash_releases_the_key_and_a_5xx_is_not_kept() -> None:
    store = FakeIdempotencyStore()

    def boom() -> StoredResponse:
        raise RuntimeError("storage down")

    with pytest.raises(RuntimeError):
        run_idempotent(store, IdempotentRequest("t", "k", "f"), boom)
    assert store.records == {}
    run_idempotent(store, IdempotentRequest("t", "k", "f"), lambda: StoredResponse(503, {}, {}))
    assert store.records == {}


def test_a_secret_is_returned_once_and_never_stored_or_replayed() -> None:
    # Given a request whose response shows a secret once
    store = FakeIdempotencyStore()
    request = IdempotentRequest("t", "k", "f", secrets=("api_key",))
    shown = StoredResponse(201, {"id": "K1", "api_key": "tk_secret"}, {})
    # When it runs and is repeated
    first = run_idempotent(store, request, lambda: shown)
    second = run_idempotent(store, request, lambda: shown)
    # Then only the first response carries the secret, and the store never held it
    assert first == (shown, False)
    assert second == (StoredResponse(201, {"id": "K1", "api_key": None}, {}), True)
    assert "tk_secret" not in repr(store.records)


def test_a_claim_left_by_a_crash_lapses_after_its_lease() -> None:
    # Given a claim whose request never finished (the process died after claiming)
    store = FakeIdempotencyStore(lease=60)
    request = IdempotentRequest("t", "k", "f")
    store.begin("t", "k", "f")
    # When the same request is repeated within the lease, it is still busy
    with pytest.raises(ConflictError):
        run_idempotent(store, request, lambda: StoredResponse(201, {"n": 1}, {}))
    # Then after the lease it runs, and its response is the one kept
    store.now += 61
    assert run_idempotent(store, request, lambda: StoredResponse(201, {"n": 2}, {}))[1] is False
    assert run_idempotent(store, request, lambda: StoredResponse(201, {"n": 3}, {}))[0].body == {
        "n": 2
    }
    # And another request with the same key is still refused, lapsed or not
    store.begin("t", "k2", "f")
    store.now += 61
    with pytest.raises(RuleViolationError):
        run_idempotent(store, IdempotentRequest("t", "k2", "other"), lambda: None)  # type: ignore[arg-type,return-value]


def test_fingerprints_do_not_collide_on_concatenation() -> None:
    assert fingerprint("POST", "/ab", b"c") != fingerprint("POST", "/a", b"bc")


# -- tickets and items --------------------------------------------------------------------------


def test_ticket_creation_numbers_and_prices_in_the_tenant_currency(
    tenant_repo: FakeTenantRepository,
) -> None:
    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    repo = FakeTicketRepository()
    ports = _ticket_ports(tenant_repo, repo)
    first = tickets.create_ticket(ports, tenant_id, {"title": "a"}, NOW)
    second = tickets.create_ticket(ports, tenant_id, {"title": "b"}, NOW)
    assert (first.number, second.number) == ("T20261125.0001", "T20261125.0002")
    assert first.currency == "EUR"
    assert len(repo) == 2


def test_ticket_edits_are_reapplied_after_a_lost_race(tenant_repo: FakeTenantRepository) -> None:
    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    repo = FakeTicketRepository()
    ports = _ticket_ports(tenant_repo, repo)
    ticket = tickets.create_ticket(ports, tenant_id, {"title": "a"}, NOW)
    repo.fail_next_updates = 2
    updated = tickets.update_ticket(
        ports, Actor(tenant_id), ticket.ticket_id, {"status": TicketStatus.WAITING}, NOW
    )
    assert updated.status is TicketStatus.WAITING
    repo.fail_next_updates = 10
    with pytest.raises(ConflictError):
        tickets.update_ticket(ports, Actor(tenant_id), ticket.ticket_id, {"title": "b"}, NOW)


def test_a_note_needs_an_existing_ticket_of_the_tenant(tenant_repo: FakeTenantRepository) -> None:
    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    ticket_repo, item_repo = FakeTicketRepository(), FakeItemRepository()
    ticket = tickets.create_ticket(
        _ticket_ports(tenant_repo, ticket_repo, item_repo), tenant_id, {"title": "a"}, NOW
    )
    ports = _item_ports(tenant_repo, ticket_repo, item_repo)
    note = items.add_item(
        ports,
        AddItem(
            actor=Actor(tenant_id, label="tech"),
            ticket_id=ticket.ticket_id,
            kind=ItemKind.NOTE,
            fields={"text": "hello", "internal": False},
            now=NOW,
        ),
    )
    assert isinstance(note, Note)
    assert len(item_repo) == 1
    with pytest.raises(NotFoundError):
        items.add_item(
            ports,
            AddItem(
                actor=Actor("01HZZZZZZZZZZZZZZZZZZZZZZZ", label="tech"),
                ticket_id=ticket.ticket_id,
                kind=ItemKind.NOTE,
                fields={"text": "x"},
                now=NOW,
            ),
        )


def test_a_charge_takes_the_tickets_currency(tenant_repo: FakeTenantRepository) -> None:
    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    ticket_repo, item_repo = FakeTicketRepository(), FakeItemRepository()
    ticket = tickets.create_ticket(
        _ticket_ports(tenant_repo, ticket_repo, item_repo), tenant_id, {"title": "a"}, NOW
    )
    charge = items.add_item(
        _item_ports(tenant_repo, ticket_repo, item_repo),
        AddItem(
            actor=Actor(tenant_id, label="tech"),
            ticket_id=ticket.ticket_id,
            kind=ItemKind.CHARGE,
            fields={
                "name": "c",
                "quantity": Decimal(1),
                "unit_cost": Decimal(0),
                "unit_price": Decimal(2),
            },
            now=NOW,
        ),
    )
    assert charge.currency == "EUR"  # type: ignore[attr-defined]


def test_replica_items_cannot_be_edited_or_deleted() -> None:
    item_repo = FakeItemRepository()
    replica = Note(
        tenant_id="01HAAAAAAAAAAAAAAAAAAAAAAA",
        ticket_id="01HBBBBBBBBBBBBBBBBBBBBBBB",
        item_id="01HCCCCCCCCCCCCCCCCCCCCCCC",
        origin=Origin.PARTNER,
        text="theirs",
        created_at=NOW,
        updated_at=NOW,
    )
    item_repo.add(replica)
    ports = _item_ports(FakeTenantRepository(), FakeTicketRepository(), item_repo)
    ref = ItemRef(
        tenant_id=replica.tenant_id,
        ticket_id=replica.ticket_id,
        item_id=replica.item_id,
        kind=ItemKind.NOTE,
    )
    with pytest.raises(ConflictError):
        items.update_item(ports, ref, {"text": "mine"}, NOW)
    with pytest.raises(ConflictError):
        items.delete_item(ports, ref, NOW)
    assert item_repo.get(replica.tenant_id, replica.ticket_id, replica.item_id).text == "theirs"  # type: ignore[attr-defined]


def test_attachment_creation_checks_policy_before_storing(
    tenant_repo: FakeTenantRepository,
) -> None:
    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    ticket_repo, item_repo, files = FakeTicketRepository(), FakeItemRepository(), FakeFileStore()
    ticket = tickets.create_ticket(
        _ticket_ports(tenant_repo, ticket_repo, item_repo), tenant_id, {"title": "a"}, NOW
    )
    policy = UploadPolicy(max_bytes=10, content_types=frozenset({"text/plain"}))
    ports = _item_ports(tenant_repo, ticket_repo, item_repo, files, policy, link_seconds=60)

    def create(size: int, content_type: str = "text/plain") -> items.NewAttachment:
        return items.create_attachment(
            ports,
            AddAttachment(
                actor=Actor(tenant_id, label="tech"),
                ticket_id=ticket.ticket_id,
                file_name="../a b.txt",
                content_type=content_type,
                size=size,
                internal=False,
                now=NOW,
            ),
        )

    with pytest.raises(TooLargeError):
        create(11)
    with pytest.raises(ValidationError):
        create(5, "image/svg+xml")
    assert len(item_repo) == 0
    made = create(10)
    assert made.attachment.object_key.startswith(f"{tenant_id}/{ticket.ticket_id}/")
    assert ".." not in made.attachment.object_key
    assert made.upload.fields["size"] == "10"


def test_the_work_order_leaves_out_internal_items(tenant_repo: FakeTenantRepository) -> None:
    from chalicelib.service.work_orders import build_work_order

    tenant_id = _tenant(tenant_repo).tenant.tenant_id
    ticket_repo, item_repo = FakeTicketRepository(), FakeItemRepository()
    ticket = tickets.create_ticket(
        _ticket_ports(tenant_repo, ticket_repo, item_repo), tenant_id, {"title": "a"}, NOW
    )
    ports = _item_ports(tenant_repo, ticket_repo, item_repo)
    tech = Actor(tenant_id, label="tech")
    for text, internal in (("public", False), ("private", True)):
        items.add_item(
            ports,
            AddItem(
                actor=tech,
                ticket_id=ticket.ticket_id,
                kind=ItemKind.NOTE,
                fields={"text": text, "internal": internal},
                now=NOW,
            ),
        )
    items.add_item(
        ports,
        AddItem(
            actor=tech,
            ticket_id=ticket.ticket_id,
            kind=ItemKind.TIME_ENTRY,
            fields={
                "date": date(2026, 11, 25),
                "hours_worked": Decimal("1.5"),
                "hours_billable": Decimal(1),
            },
            now=NOW,
        ),
    )
    order = build_work_order(ports, tenant_id, ticket.ticket_id, now=NOW)
    assert [n.text for n in order.notes] == ["public"]
    assert order.hours_worked == Decimal("1.5")
    assert order.hours_billable == Decimal(1)
