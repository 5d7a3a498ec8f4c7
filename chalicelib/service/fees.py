"""Fees: metering each acceptance through the Subcontractor Portal, the operator's fee plans,
and billing (a tenant's fees of a month with the month's total).

Metering is a stream reaction on the lead's copy of an outsourcing. Which change is billable and
what it costs are decided in ``domain.fees``; the repository stores the fee and counts it in
the month's total in one transaction that only succeeds for the first delivery, so replays,
retries and racing consumers meter an acceptance exactly once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chalicelib.domain import fees
from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.events import OutsourcingChanged
from chalicelib.domain.fees import CurrencyTotal, FeePlan, FeeRecord, Month, MonthTotal
from chalicelib.domain.ids import is_id
from chalicelib.domain.tenants import Tenant
from chalicelib.observability import count, logger
from chalicelib.ports import FeeRepository, Paging, TenantRepository
from chalicelib.service.concurrency import retry_on_conflict

EXPORT_PAGE = 100


@dataclass(frozen=True, slots=True)
class FeePorts:
    tenants: TenantRepository
    fees: FeeRepository


# -- metering ------------------------------------------------------------------------------------


def meter_acceptance(ports: FeePorts, event: OutsourcingChanged) -> None:
    """Write the fee of an acceptance through the portal (the lead's copy moving from
    ``assigned`` to ``in_progress``), priced from the lead's fee plan. Any other change, and
    any later delivery of the same acceptance, writes nothing."""
    lead_copy = event.after
    if lead_copy is None or not fees.is_billable_acceptance(event.before, lead_copy):
        return
    tenant = ports.tenants.get(lead_copy.lead_tenant_id)
    fee = fees.fee_for(lead_copy, tenant.fee_plan, tenant.currency)
    where = {"tenant_id": fee.tenant_id, "outsourcing_id": fee.outsourcing_id}
    if not ports.fees.add(fee):
        logger.info("fee already metered", extra=where)
        return
    count("FeeMetered")
    if not fee.fee_plan_set:
        logger.warning("fee metered without a fee plan", extra={**where, "currency": fee.currency})
    else:
        logger.info(
            "fee metered", extra={**where, "amount": str(fee.amount), "currency": fee.currency}
        )


# -- fee plans -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetFeePlan:
    tenant_id: str
    amount: Decimal
    currency: str
    now: datetime


def _tenant(tenants: TenantRepository, tenant_id: str) -> Tenant:
    if not is_id(tenant_id):
        raise NotFoundError("No such tenant.", field="tenant_id")
    return tenants.get(tenant_id)


def set_fee_plan(tenants: TenantRepository, cmd: SetFeePlan) -> tuple[Tenant, FeePlan]:
    """Set (or replace) what the tenant is charged per acceptance from now on (operator)."""
    plan = FeePlan(amount=cmd.amount, currency=cmd.currency, set_at=cmd.now)
    updated = retry_on_conflict(
        lambda current: tenants.update(current, {"fee_plan": plan}),
        first=_tenant(tenants, cmd.tenant_id),
        reload=lambda: tenants.get(cmd.tenant_id),
    )
    logger.info(
        "fee plan set",
        extra={"tenant_id": cmd.tenant_id, "amount": str(cmd.amount), "currency": cmd.currency},
    )
    count("FeePlanSet")
    return updated, plan


def get_fee_plan(tenants: TenantRepository, tenant_id: str) -> tuple[Tenant, FeePlan]:
    """The tenant and its fee plan; 404 for an unknown tenant, or ``fee_plan_not_set``."""
    tenant = _tenant(tenants, tenant_id)
    if tenant.fee_plan is None:
        raise NotFoundError("This tenant has no fee plan yet.", code="fee_plan_not_set")
    return tenant, tenant.fee_plan


# -- billing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeQuery:
    """One page of a tenant's fees of a month (``month`` as the caller wrote it)."""

    tenant_id: str
    month: str
    paging: Paging = dataclasses.field(default_factory=Paging)


@dataclass(frozen=True, slots=True)
class FeeStatement:
    """A tenant's fees of one month (a page of them, or all), with the month's total."""

    tenant_id: str
    month: Month
    fees: Sequence[FeeRecord]
    next_cursor: str | None
    totals: MonthTotal
    currency: str  # the tenant's fee currency now: the plan's, else the tenant's own

    @property
    def total(self) -> CurrencyTotal:
        return self.totals.headline(self.currency)

    @property
    def all_totals(self) -> Sequence[CurrencyTotal]:
        return self.totals.all(self.currency)


def _fee_currency(tenant: Tenant) -> str:
    return tenant.fee_plan.currency if tenant.fee_plan else tenant.currency


def fee_statement(ports: FeePorts, query: FeeQuery) -> FeeStatement:
    """One page of the month's fees, oldest acceptance first, and the month's total: one Query
    and two GetItems (the tenant, the total). An unknown tenant is a 404, a month that is not a
    calendar month or a cursor of another list a 400."""
    month = Month.parse(query.month)
    tenant = _tenant(ports.tenants, query.tenant_id)
    page = ports.fees.list(tenant.tenant_id, month, query.paging.limit, query.paging.cursor)
    return FeeStatement(
        tenant_id=tenant.tenant_id,
        month=month,
        fees=page.items,
        next_cursor=page.next_cursor,
        totals=ports.fees.total(tenant.tenant_id, month),
        currency=_fee_currency(tenant),
    )


def month_export(ports: FeePorts, tenant_id: str, month_text: str) -> FeeStatement:
    """Every fee of the month (following the pages) and the month's total, for the export."""
    month = Month.parse(month_text)
    tenant = _tenant(ports.tenants, tenant_id)
    found: list[FeeRecord] = []
    cursor: str | None = None
    while True:
        page = ports.fees.list(tenant.tenant_id, month, EXPORT_PAGE, cursor)
        found.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return FeeStatement(
        tenant_id=tenant.tenant_id,
        month=month,
        fees=found,
        next_cursor=None,
        totals=ports.fees.total(tenant.tenant_id, month),
        currency=_fee_currency(tenant),
    )
