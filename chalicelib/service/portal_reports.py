"""The portal's printable invoice and its Summary and Status reports.

All of them go through :mod:`chalicelib.service.portal_work`'s rules: a user reads only the work
they may see (their company's; only their own unless they may accept work).

* The **invoice** is from the company to the lead for one outsourcing: the company's own,
  visible (not internal) time entries and billable charges on its ticket, in the outsourcing's
  currency. Labour is the hours worked times the terms' rate (hourly pricing) or the agreed flat
  amount (flat pricing); the lead's own items on the ticket are not the company's to invoice.
* The **reports** read the company's copies one Query per page and at most
  :data:`REPORT_PAGES` pages (they say when there was more), so a report costs the same however
  much work the company holds. What they sum comes from the copies alone (the terms), never from
  each ticket's items: counts, authorized hours and the agreed value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.domain.items import Charge, Item, Origin, TimeEntry
from chalicelib.domain.outsourcing import (
    OPEN,
    OutsourceStatus,
    Outsourcing,
    PricingType,
)
from chalicelib.domain.subcontractors import PortalUser
from chalicelib.ports import CopyFilter
from chalicelib.service.portal_work import PortalWorkPorts, full_work_order

REPORT_PAGE = 100  # copies per Query
REPORT_PAGES = 5  # at most this many Queries per report (500 tickets)
INVOICE_PAGES = 10  # at most this many pages of a ticket's items on an invoice or printout


def _own_and_visible(item: Item) -> bool:
    return item.origin is Origin.LOCAL and not item.internal and not item.deleted


@dataclass(frozen=True, slots=True)
class Invoice:
    copy: Outsourcing
    time_entries: list[TimeEntry]
    charges: list[Charge]
    complete: bool  # False when the ticket had more items than an invoice reads

    @property
    def currency(self) -> str:
        return self.copy.currency

    @property
    def hourly(self) -> bool:
        return self.copy.terms.pricing_type is PricingType.HOURLY

    @property
    def hours(self) -> Decimal:
        return sum((entry.hours_worked for entry in self.time_entries), Decimal(0))

    @property
    def rate(self) -> Decimal:
        return self.copy.terms.pricing_amount

    @property
    def labour(self) -> Decimal:
        return self.hours * self.rate if self.hourly else self.copy.terms.pricing_amount

    @property
    def charges_total(self) -> Decimal:
        return sum((c.quantity * c.unit_price for c in self.charges), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.labour + self.charges_total

    @property
    def over_hours(self) -> bool:
        authorized = self.copy.terms.authorized_hours
        return authorized is not None and self.hours > authorized

    @property
    def over_charges(self) -> bool:
        authorized = self.copy.terms.authorized_charges
        return authorized is not None and self.charges_total > authorized


def invoice(ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str) -> Invoice:
    """The company's invoice to the lead for one outsourcing (printable in every state)."""
    order, complete = full_work_order(ports, user, outsourcing_id, INVOICE_PAGES)
    own = [item for item in order.items if _own_and_visible(item)]
    return Invoice(
        copy=order.copy,
        time_entries=[item for item in own if isinstance(item, TimeEntry)],
        charges=[item for item in own if isinstance(item, Charge) and item.billable],
        complete=complete,
    )


def agreed_value(copy: Outsourcing) -> Decimal | None:
    """What the work is worth by its terms: the flat amount, or the rate times the authorized
    hours (None for hourly work without authorized hours: open-ended)."""
    terms = copy.terms
    if terms.pricing_type is PricingType.FLAT:
        return terms.pricing_amount
    if terms.authorized_hours is None:
        return None
    return terms.pricing_amount * terms.authorized_hours


@dataclass(slots=True)
class Tally:
    """Counts, authorized hours and agreed value (per currency) of a group of work."""

    count: int = 0
    hours: Decimal = Decimal(0)
    open_ended: int = 0  # hourly work without authorized hours: no value to add up
    values: dict[str, Decimal] = field(default_factory=dict)

    def add(self, copy: Outsourcing) -> None:
        self.count += 1
        self.hours += copy.terms.authorized_hours or Decimal(0)
        value = agreed_value(copy)
        if value is None:
            self.open_ended += 1
        else:
            self.values[copy.currency] = self.values.get(copy.currency, Decimal(0)) + value


@dataclass(frozen=True, slots=True)
class Summary:
    by_status: dict[OutsourceStatus, Tally]
    by_month: dict[str, Tally]  # "yyyy-mm" of creation, newest first
    total: Tally
    complete: bool  # False when the company had more work than a report reads
    read: int  # how many tickets were read


def _scope(user: PortalUser, status: OutsourceStatus | None = None) -> CopyFilter:
    """The work a report covers: the company's, or only one's own."""
    return CopyFilter(assignee_id=None if user.may_accept else user.user_id, status=status)


def _copies(
    ports: PortalWorkPorts, user: PortalUser, wanted: CopyFilter, pages: int
) -> Iterator[Outsourcing | None]:
    """The copies, page by page, at most ``pages`` Queries; a final None says there was more."""
    cursor: str | None = None
    for _ in range(pages):
        page = ports.outsourcing.outsourcings.find(user.company_id, wanted, REPORT_PAGE, cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return
    yield None


def summary_report(ports: PortalWorkPorts, user: PortalUser) -> Summary:
    """Counts, authorized hours and agreed value per status and per month of creation."""
    by_status: dict[OutsourceStatus, Tally] = {}
    by_month: dict[str, Tally] = {}
    total, read, complete = Tally(), 0, True
    for copy in _copies(ports, user, _scope(user), REPORT_PAGES):
        if copy is None:
            complete = False
            break
        read += 1
        total.add(copy)
        by_status.setdefault(copy.status, Tally()).add(copy)
        by_month.setdefault(f"{copy.created_at:%Y-%m}", Tally()).add(copy)
    ordered = {status: by_status[status] for status in OutsourceStatus if status in by_status}
    months = dict(sorted(by_month.items(), reverse=True))
    return Summary(by_status=ordered, by_month=months, total=total, complete=complete, read=read)


@dataclass(frozen=True, slots=True)
class StatusGroup:
    status: OutsourceStatus
    work: list[Outsourcing]
    more: bool  # more of this status than one page shows


def status_report(ports: PortalWorkPorts, user: PortalUser) -> list[StatusGroup]:
    """Open work by status: one Query (one page) per open status."""
    groups: list[StatusGroup] = []
    for status in (s for s in OutsourceStatus if s in OPEN):
        page = ports.outsourcing.outsourcings.find(
            user.company_id, _scope(user, status), REPORT_PAGE, None
        )
        groups.append(
            StatusGroup(status=status, work=list(page.items), more=page.next_cursor is not None)
        )
    return groups
