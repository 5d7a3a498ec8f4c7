"""The outsourcing use cases on fakes: outsource, every kind of transition, expiry, and a lead
completing its ticket. (The HTTP tier and both DynamoDB engines are covered in
tests/integration/test_outsourcing_lifecycle.py; these tests pin the rules in the use cases.)"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import agreement
from chalicelib.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Charge, TimeEntry
from chalicelib.domain.outsourcing import Event, OutsourceStatus, PricingType, Side, Terms
from chalicelib.domain.partners import (
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
    status_map_with,
)
from chalicelib.domain.sync import Destination, destination_of
from chalicelib.domain.tenants import Actor, AgreementAcceptance, Permission, Tenant
from chalicelib.domain.tickets import Priority, Ticket, TicketSource, TicketStatus
from chalicelib.service import outsourcing as service
from chalicelib.service import tickets
from chalicelib.service.outsourcing import Outsource, OutsourcingPorts, Transition
from tests.unit.fakes import (
    FakeItemRepository,
    FakeOutsourcingRepository,
    FakePartnershipRepository,
    FakePortalUserRepository,
    FakeSubcontractorRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
S = OutsourceStatus


@dataclasses.dataclass
class World:
    """A lead and a service partner with an active partnership, on fakes."""

    ports: OutsourcingPorts
    lead: Tenant
    partner: Tenant
    partnership: Partnership  # the lead's side
    outsourcings: FakeOutsourcingRepository
    items: FakeItemRepository
    tickets: FakeTicketRepository
    partnerships: FakePartnershipRepository

    def ticket(self, **fields: object) -> Ticket:
        ticket = Ticket(
            tenant_id=self.lead.tenant_id,
            ticket_id=new_id(),
            number="T20261125.0001",
            title="Printer offline",
            description="Third floor",
            currency="EUR",
            organization="Customer Ltd",
            contact="Ann",
            site="HQ",
            created_at=NOW,
            updated_at=NOW,
            **fields,  # type: ignore[arg-type]
        )
        self.tickets.add(ticket)
        return ticket

    def outsource(self, ticket: Ticket, terms: Terms | None = None, **kw: object) -> str:
        copy = service.outsource(
            self.ports,
            Outsource(
                actor=Actor(self.lead.tenant_id, label="Lead key (K1)"),
                ticket_id=ticket.ticket_id,
                receivers={"partnership_id": self.partnership.partnership_id, **kw},  # type: ignore[dict-item]
                terms=terms or Terms(pricing_type=PricingType.HOURLY, pricing_amount=Decimal(80)),
                now=NOW,
            ),
        )
        return copy.outsourcing_id

    def move(
        self, who: Tenant, outsourcing_id: str, event: Event, *, reason: str | None = None
    ) -> object:
        return service.transition(
            self.ports,
            Transition(
                actor=Actor(who.tenant_id, label=f"{who.name} key"),
                outsourcing_id=outsourcing_id,
                event=event,
                now=NOW,
                reason=reason,
            ),
        )

    def copy(self, who: Tenant, outsourcing_id: str) -> object:
        return self.outsourcings.get(who.tenant_id, outsourcing_id)


def _tenant(name: str, **fields: object) -> Tenant:
    base: dict[str, object] = {
        "tenant_id": new_id(),
        "name": name,
        "language": "en",
        "currency": "EUR",
        "contact_email": f"ops@{name.lower().replace(' ', '')}.example",
        "created_at": NOW,
        "outsourcing_enabled": True,
        "agreement": AgreementAcceptance(by="Jane", at=NOW, version=agreement.CURRENT_VERSION),
    }
    return Tenant(**{**base, **fields})  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    tenants = FakeTenantRepository()
    ticket_repo, items = FakeTicketRepository(), FakeItemRepository()
    partnerships = FakePartnershipRepository()
    outsourcings = FakeOutsourcingRepository(ticket_repo, items)
    lead, partner = _tenant("Lead IT"), _tenant("Partner IT")
    for tenant in (lead, partner):
        tenants.tenants[tenant.tenant_id] = tenant
    common = {
        "partnership_id": new_id(),
        "status": PartnershipStatus.ACTIVE,
        "created_at": NOW,
        "lead_tenant_id": lead.tenant_id,
        "service_tenant_id": partner.tenant_id,
    }
    lead_side = Partnership(
        tenant_id=lead.tenant_id,
        role=PartnerRole.SERVICE,
        partner_tenant_id=partner.tenant_id,
        partner_name=partner.name,
        **common,  # type: ignore[arg-type]
    )
    service_side = Partnership(
        tenant_id=partner.tenant_id,
        role=PartnerRole.LEAD,
        partner_tenant_id=lead.tenant_id,
        partner_name=lead.name,
        mapping=PartnerMapping(
            organization="Lead IT (billing)",
            queue="Partners",
            work_type="Remote",
            resource="Bob",
            status_map=status_map_with({S.IN_PROGRESS: TicketStatus.WAITING}),
        ),
        **common,  # type: ignore[arg-type]
    )
    for side in (lead_side, service_side):
        partnerships.sides[(side.tenant_id, side.partnership_id)] = side
    ports = OutsourcingPorts(
        tenants=tenants,
        tickets=ticket_repo,
        partnerships=partnerships,
        outsourcings=outsourcings,
        items=items,
        subcontractors=FakeSubcontractorRepository(FakePortalUserRepository()),
    )
    return World(ports, lead, partner, lead_side, outsourcings, items, ticket_repo, partnerships)


def _time(world: World, ticket_id: str, hours: str, **fields: object) -> TimeEntry:
    entry = TimeEntry(
        tenant_id=world.partner.tenant_id,
        ticket_id=ticket_id,
        item_id=new_id(),
        date=date(2026, 11, 25),
        hours_worked=Decimal(hours),
        hours_billable=Decimal(hours),
        created_at=NOW,
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )
    world.items.add(entry)
    return entry


# -- outsourcing a ticket ----------------------------------------------------------------------


def test_outsourcing_assigns_both_copies_and_links_the_ticket(world: World) -> None:
    # Given a ticket of the lead
    ticket = world.ticket()
    # When it is outsourced to the service partner
    outsourcing_id = world.outsource(ticket, Terms(bill_customer_rate=Decimal(150)))
    # Then both sides hold an assigned copy, the receiver's without the customer rate
    lead_copy = world.outsourcings.get(world.lead.tenant_id, outsourcing_id)
    receiver_copy = world.outsourcings.get(world.partner.tenant_id, outsourcing_id)
    assert (lead_copy.status, receiver_copy.status) == (S.ASSIGNED, S.ASSIGNED)
    assert (lead_copy.side, receiver_copy.side) == (Side.LEAD, Side.RECEIVER)
    assert lead_copy.terms.bill_customer_rate == Decimal(150)
    assert receiver_copy.terms.bill_customer_rate is None
    assert receiver_copy.ticket.title == "Printer offline"
    assert lead_copy.history[0].actor == "Lead key (K1)"
    linked = world.tickets.get(world.lead.tenant_id, ticket.ticket_id)
    assert (linked.outsourcing_id, linked.outsourcing_status) == (outsourcing_id, S.ASSIGNED)
    assert world.ports.outsourcings.counts(world.partner.tenant_id, Side.RECEIVER)[S.ASSIGNED] == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"agreement": None}, "agreement_required"),
        (
            {"agreement": AgreementAcceptance(by="Jane", at=NOW, version="2020-01-01")},
            "agreement_required",
        ),
        ({"outsourcing_enabled": False}, "outsourcing_disabled"),
    ],
)
def test_outsourcing_needs_the_current_agreement_and_the_setting(
    world: World, change: dict[str, object], code: str
) -> None:
    ticket = world.ticket()
    world.ports.tenants.tenants[world.lead.tenant_id] = dataclasses.replace(  # type: ignore[attr-defined]
        world.lead, **change
    )
    with pytest.raises(RuleViolationError) as refused:
        world.outsource(ticket)
    assert refused.value.code == code
    assert len(world.outsourcings) == 0


def test_received_and_complete_tickets_cannot_be_outsourced(world: World) -> None:
    for fields, code in (
        ({"source": TicketSource.INSOURCED}, "insourced_ticket"),
        ({"status": TicketStatus.COMPLETE}, "ticket_complete"),
    ):
        with pytest.raises(RuleViolationError) as refused:
            world.outsource(world.ticket(**fields))
        assert refused.value.code == code
    assert len(world.outsourcings) == 0


def test_exactly_one_receiver_must_be_named(world: World) -> None:
    with pytest.raises(ValidationError):
        world.outsource(world.ticket(), subcontractor_id=new_id())


def test_a_ticket_with_an_open_outsourcing_is_refused_until_it_ends(world: World) -> None:
    ticket = world.ticket()
    first = world.outsource(ticket)
    with pytest.raises(ConflictError) as refused:
        world.outsource(world.tickets.get(world.lead.tenant_id, ticket.ticket_id))
    assert refused.value.code == "already_outsourced"
    world.move(world.lead, first, Event.CANCEL)
    second = world.outsource(ticket)
    assert second != first


def test_an_outsourcing_past_its_accept_by_deadline_no_longer_blocks_the_ticket(
    world: World,
) -> None:
    # Given an assigned outsourcing whose accept-by deadline has just passed
    ticket = world.ticket()
    first = world.outsource(ticket, Terms(accept_by=NOW + timedelta(minutes=30)))
    later = NOW + timedelta(hours=1)
    # When the lead outsources the ticket again after the deadline
    copy = service.outsource(
        world.ports,
        Outsource(
            actor=Actor(world.lead.tenant_id, label="k"),
            ticket_id=ticket.ticket_id,
            receivers={"partnership_id": world.partnership.partnership_id},
            terms=Terms(),
            now=later,
        ),
    )
    # Then the first one expired and the new one is assigned
    assert world.outsourcings.get(world.lead.tenant_id, first).status is S.EXPIRED
    assert copy.status is S.ASSIGNED


def test_only_an_active_service_partnership_of_the_lead_can_receive_work(world: World) -> None:
    ticket = world.ticket()
    with pytest.raises(NotFoundError):
        service.outsource(
            world.ports,
            Outsource(
                actor=Actor(world.lead.tenant_id),
                ticket_id=ticket.ticket_id,
                receivers={"partnership_id": new_id()},
                terms=Terms(),
                now=NOW,
            ),
        )
    key = (world.lead.tenant_id, world.partnership.partnership_id)
    world.partnerships.sides[key] = dataclasses.replace(
        world.partnership, status=PartnershipStatus.INACTIVE
    )
    with pytest.raises(RuleViolationError) as inactive:
        world.outsource(ticket)
    assert inactive.value.code == "partnership_inactive"
    world.partnerships.sides[key] = dataclasses.replace(world.partnership, role=PartnerRole.LEAD)
    with pytest.raises(RuleViolationError) as wrong_role:
        world.outsource(ticket)
    assert wrong_role.value.code == "not_a_service_partner"


def test_deadlines_in_the_past_are_refused(world: World) -> None:
    with pytest.raises(RuleViolationError) as refused:
        world.outsource(world.ticket(), Terms(accept_by=NOW - timedelta(seconds=1)))
    assert refused.value.code == "deadline_in_past"


# -- transitions -------------------------------------------------------------------------------


def test_accepting_creates_the_insourced_ticket_filed_by_the_mapping(world: World) -> None:
    # Given an outsourced ticket
    ticket = world.ticket(priority=Priority.HIGH)
    outsourcing_id = world.outsource(ticket, Terms(complete_by=NOW + timedelta(days=2)))
    # When the partner accepts
    copy = world.move(world.partner, outsourcing_id, Event.ACCEPT)
    # Then it holds an insourced ticket copied from the lead's and filed by its mapping
    assert copy.status is S.IN_PROGRESS  # type: ignore[attr-defined]
    insourced_id = copy.insourced_ticket_id  # type: ignore[attr-defined]
    insourced = world.tickets.get(world.partner.tenant_id, insourced_id)
    assert insourced.source is TicketSource.INSOURCED
    assert insourced.original_number == ticket.number
    assert (insourced.title, insourced.description, insourced.site) == (
        "Printer offline",
        "Third floor",
        "HQ",
    )
    assert (insourced.queue, insourced.work_type, insourced.resource) == (
        "Partners",
        "Remote",
        "Bob",
    )
    assert insourced.billing_organization == "Lead IT (billing)"
    assert insourced.status is TicketStatus.WAITING  # the partner's status map for in_progress
    assert insourced.complete_by == NOW + timedelta(days=2)
    assert insourced.priority is Priority.HIGH
    # And both tickets now replicate to each other
    lead_ticket = world.tickets.get(world.lead.tenant_id, ticket.ticket_id)
    # with each side's company as the author its replicas will name
    assert destination_of(lead_ticket) == Destination(
        outsourcing_id, Side.LEAD, world.partner.tenant_id, insourced_id, author="Lead IT"
    )
    assert destination_of(insourced) == Destination(
        outsourcing_id, Side.RECEIVER, world.lead.tenant_id, ticket.ticket_id, author="Partner IT"
    )


def test_the_wrong_side_is_refused_and_the_wrong_state_is_a_conflict(world: World) -> None:
    outsourcing_id = world.outsource(world.ticket())
    with pytest.raises(PermissionDeniedError) as wrong_side:
        world.move(world.lead, outsourcing_id, Event.ACCEPT)
    assert wrong_side.value.code == "wrong_side"
    with pytest.raises(ConflictError) as wrong_state:
        world.move(world.partner, outsourcing_id, Event.SUBMIT_COMPLETION)
    assert wrong_state.value.code == "invalid_transition"
    assert world.outsourcings.get(world.lead.tenant_id, outsourcing_id).status is S.ASSIGNED


def test_declining_needs_a_reason_which_the_history_keeps(world: World) -> None:
    outsourcing_id = world.outsource(world.ticket())
    with pytest.raises(RuleViolationError) as refused:
        world.move(world.partner, outsourcing_id, Event.DECLINE, reason="   ")
    assert refused.value.code == "reason_required"
    world.move(world.partner, outsourcing_id, Event.DECLINE, reason="Fully booked")
    history = world.outsourcings.get(world.lead.tenant_id, outsourcing_id).history
    assert (history[-1].event, history[-1].reason, history[-1].by) == (
        "decline",
        "Fully booked",
        Side.RECEIVER,
    )


def test_another_tenants_outsourcing_is_not_found(world: World) -> None:
    outsourcing_id = world.outsource(world.ticket())
    stranger = _tenant("Stranger IT")
    with pytest.raises(NotFoundError):
        world.move(stranger, outsourcing_id, Event.ACCEPT)
    with pytest.raises(NotFoundError):
        service.get_outsourcing(world.ports, stranger.tenant_id, outsourcing_id)
    with pytest.raises(NotFoundError):
        service.get_outsourcing(world.ports, world.lead.tenant_id, "not-an-id")


def test_approving_writes_the_cost_of_the_receivers_visible_time(world: World) -> None:
    # Given accepted work with visible, internal and deleted time on the insourced ticket
    outsourcing_id = world.outsource(world.ticket())
    insourced_id = world.move(world.partner, outsourcing_id, Event.ACCEPT).insourced_ticket_id  # type: ignore[attr-defined]
    _time(world, insourced_id, "1.5")
    _time(world, insourced_id, "2")
    _time(world, insourced_id, "8", internal=True)
    _time(world, insourced_id, "5", deleted=True)
    # When the work is submitted and approved
    world.move(world.partner, outsourcing_id, Event.SUBMIT_COMPLETION)
    world.move(world.lead, outsourcing_id, Event.APPROVE)
    # Then the lead ticket has one internal, non-billable charge: 3.5 h at the hourly rate
    lead_copy = world.outsourcings.get(world.lead.tenant_id, outsourcing_id)
    charges = [
        i
        for i in world.items.items.values()
        if isinstance(i, Charge) and i.ticket_id == lead_copy.lead_ticket_id
    ]
    assert len(charges) == 1
    cost = charges[0]
    assert (cost.quantity, cost.unit_cost, cost.billable, cost.internal) == (
        Decimal("3.5"),
        Decimal(80),
        False,
        True,
    )
    assert lead_copy.status is S.COMPLETE
    assert world.tickets.get(world.partner.tenant_id, insourced_id).status is TicketStatus.COMPLETE


def test_rejecting_resumes_the_work_and_recalling_ends_it(world: World) -> None:
    outsourcing_id = world.outsource(world.ticket())
    world.move(world.partner, outsourcing_id, Event.ACCEPT)
    world.move(world.partner, outsourcing_id, Event.SUBMIT_COMPLETION)
    world.move(world.lead, outsourcing_id, Event.REJECT, reason="Label missing")
    assert world.outsourcings.get(world.partner.tenant_id, outsourcing_id).status is S.IN_PROGRESS
    world.move(world.lead, outsourcing_id, Event.RECALL, reason="Customer cancelled")
    for owner in (world.lead, world.partner):
        assert world.outsourcings.get(owner.tenant_id, outsourcing_id).status is S.RECALLED
    counts = world.ports.outsourcings.counts(world.lead.tenant_id, Side.LEAD)
    assert (counts[S.RECALLED], counts[S.IN_PROGRESS], counts[S.WAITING_APPROVAL]) == (1, 0, 0)


def test_the_expiry_job_expires_only_work_past_its_deadline(world: World) -> None:
    soon = world.outsource(world.ticket(), Terms(accept_by=NOW + timedelta(minutes=10)))
    later = world.outsource(world.ticket(), Terms(accept_by=NOW + timedelta(days=1)))
    assert service.expire_due(world.ports, NOW) == 0
    assert service.expire_due(world.ports, NOW + timedelta(minutes=11)) == 1
    assert world.outsourcings.get(world.partner.tenant_id, soon).status is S.EXPIRED
    assert world.outsourcings.get(world.partner.tenant_id, later).status is S.ASSIGNED
    assert service.expire_due(world.ports, NOW + timedelta(minutes=12)) == 0  # once only


# -- the lead completing its ticket ------------------------------------------------------------


def _complete_ticket(world: World, ticket: Ticket, permission: Permission) -> Ticket:
    return tickets.update_ticket(
        world.ports,
        Actor(world.lead.tenant_id, permission=permission, label="k"),
        ticket.ticket_id,
        {"status": TicketStatus.COMPLETE},
        NOW,
    )


def test_completing_the_ticket_cancels_assigned_work_and_completes_accepted_work(
    world: World,
) -> None:
    assigned_ticket, accepted_ticket = world.ticket(), world.ticket()
    assigned = world.outsource(assigned_ticket)
    accepted = world.outsource(accepted_ticket)
    world.move(world.partner, accepted, Event.ACCEPT)
    for ticket in (assigned_ticket, accepted_ticket):
        done = _complete_ticket(world, ticket, Permission.OUTSOURCE)
        assert done.status is TicketStatus.COMPLETE
    assert world.outsourcings.get(world.lead.tenant_id, assigned).status is S.CANCELED
    assert world.outsourcings.get(world.lead.tenant_id, accepted).status is S.COMPLETE


def test_completing_a_ticket_that_ends_an_outsourcing_needs_the_outsource_permission(
    world: World,
) -> None:
    ticket = world.ticket()
    outsourcing_id = world.outsource(ticket)
    with pytest.raises(PermissionDeniedError):
        _complete_ticket(world, ticket, Permission.NONE)
    assert world.tickets.get(world.lead.tenant_id, ticket.ticket_id).status is TicketStatus.NEW
    assert world.outsourcings.get(world.lead.tenant_id, outsourcing_id).status is S.ASSIGNED
    # A ticket without an open outsourcing needs no such permission
    plain = world.ticket()
    assert _complete_ticket(world, plain, Permission.NONE).status is TicketStatus.COMPLETE
