"""The network lane's use cases on fakes: the list, forwarding (what is sent, what is written,
in which order), and the download links. (Both DynamoDB engines and SES are covered in
tests/integration/test_networks.py and test_network_files.py.)"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain import agreement
from chalicelib.domain.errors import (
    ConflictError,
    NotConfiguredError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Attachment, Note
from chalicelib.domain.networks import EmailSpec, Network, NetworkAction
from chalicelib.domain.outsourcing import Event, OutsourceStatus, Terms
from chalicelib.domain.tenants import Actor, AgreementAcceptance, Tenant
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import Email, MailNotSentError, MailRejectedError, Paging
from chalicelib.service import networks as service
from chalicelib.service import outsourcing
from chalicelib.service.networks import AddNetwork, FileLinks, NetworkPorts, UpdateNetwork
from chalicelib.service.outbound_mail import Allowance
from chalicelib.service.outsourcing import Outsource, OutsourcingPorts, Transition
from tests.unit.fake_networks import FakeFileLinkRepository, FakeNetworkRepository
from tests.unit.fakes import (
    FakeFileStore,
    FakeItemRepository,
    FakeMailer,
    FakeMailQuota,
    FakeOutsourcingRepository,
    FakePartnershipRepository,
    FakePortalUserRepository,
    FakeSubcontractorRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FailingMailer(FakeMailer):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def send(self, email: Email) -> None:
        raise self.error


@dataclasses.dataclass
class World:
    ports: NetworkPorts
    lead: Tenant
    actor: Actor
    networks: FakeNetworkRepository
    mailer: FakeMailer
    files: FakeFileStore
    items: FakeItemRepository
    tickets: FakeTicketRepository
    outsourcings: FakeOutsourcingRepository

    def ticket(self, **fields: object) -> Ticket:
        base: dict[str, object] = {
            "tenant_id": self.lead.tenant_id,
            "ticket_id": new_id(),
            "number": "T20261201.0001",
            "title": "Printer offline",
            "description": "Third floor",
            "currency": "EUR",
            "contact": "Ann",
            "created_at": NOW,
            "updated_at": NOW,
        }
        ticket = Ticket(**{**base, **fields})  # type: ignore[arg-type]
        self.tickets.add(ticket)
        return ticket

    def entry(self, **fields: Any) -> Network:
        base: dict[str, Any] = {
            "name": "Vendor desk",
            "action": NetworkAction.EMAIL,
            "email": EmailSpec(
                to=("desk@vendor.example",),
                subject="{ticket_number} {title}",
                body="{description}\n{attachments}",
                include_attachments=True,
            ),
        }
        return service.add_network(
            self.ports, AddNetwork(actor=self.actor, fields={**base, **fields}, now=NOW)
        )

    def forward(self, ticket: Ticket, network: Network, **terms: Any) -> service.Forwarded:
        return service.forward(
            self.ports,
            Outsource(
                actor=self.actor,
                ticket_id=ticket.ticket_id,
                receivers={"network_id": network.network_id},
                terms=Terms(**terms),
                now=NOW,
            ),
        )

    def attachment(self, ticket: Ticket, name: str, *, internal: bool = False) -> Attachment:
        attachment = Attachment(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.ticket_id,
            item_id=new_id(),
            internal=internal,
            file_name=name,
            content_type="text/plain",
            size=3,
            object_key=f"{ticket.tenant_id}/{ticket.ticket_id}/{name}",
            created_at=NOW,
            updated_at=NOW,
        )
        self.items.add(attachment)
        self.files.objects[attachment.object_key] = b"abc"
        return attachment


def _world(
    mailer: FakeMailer | None = None, base_url: str | None = "https://api.example/api"
) -> World:
    tenants = FakeTenantRepository()
    tickets, items = FakeTicketRepository(), FakeItemRepository()
    outsourcings = FakeOutsourcingRepository(tickets, items)
    lead = Tenant(
        tenant_id=new_id(),
        name="Lead IT",
        language="en",
        currency="EUR",
        contact_email="ops@lead.example",
        created_at=NOW,
        outsourcing_enabled=True,
        agreement=AgreementAcceptance(by="Jane", at=NOW, version=agreement.CURRENT_VERSION),
    )
    tenants.tenants[lead.tenant_id] = lead
    networks = FakeNetworkRepository(outsourcings, items)
    files, mail = FakeFileStore(), mailer if mailer is not None else FakeMailer()
    ports = NetworkPorts(
        networks=networks,
        outsourcing=OutsourcingPorts(
            tenants=tenants,
            tickets=tickets,
            partnerships=FakePartnershipRepository(),
            outsourcings=outsourcings,
            items=items,
            subcontractors=FakeSubcontractorRepository(FakePortalUserRepository()),
        ),
        files=files,
        mailer=mail,
        allowance=Allowance(FakeMailQuota(), per_day=2),
        links=FileLinks(FakeFileLinkRepository(networks, items), base_url, days=7),
    )
    actor = Actor(tenant_id=lead.tenant_id, label="Desk key (K1)")
    return World(ports, lead, actor, networks, mail, files, items, tickets, outsourcings)


@pytest.fixture
def world() -> World:
    return _world()


def test_forwarding_sends_first_and_then_writes_the_record_the_note_and_the_links(
    world: World,
) -> None:
    ticket = world.ticket()
    shared = world.attachment(ticket, "shared.txt")
    world.attachment(ticket, "private.txt", internal=True)
    entry = world.entry()
    forwarded = world.forward(ticket, entry, instructions="Bring toner")
    # One email, with one link for the shared file
    (email,) = world.mailer.sent
    assert email.to == ["desk@vendor.example"] and email.subject == "T20261201.0001 Printer offline"
    assert "shared.txt: https://api.example/api/files/fl_" in email.text
    assert "private.txt" not in email.text
    token = email.text.split("/files/", 1)[1].split()[0]
    # The record is forwarded, ended, and the ticket untouched
    copy = forwarded.outsourcing
    assert (copy.status, copy.lane.value, copy.receiver_id) == (
        OutsourceStatus.FORWARDED,
        "network",
        entry.network_id,
    )
    assert world.outsourcings.get(world.lead.tenant_id, copy.outsourcing_id) == copy
    assert world.tickets.get(ticket.tenant_id, ticket.ticket_id) == ticket
    # The note is internal and holds no link; the link is stored as its hash only
    (note,) = [i for i in world.items.items.values() if isinstance(i, Note)]
    assert note.internal and "shared.txt (download link)" in note.text and token not in note.text
    (link,) = world.networks.links.values()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (link.attachment_id, link.valid_until) == (shared.item_id, NOW + timedelta(days=7))
    # And the link opens the file while it is shared, and not once the link has expired
    url = service.open_file(world.ports, token, NOW)
    assert shared.object_key in url and "expires=300" in url
    with pytest.raises(NotFoundError):
        service.open_file(world.ports, token, NOW + timedelta(days=7))


def test_a_failed_send_writes_nothing_and_a_failed_write_leaves_only_the_email() -> None:
    for error, code in [
        (MailRejectedError("MessageRejected"), "email_not_sent"),
        (MailNotSentError("Throttling"), "email_not_sent"),
        (TimeoutError("read timeout"), "email_unconfirmed"),  # SES may have taken it
    ]:
        failing = _world(mailer=FailingMailer(error))
        ticket = failing.ticket()
        with pytest.raises(RuleViolationError) as refused:
            failing.forward(ticket, failing.entry())
        assert refused.value.code == code
        assert failing.outsourcings.copies == {} and failing.items.items == {}
    # The documented window: SES took the email, then the write failed
    world = _world()
    ticket = world.ticket()
    world.attachment(ticket, "shared.txt")
    world.networks.fail_next_write = True
    with pytest.raises(RuntimeError):
        world.forward(ticket, world.entry())
    (email,) = world.mailer.sent
    token = email.text.split("/files/", 1)[1].split()[0]
    assert world.outsourcings.copies == {}
    with pytest.raises(NotFoundError):  # its link was never stored
        service.open_file(world.ports, token, NOW)


def test_the_daily_allowance_is_taken_before_sending(world: World) -> None:
    ticket, entry = world.ticket(), world.entry()
    world.forward(ticket, entry)
    world.forward(ticket, entry)
    with pytest.raises(RuleViolationError) as refused:
        world.forward(ticket, entry)
    assert refused.value.code == "email_limit_reached"
    assert len(world.mailer) == 2 and len(world.outsourcings.copies) == 2


def test_links_need_the_public_address_but_an_email_without_files_does_not() -> None:
    world = _world(base_url=None)
    ticket, entry = world.ticket(), world.entry()
    world.forward(ticket, entry)  # no file: no link needed
    world.attachment(ticket, "shared.txt")
    with pytest.raises(NotConfiguredError):
        world.forward(ticket, entry)
    assert len(world.mailer) == 1


def test_link_and_none_entries_send_nothing_and_nothing_moves_the_record(world: World) -> None:
    ticket = world.ticket(title="a/b @evil.example")
    link_entry = world.entry(action=NetworkAction.LINK, link_template="https://v.example/{title}")
    forwarded = world.forward(ticket, link_entry)
    assert forwarded.link == "https://v.example/a%2Fb%20%40evil.example"
    none = world.forward(ticket, world.entry(action=NetworkAction.NONE, email=None))
    assert none.link is None and world.mailer.sent == []
    for event in Event:
        with pytest.raises(ConflictError) as refused:
            outsourcing.transition(
                world.ports.outsourcing,
                Transition(
                    actor=world.actor,
                    outsourcing_id=none.outsourcing.outsourcing_id,
                    event=event,
                    now=NOW,
                    reason="r",
                ),
            )
        assert refused.value.code == "invalid_transition"


def test_accept_by_is_refused_and_inactive_entries_take_nothing(world: World) -> None:
    ticket, entry = world.ticket(), world.entry()
    with pytest.raises(RuleViolationError) as refused:
        world.forward(ticket, entry, accept_by=NOW + timedelta(days=1))
    assert refused.value.code == "accept_by_not_applicable"
    off = service.update_network(
        world.ports,
        UpdateNetwork(world.actor, entry.network_id, {"active": False}, None, NOW),
    )
    with pytest.raises(RuleViolationError) as inactive:
        world.forward(ticket, off)
    assert inactive.value.code == "network_inactive"
    assert world.mailer.sent == [] and world.outsourcings.copies == {}


def test_a_partial_update_is_checked_as_a_whole(world: World) -> None:
    entry = world.entry()
    with pytest.raises(ValidationError) as refused:
        service.update_network(
            world.ports,
            UpdateNetwork(world.actor, entry.network_id, {}, {"include_attachments": False}, NOW),
        )
    assert refused.value.field == "email.body"
    changed = service.update_network(
        world.ports,
        UpdateNetwork(world.actor, entry.network_id, {"name": "New"}, {"subject": "{title}"}, NOW),
    )
    assert changed.name == "New" and changed.email is not None
    assert changed.email.subject == "{title}" and changed.email.body == entry.email.body  # type: ignore[union-attr]


def test_another_tenants_entry_is_not_found(world: World) -> None:
    entry = world.entry()
    other = Actor(tenant_id=new_id(), label="x")
    with pytest.raises(NotFoundError):
        service.get_network(world.ports, other.tenant_id, entry.network_id)
    with pytest.raises(NotFoundError):
        service.get_network(world.ports, world.lead.tenant_id, "not-an-id")
    assert service.list_networks(world.ports, other.tenant_id, Paging()).items == []


def test_at_most_twenty_files_are_linked_and_the_rest_counted(world: World) -> None:
    ticket = world.ticket()
    for n in range(22):
        world.attachment(ticket, f"file{n:02}.txt")
    world.forward(ticket, world.entry())
    (email,) = world.mailer.sent
    assert email.text.count("/files/fl_") == 20
    assert "file19.txt:" in email.text and "file20.txt" not in email.text
    assert "- and up to 2 more file(s), not linked" in email.text
    assert len(world.networks.links) == 20
