"""The portal's work use cases on fakes: who sees which work, who may do what in which state,
uploads, the invoice and the reports' bounds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain import agreement
from chalicelib.domain.attachments import UploadPolicy
from chalicelib.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import ItemKind, Origin
from chalicelib.domain.outsourcing import Event, OutsourceStatus, PricingType, Terms
from chalicelib.domain.subcontractors import (
    Company,
    LinkStatus,
    PortalUser,
    SubcontractorLink,
    UserStatus,
)
from chalicelib.domain.tenants import Actor, AgreementAcceptance, Tenant
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import Paging
from chalicelib.service import outsourcing, portal_reports, portal_work
from chalicelib.service.items import ItemPorts
from chalicelib.service.outsourcing import Outsource, OutsourcingPorts, Transition
from chalicelib.service.portal_work import (
    AddWork,
    DeclareFile,
    Decline,
    FileRef,
    PortalWorkPorts,
    Reassign,
    WorkQuery,
    WorkView,
)
from tests.unit.fakes import (
    FakeBrowserUploads,
    FakeFileStore,
    FakeItemRepository,
    FakeOutsourcingRepository,
    FakePartnershipRepository,
    FakePortalUserRepository,
    FakeSubcontractorRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
S = OutsourceStatus
NOTE = {"text": "On site", "internal": False}


@dataclasses.dataclass
class World:
    """A lead, and two subcontractor companies of it with their users, on fakes."""

    tenants: FakeTenantRepository = dataclasses.field(default_factory=FakeTenantRepository)
    tickets: FakeTicketRepository = dataclasses.field(default_factory=FakeTicketRepository)
    items: FakeItemRepository = dataclasses.field(default_factory=FakeItemRepository)
    users: FakePortalUserRepository = dataclasses.field(default_factory=FakePortalUserRepository)
    files: FakeFileStore = dataclasses.field(default_factory=FakeFileStore)

    def __post_init__(self) -> None:
        self.outsourcings = FakeOutsourcingRepository(self.tickets, self.items)
        self.subcontractors = FakeSubcontractorRepository(self.users)
        self.uploads = FakeBrowserUploads(self.files)
        self.lead = Tenant(
            tenant_id=new_id(),
            name="Lead IT",
            language="en",
            currency="USD",
            contact_email="ops@lead.example",
            created_at=NOW,
            outsourcing_enabled=True,
            agreement=AgreementAcceptance(by="Jane", at=NOW, version=agreement.CURRENT_VERSION),
        )
        self.tenants.tenants[self.lead.tenant_id] = self.lead
        self.links: dict[str, str] = {}  # company id -> the lead's subcontractor id

    @property
    def outsourcing_ports(self) -> OutsourcingPorts:
        return OutsourcingPorts(
            tenants=self.tenants,
            tickets=self.tickets,
            partnerships=FakePartnershipRepository(),
            outsourcings=self.outsourcings,
            items=self.items,
            subcontractors=self.subcontractors,
        )

    @property
    def ports(self) -> PortalWorkPorts:
        items = ItemPorts(
            tenants=self.tenants,
            tickets=self.tickets,
            items=self.items,
            files=self.files,
            upload_policy=UploadPolicy(1000, frozenset({"application/pdf"})),
        )
        return PortalWorkPorts(self.outsourcing_ports, items, self.users, self.uploads)

    def company(self, name: str = "Field Techs") -> str:
        company_id = new_id()
        self.subcontractors.companies[company_id] = Company(
            company_id=company_id, name=name, created_at=NOW
        )
        link = SubcontractorLink(
            lead_tenant_id=self.lead.tenant_id,
            subcontractor_id=new_id(),
            company_id=company_id,
            company_name=name,
            admin_email=f"admin@{company_id.lower()}.example",
            status=LinkStatus.ACTIVE,
            created_at=NOW,
        )
        self.subcontractors.add_link(link)
        self.links[company_id] = link.subcontractor_id
        return company_id

    def user(self, company_id: str, name: str, **roles: Any) -> PortalUser:
        user = PortalUser(
            company_id=company_id,
            user_id=new_id(),
            email=f"{name.lower()}@{company_id.lower()}.example",
            name=name,
            status=roles.pop("status", UserStatus.ACTIVE),
            created_at=NOW,
            **roles,
        )
        self.users.add(user)
        return user

    def outsource(self, company_id: str, terms: Terms | None = None) -> str:
        ticket = Ticket(
            tenant_id=self.lead.tenant_id,
            ticket_id=new_id(),
            number=f"T20261201.{len(self.tickets) + 1:04d}",
            title="Replace the switch",
            currency="USD",
            site="Main St 1",
            created_at=NOW,
            updated_at=NOW,
        )
        self.tickets.add(ticket)
        copy = outsourcing.outsource(
            self.outsourcing_ports,
            Outsource(
                actor=Actor(self.lead.tenant_id, label="lead key"),
                ticket_id=ticket.ticket_id,
                receivers={"subcontractor_id": self.links[company_id]},
                terms=terms or Terms(pricing_type=PricingType.HOURLY, pricing_amount=Decimal(80)),
                now=NOW,
            ),
        )
        return copy.outsourcing_id

    def lead_moves(self, outsourcing_id: str, event: Event) -> None:
        outsourcing.transition(
            self.outsourcing_ports,
            Transition(Actor(self.lead.tenant_id, label="lead key"), outsourcing_id, event, NOW),
        )


@dataclasses.dataclass
class Staff:
    world: World
    company_id: str
    admin: PortalUser
    dispatcher: PortalUser  # can_accept
    tech: PortalUser  # neither admin nor can_accept


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def company(world: World) -> Staff:
    company_id = world.company()
    return Staff(
        world,
        company_id,
        admin=world.user(company_id, "Ada", admin=True, can_accept=True),
        dispatcher=world.user(company_id, "Dan", can_accept=True),
        tech=world.user(company_id, "Tom"),
    )


def _accepted(company: Staff, by: PortalUser | None = None) -> str:
    oid = company.world.outsource(company.company_id)
    portal_work.accept(company.world.ports, by or company.admin, oid, NOW)
    return oid


def _give(company: Staff, oid: str, to: PortalUser) -> None:
    portal_work.reassign(company.world.ports, company.admin, Reassign(oid, to.user_id, NOW))


# -- who sees what ------------------------------------------------------------------------------


def test_a_technician_sees_only_the_work_assigned_to_them(company: Staff) -> None:
    # Given two accepted tickets, one given to the technician
    world = company.world
    theirs, other = _accepted(company), _accepted(company)
    _give(company, theirs, company.tech)
    # When the technician opens each
    seen = portal_work.get_work(world.ports, company.tech, theirs)
    # Then theirs opens and the other one does not exist for them
    assert seen.assignee_id == company.tech.user_id
    with pytest.raises(NotFoundError):
        portal_work.get_work(world.ports, company.tech, other)
    # And a user who may accept work sees both
    assert portal_work.get_work(world.ports, company.dispatcher, other).outsourcing_id == other


def test_another_companys_work_and_a_malformed_id_are_not_found(company: Staff) -> None:
    # Given work outsourced to another company of the same lead
    world = company.world
    elsewhere = world.outsource(world.company("Other Techs"))
    # When this company's admin asks for it, or for an id that is no id
    # Then neither exists
    for wanted in (elsewhere, "not-an-id", elsewhere.lower()):
        with pytest.raises(NotFoundError):
            portal_work.work_order(world.ports, company.admin, wanted, Paging())


def test_the_list_views_follow_the_users_permission(company: Staff) -> None:
    # Given one ticket awaiting acceptance and one accepted and given to the technician
    world = company.world
    awaiting = world.outsource(company.company_id)
    theirs = _accepted(company)
    _give(company, theirs, company.tech)

    # When each user lists the work
    def ids(user: PortalUser, view: WorkView | None = None) -> list[str]:
        found = portal_work.list_work(world.ports, user, WorkQuery(view=view))
        return [c.outsourcing_id for c in found.page.items]

    # Then a technician sees only their own, and may not ask for more
    assert ids(company.tech) == [theirs]
    with pytest.raises(ValidationError):
        ids(company.tech, WorkView.ALL)
    with pytest.raises(ValidationError):
        ids(company.tech, WorkView.AWAITING)
    # And a user who may accept sees everything by default, or what awaits acceptance
    assert set(ids(company.dispatcher)) == {awaiting, theirs}
    assert ids(company.dispatcher, WorkView.AWAITING) == [awaiting]
    assert ids(company.dispatcher, WorkView.MINE) == []


# -- accepting, declining, reassigning -------------------------------------------------------


def test_accepting_needs_may_accept_and_assigns_the_work_to_the_acceptor(
    company: Staff,
) -> None:
    # Given work awaiting acceptance that was given to the technician to look at
    world = company.world
    oid = world.outsource(company.company_id)
    _give(company, oid, company.tech)
    # When the technician tries to accept it
    with pytest.raises(PermissionDeniedError):
        portal_work.accept(world.ports, company.tech, oid, NOW)
    # Then nothing changed; when a user who may accept does, it is theirs and in progress
    assert world.outsourcings.get(company.company_id, oid).status is S.ASSIGNED
    portal_work.accept(world.ports, company.dispatcher, oid, NOW)
    copy = world.outsourcings.get(company.company_id, oid)
    assert (copy.status, copy.assignee_id) == (S.IN_PROGRESS, company.dispatcher.user_id)
    assert copy.insourced_ticket_id is not None
    assert world.tickets.get(company.company_id, copy.insourced_ticket_id).title == (
        "Replace the switch"
    )


def test_declining_needs_a_reason(company: Staff) -> None:
    # Given work awaiting acceptance
    world = company.world
    oid = world.outsource(company.company_id)
    # When it is declined without a reason, then with one
    with pytest.raises(RuleViolationError):
        portal_work.decline(world.ports, company.admin, Decline(oid, "  ", NOW))
    portal_work.decline(world.ports, company.admin, Decline(oid, "No one free", NOW))
    # Then only the second counts, and the history keeps the reason
    copy = world.outsourcings.get(company.company_id, oid)
    assert copy.status is S.DECLINED
    assert copy.history[-1].reason == "No one free"


def test_work_goes_only_to_an_active_colleague(company: Staff) -> None:
    # Given accepted work, a deactivated colleague and a user of another company
    world = company.world
    oid = _accepted(company)
    gone = world.user(company.company_id, "Gus", status=UserStatus.DEACTIVATED)
    stranger = world.user(world.company("Other Techs"), "Sam", can_accept=True)
    # When it is given to either
    for target in (gone.user_id, stranger.user_id, "nobody"):
        with pytest.raises(ValidationError):
            portal_work.reassign(world.ports, company.admin, Reassign(oid, target, NOW))
    # Then it stays with the admin; the assignee (a technician) may pass it on themselves
    assert world.outsourcings.get(company.company_id, oid).assignee_id == company.admin.user_id
    _give(company, oid, company.tech)
    portal_work.reassign(world.ports, company.tech, Reassign(oid, company.dispatcher.user_id, NOW))
    assert world.outsourcings.get(company.company_id, oid).assignee_id == (
        company.dispatcher.user_id
    )
    # And once passed on, the technician no longer sees it
    with pytest.raises(NotFoundError):
        portal_work.reassign(world.ports, company.tech, Reassign(oid, company.tech.user_id, NOW))


# -- working on it --------------------------------------------------------------------------


def test_items_can_be_added_only_while_the_work_is_in_progress(company: Staff) -> None:
    # Given work awaiting acceptance
    world = company.world
    oid = world.outsource(company.company_id)
    add = AddWork(oid, ItemKind.NOTE, NOTE, NOW)
    # When a note is added before acceptance, while in progress, and after submission
    with pytest.raises(ConflictError) as before:
        portal_work.add_work_item(world.ports, company.admin, add)
    portal_work.accept(world.ports, company.admin, oid, NOW)
    note = portal_work.add_work_item(world.ports, company.admin, add)
    portal_work.submit_completion(world.ports, company.admin, oid, NOW)
    with pytest.raises(ConflictError) as waiting:
        portal_work.add_work_item(world.ports, company.admin, add)
    world.lead_moves(oid, Event.APPROVE)
    with pytest.raises(ConflictError) as ended:
        portal_work.add_work_item(world.ports, company.admin, add)
    # Then only the one in progress is stored, on the company's ticket, bound for the lead
    assert {before.value.code, waiting.value.code, ended.value.code} == {"read_only"}
    assert note.tenant_id == company.company_id and note.created_by == "Ada"
    assert note.destination is not None
    assert note.destination.peer_owner_id == world.lead.tenant_id
    # And submitting again is refused the same way
    with pytest.raises(ConflictError):
        portal_work.submit_completion(world.ports, company.admin, oid, NOW)


def test_a_declared_file_gets_one_upload_form_that_comes_back_to_the_ticket(
    company: Staff,
) -> None:
    # Given accepted work and a declared file
    world = company.world
    oid = _accepted(company)
    declared = portal_work.declare_attachment(
        world.ports,
        company.admin,
        DeclareFile(oid, "report.pdf", "application/pdf", 11, internal=False, now=NOW),
    )
    ref = FileRef(oid, declared.item_id, NOW)
    # When its upload form is asked for
    form = portal_work.upload_form(world.ports, company.admin, ref, "https://portal/x")
    # Then it posts the declared file and sends the browser back
    assert form.fields["success_action_redirect"] == "https://portal/x"
    assert form.fields["key"] == declared.object_key
    # And once the file is there, no second form is given
    world.files.objects[declared.object_key] = b"%PDF-report"
    with pytest.raises(ConflictError):
        portal_work.upload_form(world.ports, company.admin, ref, "https://portal/x")
    assert portal_work.download(world.ports, company.admin, ref).url.startswith("https://")
    # And a technician it is not assigned to cannot download it
    with pytest.raises(NotFoundError):
        portal_work.download(world.ports, company.tech, ref)


# -- invoice and reports --------------------------------------------------------------------


def _add(company: Staff, oid: str, kind: ItemKind, **fields: Any) -> None:
    portal_work.add_work_item(company.world.ports, company.admin, AddWork(oid, kind, fields, NOW))


def _time(hours: str, internal: bool = False) -> dict[str, Any]:
    value = Decimal(hours)
    return {
        "date": date(2026, 12, 1),
        "hours_worked": value,
        "hours_billable": value,
        "internal": internal,
    }


def test_the_invoice_bills_the_companys_own_visible_time_and_billable_charges(
    company: Staff,
) -> None:
    # Given hourly work at 80 with visible, internal and lead-side items
    world = company.world
    oid = _accepted(company)
    _add(company, oid, ItemKind.TIME_ENTRY, **_time("1.5"))
    _add(company, oid, ItemKind.TIME_ENTRY, **_time("9", internal=True))
    charge = {"quantity": Decimal(2), "unit_cost": Decimal(1), "unit_price": Decimal(4)}
    _add(company, oid, ItemKind.CHARGE, name="Cable", billable=True, **charge)
    _add(company, oid, ItemKind.CHARGE, name="Coffee", billable=False, **charge)
    ticket_id = world.outsourcings.get(company.company_id, oid).insourced_ticket_id
    assert ticket_id is not None
    # (a replica of the lead's time on the same ticket: the lead's, not the company's)
    first = next(iter(world.items.items.values()))
    world.items.add(dataclasses.replace(first, item_id=new_id(), origin=Origin.PARTNER))
    # When the invoice is made
    found = portal_reports.invoice(world.ports, company.admin, oid)
    # Then it bills 1.5 h x 80 and 2 x 4, in the outsourcing's currency
    assert (found.hours, found.labour, found.charges_total, found.total) == (
        Decimal("1.5"),
        Decimal(120),
        Decimal(8),
        Decimal(128),
    )
    assert found.currency == "USD" and found.complete


def test_flat_work_is_invoiced_at_its_flat_amount(company: Staff) -> None:
    # Given flat work at 250 with some time recorded
    world = company.world
    oid = world.outsource(company.company_id, Terms(pricing_amount=Decimal(250)))
    portal_work.accept(world.ports, company.admin, oid, NOW)
    _add(company, oid, ItemKind.TIME_ENTRY, **_time("3"))
    # When the invoice is made
    found = portal_reports.invoice(world.ports, company.admin, oid)
    # Then the labour is the flat amount whatever the hours
    assert (found.labour, found.total) == (Decimal(250), Decimal(250))


def test_the_summary_reads_a_bounded_number_of_pages_and_says_so(
    company: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five tickets and reports that read at most two pages of two
    world = company.world
    for _ in range(5):
        world.outsource(company.company_id, Terms(pricing_amount=Decimal(100)))
    monkeypatch.setattr(portal_reports, "REPORT_PAGE", 2)
    monkeypatch.setattr(portal_reports, "REPORT_PAGES", 2)
    calls: list[Any] = []
    find = world.outsourcings.find
    monkeypatch.setattr(world.outsourcings, "find", lambda *a: calls.append(a) or find(*a))
    # When the summary is made
    summary = portal_reports.summary_report(world.ports, company.admin)
    # Then it read two pages, counted four and says it is incomplete
    assert len(calls) == 2
    assert (summary.read, summary.complete, summary.total.count) == (4, False, 4)
    assert summary.by_status[S.ASSIGNED].values == {"USD": Decimal(400)}
    assert list(summary.by_month) == ["2026-12"]


def test_the_status_report_reads_one_page_per_open_status_and_only_ones_own(
    company: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given work awaiting acceptance, and accepted work given to the technician
    world = company.world
    world.outsource(company.company_id)
    theirs = _accepted(company)
    _give(company, theirs, company.tech)
    calls: list[Any] = []
    find = world.outsourcings.find
    monkeypatch.setattr(world.outsourcings, "find", lambda *a: calls.append(a) or find(*a))
    # When the technician and the admin read it
    mine = portal_reports.status_report(world.ports, company.tech)
    everything = portal_reports.status_report(world.ports, company.admin)
    # Then each read one page per open status; the technician saw only their own work
    assert len(calls) == 6
    assert [len(g.work) for g in mine] == [0, 1, 0]
    assert [len(g.work) for g in everything] == [1, 1, 0]
