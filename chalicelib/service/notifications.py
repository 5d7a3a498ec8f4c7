"""Notifications: the other side is emailed about every transition of an outsourcing.

A stream reaction on the lead's copy (every lane but networks has one, and it moves with every
transition) looks at the history entries the change added. For each entry and each side told it
resolves the recipients, claims the notification (``attribute_not_exists`` on its key: the
transition and the side), and only then sends; replays, retried batches and a restarted stack
find the claim and send nothing. What became of the email is written back on the record, which
is the log both tenants read (``GET /v1/notifications``).

Recipients: a tenant's notification addresses for the event from its settings (an empty list is
nobody), else its primary contact; for a subcontractor company its users who can act (the
assignee, otherwise everyone who may accept work).

Every notification is counted against the daily email allowance of the tenant whose side caused
it (the lead for its own, the portal's and the system's transitions; a partner for its own): a
tenant cannot use outsourcings to relay mail without limit. A notification past the allowance
is not sent and the log says ``failed`` with the reason; the transition itself is never refused.

Rendering is plain text plus simple HTML (Jinja2, autoescaped). A tenant's email names the
outsourcing and the tenant's own ticket ids (its API objects); a portal user's links to the
portal's ticket page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.events import OutsourcingChanged
from chalicelib.domain.notifications import (
    HEADLINES,
    DeliveryStatus,
    Notification,
    NotificationEvent,
    event_of,
    portal_recipients,
    sides_told,
    tenant_recipients,
)
from chalicelib.domain.outsourcing import HistoryEntry, Lane, Outsourcing, Side
from chalicelib.domain.subcontractors import PortalUser
from chalicelib.observability import count, logger
from chalicelib.ports import (
    Email,
    Mailer,
    MailNotSentError,
    MailRejectedError,
    NotificationRepository,
    OutsourcingRepository,
    Page,
    Paging,
    PortalUserRepository,
    TenantRepository,
)
from chalicelib.rendering import render
from chalicelib.service.outbound_mail import Allowance

RETRY_BATCH = 50


@dataclass(frozen=True, slots=True)
class NotificationPorts:
    tenants: TenantRepository
    outsourcings: OutsourcingRepository
    users: PortalUserRepository
    notifications: NotificationRepository
    mailer: Mailer
    allowance: Allowance
    portal_url: str  # the portal's public address, e.g. https://host/api/portal


# -- the stream reaction ------------------------------------------------------------------------


def notify_transitions(ports: NotificationPorts, event: OutsourcingChanged) -> None:
    """Tell the other side about each transition this change of the lead's copy added."""
    lead_copy = event.after
    if lead_copy is None or lead_copy.side is not Side.LEAD or lead_copy.lane is Lane.NETWORK:
        return
    seen = len(event.before.history) if event.before is not None else 0
    for index in range(seen, len(lead_copy.history)):
        entry = lead_copy.history[index]
        told = event_of(entry)
        if told is None:
            continue
        for side in sides_told(entry):
            _notify(ports, lead_copy, index, told, side)


def _notify(
    ports: NotificationPorts,
    lead_copy: Outsourcing,
    index: int,
    event: NotificationEvent,
    side: Side,
) -> None:
    entry = lead_copy.history[index]
    recipients = _recipients(ports, lead_copy, event, side)
    receiver_tenant = lead_copy.receiver_id if lead_copy.lane is Lane.PARTNER else None
    notification = Notification(
        owner_id=lead_copy.lead_tenant_id if side is Side.LEAD else lead_copy.receiver_id,
        side=side,
        outsourcing_id=lead_copy.outsourcing_id,
        transition=index,
        event=event,
        lane=lead_copy.lane,
        lead_tenant_id=lead_copy.lead_tenant_id,
        receiver_tenant_id=receiver_tenant,
        to=recipients,
        at=entry.at,
        status=DeliveryStatus.PENDING if recipients else DeliveryStatus.NO_RECIPIENTS,
    )
    where = {
        "tenant_id": lead_copy.lead_tenant_id,
        "outsourcing_id": lead_copy.outsourcing_id,
        "transition": index,
        "side": side.value,
    }
    if not ports.notifications.claim(notification):
        logger.info("notification already claimed", extra=where)
        return
    if not recipients:
        logger.info("notification has no recipients", extra={**where, "event": event.value})
        count("NotificationNoRecipients")
        return
    payer = lead_copy.receiver_id if entry.by is Side.RECEIVER and receiver_tenant else None
    payer = payer or lead_copy.lead_tenant_id
    if not ports.allowance.quota.take(payer, entry.at.date(), ports.allowance.per_day):
        ports.notifications.settle(
            notification, DeliveryStatus.FAILED, entry.at, "daily email limit reached"
        )
        logger.warning("notification over the email limit", extra={**where, "payer": payer})
        count("NotificationOverLimit")
        return
    _send(ports, lead_copy, notification, entry.at)


def _recipients(
    ports: NotificationPorts, lead_copy: Outsourcing, event: NotificationEvent, side: Side
) -> tuple[str, ...]:
    if side is Side.RECEIVER and lead_copy.lane is Lane.SUBCONTRACTOR:
        company = lead_copy.receiver_id
        try:
            assignee = ports.outsourcings.get(company, lead_copy.outsourcing_id).assignee_id
        except NotFoundError:
            assignee = None
        return portal_recipients(list(_all_users(ports.users, company)), assignee)
    owner = lead_copy.lead_tenant_id if side is Side.LEAD else lead_copy.receiver_id
    try:
        tenant = ports.tenants.get(owner)
    except NotFoundError:  # a tenant the operator removed has nobody to tell
        return ()
    return tenant_recipients(event, tenant.settings.notification_addresses, tenant.contact_email)


def _all_users(users: PortalUserRepository, company_id: str) -> Iterator[PortalUser]:
    cursor: str | None = None
    while True:
        page = users.list(company_id, 100, cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _send(
    ports: NotificationPorts, lead_copy: Outsourcing, notification: Notification, now: datetime
) -> None:
    where = {
        "tenant_id": lead_copy.lead_tenant_id,
        "outsourcing_id": lead_copy.outsourcing_id,
        "transition": notification.transition,
        "side": notification.side.value,
        "event": notification.event.value,
    }
    try:
        ports.mailer.send(email_for(ports, lead_copy, notification))
    except MailRejectedError as exc:
        ports.notifications.settle(notification, DeliveryStatus.FAILED, now, f"rejected: {exc}")
        logger.warning("notification rejected by the mail service", extra=where)
        count("NotificationFailed")
        return
    except MailNotSentError as exc:
        retry_at = notification.next_retry(now)
        if retry_at is None:
            error = f"not sent after {notification.attempts + 1} attempts: {exc}"
            ports.notifications.settle(notification, DeliveryStatus.FAILED, now, error)
            logger.warning("notification not sent, attempts spent", extra=where)
            count("NotificationFailed")
            return
        ports.notifications.defer(notification, retry_at, f"not sent: {exc}")
        logger.warning(
            "notification not sent, will retry", extra={**where, "retry_at": str(retry_at)}
        )
        count("NotificationDeferred")
        return
    ports.notifications.settle(notification, DeliveryStatus.SENT, now)
    logger.info("notification sent", extra=where)
    count("NotificationSent")


# -- the retry schedule -------------------------------------------------------------------------


def retry_due(ports: NotificationPorts, now: datetime) -> int:
    """Send again the notifications SES did not take whose retry time has come; how many were
    taken up (each by one runner only)."""
    taken = 0
    for notification in ports.notifications.due(now, RETRY_BATCH):
        if not ports.notifications.resume(notification):
            continue
        taken += 1
        try:
            lead_copy = ports.outsourcings.get(
                notification.lead_tenant_id, notification.outsourcing_id
            )
        except NotFoundError:
            ports.notifications.settle(
                notification, DeliveryStatus.FAILED, now, "the outsourcing is gone"
            )
            continue
        _send(ports, lead_copy, notification, now)
    return taken


# -- the email ----------------------------------------------------------------------------------


def email_for(
    ports: NotificationPorts, lead_copy: Outsourcing, notification: Notification
) -> Email:
    """The email telling one side about one transition: plain text and simple HTML."""
    entry: HistoryEntry = lead_copy.history[notification.transition]
    event = notification.event
    to_portal = notification.side is Side.RECEIVER and lead_copy.lane is Lane.SUBCONTRACTOR
    by = {
        Side.LEAD: lead_copy.lead_name,
        Side.RECEIVER: lead_copy.receiver_name,
        Side.SYSTEM: "",
    }[entry.by]
    ticket = lead_copy.ticket
    shown_number = ticket.number if notification.side is Side.LEAD or to_portal else ""
    own_ticket_id = (
        lead_copy.lead_ticket_id
        if notification.side is Side.LEAD
        else lead_copy.insourced_ticket_id
    )
    portal_link = (
        f"{ports.portal_url.rstrip('/')}/tickets/{lead_copy.outsourcing_id}" if to_portal else None
    )
    context = {
        "event": event.value,
        "headline": HEADLINES[event],
        "number": shown_number,
        "title": ticket.title,
        "by": by,
        "reason": entry.reason,
        "at": entry.at,
        "status": entry.to_status.value,
        "complete_by": lead_copy.terms.complete_by,
        "outsourcing_id": lead_copy.outsourcing_id,
        "ticket_id": None if to_portal else own_ticket_id,
        "portal_link": portal_link,
        "lead_name": lead_copy.lead_name,
    }
    label = f"Ticket {shown_number}" if shown_number else "Outsourced ticket"
    subject = f"{label} {HEADLINES[event]}: {ticket.title}"
    return Email(
        to=notification.to,
        subject=_one_line(subject)[:200],
        text=render("notifications/email.txt", **context),
        html=render("notifications/email.html", **context),
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- the log ------------------------------------------------------------------------------------


def notification_log(
    notifications: NotificationRepository, tenant_id: str, side: Side, paging: Paging
) -> Page[Notification]:
    """The notifications of the tenant's outsourcings on one side, newest first."""
    return notifications.log(tenant_id, side, paging.limit, paging.cursor)
