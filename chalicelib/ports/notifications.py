"""Ports of outsourcing notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.domain.notifications import DeliveryStatus, Notification
from chalicelib.domain.outsourcing import Side
from chalicelib.ports.common import Page


class NotificationRepository(Protocol):
    """The outbox and log of notifications, each keyed by its transition and the side told."""

    def claim(self, notification: Notification) -> bool:
        """Store the notification unless one for the same transition and side exists (then
        nothing is written: False). Atomic: of two racing claims exactly one wins."""

    def settle(
        self,
        notification: Notification,
        status: DeliveryStatus,
        at: datetime,
        error: str | None = None,
    ) -> Notification:
        """Record what became of a claimed notification's email (sent, failed, nobody to tell)."""

    def defer(self, notification: Notification, retry_at: datetime, error: str) -> Notification:
        """SES did not take the email: count the attempt and wait as ``retrying`` until
        ``retry_at``."""

    def due(self, now: datetime, limit: int) -> list[Notification]:
        """Waiting notifications whose ``retry_at`` has come, the longest waiting first (an
        index Query: it may lag a write by a moment)."""

    def resume(self, notification: Notification) -> bool:
        """Take a waiting notification back to ``pending`` for one more attempt, unless it is no
        longer waiting with that many attempts (then False). Of two racing takers one wins."""

    def log(self, tenant_id: str, side: Side, limit: int, cursor: str | None) -> Page[Notification]:
        """Notifications of the tenant's outsourcings on one side (the work it outsourced, or
        the work it received), newest first; one Query per page."""
