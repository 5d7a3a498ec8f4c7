"""Partner invitations and partnerships: records, codecs and repositories.

Invitations live in the lead's partition; the token itself is never stored, only its hash. A
partnership is stored once per side (each tenant reads only its own partition), plus a pair
record per (lead, service partner) that makes a second active partnership impossible, even for
racing acceptances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import DomainMap, EnumAttribute, EnumMapAttribute
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
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.domain.partners import (
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
)
from chalicelib.domain.tickets import TicketStatus
from chalicelib.ports import Page


class InvitationRecord(Record, discriminator="invitation"):
    invitation_id = UnicodeAttribute()
    email = UnicodeAttribute()
    company_name = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    status = EnumAttribute(InvitationStatus)
    valid_until = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(default="")
    target_tenant_id = UnicodeAttribute(null=True)
    partnership_id = UnicodeAttribute(null=True)
    accepted_by_tenant_id = UnicodeAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    sent_count = NumberAttribute(default=1)
    email_status = UnicodeAttribute(default="sent")


class MappingMap(DomainMap[PartnerMapping]):
    domain = PartnerMapping

    organization = UnicodeAttribute(null=True)
    queue = UnicodeAttribute(null=True)
    work_type = UnicodeAttribute(null=True)
    resource = UnicodeAttribute(null=True)
    status_map = EnumMapAttribute(OutsourceStatus, TicketStatus, null=True)


class PartnershipRecord(Record, discriminator="partnership"):
    partnership_id = UnicodeAttribute()
    role = EnumAttribute(PartnerRole)
    partner_tenant_id = UnicodeAttribute()
    partner_name = UnicodeAttribute()
    status = EnumAttribute(PartnershipStatus)
    created_at = UTCDateTimeAttribute()
    lead_tenant_id = UnicodeAttribute()
    service_tenant_id = UnicodeAttribute()
    invitation_id = UnicodeAttribute(null=True)
    deactivated_at = UTCDateTimeAttribute(null=True)
    deactivated_by_tenant_id = UnicodeAttribute(null=True)
    mapping = MappingMap(null=True)


class PartnerPairRecord(Record, discriminator="partner_pair"):
    """One per (lead, service partner): at most one active partnership between the two."""

    partnership_id = UnicodeAttribute()
    status = EnumAttribute(PartnershipStatus)


# Invitation fields stored under another name (``expires_at`` is a reserved-sounding name that
# the first version of the table avoided).
_INVITATION_FIELDS = {"expires_at": "valid_until"}
_INVITATION_SAME = tuple(
    f.name
    for f in dataclasses.fields(Invitation)
    if f.name not in {"lead_tenant_id", "version", *_INVITATION_FIELDS}
)


def _invitation_from(record: InvitationRecord) -> Invitation:
    return Invitation(
        lead_tenant_id=record.tenant_id,
        expires_at=record.valid_until,
        version=int(record.version or 1),
        **{
            name: getattr(record, name)
            for name in _INVITATION_SAME
            if getattr(record, name) is not None
        },
    )


def _invitation_record(invitation: Invitation) -> InvitationRecord:
    return InvitationRecord(
        pk=keys.tenant_pk(invitation.lead_tenant_id),
        sk=keys.invitation_sk(invitation.invitation_id),
        tenant_id=invitation.lead_tenant_id,
        valid_until=invitation.expires_at,
        **{name: getattr(invitation, name) for name in _INVITATION_SAME},
    )


def _invitation_key(invitation: Invitation) -> InvitationRecord:
    return InvitationRecord(
        pk=keys.tenant_pk(invitation.lead_tenant_id),
        sk=keys.invitation_sk(invitation.invitation_id),
        version=invitation.version,
    )


def _still_pending(invitation: Invitation) -> Any:
    return (InvitationRecord.status == InvitationStatus.PENDING) & (
        InvitationRecord.token_hash == invitation.token_hash
    )


_PARTNERSHIP_SAME = tuple(
    f.name for f in dataclasses.fields(Partnership) if f.name not in {"version", "mapping"}
)


def _partnership_record(partnership: Partnership) -> PartnershipRecord:
    return PartnershipRecord(
        pk=keys.tenant_pk(partnership.tenant_id),
        sk=keys.partnership_sk(partnership.partnership_id),
        mapping=MappingMap.of(partnership.mapping) if partnership.mapping else None,
        gsi1pk=keys.partners_by_role(partnership.tenant_id, partnership.role.value),
        gsi1sk=partnership.partnership_id,
        **{name: getattr(partnership, name) for name in _PARTNERSHIP_SAME},
    )


def _partnership_from(record: PartnershipRecord) -> Partnership:
    return Partnership(
        mapping=record.mapping.to_domain() if record.mapping else None,
        version=int(record.version or 1),
        **{
            name: getattr(record, name)
            for name in _PARTNERSHIP_SAME
            if getattr(record, name) is not None
        },
    )


def _side_key(owner_id: str, partnership_id: str) -> PartnershipRecord:
    return PartnershipRecord(
        keys.tenant_pk(owner_id), keys.partnership_sk(partnership_id), version=UNGUARDED
    )


def _pair_key(lead_tenant_id: str, service_tenant_id: str) -> PartnerPairRecord:
    return PartnerPairRecord(
        keys.tenant_pk(lead_tenant_id), keys.pair_sk(service_tenant_id), version=UNGUARDED
    )


class DynamoInvitationRepository:
    """Invitations in the lead tenant's partition; the token itself is never stored."""

    def add(self, invitation: Invitation) -> None:
        _invitation_record(invitation).save()

    def get(self, lead_tenant_id: str, invitation_id: str) -> Invitation:
        try:
            record = InvitationRecord.get(
                keys.tenant_pk(lead_tenant_id),
                keys.invitation_sk(invitation_id),
                consistent_read=True,
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such invitation.") from exc
        return _invitation_from(record)

    def list(self, lead_tenant_id: str, limit: int, cursor: str | None) -> Page[Invitation]:
        pk = keys.tenant_pk(lead_tenant_id)
        return ListQuery(
            query=InvitationRecord.query,
            hash_value=pk,
            record_type=InvitationRecord,
            to_domain=_invitation_from,
            expected={"pk": pk},
            prefixes={"sk": keys.INVITATION_PREFIX},
            range_key_condition=InvitationRecord.sk.startswith(keys.INVITATION_PREFIX),
            newest_first=True,
        ).page(limit, cursor)

    def update(self, invitation: Invitation, changes: Mapping[str, Any]) -> Invitation:
        stored = {_INVITATION_FIELDS.get(k, k): v for k, v in changes.items()}
        record = _invitation_key(invitation)
        with version_guard("invitation"):
            record.update(
                actions=set_actions(InvitationRecord, stored),
                condition=_still_pending(invitation),
            )
        return _invitation_from(record)

    def accept(self, invitation: Invitation, lead: Partnership, service: Partnership) -> None:
        pair_actions: list[Action] = [
            PartnerPairRecord.tenant_id.set(lead.tenant_id),
            PartnerPairRecord.type.set(PartnerPairRecord),
            PartnerPairRecord.partnership_id.set(lead.partnership_id),
            PartnerPairRecord.status.set(PartnershipStatus.ACTIVE),
        ]
        try:
            with Transaction() as tx:
                tx.update(
                    _invitation_key(invitation),
                    actions=[
                        InvitationRecord.status.set(InvitationStatus.ACCEPTED),
                        InvitationRecord.resolved_at.set(lead.created_at),
                        InvitationRecord.accepted_by_tenant_id.set(service.tenant_id),
                        InvitationRecord.partnership_id.set(lead.partnership_id),
                    ],
                    condition=_still_pending(invitation),
                    guard_version=True,
                )
                tx.update(
                    _pair_key(lead.tenant_id, service.tenant_id),
                    actions=pair_actions,
                    condition=PartnerPairRecord.pk.does_not_exist()
                    | (PartnerPairRecord.status == PartnershipStatus.INACTIVE),
                    label="pair",
                )
                tx.save(_partnership_record(lead))
                tx.save(_partnership_record(service))
        except TransactWriteError as exc:
            if tx.failed(exc, "pair"):
                raise ConflictError(
                    "These tenants already have an active partnership.", code="already_exists"
                ) from exc
            if condition_failed(exc):
                raise ConflictError(
                    "The invitation changed while it was being accepted.",
                    code="version_conflict",
                ) from exc
            raise


class DynamoPartnershipRepository:
    """Each partnership is stored once per side, so each tenant reads only its own partition."""

    def get(self, tenant_id: str, partnership_id: str) -> Partnership:
        try:
            record = PartnershipRecord.get(
                keys.tenant_pk(tenant_id), keys.partnership_sk(partnership_id)
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such partnership.") from exc
        return _partnership_from(record)

    def list(
        self, tenant_id: str, role: PartnerRole | None, limit: int, cursor: str | None
    ) -> Page[Partnership]:
        pk = keys.tenant_pk(tenant_id)
        if role is None:
            return ListQuery(
                query=PartnershipRecord.query,
                hash_value=pk,
                record_type=PartnershipRecord,
                to_domain=_partnership_from,
                expected={"pk": pk},
                prefixes={"sk": keys.PARTNERSHIP_PREFIX},
                range_key_condition=PartnershipRecord.sk.startswith(keys.PARTNERSHIP_PREFIX),
            ).page(limit, cursor)
        by_role = keys.partners_by_role(tenant_id, role.value)
        return ListQuery(
            query=PartnershipRecord.gsi1.query,
            hash_value=by_role,
            record_type=PartnershipRecord,
            to_domain=_partnership_from,
            expected={"gsi1pk": by_role, "pk": pk},
            prefixes={"sk": keys.PARTNERSHIP_PREFIX},
        ).page(limit, cursor)

    def deactivate(self, partnership: Partnership, by_tenant_id: str, at: datetime) -> Partnership:
        ending: list[Action] = [
            PartnershipRecord.status.set(PartnershipStatus.INACTIVE),
            PartnershipRecord.deactivated_at.set(at),
            PartnershipRecord.deactivated_by_tenant_id.set(by_tenant_id),
        ]
        try:
            with Transaction() as tx:
                for owner in (partnership.lead_tenant_id, partnership.service_tenant_id):
                    tx.update(
                        _side_key(owner, partnership.partnership_id),
                        actions=ending,
                        condition=PartnershipRecord.status == PartnershipStatus.ACTIVE,
                    )
                tx.update(
                    _pair_key(partnership.lead_tenant_id, partnership.service_tenant_id),
                    actions=[PartnerPairRecord.status.set(PartnershipStatus.INACTIVE)],
                    condition=PartnerPairRecord.partnership_id == partnership.partnership_id,
                )
        except TransactWriteError as exc:
            if condition_failed(exc):
                raise ConflictError(
                    "This partnership is already inactive.", code="invalid_transition"
                ) from exc
            raise
        return dataclasses.replace(
            partnership,
            status=PartnershipStatus.INACTIVE,
            deactivated_at=at,
            deactivated_by_tenant_id=by_tenant_id,
        )

    def set_mapping(self, partnership: Partnership, mapping: PartnerMapping) -> Partnership:
        record = _side_key(partnership.tenant_id, partnership.partnership_id)
        try:
            record.update(
                actions=[PartnershipRecord.mapping.set(MappingMap.of(mapping))],
                condition=PartnershipRecord.pk.exists(),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise NotFoundError("No such partnership.") from exc
            raise
        return _partnership_from(record)
