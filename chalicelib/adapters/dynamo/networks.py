"""The network lane's records: the tenant's Outsource Network entries, and the download links
forwarded emails carry.

An entry lives in its tenant's partition (``NETWORK#<id>``, listed newest first by one Query on
the table). A download link is read by the unauthenticated ``GET /files/{token}`` before any
owner is known, so it has a partition of its own keyed by the SHA-256 of its token
(``P#FILE#<hash>``; the token itself is never stored); it names the owning tenant, ticket and
attachment, and DynamoDB's TTL removes it a day after it stopped working.

Forwarding writes the lead's outsourcing record (there is no receiver copy), its status count,
the note on the lead ticket and the links in one transaction (:meth:`record_forward`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.attributes import DomainMap, EnumAttribute
from chalicelib.adapters.dynamo.items import AttachmentRecord, ItemRecord, item_from, item_record
from chalicelib.adapters.dynamo.operations import ListQuery, Transaction, set_actions, version_guard
from chalicelib.adapters.dynamo.outsourcings import _count_update, _outsourcing_record
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.items import Attachment, Note
from chalicelib.domain.networks import EmailSpec, FileLink, Network, NetworkAction
from chalicelib.domain.outsourcing import Outsourcing
from chalicelib.ports import Page


class EmailSpecMap(DomainMap[EmailSpec]):
    domain = EmailSpec

    to = ListAttribute(of=UnicodeAttribute, default=list)
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    include_attachments = BooleanAttribute(null=True)
    include_contact = BooleanAttribute(null=True)

    @classmethod
    def of(cls, value: EmailSpec) -> EmailSpecMap:
        return cls(
            to=list(value.to),
            subject=value.subject,
            body=value.body,
            include_attachments=value.include_attachments,
            include_contact=value.include_contact,
        )

    def to_domain(self) -> EmailSpec:
        spec = super().to_domain()
        return EmailSpec(
            to=tuple(spec.to or ()),
            subject=spec.subject or "",
            body=spec.body or "",
            include_attachments=bool(spec.include_attachments),
            include_contact=bool(spec.include_contact),
        )


class NetworkRecord(Record, discriminator="network"):
    network_id = UnicodeAttribute()
    name = UnicodeAttribute()
    organization = UnicodeAttribute(null=True)
    active = BooleanAttribute(default=True)
    action = EnumAttribute(NetworkAction)
    email = EmailSpecMap(null=True)
    link_template = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class FileLinkRecord(Record, discriminator="file_link"):
    ticket_id = UnicodeAttribute()
    attachment_id = UnicodeAttribute()
    outsourcing_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    valid_until = UTCDateTimeAttribute()
    expires_at = TTLAttribute()  # removed by DynamoDB a day after it stopped working


def _stored(name: str, value: Any) -> Any:
    if name == "email":
        return EmailSpecMap.of(value) if value is not None else None
    return value


def _network_record(network: Network) -> NetworkRecord:
    return NetworkRecord(
        pk=keys.tenant_pk(network.tenant_id),
        sk=keys.network_sk(network.network_id),
        tenant_id=network.tenant_id,
        network_id=network.network_id,
        name=network.name,
        organization=network.organization,
        active=network.active,
        action=network.action,
        email=_stored("email", network.email),
        link_template=network.link_template,
        created_at=network.created_at,
        updated_at=network.updated_at,
    )


def _network_from(record: NetworkRecord) -> Network:
    return Network(
        tenant_id=record.tenant_id,
        network_id=record.network_id,
        name=record.name,
        organization=record.organization,
        active=bool(record.active),
        action=record.action,
        email=record.email.to_domain() if record.email is not None else None,
        link_template=record.link_template,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 1),
    )


def _file_link_record(link: FileLink) -> FileLinkRecord:
    return FileLinkRecord(
        pk=keys.file_link_pk(link.token_hash),
        sk=keys.FILE_LINK_SK,
        tenant_id=link.tenant_id,
        ticket_id=link.ticket_id,
        attachment_id=link.attachment_id,
        outsourcing_id=link.outsourcing_id,
        created_at=link.created_at,
        valid_until=link.valid_until,
        expires_at=link.valid_until + timedelta(days=1),
    )


class DynamoNetworkRepository:
    """A tenant's Outsource Network entries, and the forwarding transaction."""

    def add(self, network: Network) -> None:
        _network_record(network).save(condition=NetworkRecord.pk.does_not_exist())

    def get(self, tenant_id: str, network_id: str) -> Network:
        try:
            record = NetworkRecord.get(
                keys.tenant_pk(tenant_id), keys.network_sk(network_id), consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("No such network.") from exc
        return _network_from(record)

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Network]:
        pk = keys.tenant_pk(tenant_id)
        return ListQuery(
            query=NetworkRecord.query,
            hash_value=pk,
            record_type=NetworkRecord,
            to_domain=_network_from,
            expected={"pk": pk},
            prefixes={"sk": keys.NETWORK_PREFIX},
            range_key_condition=NetworkRecord.sk.startswith(keys.NETWORK_PREFIX),
            newest_first=True,
            consistent=True,
        ).page(limit, cursor)

    def update(self, network: Network, changes: Mapping[str, Any]) -> Network:
        record = NetworkRecord(
            keys.tenant_pk(network.tenant_id),
            keys.network_sk(network.network_id),
            version=network.version,
        )
        stored = {name: _stored(name, value) for name, value in changes.items()}
        with version_guard("network"):
            record.update(
                actions=set_actions(NetworkRecord, stored),
                condition=NetworkRecord.pk.exists(),
            )
        return _network_from(record)

    def record_forward(self, lead_copy: Outsourcing, note: Note, links: Sequence[FileLink]) -> None:
        with Transaction() as tx:
            tx.save(_outsourcing_record(lead_copy), label="outsourcing")
            _count_update(tx, lead_copy, lead_copy.status, None)
            tx.save(item_record(note), condition=ItemRecord.pk.does_not_exist(), label="note")
            for link in links:
                tx.save(
                    _file_link_record(link),
                    condition=FileLinkRecord.pk.does_not_exist(),
                    label="file",
                )


class DynamoFileLinkRepository:
    """Download links by token hash, and the attachment each one names."""

    def get(self, token_hash: str) -> FileLink | None:
        try:
            record = FileLinkRecord.get(
                keys.file_link_pk(token_hash), keys.FILE_LINK_SK, consistent_read=True
            )
        except DoesNotExist:
            return None
        return FileLink(
            token_hash=token_hash,
            tenant_id=record.tenant_id,
            ticket_id=record.ticket_id,
            attachment_id=record.attachment_id,
            outsourcing_id=record.outsourcing_id,
            created_at=record.created_at,
            valid_until=record.valid_until,
        )

    def attachment(self, link: FileLink) -> Attachment | None:
        try:
            record = Record.get(
                keys.ticket_pk(link.tenant_id, link.ticket_id),
                keys.item_sk(link.attachment_id),
                consistent_read=True,
            )
        except DoesNotExist:
            return None
        if not isinstance(record, AttachmentRecord):
            return None
        found = item_from(record)
        return found if isinstance(found, Attachment) else None
