"""Notifications: who is told about which transition of an outsourcing, and what the log shows.

Every transition in PRODUCT.md's table is a notification event. The side that did not cause it
is told (the lead when the receiver acts, the receiver when the lead acts, both when the system
expires the work). A notification is keyed by its transition (the outsourcing, the index of the
history entry, the side told), so it is claimed once with ``attribute_not_exists`` before it is
sent: however often the stream delivers the change, there is at most one email per transition
and side. The one window left is a crash after the claim and before SES answers: that
notification stays ``pending`` and the log shows it as ``unknown`` once
``UNKNOWN_AFTER`` has passed (it may or may not have been sent, and it is never sent twice).

When SES certainly did not take the email (throttled, unavailable, unreachable) the
notification waits as ``retrying`` and is sent again later by a schedule (``RETRY_DELAYS``),
never by failing the stream batch: a mail outage must not hold up synchronisation. A permanent
refusal, a spent daily allowance or the last failed retry leaves it ``failed`` with the reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.outsourcing import Event, HistoryEntry, Lane, OutsourceStatus, Side
from chalicelib.domain.subcontractors import PortalUser, UserStatus

MAX_ADDRESSES_PER_EVENT = 10
UNKNOWN_AFTER = timedelta(minutes=5)
# How long a notification SES did not take waits before each new attempt (then it has failed).
RETRY_DELAYS = tuple(timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32))


class NotificationEvent(enum.StrEnum):
    ASSIGNED = "assigned"
    CANCELED = "canceled"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETION_SUBMITTED = "completion_submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    RECALLED = "recalled"
    EXPIRED = "expired"


_BY_EVENT: dict[str, NotificationEvent] = {
    "outsource": NotificationEvent.ASSIGNED,
    Event.ACCEPT.value: NotificationEvent.ACCEPTED,
    Event.DECLINE.value: NotificationEvent.DECLINED,
    Event.CANCEL.value: NotificationEvent.CANCELED,
    Event.EXPIRE.value: NotificationEvent.EXPIRED,
    Event.SUBMIT_COMPLETION.value: NotificationEvent.COMPLETION_SUBMITTED,
    Event.APPROVE.value: NotificationEvent.APPROVED,
    Event.REJECT.value: NotificationEvent.REJECTED,
    Event.FORCE_COMPLETE.value: NotificationEvent.COMPLETED,
    Event.RECALL.value: NotificationEvent.RECALLED,
}

# What each event tells, in a sentence after the ticket's name (subject and first line).
HEADLINES: dict[NotificationEvent, str] = {
    NotificationEvent.ASSIGNED: "was outsourced to you",
    NotificationEvent.CANCELED: "was canceled",
    NotificationEvent.ACCEPTED: "was accepted",
    NotificationEvent.DECLINED: "was declined",
    NotificationEvent.COMPLETION_SUBMITTED: "was submitted for approval",
    NotificationEvent.APPROVED: "was approved",
    NotificationEvent.REJECTED: "was rejected and is back in progress",
    NotificationEvent.COMPLETED: "was completed",
    NotificationEvent.RECALLED: "was recalled",
    NotificationEvent.EXPIRED: "expired before it was accepted",
}


def event_of(entry: HistoryEntry) -> NotificationEvent | None:
    """The notification event of a history entry; None for one nobody is told about
    (forwarding to a network: the forward itself is the message)."""
    if entry.to_status is OutsourceStatus.FORWARDED:
        return None
    if entry.event == Event.TICKET_COMPLETED.value:
        # The lead completed its ticket: work not yet accepted is canceled, accepted work done.
        if entry.to_status is OutsourceStatus.CANCELED:
            return NotificationEvent.CANCELED
        return NotificationEvent.COMPLETED
    return _BY_EVENT.get(entry.event)


def sides_told(entry: HistoryEntry) -> tuple[Side, ...]:
    """The other side of whoever caused the transition; both sides for the system's."""
    if entry.by is Side.LEAD:
        return (Side.RECEIVER,)
    if entry.by is Side.RECEIVER:
        return (Side.LEAD,)
    return (Side.LEAD, Side.RECEIVER)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # claimed, not yet answered by SES
    RETRYING = "retrying"  # SES did not take it; it is sent again at ``retry_at``
    SENT = "sent"
    FAILED = "failed"
    NO_RECIPIENTS = "no_recipients"  # nobody is set to receive this event


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One transition told to one side: to whom, and what became of the email.

    ``owner_id`` is the party told: a tenant, or a subcontractor company (its users' addresses
    stay in its own partition). ``lead_tenant_id`` and ``receiver_tenant_id`` (None for a
    company) are the tenants whose logs show it.
    """

    owner_id: str
    side: Side
    outsourcing_id: str
    transition: int
    event: NotificationEvent
    lane: Lane
    lead_tenant_id: str
    receiver_tenant_id: str | None
    to: tuple[str, ...]
    at: datetime
    status: DeliveryStatus
    sent_at: datetime | None = None
    error: str | None = None
    attempts: int = 0
    retry_at: datetime | None = None

    def next_retry(self, now: datetime) -> datetime | None:
        """When to try again after an attempt SES did not take; None once the attempts are
        spent (the notification has failed)."""
        if self.attempts >= len(RETRY_DELAYS):
            return None
        return now + RETRY_DELAYS[self.attempts]

    def shown_status(self, now: datetime) -> str:
        """What the log says: a claim SES never answered is ``unknown`` after a while."""
        if self.status is DeliveryStatus.PENDING and now - self.at > UNKNOWN_AFTER:
            return "unknown"
        return self.status.value


def mask(address: str) -> str:
    """An address of another tenant's people as the log shows it: first letter and domain."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def check_addresses(
    addresses: Mapping[str, list[str]], *, field: str
) -> dict[NotificationEvent, tuple[str, ...]]:
    """Per-event recipient lists as given in the settings: known events only, each list at most
    ``MAX_ADDRESSES_PER_EVENT`` distinct lower-cased addresses (already syntax-checked)."""
    known = {e.value for e in NotificationEvent}
    checked: dict[NotificationEvent, tuple[str, ...]] = {}
    for name, given in addresses.items():
        if name not in known:
            raise ValidationError(
                f"Unknown notification event '{name}'; the events are: "
                + ", ".join(e.value for e in NotificationEvent)
                + ".",
                field=f"{field}.{name}",
            )
        unique = tuple(dict.fromkeys(a.lower() for a in given))
        if len(unique) > MAX_ADDRESSES_PER_EVENT:
            raise ValidationError(
                f"At most {MAX_ADDRESSES_PER_EVENT} addresses per event.",
                field=f"{field}.{name}",
            )
        checked[NotificationEvent(name)] = unique
    return checked


def tenant_recipients(
    event: NotificationEvent,
    configured: Mapping[NotificationEvent, tuple[str, ...]],
    contact_email: str,
) -> tuple[str, ...]:
    """A tenant's addresses for an event: its settings' list (empty: nobody), else the primary
    contact."""
    if event in configured:
        return configured[event]
    return (contact_email.lower(),) if contact_email else ()


def portal_recipients(users: list[PortalUser], assignee_id: str | None) -> tuple[str, ...]:
    """The company's users who can act: the assignee when there is one who is not deactivated,
    otherwise everyone who may accept work (admins included). Invited users count: the email
    is how they learn there is work waiting for their activation."""
    current = [u for u in users if u.status is not UserStatus.DEACTIVATED]
    assignee = [u for u in current if u.user_id == assignee_id]
    chosen = assignee or [u for u in current if u.may_accept]
    return tuple(dict.fromkeys(u.email.lower() for u in chosen))
