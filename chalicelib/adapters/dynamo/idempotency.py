"""Idempotency keys: the first response to a mutating request, kept per tenant and key for a TTL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import DomainMap
from chalicelib.adapters.dynamo.operations import UNGUARDED, condition_failed
from chalicelib.adapters.dynamo.table import Record
from chalicelib.ports import IdempotencyRecord as IdempotencyEntry
from chalicelib.ports import StoredResponse


class ResponseMap(DomainMap[StoredResponse]):
    domain = StoredResponse

    status = NumberAttribute()
    # The response as sent: an opaque JSON document and its headers, replayed byte for byte.
    body = JSONAttribute(null=True)
    headers = JSONAttribute(null=True)


class IdempotencyRecord(Record, discriminator="idempotency"):
    fingerprint = UnicodeAttribute()
    response = ResponseMap(null=True)
    # While the first request runs (no response yet): until when its claim holds.
    lease_until = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


class DynamoIdempotencyStore:
    """First responses to mutating requests, per tenant and Idempotency-Key, kept for a TTL.

    A claim is a conditional put: it succeeds when the key is new, or when an earlier claim by
    the same request never finished and its lease has lapsed (the process running it died).
    """

    def __init__(
        self,
        ttl_seconds: int,
        lease_seconds: int = 60,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ttl = ttl_seconds
        self._lease = lease_seconds
        self._clock = clock

    def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyEntry | None:
        pk, sk = keys.tenant_pk(tenant_id), keys.idempotency_sk(key)
        now = self._clock()
        record = IdempotencyRecord(
            pk=pk,
            sk=sk,
            tenant_id=tenant_id,
            fingerprint=fingerprint,
            lease_until=now + timedelta(seconds=self._lease),
            expires_at=now + timedelta(seconds=self._ttl),
        )
        stuck = (
            IdempotencyRecord.response.does_not_exist()
            & (IdempotencyRecord.fingerprint == fingerprint)
            & (
                IdempotencyRecord.lease_until.does_not_exist()
                | (IdempotencyRecord.lease_until < now)
            )
        )
        try:
            record.save(
                condition=IdempotencyRecord.pk.does_not_exist() | stuck,
                add_version_condition=False,
            )
            return None
        except PutError as exc:
            if not condition_failed(exc):
                raise
        existing = IdempotencyRecord.get(pk, sk, consistent_read=True)
        response = existing.response.to_domain() if existing.response else None
        if response is not None and response.headers is None:
            response = dataclasses.replace(response, headers={})
        return IdempotencyEntry(fingerprint=existing.fingerprint, response=response)

    def finish(self, tenant_id: str, key: str, response: StoredResponse) -> None:
        record = IdempotencyRecord(
            pk=keys.tenant_pk(tenant_id), sk=keys.idempotency_sk(key), version=UNGUARDED
        )
        record.update(
            actions=[
                IdempotencyRecord.response.set(ResponseMap.of(response)),
                IdempotencyRecord.lease_until.remove(),
            ],
            add_version_condition=False,
        )

    def abandon(self, tenant_id: str, key: str) -> None:
        IdempotencyRecord(pk=keys.tenant_pk(tenant_id), sk=keys.idempotency_sk(key)).delete(
            add_version_condition=False
        )
