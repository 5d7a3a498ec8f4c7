"""Fees: the metered fee of each acceptance through the Subcontractor Portal, and the fee plan.

* **Which change is billable**: the lead's copy of a subcontractor outsourcing moving from
  ``assigned`` to ``in_progress`` (the acceptance). Partner and network work cost nothing, and
  the receiver's copy (which moves in the same transaction) is never counted.
* **How much**: the lead tenant's fee plan, as it is when the acceptance is metered. Without a
  plan the fee is still recorded, at 0 in the tenant's currency, so billing can fix it later.
* **Exactly once**: a fee is keyed by its outsourcing (one acceptance each), so however often the
  acceptance is delivered, there is one fee; a new outsourcing of the same ticket is a new fee.
* Fees are billed per calendar month (UTC) of their acceptance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.outsourcing import Lane, OutsourceStatus, Outsourcing, Side

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month (UTC), written ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, *, field: str = "month") -> Month:
        """``2026-11`` → Month(2026, 11); anything that is not a real month is a 400."""
        found = _MONTH.match(text)
        year, month = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
        if not (1 <= year <= 9998 and 1 <= month <= 12):
            raise ValidationError(
                f"{field}: give a calendar month as YYYY-MM (e.g. 2026-11).", field=field
            )
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The UTC month ``moment`` falls in."""
        utc = moment.astimezone(UTC)
        return cls(utc.year, utc.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class FeePlan:
    """What the operator charges a tenant per acceptance through the portal."""

    amount: Decimal
    currency: str
    set_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeRecord:
    """One metered acceptance, charged to the lead tenant (``tenant_id``)."""

    tenant_id: str
    outsourcing_id: str
    subcontractor_id: str | None  # the lead's relationship with the company
    company_id: str
    company_name: str
    accepted_at: datetime
    amount: Decimal
    currency: str
    fee_plan_set: bool = True  # False: no plan when it was metered (amount 0, to be fixed)

    @property
    def month(self) -> Month:
        return Month.of(self.accepted_at)


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class MonthTotal:
    """A tenant's fees of one month, counted and summed per currency (a month has fees in more
    than one currency only when the fee plan's currency changed during it)."""

    tenant_id: str
    month: Month
    by_currency: Sequence[CurrencyTotal] = ()

    def headline(self, currency: str) -> CurrencyTotal:
        """The month's total: in the one currency its fees are in; when they are in several,
        in ``currency`` (the tenant's fee currency now); zero in ``currency`` without fees."""
        if len(self.by_currency) == 1:
            return self.by_currency[0]
        for total in self.by_currency:
            if total.currency == currency:
                return total
        if self.by_currency:
            return max(self.by_currency, key=lambda t: (t.count, t.currency))
        return CurrencyTotal(currency=currency, count=0, amount=Decimal(0))

    def all(self, currency: str) -> Sequence[CurrencyTotal]:
        """Every currency's total, by currency; a zero total in ``currency`` without fees."""
        if not self.by_currency:
            return (self.headline(currency),)
        return tuple(sorted(self.by_currency, key=lambda t: t.currency))


def is_billable_acceptance(before: Outsourcing | None, after: Outsourcing | None) -> bool:
    """Whether this change of an outsourcing copy is an acceptance that costs a fee: the lead's
    copy of subcontractor work moving from ``assigned`` to ``in_progress``."""
    return (
        before is not None
        and after is not None
        and after.side is Side.LEAD
        and after.lane is Lane.SUBCONTRACTOR
        and before.status is OutsourceStatus.ASSIGNED
        and after.status is OutsourceStatus.IN_PROGRESS
    )


def accepted_at(copy: Outsourcing) -> datetime:
    """When the work was accepted: the history entry of the acceptance (the latest move from
    ``assigned`` to ``in_progress``), else the copy's last change."""
    for entry in reversed(copy.history):
        if (
            entry.from_status is OutsourceStatus.ASSIGNED
            and entry.to_status is OutsourceStatus.IN_PROGRESS
        ):
            return entry.at
    return copy.updated_at


def price(plan: FeePlan | None, tenant_currency: str) -> tuple[Decimal, str]:
    """The fee of one acceptance: the plan's amount and currency; without a plan, 0 in the
    tenant's currency."""
    if plan is None:
        return Decimal(0), tenant_currency
    return plan.amount, plan.currency


def fee_for(lead_copy: Outsourcing, plan: FeePlan | None, tenant_currency: str) -> FeeRecord:
    """The fee record of an acceptance, priced from the lead's fee plan."""
    amount, currency = price(plan, tenant_currency)
    return FeeRecord(
        tenant_id=lead_copy.lead_tenant_id,
        outsourcing_id=lead_copy.outsourcing_id,
        # The portal's outsourcings name the lead's relationship; until they carry it, none.
        subcontractor_id=getattr(lead_copy, "subcontractor_id", None),
        company_id=lead_copy.receiver_id,
        company_name=lead_copy.receiver_name,
        accepted_at=accepted_at(lead_copy),
        amount=amount,
        currency=currency,
        fee_plan_set=plan is not None,
    )
