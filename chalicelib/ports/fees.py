"""Ports of metered fees."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.fees import FeeRecord, Month, MonthTotal
from chalicelib.ports.common import Page


class FeeRepository(Protocol):
    """Metered fees of the lead tenants, and each tenant's total per month."""

    def add(self, fee: FeeRecord) -> bool:
        """Store the fee and count it in its month's total, in one transaction, unless a fee of
        the same outsourcing exists: then nothing is written (returns False). Atomic: of two
        racing writes of one fee exactly one is stored and counted."""

    def list(self, tenant_id: str, month: Month, limit: int, cursor: str | None) -> Page[FeeRecord]:
        """The tenant's fees of one month, oldest acceptance first; one Query per page."""

    def total(self, tenant_id: str, month: Month) -> MonthTotal:
        """The month's count and sum per currency (one read; none yet is an empty total)."""
