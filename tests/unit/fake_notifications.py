"""An in-memory notification repository with the same contract as DynamoDB's."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from chalicelib.domain.notifications import DeliveryStatus, Notification
from chalicelib.domain.outsourcing import Side
from chalicelib.ports import Page
from tests.unit.fakes import _page

Key = tuple[str, str, int, Side]


def _key(notification: Notification) -> Key:
    return (
        notification.owner_id,
        notification.outsourcing_id,
        notification.transition,
        notification.side,
    )


class FakeNotificationRepository:
    def __init__(self) -> None:
        self.stored: dict[Key, Notification] = {}

    def claim(self, notification: Notification) -> bool:
        if _key(notification) in self.stored:
            return False
        self.stored[_key(notification)] = notification
        return True

    def _change(self, notification: Notification, **changes: object) -> Notification:
        current = self.stored[_key(notification)]
        updated = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        self.stored[_key(notification)] = updated
        return updated

    def settle(
        self,
        notification: Notification,
        status: DeliveryStatus,
        at: datetime,
        error: str | None = None,
    ) -> Notification:
        return self._change(notification, status=status, sent_at=at, error=error, retry_at=None)

    def defer(self, notification: Notification, retry_at: datetime, error: str) -> Notification:
        return self._change(
            notification,
            status=DeliveryStatus.RETRYING,
            attempts=notification.attempts + 1,
            error=error,
            retry_at=retry_at,
        )

    def due(self, now: datetime, limit: int) -> list[Notification]:
        waiting = [
            n
            for n in self.stored.values()
            if n.status is DeliveryStatus.RETRYING and n.retry_at is not None and n.retry_at <= now
        ]
        return sorted(waiting, key=lambda n: n.retry_at or now)[:limit]

    def resume(self, notification: Notification) -> bool:
        current = self.stored.get(_key(notification))
        if (
            current is None
            or current.status is not DeliveryStatus.RETRYING
            or current.attempts != notification.attempts
        ):
            return False
        self._change(notification, status=DeliveryStatus.PENDING)
        return True

    def log(self, tenant_id: str, side: Side, limit: int, cursor: str | None) -> Page[Notification]:
        def mine(n: Notification) -> bool:
            if side is Side.LEAD:
                return n.lead_tenant_id == tenant_id
            return n.receiver_tenant_id == tenant_id

        found = sorted(
            (n for n in self.stored.values() if mine(n)),
            key=lambda n: (n.at, n.outsourcing_id, n.transition, n.side.value),
            reverse=True,
        )
        return _page(found, limit, cursor)
