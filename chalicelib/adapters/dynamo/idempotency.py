"""Idempotency keys: the first response to a mutating request, kept per tenant and key for a TTL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
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
    expires_at = TTLAttribute()


class DynamoIdempotencyStore:
    """First responses to mutating requests, per tenant and Idempotency-Key, kept for a TTL."""

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds

    def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyEntry | None:
        pk, sk = keys.tenant_pk(tenant_id), keys.idempotency_sk(key)
        record = IdempotencyRecord(
            pk=pk,
            sk=sk,
            tenant_id=tenant_id,
            fingerprint=fingerprint,
            expires_at=datetime.now(UTC) + timedelta(seconds=self._ttl),
        )
        try:
            record.save(condition=IdempotencyRecord.pk.does_not_exist())
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
            actions=[IdempotencyRecord.response.set(ResponseMap.of(response))],
            add_version_condition=False,
        )

    def abandon(self, tenant_id: str, key: str) -> None:
        IdempotencyRecord(pk=keys.tenant_pk(tenant_id), sk=keys.idempotency_sk(key)).delete(
            add_version_condition=False
        )
