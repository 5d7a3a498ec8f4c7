"""Fee metering and billing on fakes: one fee per acceptance through the portal, priced from
the lead's fee plan, and the month's statement."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.errors import NotFoundError, ValidationError
from chalicelib.domain.events import OutsourcingChanged
from chalicelib.domain.fees import (
    CurrencyTotal,
    FeePlan,
    Month,
    MonthTotal,
    accepted_at,
    is_billable_acceptance,
    price,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import Paging
from chalicelib.service import fees as fee_service
from chalicelib.service.fees import FeePorts, FeeQuery, SetFeePlan
from tests.unit.fakes import FakeFeeRepository, FakeTenantRepository

S = OutsourceStatus
CREATED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ACCEPTED = datetime(2026, 11, 25, 14, 30, 5, 250000, tzinfo=UTC)
NOVEMBER = Month(2026, 11)


def _tenant(plan: FeePlan | None = None, currency: str = "USD") -> Tenant:
    return Tenant(
        tenant_id=new_id(),
        name="Lead IT",
        language="en",
        currency=currency,
        contact_email="ops@lead.example",
        created_at=CREATED,
        active_all_keys=1,
        fee_plan=plan,
    )


@pytest.fixture
def tenants() -> FakeTenantRepository:
    return FakeTenantRepository()


@pytest.fixture
def fees() -> FakeFeeRepository:
    return FakeFeeRepository()


@pytest.fixture
def ports(tenants: FakeTenantRepository, fees: FakeFeeRepository) -> FeePorts:
    return FeePorts(tenants=tenants, fees=fees)


@pytest.fixture
def metered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The business metrics the fee use cases record."""
    recorded: list[str] = []
    monkeypatch.setattr(fee_service, "count", recorded.append)
    return recorded


def _lead(tenants: FakeTenantRepository, plan: FeePlan | None = None, **tenant: str) -> Tenant:
    lead = _tenant(plan, **tenant)
    tenants.tenants[lead.tenant_id] = lead
    return lead


def _assigned(lead: Tenant, lane: Lane = Lane.SUBCONTRACTOR) -> Outsourcing:
    """The lead's copy of a new outsourcing to a subcontractor company."""
    company_id = new_id()
    return Outsourcing(
        owner_id=lead.tenant_id,
        side=Side.LEAD,
        outsourcing_id=new_id(),
        lane=lane,
        status=S.ASSIGNED,
        lead_tenant_id=lead.tenant_id,
        lead_ticket_id=new_id(),
        receiver_id=company_id,
        partnership_id=None,
        terms=Terms(),
        currency=lead.currency,
        ticket=TicketSnapshot(number="T20261124.0001", title="Printer offline"),
        lead_name=lead.name,
        receiver_name="Field Techs Ltd",
        created_at=CREATED,
        updated_at=CREATED,
        history=(
            HistoryEntry(
                event="outsource", from_status=None, to_status=S.ASSIGNED, at=CREATED, by=Side.LEAD
            ),
        ),
    )


def _moved(copy: Outsourcing, to: OutsourceStatus, at: datetime = ACCEPTED) -> OutsourcingChanged:
    entry = HistoryEntry(event="e", from_status=copy.status, to_status=to, at=at, by=Side.RECEIVER)
    after = dataclasses.replace(
        copy, status=to, updated_at=at, history=(*copy.history, entry), version=copy.version + 1
    )
    return OutsourcingChanged(before=copy, after=after)


def _accepted(copy: Outsourcing, at: datetime = ACCEPTED) -> OutsourcingChanged:
    return _moved(copy, S.IN_PROGRESS, at)


def _receiver_copy(copy: Outsourcing) -> Outsourcing:
    return dataclasses.replace(copy, owner_id=copy.receiver_id, side=Side.RECEIVER)


# -- the reaction --------------------------------------------------------------------------------


def test_an_acceptance_through_the_portal_meters_one_fee_priced_from_the_plan(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository, metered: list[str]
) -> None:
    # Given a lead whose fee plan charges 12.50 EUR per acceptance, and work assigned to a company
    lead = _lead(tenants, FeePlan(amount=Decimal("12.5"), currency="EUR"))
    copy = _assigned(lead)
    # When the company accepts it
    fee_service.meter_acceptance(ports, _accepted(copy))
    # Then one fee is recorded for the lead, for that outsourcing, at the plan's price
    (fee,) = fees.list(lead.tenant_id, NOVEMBER, 10, None).items
    assert (fee.tenant_id, fee.outsourcing_id) == (lead.tenant_id, copy.outsourcing_id)
    assert (fee.company_id, fee.company_name) == (copy.receiver_id, "Field Techs Ltd")
    assert (fee.amount, fee.currency, fee.fee_plan_set) == (Decimal("12.5"), "EUR", True)
    assert fee.accepted_at == ACCEPTED
    # And the month's total counts it, and one metric says so
    assert fees.total(lead.tenant_id, NOVEMBER).by_currency == (
        CurrencyTotal("EUR", 1, Decimal("12.5")),
    )
    assert metered == ["FeeMetered"]


def test_the_fee_names_the_leads_subcontractor_relationship(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository
) -> None:
    if "subcontractor_id" not in {f.name for f in dataclasses.fields(Outsourcing)}:
        pytest.skip("outsourcings do not name the subcontractor relationship yet")
    # Given subcontractor work naming the lead's relationship with the company
    lead = _lead(tenants, FeePlan(amount=Decimal(3), currency="USD"))
    relationship = new_id()
    copy = dataclasses.replace(_assigned(lead), subcontractor_id=relationship)  # type: ignore[call-arg]
    # When it is accepted
    fee_service.meter_acceptance(ports, _accepted(copy))
    # Then the fee names the relationship and the company
    (fee,) = fees.list(lead.tenant_id, NOVEMBER, 10, None).items
    assert (fee.subcontractor_id, fee.company_id) == (relationship, copy.receiver_id)


def test_delivering_the_same_acceptance_again_meters_nothing_more(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository, metered: list[str]
) -> None:
    # Given an acceptance that was metered
    lead = _lead(tenants, FeePlan(amount=Decimal(10), currency="USD"))
    copy = _assigned(lead)
    accepted = _accepted(copy)
    fee_service.meter_acceptance(ports, accepted)
    # When the same record is delivered again, and an equal copy of it (a retried batch), even
    # after the plan changed
    fee_service.meter_acceptance(ports, accepted)
    tenants.tenants[lead.tenant_id] = dataclasses.replace(
        lead, fee_plan=FeePlan(amount=Decimal(99), currency="USD")
    )
    fee_service.meter_acceptance(ports, dataclasses.replace(accepted))
    # Then there is still one fee, at the first price, counted once, with one metric
    assert len(fees) == 1
    assert fees.total(lead.tenant_id, NOVEMBER).by_currency == (
        CurrencyTotal("USD", 1, Decimal(10)),
    )
    assert metered == ["FeeMetered"]


def test_a_second_outsourcing_accepted_is_a_second_fee(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository
) -> None:
    # Given an accepted outsourcing of a ticket
    lead = _lead(tenants, FeePlan(amount=Decimal("7.5"), currency="USD"))
    first = _assigned(lead)
    fee_service.meter_acceptance(ports, _accepted(first))
    # When the same ticket is outsourced again (a new outsourcing) and accepted
    again = dataclasses.replace(_assigned(lead), lead_ticket_id=first.lead_ticket_id)
    fee_service.meter_acceptance(ports, _accepted(again, ACCEPTED + timedelta(days=1)))
    # Then each acceptance has its fee, and the month counts both
    listed = [f.outsourcing_id for f in fees.list(lead.tenant_id, NOVEMBER, 10, None).items]
    assert listed == [first.outsourcing_id, again.outsourcing_id]
    assert fees.total(lead.tenant_id, NOVEMBER).by_currency == (
        CurrencyTotal("USD", 2, Decimal(15)),
    )


@pytest.mark.parametrize("lane", [Lane.PARTNER, Lane.NETWORK])
def test_partner_and_network_acceptances_cost_nothing(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository, lane: Lane
) -> None:
    # Given a lead with a fee plan, and work given to a partner (or a network)
    lead = _lead(tenants, FeePlan(amount=Decimal(10), currency="USD"))
    # When it is accepted
    fee_service.meter_acceptance(ports, _accepted(_assigned(lead, lane)))
    # Then no fee is recorded
    assert len(fees) == 0
    assert fees.total(lead.tenant_id, NOVEMBER).by_currency == ()


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.ASSIGNED, S.DECLINED),
        (S.ASSIGNED, S.CANCELED),
        (S.ASSIGNED, S.EXPIRED),
        (S.IN_PROGRESS, S.WAITING_APPROVAL),
        (S.WAITING_APPROVAL, S.IN_PROGRESS),  # a reject resumes the work: not an acceptance
        (S.WAITING_APPROVAL, S.COMPLETE),
        (S.IN_PROGRESS, S.RECALLED),
        (S.IN_PROGRESS, S.IN_PROGRESS),  # another change of accepted work (e.g. reassigned)
    ],
)
def test_other_transitions_meter_nothing(
    ports: FeePorts,
    tenants: FakeTenantRepository,
    fees: FakeFeeRepository,
    start: OutsourceStatus,
    to: OutsourceStatus,
) -> None:
    # Given subcontractor work in some status, of a lead with a fee plan
    lead = _lead(tenants, FeePlan(amount=Decimal(10), currency="USD"))
    copy = dataclasses.replace(_assigned(lead), status=start)
    # When it moves on
    fee_service.meter_acceptance(ports, _moved(copy, to))
    # Then no fee is recorded
    assert len(fees) == 0


def test_creating_or_removing_a_copy_meters_nothing(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository
) -> None:
    lead = _lead(tenants, FeePlan(amount=Decimal(10), currency="USD"))
    in_progress = dataclasses.replace(_assigned(lead), status=S.IN_PROGRESS)
    fee_service.meter_acceptance(ports, OutsourcingChanged(before=None, after=in_progress))
    fee_service.meter_acceptance(ports, OutsourcingChanged(before=in_progress, after=None))
    assert len(fees) == 0


def test_the_receivers_copy_of_the_acceptance_meters_nothing(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository
) -> None:
    # Given the company's own copy of accepted work (it moves in the same transaction)
    lead = _lead(tenants, FeePlan(amount=Decimal(10), currency="USD"))
    # When its change arrives
    fee_service.meter_acceptance(ports, _accepted(_receiver_copy(_assigned(lead))))
    # Then it is not counted: only the lead's copy is
    assert len(fees) == 0


def test_without_a_fee_plan_the_fee_is_recorded_at_zero_in_the_tenants_currency_and_warned(
    ports: FeePorts,
    tenants: FakeTenantRepository,
    fees: FakeFeeRepository,
    metered: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a lead in CHF with no fee plan
    lead = _lead(tenants, None, currency="CHF")
    copy = _assigned(lead)
    # When work is accepted through the portal
    with caplog.at_level(logging.INFO):
        fee_service.meter_acceptance(ports, _accepted(copy))
    # Then the fee is still recorded, at 0 CHF, marked as priced without a plan
    (fee,) = fees.list(lead.tenant_id, NOVEMBER, 10, None).items
    assert (fee.amount, fee.currency, fee.fee_plan_set) == (Decimal(0), "CHF", False)
    assert fees.total(lead.tenant_id, NOVEMBER).by_currency == (
        CurrencyTotal("CHF", 1, Decimal(0)),
    )
    assert metered == ["FeeMetered"]
    # And a warning names the tenant and the outsourcing
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == "fee metered without a fee plan"
    assert (warning.tenant_id, warning.outsourcing_id) == (lead.tenant_id, copy.outsourcing_id)


def test_a_fee_belongs_to_the_month_of_its_acceptance_not_its_creation(
    ports: FeePorts, tenants: FakeTenantRepository, fees: FakeFeeRepository
) -> None:
    # Given work assigned on 30 November and accepted on 1 December (UTC)
    lead = _lead(tenants, FeePlan(amount=Decimal(1), currency="USD"))
    copy = dataclasses.replace(_assigned(lead), created_at=datetime(2026, 11, 30, tzinfo=UTC))
    december = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    # When it is accepted
    fee_service.meter_acceptance(ports, _accepted(copy, december))
    # Then it is December's fee
    assert fees.list(lead.tenant_id, NOVEMBER, 10, None).items == []
    (fee,) = fees.list(lead.tenant_id, Month(2026, 12), 10, None).items
    assert fee.accepted_at == december


# -- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "currency", "expected"),
    [
        (FeePlan(amount=Decimal("4.9999"), currency="GBP"), "USD", (Decimal("4.9999"), "GBP")),
        (FeePlan(amount=Decimal(0), currency="EUR"), "EUR", (Decimal(0), "EUR")),
        (None, "JPY", (Decimal(0), "JPY")),
    ],
)
def test_the_price_is_the_plans_amount_and_currency_else_zero_in_the_tenants(
    plan: FeePlan | None, currency: str, expected: tuple[Decimal, str]
) -> None:
    assert price(plan, currency) == expected


def test_only_the_leads_move_from_assigned_to_in_progress_is_billable() -> None:
    lead = _tenant()
    copy = _assigned(lead)
    accepted = _accepted(copy)
    assert is_billable_acceptance(accepted.before, accepted.after)
    assert not is_billable_acceptance(None, accepted.after)
    assert not is_billable_acceptance(accepted.before, None)
    receiver = _accepted(_receiver_copy(copy))
    assert not is_billable_acceptance(receiver.before, receiver.after)


def test_the_acceptance_time_is_that_of_its_history_entry() -> None:
    # Given accepted work that has moved on since (submitted, so updated later)
    copy = _accepted(_assigned(_tenant())).after
    assert copy is not None
    later = _moved(copy, S.WAITING_APPROVAL, ACCEPTED + timedelta(hours=3)).after
    assert later is not None
    # Then its acceptance time is still the acceptance's
    assert accepted_at(later) == ACCEPTED


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "abc", "2026-1", "0000-01", "\uff12\uff10\uff12\uff16-\uff11\uff11"],
)
def test_a_month_that_is_not_a_calendar_month_is_a_400(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Month.parse(text)
    assert refused.value.field == "month"


def test_a_month_is_written_and_read_as_yyyy_mm() -> None:
    assert Month.parse("2026-02") == Month(2026, 2)
    assert str(Month(2026, 2)) == "2026-02"
    assert Month.of(datetime(2026, 3, 1, 0, 30, tzinfo=UTC) - timedelta(hours=1)) == Month(2026, 2)


def test_the_headline_total_is_the_months_currency_or_the_tenants_fee_currency() -> None:
    usd, eur = CurrencyTotal("USD", 2, Decimal(20)), CurrencyTotal("EUR", 1, Decimal(5))
    assert MonthTotal("t", NOVEMBER, (eur,)).headline("USD") == eur
    assert MonthTotal("t", NOVEMBER, (eur, usd)).headline("USD") == usd
    assert MonthTotal("t", NOVEMBER, ()).headline("CHF") == CurrencyTotal("CHF", 0, Decimal(0))
    assert MonthTotal("t", NOVEMBER, ()).all("CHF") == (CurrencyTotal("CHF", 0, Decimal(0)),)
    assert MonthTotal("t", NOVEMBER, (usd, eur)).all("USD") == (eur, usd)


# -- fee plans and statements --------------------------------------------------------------------


def test_the_operator_sets_and_replaces_a_fee_plan(tenants: FakeTenantRepository) -> None:
    # Given a tenant without a plan
    lead = _lead(tenants)
    with pytest.raises(NotFoundError) as missing:
        fee_service.get_fee_plan(tenants, lead.tenant_id)
    assert missing.value.code == "fee_plan_not_set"
    # When the operator sets one, and then another
    fee_service.set_fee_plan(tenants, SetFeePlan(lead.tenant_id, Decimal("2.5"), "EUR", ACCEPTED))
    later = ACCEPTED + timedelta(days=1)
    fee_service.set_fee_plan(tenants, SetFeePlan(lead.tenant_id, Decimal(3), "USD", later))
    # Then the tenant carries the latest
    _, plan = fee_service.get_fee_plan(tenants, lead.tenant_id)
    assert plan == FeePlan(amount=Decimal(3), currency="USD", set_at=later)


@pytest.mark.parametrize("tenant_id", ["01HZZZZZZZZZZZZZZZZZZZZZZZ", "not-an-id"])
def test_a_fee_plan_for_an_unknown_tenant_is_a_404(
    tenants: FakeTenantRepository, tenant_id: str
) -> None:
    with pytest.raises(NotFoundError):
        fee_service.set_fee_plan(tenants, SetFeePlan(tenant_id, Decimal(1), "USD", ACCEPTED))


def test_a_statement_pages_the_month_and_totals_all_of_it(
    ports: FeePorts, tenants: FakeTenantRepository
) -> None:
    # Given three acceptances in November
    lead = _lead(tenants, FeePlan(amount=Decimal("1.25"), currency="EUR"))
    for hours in range(3):
        fee_service.meter_acceptance(
            ports, _accepted(_assigned(lead), ACCEPTED + timedelta(hours=hours))
        )
    # When the first page of two is read
    first = fee_service.fee_statement(ports, FeeQuery(lead.tenant_id, "2026-11", Paging(2)))
    # Then it holds two fees, a cursor, and the total of the whole month
    assert len(first.fees) == 2
    assert first.next_cursor is not None
    assert first.total == CurrencyTotal("EUR", 3, Decimal("3.75"))
    rest = fee_service.fee_statement(
        ports, FeeQuery(lead.tenant_id, "2026-11", Paging(2, first.next_cursor))
    )
    assert (len(rest.fees), rest.next_cursor) == (1, None)
    # And the export holds all of them
    assert len(fee_service.month_export(ports, lead.tenant_id, "2026-11").fees) == 3


def test_an_empty_month_totals_zero_in_the_tenants_fee_currency(
    ports: FeePorts, tenants: FakeTenantRepository
) -> None:
    planned = _lead(tenants, FeePlan(amount=Decimal(1), currency="GBP"), currency="USD")
    unplanned = _lead(tenants, None, currency="SEK")
    for lead, currency in ((planned, "GBP"), (unplanned, "SEK")):
        statement = fee_service.fee_statement(ports, FeeQuery(lead.tenant_id, "2026-11"))
        assert statement.fees == []
        assert statement.total == CurrencyTotal(currency, 0, Decimal(0))
