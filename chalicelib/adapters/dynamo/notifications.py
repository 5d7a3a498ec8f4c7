"""Notifications: the outbox and log record of each transition told to one side.

A notification is stored with the party told (``T#<tenant or company>``), keyed by its
transition (``NOTIFY#<outsourcing>#<n>#<side>``) and created with ``attribute_not_exists``: a
replayed or retried stream record finds it claimed and sends nothing. It is on ``gsi1`` in the
lead tenant's log and, when the receiver is a tenant, on ``gsi2`` in the receiver's log. While
it waits for another attempt it is also on the sparse ``gsi3`` (``NOTIFY#RETRY``, by retry time),
which the retry schedule reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.attributes import UTCDateTimeAttribute as Moment
from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import EnumAttribute
from chalicelib.adapters.dynamo.operations import UNGUARDED, ListQuery, condition_failed
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.notifications import DeliveryStatus, Notification, NotificationEvent
from chalicelib.domain.outsourcing import Lane, Side
from chalicelib.ports import Page


class NotificationRecord(Record, discriminator="notification"):
    side = EnumAttribute(Side)
    outsourcing_id = UnicodeAttribute()
    transition = NumberAttribute()
    event = EnumAttribute(NotificationEvent)
    lane = EnumAttribute(Lane)
    lead_tenant_id = UnicodeAttribute()
    receiver_tenant_id = UnicodeAttribute(null=True)
    to = ListAttribute(of=UnicodeAttribute, default=list)
    at = Moment()
    status = EnumAttribute(DeliveryStatus)
    sent_at = Moment(null=True)
    error = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    retry_at = Moment(null=True)


def _key(notification: Notification) -> tuple[str, str]:
    return (
        keys.tenant_pk(notification.owner_id),
        keys.notification_sk(
            notification.outsourcing_id, notification.transition, notification.side.value
        ),
    )


def _record(notification: Notification) -> NotificationRecord:
    pk, sk = _key(notification)
    sort = keys.notification_sort(
        notification.at,
        notification.outsourcing_id,
        notification.transition,
        notification.side.value,
    )
    receiver = notification.receiver_tenant_id
    return NotificationRecord(
        pk=pk,
        sk=sk,
        tenant_id=notification.owner_id,
        side=notification.side,
        outsourcing_id=notification.outsourcing_id,
        transition=notification.transition,
        event=notification.event,
        lane=notification.lane,
        lead_tenant_id=notification.lead_tenant_id,
        receiver_tenant_id=receiver,
        to=list(notification.to),
        at=notification.at,
        status=notification.status,
        sent_at=notification.sent_at,
        error=notification.error,
        attempts=notification.attempts,
        gsi1pk=keys.notifications_of(notification.lead_tenant_id, Side.LEAD.value),
        gsi1sk=sort,
        gsi2pk=keys.notifications_of(receiver, Side.RECEIVER.value) if receiver else None,
        gsi2sk=sort if receiver else None,
    )


def notification_from(record: NotificationRecord) -> Notification:
    return Notification(
        owner_id=record.tenant_id,
        side=record.side,
        outsourcing_id=record.outsourcing_id,
        transition=int(record.transition),
        event=record.event,
        lane=record.lane,
        lead_tenant_id=record.lead_tenant_id,
        receiver_tenant_id=record.receiver_tenant_id,
        to=tuple(str(address) for address in record.to or ()),
        at=record.at,
        status=record.status,
        sent_at=record.sent_at,
        error=record.error,
        attempts=int(record.attempts or 0),
        retry_at=record.retry_at,
    )


class DynamoNotificationRepository:
    """Notifications with the party told; the logs are index Queries."""

    def claim(self, notification: Notification) -> bool:
        try:
            _record(notification).save(
                condition=NotificationRecord.pk.does_not_exist(), add_version_condition=False
            )
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def settle(
        self,
        notification: Notification,
        status: DeliveryStatus,
        at: datetime,
        error: str | None = None,
    ) -> Notification:
        return self._update(
            notification,
            [
                NotificationRecord.status.set(status),
                NotificationRecord.sent_at.set(at),
                NotificationRecord.error.set(error) if error else NotificationRecord.error.remove(),
                NotificationRecord.retry_at.remove(),
                NotificationRecord.gsi3pk.remove(),
                NotificationRecord.gsi3sk.remove(),
            ],
            NotificationRecord.pk.exists(),
        )

    def defer(self, notification: Notification, retry_at: datetime, error: str) -> Notification:
        return self._update(
            notification,
            [
                NotificationRecord.status.set(DeliveryStatus.RETRYING),
                NotificationRecord.attempts.set(notification.attempts + 1),
                NotificationRecord.error.set(error),
                NotificationRecord.retry_at.set(retry_at),
                NotificationRecord.gsi3pk.set(keys.NOTIFICATION_RETRIES),
                NotificationRecord.gsi3sk.set(
                    keys.notification_retry_sort(retry_at, *_key(notification))
                ),
            ],
            NotificationRecord.pk.exists(),
        )

    def due(self, now: datetime, limit: int) -> list[Notification]:
        found: list[Notification] = []
        for record in NotificationRecord.gsi3.query(
            keys.NOTIFICATION_RETRIES,
            NotificationRecord.gsi3sk <= keys.notification_retry_until(now),
            limit=limit,
        ):
            if isinstance(record, NotificationRecord) and record.status is DeliveryStatus.RETRYING:
                found.append(notification_from(record))
        return found

    def resume(self, notification: Notification) -> bool:
        try:
            self._update(
                notification,
                [NotificationRecord.status.set(DeliveryStatus.PENDING)],
                (NotificationRecord.status == DeliveryStatus.RETRYING.value)
                & (NotificationRecord.attempts == notification.attempts),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    @staticmethod
    def _update(notification: Notification, actions: list[Any], condition: Any) -> Notification:
        pk, sk = _key(notification)
        record = NotificationRecord(pk, sk, version=UNGUARDED)
        record.update(actions=actions, condition=condition, add_version_condition=False)
        return notification_from(record)

    def log(self, tenant_id: str, side: Side, limit: int, cursor: str | None) -> Page[Notification]:
        hash_value = keys.notifications_of(tenant_id, side.value)
        index = NotificationRecord.gsi1 if side is Side.LEAD else NotificationRecord.gsi2
        attribute = "gsi1pk" if side is Side.LEAD else "gsi2pk"
        return ListQuery(
            query=index.query,
            hash_value=hash_value,
            record_type=NotificationRecord,
            to_domain=notification_from,
            expected={attribute: hash_value},
            prefixes={"pk": "T#", "sk": keys.NOTIFICATION_PREFIX},
            newest_first=True,
        ).page(limit, cursor)
