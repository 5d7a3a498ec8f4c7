"""Tenants and their API keys: records, codecs and repositories.

A tenant keeps a count of its active ``all`` keys, changed in the same transaction as a key is
added or revoked, so the last ``all`` key cannot be revoked even by two racing requests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import (
    AddressBookAttribute,
    DecimalAttribute,
    DomainMap,
    EnumAttribute,
)
from chalicelib.adapters.dynamo.operations import (
    UNGUARDED,
    ListQuery,
    Transaction,
    condition_failed,
    set_actions,
    version_guard,
)
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.fees import FeePlan
from chalicelib.domain.notifications import NotificationEvent
from chalicelib.domain.tenants import (
    AgreementAcceptance,
    ApiKey,
    OutsourcingSettings,
    Permission,
    Tenant,
)
from chalicelib.ports import Page


class AgreementMap(DomainMap[AgreementAcceptance]):
    domain = AgreementAcceptance

    by = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    version = UnicodeAttribute()


class SettingsMap(DomainMap[OutsourcingSettings]):
    domain = OutsourcingSettings

    invitation_subject = UnicodeAttribute(null=True)
    invitation_template = UnicodeAttribute(null=True)
    invitation_expiry_days = NumberAttribute(null=True)
    notification_addresses = AddressBookAttribute(null=True)

    def to_domain(self) -> OutsourcingSettings:
        settings = super().to_domain()
        stored = settings.notification_addresses or {}
        known = {event.value for event in NotificationEvent}
        return dataclasses.replace(
            settings,
            notification_addresses={
                NotificationEvent(name): tuple(addresses)
                for name, addresses in stored.items()
                if name in known
            },
        )


class FeePlanMap(DomainMap[FeePlan]):
    domain = FeePlan

    amount = DecimalAttribute()
    currency = UnicodeAttribute()
    set_at = UTCDateTimeAttribute(null=True)


class TenantRecord(Record, discriminator="tenant"):
    name = UnicodeAttribute()
    language = UnicodeAttribute()
    currency = UnicodeAttribute()
    contact_email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    outsourcing_enabled = BooleanAttribute(default=False)
    agreement = AgreementMap(null=True)
    active_all_keys = NumberAttribute(default=0)
    settings = SettingsMap(null=True)
    fee_plan = FeePlanMap(null=True)


class ApiKeyRecord(Record, discriminator="api_key"):
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    permission = EnumAttribute(Permission)
    key_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)


def _tenant_from(record: TenantRecord) -> Tenant:
    return Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        language=record.language,
        currency=record.currency,
        contact_email=record.contact_email,
        created_at=record.created_at,
        outsourcing_enabled=bool(record.outsourcing_enabled),
        agreement=record.agreement.to_domain() if record.agreement else None,
        active_all_keys=int(record.active_all_keys or 0),
        settings=record.settings.to_domain() if record.settings else OutsourcingSettings(),
        version=int(record.version or 1),
        fee_plan=record.fee_plan.to_domain() if record.fee_plan else None,
    )


def _tenant_record(tenant: Tenant) -> TenantRecord:
    return TenantRecord(
        pk=keys.tenant_pk(tenant.tenant_id),
        sk=keys.TENANT_SK,
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        language=tenant.language,
        currency=tenant.currency,
        contact_email=tenant.contact_email,
        created_at=tenant.created_at,
        outsourcing_enabled=tenant.outsourcing_enabled,
        agreement=AgreementMap.of(tenant.agreement) if tenant.agreement else None,
        active_all_keys=tenant.active_all_keys,
        settings=SettingsMap.of(tenant.settings),
        fee_plan=FeePlanMap.of(tenant.fee_plan) if tenant.fee_plan else None,
    )


_TENANT_MAPS: dict[str, type[DomainMap[Any]]] = {
    "agreement": AgreementMap,
    "settings": SettingsMap,
    "fee_plan": FeePlanMap,
}


def _key_from(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        tenant_id=record.tenant_id,
        key_id=record.key_id,
        name=record.name,
        permission=record.permission,
        key_hash=record.key_hash,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


def _key_record(key: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        pk=keys.tenant_pk(key.tenant_id),
        sk=keys.key_sk(key.key_id),
        tenant_id=key.tenant_id,
        key_id=key.key_id,
        name=key.name,
        permission=key.permission,
        key_hash=key.key_hash,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _count_all_keys(tx: Transaction, tenant_id: str, delta: int, condition: Any) -> None:
    tx.update(
        TenantRecord(keys.tenant_pk(tenant_id), keys.TENANT_SK, version=UNGUARDED),
        actions=[TenantRecord.active_all_keys.add(delta)],
        condition=condition,
        label="tenant",
    )


class DynamoTenantRepository:
    """Tenants in the main table."""

    def create_with_key(self, tenant: Tenant, key: ApiKey) -> None:
        """Store the tenant and its first key in one transaction."""
        with Transaction() as tx:
            tx.save(_tenant_record(tenant), condition=TenantRecord.pk.does_not_exist())
            tx.save(_key_record(key), condition=ApiKeyRecord.pk.does_not_exist())

    def get(self, tenant_id: str) -> Tenant:
        try:
            # Strongly consistent: a tenant's settings and fee plan decide what happens next.
            record = TenantRecord.get(
                keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such tenant.") from exc
        return _tenant_from(record)

    def update(self, tenant: Tenant, changes: Mapping[str, Any]) -> Tenant:
        stored = {
            name: (_TENANT_MAPS[name].of(value) if name in _TENANT_MAPS and value else value)
            for name, value in changes.items()
        }
        record = TenantRecord(
            keys.tenant_pk(tenant.tenant_id), keys.TENANT_SK, version=tenant.version
        )
        with version_guard("tenant"):
            record.update(actions=set_actions(TenantRecord, stored))
        return _tenant_from(record)


class DynamoApiKeyRepository:
    """API keys in the tenant's partition; ``all`` keys are counted on the tenant record."""

    def add(self, key: ApiKey) -> None:
        """Store a key; an ``all`` key also bumps the tenant's count in the same transaction."""
        try:
            with Transaction() as tx:
                tx.save(_key_record(key), condition=ApiKeyRecord.pk.does_not_exist())
                if key.permission is Permission.ALL:
                    _count_all_keys(tx, key.tenant_id, 1, TenantRecord.pk.exists())
        except TransactWriteError as exc:
            if condition_failed(exc):
                raise NotFoundError("No such tenant.") from exc
            raise

    def get(self, tenant_id: str, key_id: str) -> ApiKey:
        try:
            record = ApiKeyRecord.get(keys.tenant_pk(tenant_id), keys.key_sk(key_id))
        except DoesNotExist as exc:
            raise NotFoundError("No such API key.") from exc
        return _key_from(record)

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        pk = keys.tenant_pk(tenant_id)
        return ListQuery(
            query=ApiKeyRecord.query,
            hash_value=pk,
            record_type=ApiKeyRecord,
            to_domain=_key_from,
            expected={"pk": pk},
            prefixes={"sk": keys.KEY_PREFIX},
            range_key_condition=ApiKeyRecord.sk.startswith(keys.KEY_PREFIX),
        ).page(limit, cursor)

    def revoke(self, key: ApiKey, at: datetime) -> ApiKey:
        """Revoke; an ``all`` key only while another active ``all`` key remains (409 otherwise)."""
        record = ApiKeyRecord(
            pk=keys.tenant_pk(key.tenant_id), sk=keys.key_sk(key.key_id), version=UNGUARDED
        )
        try:
            with Transaction() as tx:
                tx.update(
                    record,
                    actions=[ApiKeyRecord.revoked_at.set(at)],
                    condition=ApiKeyRecord.pk.exists() & ApiKeyRecord.revoked_at.does_not_exist(),
                )
                if key.permission is Permission.ALL:
                    _count_all_keys(tx, key.tenant_id, -1, TenantRecord.active_all_keys > 1)
        except TransactWriteError as exc:
            if tx.failed(exc, "tenant"):
                raise ConflictError(
                    "This is the last active key with the 'all' permission; create another "
                    "before revoking it.",
                    code="last_all_key",
                ) from exc
            if condition_failed(exc):
                raise NotFoundError("No such API key.") from exc
            raise
        return dataclasses.replace(key, revoked_at=at)
