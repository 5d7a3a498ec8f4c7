"""The notification repository's contract: one claim per transition and side, what became of
each email, the retry queue, and each tenant's two logs. Run against the fakes, moto and
DynamoDB Local (subclasses provide the ``notifications`` fixture)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.ids import new_id
from chalicelib.domain.notifications import DeliveryStatus, Notification, NotificationEvent
from chalicelib.domain.outsourcing import Lane, Side
from chalicelib.ports import NotificationRepository

AT = datetime(2026, 11, 20, 9, 30, 15, 250000, tzinfo=UTC)


def notification(
    lead: str, receiver: str | None, *, side: Side = Side.RECEIVER, **changes: object
) -> Notification:
    made = Notification(
        owner_id=(receiver or new_id()) if side is Side.RECEIVER else lead,
        side=side,
        outsourcing_id=new_id(),
        transition=0,
        event=NotificationEvent.ASSIGNED,
        lane=Lane.PARTNER if receiver else Lane.SUBCONTRACTOR,
        lead_tenant_id=lead,
        receiver_tenant_id=receiver,
        to=("desk@partner.example", "noc@partner.example"),
        at=AT,
        status=DeliveryStatus.PENDING,
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


class NotificationRepositoryContract:
    @pytest.fixture
    def notifications(self) -> NotificationRepository:
        raise NotImplementedError

    @staticmethod
    def _whole_log(
        notifications: NotificationRepository, tenant_id: str, side: Side, limit: int = 2
    ) -> list[Notification]:
        seen: list[Notification] = []
        cursor: str | None = None
        while True:
            page = notifications.log(tenant_id, side, limit, cursor)
            seen += page.items
            if page.next_cursor is None:
                return seen
            cursor = page.next_cursor

    def test_a_transition_is_claimed_once_per_side(
        self, notifications: NotificationRepository
    ) -> None:
        lead, partner = new_id(), new_id()
        told = notification(lead, partner)
        assert notifications.claim(told) is True
        # The same transition and side again (a replay, even with other recipients): refused
        assert notifications.claim(dataclasses.replace(told, to=("x@y.example",))) is False
        # The next transition, or the other side of the same one: claimed
        assert notifications.claim(dataclasses.replace(told, transition=1)) is True
        lead_side = dataclasses.replace(told, side=Side.LEAD, owner_id=lead)
        assert notifications.claim(lead_side) is True
        # (one moment: the later transition first, then the side told)
        assert self._whole_log(notifications, lead, Side.LEAD) == [
            dataclasses.replace(told, transition=1),
            told,
            lead_side,
        ]

    def test_what_became_of_it_reads_back(self, notifications: NotificationRepository) -> None:
        lead, partner = new_id(), new_id()
        told = notification(lead, partner)
        notifications.claim(told)
        later = AT + timedelta(seconds=2)
        sent = notifications.settle(told, DeliveryStatus.SENT, later)
        assert sent == dataclasses.replace(told, status=DeliveryStatus.SENT, sent_at=later)
        assert self._whole_log(notifications, lead, Side.LEAD) == [sent]
        assert self._whole_log(notifications, partner, Side.RECEIVER) == [sent]
        failed = notifications.settle(sent, DeliveryStatus.FAILED, later, "rejected: X")
        assert (failed.status, failed.error) == (DeliveryStatus.FAILED, "rejected: X")

    def test_a_deferred_notification_waits_until_its_time_and_is_taken_once(
        self, notifications: NotificationRepository
    ) -> None:
        lead = new_id()
        told = notification(lead, None)
        notifications.claim(told)
        retry_at = AT + timedelta(minutes=1)
        waiting = notifications.defer(told, retry_at, "not sent: Throttling")
        assert (waiting.status, waiting.attempts, waiting.retry_at) == (
            DeliveryStatus.RETRYING,
            1,
            retry_at,
        )
        mine = lambda found: [n for n in found if n.lead_tenant_id == lead]  # noqa: E731
        assert mine(notifications.due(AT, 50)) == []
        [due] = mine(notifications.due(retry_at, 50))
        assert due == waiting
        # Of two runners taking it, one wins; a taken one is no longer due
        assert notifications.resume(due) is True
        assert notifications.resume(due) is False
        assert mine(notifications.due(retry_at + timedelta(hours=1), 50)) == []
        # Settled, it leaves the queue for good
        again = notifications.defer(due, retry_at + timedelta(minutes=2), "not sent: Throttling")
        assert again.attempts == 2
        notifications.settle(again, DeliveryStatus.SENT, retry_at + timedelta(minutes=3))
        assert mine(notifications.due(retry_at + timedelta(days=1), 50)) == []

    def test_each_log_is_the_tenants_own_newest_first(
        self, notifications: NotificationRepository
    ) -> None:
        lead, other_lead, partner = new_id(), new_id(), new_id()
        made = [
            notification(lead, partner, at=AT + timedelta(minutes=m), transition=m)
            for m in (3, 1, 2)
        ]
        company_work = notification(lead, None, at=AT + timedelta(minutes=4))
        stranger = notification(other_lead, partner, at=AT + timedelta(minutes=5))
        for told in [*made, company_work, stranger]:
            notifications.claim(told)
        by_time = sorted([*made, company_work], key=lambda n: n.at, reverse=True)
        assert self._whole_log(notifications, lead, Side.LEAD) == by_time
        assert self._whole_log(notifications, lead, Side.LEAD, limit=50) == by_time
        assert self._whole_log(notifications, lead, Side.RECEIVER) == []
        received = sorted([*made, stranger], key=lambda n: n.at, reverse=True)
        assert self._whole_log(notifications, partner, Side.RECEIVER) == received
        assert self._whole_log(notifications, partner, Side.LEAD) == []
