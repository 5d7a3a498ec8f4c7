"""Fee plans and billing: the operator's fee plan, a month's fees as JSON, and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.api.models.base import (
    Currency,
    Id,
    Money,
    PageQuery,
    RequestModel,
    ResponseModel,
)
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.fees import CurrencyTotal, FeePlan, FeeRecord
from chalicelib.domain.money import canonical, format_amount
from chalicelib.domain.tenants import Tenant
from chalicelib.service.fees import FeeStatement

MonthText = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
    Field(description="A calendar month, YYYY-MM (UTC)"),
]


class FeePlanIn(RequestModel):
    amount: Money = Field(description="Charged per acceptance; a decimal, at most 4 decimals")
    currency: Currency


class FeePlanOut(ResponseModel):
    tenant_id: str
    amount: Decimal
    currency: str
    set_at: str | None

    @classmethod
    def of(cls, tenant: Tenant, plan: FeePlan) -> FeePlanOut:
        return cls(
            tenant_id=tenant.tenant_id,
            amount=canonical(plan.amount),
            currency=plan.currency,
            set_at=iso_or_none(plan.set_at),
        )


class BillingQuery(PageQuery):
    tenant_id: Id
    month: MonthText
    format: Literal["json", "csv"] = Field(
        "json", description="csv: every fee of the month as one CSV file (takes no cursor)"
    )


class TenantFeesQuery(PageQuery):
    month: MonthText | None = Field(None, description="Default: the current month (UTC)")


class FeeOut(ResponseModel):
    outsourcing_id: str
    subcontractor_id: str | None
    company_id: str
    company_name: str
    accepted_at: str
    amount: Decimal
    currency: str
    fee_plan_set: bool = Field(
        description="False when the tenant had no fee plan: the amount is 0, to be billed later"
    )

    @classmethod
    def of(cls, fee: FeeRecord) -> FeeOut:
        return cls(
            outsourcing_id=fee.outsourcing_id,
            subcontractor_id=fee.subcontractor_id,
            company_id=fee.company_id,
            company_name=fee.company_name,
            accepted_at=iso(fee.accepted_at),
            amount=canonical(fee.amount),
            currency=fee.currency,
            fee_plan_set=fee.fee_plan_set,
        )


class TotalOut(ResponseModel):
    count: int
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, total: CurrencyTotal) -> TotalOut:
        return cls(count=total.count, amount=canonical(total.amount), currency=total.currency)


class FeeStatementOut(ResponseModel):
    tenant_id: str
    month: str
    items: list[FeeOut]
    next_cursor: str | None
    total: TotalOut = Field(description="The month's fees (all pages), in their currency")
    totals: list[TotalOut] = Field(
        description="One total per currency: more than one only when the fee plan's currency "
        "changed during the month"
    )

    @classmethod
    def of(cls, statement: FeeStatement) -> FeeStatementOut:
        return cls(
            tenant_id=statement.tenant_id,
            month=str(statement.month),
            items=[FeeOut.of(fee) for fee in statement.fees],
            next_cursor=statement.next_cursor,
            total=TotalOut.of(statement.total),
            totals=[TotalOut.of(total) for total in statement.all_totals],
        )


# -- the CSV export ------------------------------------------------------------------------------

CSV_HEADER = (
    "record",
    "outsourcing_id",
    "accepted_at",
    "subcontractor_id",
    "company_id",
    "company_name",
    "count",
    "amount",
    "currency",
    "fee_plan_set",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The cell as text a spreadsheet shows as it is: a leading ``'`` before a formula start."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _fee_row(fee: FeeRecord) -> list[str]:
    return [
        "fee",
        fee.outsourcing_id,
        iso(fee.accepted_at),
        fee.subcontractor_id or "",
        fee.company_id,
        fee.company_name,
        "1",
        format_amount(fee.amount),
        fee.currency,
        "true" if fee.fee_plan_set else "false",
    ]


def _total_row(total: CurrencyTotal) -> list[str]:
    amount = format_amount(total.amount)
    return ["total", "", "", "", "", "", str(total.count), amount, total.currency, ""]


def fees_csv(statement: FeeStatement) -> str:
    """The month's fees as RFC 4180 CSV: a header, one row per fee (oldest first), then one
    total row per currency; CRLF line ends, fields quoted when needed, quotes doubled."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    rows: Iterable[list[str]] = [
        list(CSV_HEADER),
        *(_fee_row(fee) for fee in statement.fees),
        *(_total_row(total) for total in statement.all_totals),
    ]
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def csv_file_name(statement: FeeStatement) -> str:
    """``fees-<tenant>-<month>.csv`` (ids and months are plain ASCII: safe in the header)."""
    return f"fees-{statement.tenant_id}-{statement.month}.csv"
