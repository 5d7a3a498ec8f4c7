"""The notification log: which email told whom about which transition, and what became of it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.models.base import PageQuery, ResponseModel
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.notifications import Notification, mask
from chalicelib.ports import Page


class NotificationQuery(PageQuery):
    side: Literal["lead", "receiver"] = Field(
        "lead",
        description="lead: notifications about work this tenant outsourced; receiver: about "
        "work it received from a partner",
    )


class NotificationOut(ResponseModel):
    event: str
    outsourcing_id: str
    side: str = Field(description="The side told: lead or receiver")
    lane: str
    to: list[str] = Field(
        description="The addresses emailed: in full when they are this tenant's own, otherwise "
        "masked (first letter and domain)"
    )
    at: str = Field(description="When the transition happened")
    status: Literal["pending", "retrying", "sent", "failed", "no_recipients", "unknown"] = Field(
        description="unknown: the mail service never answered (it may have been sent; it is "
        "never sent twice)"
    )
    settled_at: str | None = Field(description="When it was sent, failed or given up")
    attempts: int = Field(description="Attempts the mail service did not take")
    error: str | None = Field(
        description="Why it was not sent: the mail service's error code, or the daily limit"
    )

    @classmethod
    def of(cls, notification: Notification, reader: str, now: datetime) -> NotificationOut:
        own = notification.owner_id == reader
        return cls(
            event=notification.event.value,
            outsourcing_id=notification.outsourcing_id,
            side=notification.side.value,
            lane=notification.lane.value,
            to=[a if own else mask(a) for a in notification.to],
            at=iso(notification.at),
            status=notification.shown_status(now),  # type: ignore[arg-type]
            settled_at=iso_or_none(notification.sent_at),
            attempts=notification.attempts,
            error=notification.error,
        )


class NotificationList(ResponseModel):
    items: list[NotificationOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Notification], reader: str, now: datetime) -> NotificationList:
        return cls(
            items=[NotificationOut.of(n, reader, now) for n in page.items],
            next_cursor=page.next_cursor,
        )
