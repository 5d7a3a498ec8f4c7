"""The Subcontractor Portal's records: companies, leads' relationships, users, the email each
user signs in with, one-time links, sessions and sign-in throttles.

A company's records live in its own partition (``T#<company>``, like a tenant's: its outsourcing
copies, tickets and items are stored exactly as a partner's). A lead's relationship lives in the
lead's partition. Two kinds of record cannot belong to an owner, because they are read before
anyone is known: the email a user signs in with (``P#EMAIL#<email>``, unique across the portal)
and the throttles of failed sign-ins (``P#THROTTLE#<hash>``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import EnumAttribute
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
from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    LinkStatus,
    OneTimeLink,
    PortalSession,
    PortalUser,
    SubcontractorLink,
    UserStatus,
)
from chalicelib.ports import Page, ThrottleRule


class CompanyRecord(Record, discriminator="company"):
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    phone = UnicodeAttribute(default="")
    address = UnicodeAttribute(default="")
    website = UnicodeAttribute(default="")


class PortalUserRecord(Record, discriminator="portal_user"):
    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    status = EnumAttribute(UserStatus)
    created_at = UTCDateTimeAttribute()
    admin = BooleanAttribute(default=False)
    can_accept = BooleanAttribute(default=False)
    activated_at = UTCDateTimeAttribute(null=True)
    sessions_valid_from = UTCDateTimeAttribute(null=True)


class EmailRecord(Record, discriminator="portal_email"):
    """The claim of an email by one portal user (sign-in looks users up by email)."""

    user_id = UnicodeAttribute()


class SubcontractorLinkRecord(Record, discriminator="subcontractor"):
    subcontractor_id = UnicodeAttribute()
    company_id = UnicodeAttribute()
    company_name = UnicodeAttribute()
    admin_email = UnicodeAttribute()
    status = EnumAttribute(LinkStatus)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(default="")
    deactivated_at = UTCDateTimeAttribute(null=True)


class OneTimeLinkRecord(Record, discriminator="one_time_link"):
    user_id = UnicodeAttribute()
    purpose = EnumAttribute(LinkPurpose)
    token_hash = UnicodeAttribute()
    valid_until = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    used_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()  # removed by DynamoDB a day after it stopped being usable


class SessionRecord(Record, discriminator="portal_session"):
    user_id = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    last_seen_at = UTCDateTimeAttribute()
    valid_until = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class ThrottleRecord(Record, discriminator="throttle"):
    failures = NumberAttribute(default=0)
    window_start = UTCDateTimeAttribute()
    locked_until = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


_USER_SAME = tuple(
    f.name for f in dataclasses.fields(PortalUser) if f.name not in {"company_id", "version"}
)


def _user_record(user: PortalUser) -> PortalUserRecord:
    return PortalUserRecord(
        pk=keys.tenant_pk(user.company_id),
        sk=keys.portal_user_sk(user.user_id),
        tenant_id=user.company_id,
        **{name: getattr(user, name) for name in _USER_SAME},
    )


def _user_from(record: PortalUserRecord) -> PortalUser:
    return PortalUser(
        company_id=record.tenant_id,
        version=int(record.version or 1),
        **{name: getattr(record, name) for name in _USER_SAME if getattr(record, name) is not None},
    )


def _email_claim(user: PortalUser) -> EmailRecord:
    return EmailRecord(
        pk=keys.portal_email_pk(user.email),
        sk=keys.PORTAL_EMAIL_SK,
        tenant_id=user.company_id,
        user_id=user.user_id,
    )


def _company_record(company: Company) -> CompanyRecord:
    return CompanyRecord(
        pk=keys.tenant_pk(company.company_id),
        sk=keys.COMPANY_SK,
        tenant_id=company.company_id,
        name=company.name,
        created_at=company.created_at,
        phone=company.phone,
        address=company.address,
        website=company.website,
    )


def _company_from(record: CompanyRecord) -> Company:
    return Company(
        company_id=record.tenant_id,
        name=record.name,
        created_at=record.created_at,
        phone=record.phone or "",
        address=record.address or "",
        website=record.website or "",
        version=int(record.version or 1),
    )


_LINK_SAME = tuple(
    f.name
    for f in dataclasses.fields(SubcontractorLink)
    if f.name not in {"lead_tenant_id", "version"}
)


def _link_record(link: SubcontractorLink) -> SubcontractorLinkRecord:
    return SubcontractorLinkRecord(
        pk=keys.tenant_pk(link.lead_tenant_id),
        sk=keys.subcontractor_sk(link.subcontractor_id),
        tenant_id=link.lead_tenant_id,
        **{name: getattr(link, name) for name in _LINK_SAME},
    )


def _link_from(record: SubcontractorLinkRecord) -> SubcontractorLink:
    return SubcontractorLink(
        lead_tenant_id=record.tenant_id,
        version=int(record.version or 1),
        **{name: getattr(record, name) for name in _LINK_SAME if getattr(record, name) is not None},
    )


def _email_taken(exc: TransactWriteError, tx: Transaction) -> ConflictError | None:
    if tx.failed(exc, "email"):
        return ConflictError(
            "This email already belongs to a portal user.",
            code="email_in_use",
            field="email",
        )
    return None


class DynamoSubcontractorRepository:
    """Companies in their own partitions; each lead's relationship in the lead's partition."""

    def create_company(self, company: Company, admin: PortalUser, link: SubcontractorLink) -> None:
        try:
            with Transaction() as tx:
                tx.save(_company_record(company), condition=CompanyRecord.pk.does_not_exist())
                tx.save(_user_record(admin), condition=PortalUserRecord.pk.does_not_exist())
                tx.save(
                    _email_claim(admin),
                    condition=EmailRecord.pk.does_not_exist(),
                    label="email",
                )
                tx.save(_link_record(link), condition=SubcontractorLinkRecord.pk.does_not_exist())
        except TransactWriteError as exc:
            taken = _email_taken(exc, tx)
            if taken is not None:
                raise taken from exc
            raise

    def add_link(self, link: SubcontractorLink) -> None:
        _link_record(link).save(condition=SubcontractorLinkRecord.pk.does_not_exist())

    def get_company(self, company_id: str) -> Company:
        try:
            record = CompanyRecord.get(
                keys.tenant_pk(company_id), keys.COMPANY_SK, consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such company.") from exc
        return _company_from(record)

    def update_company(self, company: Company, changes: Mapping[str, Any]) -> Company:
        record = CompanyRecord(
            keys.tenant_pk(company.company_id), keys.COMPANY_SK, version=company.version
        )
        with version_guard("company"):
            record.update(actions=set_actions(CompanyRecord, changes))
        return _company_from(record)

    def get_link(self, lead_tenant_id: str, subcontractor_id: str) -> SubcontractorLink:
        try:
            record = SubcontractorLinkRecord.get(
                keys.tenant_pk(lead_tenant_id), keys.subcontractor_sk(subcontractor_id)
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such subcontractor.") from exc
        return _link_from(record)

    def list_links(
        self, lead_tenant_id: str, limit: int, cursor: str | None
    ) -> Page[SubcontractorLink]:
        pk = keys.tenant_pk(lead_tenant_id)
        return ListQuery(
            query=SubcontractorLinkRecord.query,
            hash_value=pk,
            record_type=SubcontractorLinkRecord,
            to_domain=_link_from,
            expected={"pk": pk},
            prefixes={"sk": keys.SUBCONTRACTOR_PREFIX},
            range_key_condition=SubcontractorLinkRecord.sk.startswith(keys.SUBCONTRACTOR_PREFIX),
            newest_first=True,
        ).page(limit, cursor)

    def deactivate_link(self, link: SubcontractorLink, at: datetime) -> SubcontractorLink:
        record = SubcontractorLinkRecord(
            keys.tenant_pk(link.lead_tenant_id),
            keys.subcontractor_sk(link.subcontractor_id),
            version=UNGUARDED,
        )
        try:
            record.update(
                actions=[
                    SubcontractorLinkRecord.status.set(LinkStatus.INACTIVE),
                    SubcontractorLinkRecord.deactivated_at.set(at),
                ],
                condition=SubcontractorLinkRecord.status == LinkStatus.ACTIVE,
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise ConflictError(
                    "This subcontractor is already inactive.", code="invalid_transition"
                ) from exc
            raise
        return _link_from(record)


class DynamoPortalUserRepository:
    """Users in their company's partition; the email claim makes emails unique."""

    def add(self, user: PortalUser) -> None:
        try:
            with Transaction() as tx:
                tx.save(_user_record(user), condition=PortalUserRecord.pk.does_not_exist())
                tx.save(
                    _email_claim(user), condition=EmailRecord.pk.does_not_exist(), label="email"
                )
        except TransactWriteError as exc:
            taken = _email_taken(exc, tx)
            if taken is not None:
                raise taken from exc
            raise

    def get(self, company_id: str, user_id: str) -> PortalUser:
        try:
            record = PortalUserRecord.get(
                keys.tenant_pk(company_id), keys.portal_user_sk(user_id), consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such user.") from exc
        return _user_from(record)

    def find_by_email(self, email: str) -> PortalUser | None:
        try:
            claim = EmailRecord.get(
                keys.portal_email_pk(email), keys.PORTAL_EMAIL_SK, consistent_read=True
            )
        except DoesNotExist:
            return None
        try:
            return self.get(claim.tenant_id, claim.user_id)
        except NotFoundError:
            return None

    def list(self, company_id: str, limit: int, cursor: str | None) -> Page[PortalUser]:
        pk = keys.tenant_pk(company_id)
        return ListQuery(
            query=PortalUserRecord.query,
            hash_value=pk,
            record_type=PortalUserRecord,
            to_domain=_user_from,
            expected={"pk": pk},
            prefixes={"sk": keys.PORTAL_USER_PREFIX},
            range_key_condition=PortalUserRecord.sk.startswith(keys.PORTAL_USER_PREFIX),
        ).page(limit, cursor)

    def update(self, user: PortalUser, changes: Mapping[str, Any]) -> PortalUser:
        record = PortalUserRecord(
            keys.tenant_pk(user.company_id), keys.portal_user_sk(user.user_id), version=user.version
        )
        with version_guard("user"):
            record.update(actions=set_actions(PortalUserRecord, changes))
        return _user_from(record)

    def put_link(self, link: OneTimeLink) -> None:
        OneTimeLinkRecord(
            pk=keys.tenant_pk(link.company_id),
            sk=keys.one_time_link_sk(link.user_id, link.purpose.value),
            tenant_id=link.company_id,
            user_id=link.user_id,
            purpose=link.purpose,
            token_hash=link.token_hash,
            valid_until=link.expires_at,
            created_at=link.created_at,
            expires_at=link.expires_at + timedelta(days=1),
        ).save(add_version_condition=False)

    def get_link(self, company_id: str, user_id: str, purpose: LinkPurpose) -> OneTimeLink:
        try:
            record = OneTimeLinkRecord.get(
                keys.tenant_pk(company_id),
                keys.one_time_link_sk(user_id, purpose.value),
                consistent_read=True,
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such link.") from exc
        return OneTimeLink(
            company_id=record.tenant_id,
            user_id=record.user_id,
            purpose=record.purpose,
            token_hash=record.token_hash,
            expires_at=record.valid_until,
            created_at=record.created_at,
            used_at=record.used_at,
        )

    def use_link(self, link: OneTimeLink, at: datetime) -> None:
        record = OneTimeLinkRecord(
            keys.tenant_pk(link.company_id),
            keys.one_time_link_sk(link.user_id, link.purpose.value),
            version=UNGUARDED,
        )
        try:
            record.update(
                actions=[OneTimeLinkRecord.used_at.set(at)],
                condition=OneTimeLinkRecord.used_at.does_not_exist()
                & (OneTimeLinkRecord.token_hash == link.token_hash),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise ConflictError("This link was used already.", code="link_used") from exc
            raise


class DynamoSessionStore:
    """Sessions in their company's partition, removed by DynamoDB a day after they end."""

    def add(self, session: PortalSession) -> None:
        SessionRecord(
            pk=keys.tenant_pk(session.company_id),
            sk=keys.session_sk(session.session_id),
            tenant_id=session.company_id,
            user_id=session.user_id,
            secret_hash=session.secret_hash,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            valid_until=session.expires_at,
            expires_at=session.expires_at + timedelta(days=1),
        ).save(condition=SessionRecord.pk.does_not_exist())

    def get(self, company_id: str, session_id: str) -> PortalSession:
        try:
            record = SessionRecord.get(
                keys.tenant_pk(company_id), keys.session_sk(session_id), consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such session.") from exc
        return PortalSession(
            company_id=record.tenant_id,
            session_id=session_id,
            user_id=record.user_id,
            secret_hash=record.secret_hash,
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            expires_at=record.valid_until,
        )

    def touch(self, session: PortalSession, at: datetime) -> None:
        record = SessionRecord(
            keys.tenant_pk(session.company_id), keys.session_sk(session.session_id), version=0
        )
        try:
            record.update(
                actions=[SessionRecord.last_seen_at.set(at)],
                condition=SessionRecord.pk.exists(),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise

    def delete(self, session: PortalSession) -> None:
        SessionRecord(
            keys.tenant_pk(session.company_id), keys.session_sk(session.session_id)
        ).delete(add_version_condition=False)


class DynamoSignInThrottle:
    """Failed sign-ins per email and per client, in fixed windows, with a lock once too many."""

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        try:
            record = ThrottleRecord.get(
                keys.throttle_pk(key), keys.THROTTLE_SK, consistent_read=True
            )
        except DoesNotExist:
            return None
        until = record.locked_until
        return until if until is not None and until > now else None

    def failed(self, key: str, now: datetime, rule: ThrottleRule) -> None:
        pk = keys.throttle_pk(key)
        window = timedelta(seconds=rule.window_seconds)
        record = ThrottleRecord(pk, keys.THROTTLE_SK, version=UNGUARDED)
        try:  # a failure within the current window
            record.update(
                actions=[ThrottleRecord.failures.add(1)],
                condition=ThrottleRecord.window_start > now - window,
                add_version_condition=False,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            # No window yet, or it is over: this failure starts a new one.
            ThrottleRecord(
                pk=pk,
                sk=keys.THROTTLE_SK,
                tenant_id="portal",
                failures=1,
                window_start=now,
                expires_at=now + window + timedelta(seconds=rule.lock_seconds + 3600),
            ).save(add_version_condition=False)
            return
        if int(record.failures) >= rule.limit:
            ThrottleRecord(pk, keys.THROTTLE_SK, version=UNGUARDED).update(
                actions=[
                    ThrottleRecord.locked_until.set(now + timedelta(seconds=rule.lock_seconds))
                ],
                add_version_condition=False,
            )

    def clear(self, key: str) -> None:
        ThrottleRecord(keys.throttle_pk(key), keys.THROTTLE_SK).delete(add_version_condition=False)
