"""Outbound email on behalf of a tenant: counted against a daily limit before it is sent.

Every email a tenant's actions cause (invitations now, notifications later) first takes one from
the tenant's allowance for the UTC day (``Settings.mail_per_tenant_per_day``); past it the action
is refused with ``422 email_limit_reached`` before anything is written, so the service cannot be
used to relay mail. The allowance is counted when the email is about to be sent, and not given
back if SES then fails: a failing address cannot be retried without limit either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import RuleViolationError
from chalicelib.observability import count, logger
from chalicelib.ports import MailQuota


@dataclass(frozen=True, slots=True)
class Allowance:
    """A tenant's daily email allowance: where it is counted and how large it is."""

    quota: MailQuota
    per_day: int


def reserve(allowance: Allowance, tenant_id: str, now: datetime) -> None:
    """Take one email from the tenant's allowance for today, or refuse (422)."""
    if allowance.quota.take(tenant_id, now.date(), allowance.per_day):
        return
    logger.warning("email limit reached", extra={"tenant_id": tenant_id})
    count("EmailLimitReached")
    raise RuleViolationError(
        f"This tenant has sent its {allowance.per_day} emails for today; try again tomorrow (UTC).",
        code="email_limit_reached",
    )
