"""Fees: one record per metered acceptance, and each tenant's total per month.

A fee is keyed by its outsourcing (``T#<lead>`` / ``FEE#<outsourcing id>``) and written with
``attribute_not_exists`` in the same transaction that counts it in its month's total, so a
replayed, retried or racing acceptance can neither store a second fee nor count one twice. The
month's total is one record (one GetItem) holding a count and a sum per currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pynamodb.attributes import Attribute, BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.constants import MAP, NUMBER
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import DecimalAttribute
from chalicelib.adapters.dynamo.operations import UNGUARDED, ListQuery, Transaction
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.fees import CurrencyTotal, FeeRecord, Month, MonthTotal
from chalicelib.ports import Page

_ZERO = {NUMBER: "0"}
_ONE = {NUMBER: "1"}


class PerCurrencyAttribute(Attribute[dict[str, Decimal]]):
    """A map from currency code to an exact number (a count or a sum)."""

    attr_type = MAP

    def serialize(self, value: Mapping[str, Decimal]) -> dict[str, dict[str, str]]:
        return {currency: {NUMBER: str(number)} for currency, number in value.items()}

    def deserialize(self, value: dict[str, dict[str, str]]) -> dict[str, Decimal]:
        return {currency: Decimal(number[NUMBER]) for currency, number in value.items()}


class MeteredFeeRecord(Record, discriminator="fee"):
    """One fee; on gsi1 under its month, by acceptance time."""

    outsourcing_id = UnicodeAttribute()
    subcontractor_id = UnicodeAttribute(null=True)
    company_id = UnicodeAttribute()
    company_name = UnicodeAttribute()
    accepted_at = UTCDateTimeAttribute()
    amount = DecimalAttribute()
    currency = UnicodeAttribute()
    fee_plan_set = BooleanAttribute()


class FeeTotalRecord(Record, discriminator="fee_total"):
    """A tenant's fees of one month: how many and how much, per currency."""

    month = UnicodeAttribute()
    counts = PerCurrencyAttribute(default=dict)
    amounts = PerCurrencyAttribute(default=dict)


def _fee_record(fee: FeeRecord) -> MeteredFeeRecord:
    return MeteredFeeRecord(
        pk=keys.tenant_pk(fee.tenant_id),
        sk=keys.fee_sk(fee.outsourcing_id),
        tenant_id=fee.tenant_id,
        outsourcing_id=fee.outsourcing_id,
        subcontractor_id=fee.subcontractor_id,
        company_id=fee.company_id,
        company_name=fee.company_name,
        accepted_at=fee.accepted_at,
        amount=fee.amount,
        currency=fee.currency,
        fee_plan_set=fee.fee_plan_set,
        gsi1pk=keys.fees_of_month(fee.tenant_id, str(fee.month)),
        gsi1sk=keys.fee_sort(fee.accepted_at, fee.outsourcing_id),
    )


def fee_from(record: MeteredFeeRecord) -> FeeRecord:
    """The domain fee of a record."""
    return FeeRecord(
        tenant_id=record.tenant_id,
        outsourcing_id=record.outsourcing_id,
        subcontractor_id=record.subcontractor_id,
        company_id=record.company_id,
        company_name=record.company_name,
        accepted_at=record.accepted_at,
        amount=record.amount,
        currency=record.currency,
        fee_plan_set=bool(record.fee_plan_set),
    )


def _total_key(tenant_id: str, month: Month) -> FeeTotalRecord:
    return FeeTotalRecord(
        keys.tenant_pk(tenant_id), keys.fee_total_sk(str(month)), version=UNGUARDED
    )


def _prepare_total(tenant_id: str, month: Month) -> None:
    """Make sure the month's total exists with its two (possibly empty) maps.

    DynamoDB can only set an entry of a map that exists, and one update expression cannot both
    create a map and set an entry in it. This write changes nothing once the total exists, so
    it is harmless when an acceptance is delivered again.
    """
    record = _total_key(tenant_id, month)
    record.update(
        actions=[
            FeeTotalRecord.type.set(FeeTotalRecord),
            FeeTotalRecord.tenant_id.set(tenant_id),
            FeeTotalRecord.month.set(str(month)),
            FeeTotalRecord.counts.set(FeeTotalRecord.counts | {}),
            FeeTotalRecord.amounts.set(FeeTotalRecord.amounts | {}),
        ],
        add_version_condition=False,
    )


def _count_actions(fee: FeeRecord) -> list[Any]:
    """Add one fee and its amount to its currency's entries of the month's total."""
    count = Path(FeeTotalRecord.counts)[fee.currency]
    amount = Path(FeeTotalRecord.amounts)[fee.currency]
    return [
        count.set((count | _ZERO) + _ONE),
        amount.set((amount | _ZERO) + {NUMBER: str(fee.amount)}),
    ]


class DynamoFeeRepository:
    """Fees and month totals in the lead tenant's partition."""

    def add(self, fee: FeeRecord) -> bool:
        """Store the fee and count it, in one transaction conditional on the fee not existing;
        False (nothing written) when it exists."""
        _prepare_total(fee.tenant_id, fee.month)
        try:
            with Transaction() as tx:
                tx.save(
                    _fee_record(fee), condition=MeteredFeeRecord.pk.does_not_exist(), label="fee"
                )
                tx.update(
                    _total_key(fee.tenant_id, fee.month),
                    actions=_count_actions(fee),
                    condition=FeeTotalRecord.pk.exists(),
                    label="total",
                )
        except TransactWriteError as exc:
            if tx.failed(exc, "fee"):
                return False
            raise
        return True

    def list(self, tenant_id: str, month: Month, limit: int, cursor: str | None) -> Page[FeeRecord]:
        """The month's fees, oldest acceptance first; one Query on gsi1 per page."""
        hash_value = keys.fees_of_month(tenant_id, str(month))
        return ListQuery(
            query=MeteredFeeRecord.gsi1.query,
            hash_value=hash_value,
            record_type=MeteredFeeRecord,
            to_domain=fee_from,
            expected={"gsi1pk": hash_value, "pk": keys.tenant_pk(tenant_id)},
            prefixes={"sk": keys.FEE_PREFIX, "gsi1sk": f"{month}-"},
        ).page(limit, cursor)

    def total(self, tenant_id: str, month: Month) -> MonthTotal:
        """The month's total (one strongly consistent GetItem)."""
        try:
            record = FeeTotalRecord.get(
                keys.tenant_pk(tenant_id), keys.fee_total_sk(str(month)), consistent_read=True
            )
        except DoesNotExist:
            return MonthTotal(tenant_id=tenant_id, month=month)
        counts, amounts = record.counts or {}, record.amounts or {}
        return MonthTotal(
            tenant_id=tenant_id,
            month=month,
            by_currency=tuple(
                CurrencyTotal(
                    currency=currency,
                    count=int(counts[currency]),
                    amount=amounts.get(currency, Decimal(0)),
                )
                for currency in sorted(counts)
                if counts[currency] > 0
            ),
        )
