"""One contract for the network lane's repositories, run on the fakes (unit) and on DynamoDB
(moto and DynamoDB Local)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Attachment, Note
from chalicelib.domain.networks import EmailSpec, FileLink, Network, NetworkAction
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.ports import (
    FileLinkRepository,
    ItemRepository,
    NetworkRepository,
    OutsourcingRepository,
)


@dataclass
class NetworkRepos:
    networks: NetworkRepository
    links: FileLinkRepository
    outsourcings: OutsourcingRepository
    items: ItemRepository


def _network(tenant_id: str, **fields: object) -> Network:
    now = utcnow().replace(microsecond=0)
    base: dict[str, object] = {
        "tenant_id": tenant_id,
        "network_id": new_id(),
        "name": "Vendor desk",
        "organization": "Vendor Inc",
        "action": NetworkAction.EMAIL,
        "email": EmailSpec(
            to=("a@vendor.example", "b@vendor.example"),
            subject="{title}",
            body="{description}",
            include_attachments=True,
        ),
        "created_at": now,
        "updated_at": now,
    }
    return Network(**{**base, **fields})  # type: ignore[arg-type]


def _forwarded(tenant_id: str, ticket_id: str) -> Outsourcing:
    now = utcnow().replace(microsecond=0)
    return Outsourcing(
        owner_id=tenant_id,
        side=Side.LEAD,
        outsourcing_id=new_id(),
        lane=Lane.NETWORK,
        status=OutsourceStatus.FORWARDED,
        lead_tenant_id=tenant_id,
        lead_ticket_id=ticket_id,
        receiver_id=new_id(),
        partnership_id=None,
        terms=Terms(instructions="Bring toner", pricing_amount=Decimal("90")),
        currency="EUR",
        ticket=TicketSnapshot(number="T20261201.0001", title="Printer"),
        lead_name="Lead IT",
        receiver_name="Vendor desk",
        created_at=now,
        updated_at=now,
        history=(
            HistoryEntry(
                event="forward",
                from_status=None,
                to_status=OutsourceStatus.FORWARDED,
                at=now,
                by=Side.LEAD,
                actor="k",
            ),
        ),
    )


class NetworkRepositoryContract:
    @pytest.fixture
    def repos(self) -> NetworkRepos:
        raise NotImplementedError

    def test_an_entry_reads_back_as_stored_and_only_for_its_tenant(
        self, repos: NetworkRepos
    ) -> None:
        tenant = new_id()
        entry = _network(tenant)
        bare = _network(tenant, organization=None, email=None, action=NetworkAction.NONE)
        linked = _network(tenant, action=NetworkAction.LINK, link_template="https://v.example/")
        for network in (entry, bare, linked):
            repos.networks.add(network)
            assert repos.networks.get(tenant, network.network_id) == network
        with pytest.raises(NotFoundError):
            repos.networks.get(new_id(), entry.network_id)
        with pytest.raises(NotFoundError):
            repos.networks.get(tenant, new_id())

    def test_the_list_is_newest_first_in_pages_and_the_tenants_own(
        self, repos: NetworkRepos
    ) -> None:
        tenant, other = new_id(), new_id()
        made = [_network(tenant, name=f"n{i}") for i in range(3)]
        for network in made:
            repos.networks.add(network)
        repos.networks.add(_network(other))
        first = repos.networks.list(tenant, 2, None)
        assert first.next_cursor is not None
        second = repos.networks.list(tenant, 2, first.next_cursor)
        seen = [n.network_id for n in [*first.items, *second.items]]
        assert seen == [n.network_id for n in reversed(made)]
        assert second.next_cursor is None

    def test_an_update_applies_to_the_version_read_only(self, repos: NetworkRepos) -> None:
        tenant = new_id()
        entry = _network(tenant)
        repos.networks.add(entry)
        stored = repos.networks.get(tenant, entry.network_id)
        email = dataclasses.replace(stored.email or EmailSpec(), to=("c@vendor.example",))
        later = stored.updated_at + timedelta(minutes=1)
        changed = repos.networks.update(
            stored, {"name": "Desk 2", "organization": None, "email": email, "updated_at": later}
        )
        assert (changed.name, changed.organization, changed.email) == ("Desk 2", None, email)
        assert changed.version == stored.version + 1
        assert repos.networks.get(tenant, entry.network_id) == changed
        with pytest.raises(ConflictError) as lost:
            repos.networks.update(stored, {"name": "Stale"})
        assert lost.value.code == "version_conflict"
        cleared = repos.networks.update(changed, {"email": None, "action": NetworkAction.NONE})
        assert cleared.email is None and cleared.action is NetworkAction.NONE

    def test_a_forward_writes_the_record_the_note_and_the_links(self, repos: NetworkRepos) -> None:
        tenant, ticket = new_id(), new_id()
        copy = _forwarded(tenant, ticket)
        now = copy.created_at
        note = Note(
            tenant_id=tenant,
            ticket_id=ticket,
            item_id=new_id(),
            internal=True,
            text="Forwarded",
            created_at=now,
            updated_at=now,
        )
        attachment = Attachment(
            tenant_id=tenant,
            ticket_id=ticket,
            item_id=new_id(),
            file_name="a.txt",
            content_type="text/plain",
            size=1,
            object_key="k",
            created_at=now,
            updated_at=now,
        )
        repos.items.add(attachment)
        link = FileLink(
            token_hash="ab" * 32,
            tenant_id=tenant,
            ticket_id=ticket,
            attachment_id=attachment.item_id,
            outsourcing_id=copy.outsourcing_id,
            created_at=now,
            valid_until=now + timedelta(days=7),
        )
        repos.networks.record_forward(copy, note, [link])
        stored = repos.outsourcings.get(tenant, copy.outsourcing_id)
        assert dataclasses.replace(stored, version=1) == copy
        assert repos.outsourcings.counts(tenant, Side.LEAD)[OutsourceStatus.FORWARDED] == 1
        assert repos.items.get(tenant, ticket, note.item_id) == note
        assert repos.links.get(link.token_hash) == link
        assert repos.links.attachment(link) == attachment
        assert repos.links.get("cd" * 32) is None
        gone = dataclasses.replace(link, attachment_id=new_id())
        assert repos.links.attachment(gone) is None
        elsewhere = dataclasses.replace(link, attachment_id=note.item_id)
        assert repos.links.attachment(elsewhere) is None  # a note is no attachment
