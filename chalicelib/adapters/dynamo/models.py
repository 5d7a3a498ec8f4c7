"""PynamoDB records: the storage shape of every entity, in one table.

Key layout (every partition key starts with the owning tenant):

=================  ==============================  ==========================
record             pk                              sk
=================  ==============================  ==========================
tenant             ``T#<tenant>``                  ``TENANT``
api key            ``T#<tenant>``                  ``KEY#<key id>``
invitation         ``T#<lead>``                    ``INVITATION#<invitation id>``
partnership        ``T#<tenant>`` (each side)       ``PARTNERSHIP#<partnership id>``
partner pair       ``T#<lead>``                    ``PAIR#<service tenant>``
outsourcing        ``T#<owner>`` (each side)        ``OUTSOURCING#<outsourcing id>``
status counts      ``T#<owner>``                   ``OUTCOUNT#<side>``
counter            ``T#<tenant>``                  ``COUNTER#<name>``
idempotency        ``T#<tenant>``                  ``IDEM#<sha256 of key>``
ticket             ``T#<tenant>#TK#<ticket>``       ``TICKET``
item (4 kinds)     ``T#<tenant>#TK#<ticket>``       ``ITEM#<item id>``
=================  ==============================  ==========================

Global secondary indexes serve the lists: ``gsi1`` all tickets of a tenant (partnerships by
role, outsourcings by side), ``gsi2`` tickets by status (outsourcings by side and status),
``gsi3`` tickets by queue (and, sparsely, assigned outsourcings by accept-by day, for the expiry
job: the one index that spans tenants, read only by that system job); each sorted by id.

The table definition itself (keys, indexes, stream, TTL) lives in ``infra/aws/resources.json``;
``tests/infra`` checks that these models and that template agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class DecimalAttribute(Attribute[Decimal]):
    """An exact decimal stored as a DynamoDB number (never through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class Gsi1(GlobalSecondaryIndex["Record"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["Record"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex["Record"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Record(Model):
    """Base of every record in the main table; ``type`` says which subclass a row is."""

    class Meta:
        # Bound at first use from Settings (see connection.bind); never read from env at import.
        table_name = "unbound"
        region = "us-east-1"
        host = None
        max_retry_attempts = 3

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type = DiscriminatorAttribute()
    tenant_id = UnicodeAttribute()
    version = VersionAttribute()

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()

    all_indexes: ClassVar[tuple[str, ...]] = ("gsi1", "gsi2", "gsi3")


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def ticket_pk(tenant_id: str, ticket_id: str) -> str:
    return f"T#{tenant_id}#TK#{ticket_id}"


class TenantRecord(Record, discriminator="tenant"):
    SK: ClassVar[str] = "TENANT"

    name = UnicodeAttribute()
    language = UnicodeAttribute()
    currency = UnicodeAttribute()
    contact_email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    outsourcing_enabled = BooleanAttribute(default=False)
    agreement = JSONAttribute(null=True)
    active_all_keys = NumberAttribute(default=0)
    settings = JSONAttribute(null=True)


class CounterRecord(Record, discriminator="counter"):
    value = NumberAttribute(default=0)


class ApiKeyRecord(Record, discriminator="api_key"):
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    permission = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)


class IdempotencyRecord(Record, discriminator="idempotency"):
    fingerprint = UnicodeAttribute()
    response = JSONAttribute(null=True)
    expires_at = TTLAttribute()


class InvitationRecord(Record, discriminator="invitation"):
    invitation_id = UnicodeAttribute()
    email = UnicodeAttribute()
    company_name = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    status = UnicodeAttribute()
    valid_until = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(default="")
    target_tenant_id = UnicodeAttribute(null=True)
    partnership_id = UnicodeAttribute(null=True)
    accepted_by_tenant_id = UnicodeAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    sent_count = NumberAttribute(default=1)
    email_status = UnicodeAttribute(default="sent")


class PartnershipRecord(Record, discriminator="partnership"):
    partnership_id = UnicodeAttribute()
    role = UnicodeAttribute()
    partner_tenant_id = UnicodeAttribute()
    partner_name = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    lead_tenant_id = UnicodeAttribute()
    service_tenant_id = UnicodeAttribute()
    invitation_id = UnicodeAttribute(null=True)
    deactivated_at = UTCDateTimeAttribute(null=True)
    deactivated_by_tenant_id = UnicodeAttribute(null=True)
    mapping = JSONAttribute(null=True)


class PartnerPairRecord(Record, discriminator="partner_pair"):
    """One per (lead, service partner): at most one active partnership between the two."""

    partnership_id = UnicodeAttribute()
    status = UnicodeAttribute()


class OutsourcingRecord(Record, discriminator="outsourcing"):
    """One side's copy of an outsourcing; both copies change together in one transaction."""

    outsourcing_id = UnicodeAttribute()
    side = UnicodeAttribute()
    lane = UnicodeAttribute()
    status = UnicodeAttribute()
    lead_tenant_id = UnicodeAttribute()
    lead_ticket_id = UnicodeAttribute()
    receiver_id = UnicodeAttribute()
    partnership_id = UnicodeAttribute(null=True)
    insourced_ticket_id = UnicodeAttribute(null=True)
    terms = JSONAttribute()
    currency = UnicodeAttribute()
    ticket = JSONAttribute()
    lead_name = UnicodeAttribute()
    receiver_name = UnicodeAttribute()
    history = JSONAttribute(default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class StatusCountRecord(Record, discriminator="status_counts"):
    """How many of an owner's outsourcing copies (on one side) are in each status."""

    assigned = NumberAttribute(default=0)
    in_progress = NumberAttribute(default=0)
    waiting_approval = NumberAttribute(default=0)
    complete = NumberAttribute(default=0)
    declined = NumberAttribute(default=0)
    canceled = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    recalled = NumberAttribute(default=0)
    forwarded = NumberAttribute(default=0)


class TicketRecord(Record, discriminator="ticket"):
    SK: ClassVar[str] = "TICKET"

    ticket_id = UnicodeAttribute()
    number = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    priority = UnicodeAttribute()
    status = UnicodeAttribute()
    queue = UnicodeAttribute(null=True)
    complete_by = UTCDateTimeAttribute(null=True)
    organization = UnicodeAttribute(null=True)
    contact = UnicodeAttribute(null=True)
    site = UnicodeAttribute(null=True)
    currency = UnicodeAttribute()
    billing_organization = UnicodeAttribute(null=True)
    work_type = UnicodeAttribute(null=True)
    resource = UnicodeAttribute(null=True)
    source = UnicodeAttribute(default="local")
    original_number = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    outsourcing_id = UnicodeAttribute(null=True)
    outsourcing_status = UnicodeAttribute(null=True)
    outsourcing_side = UnicodeAttribute(null=True)
    peer_owner_id = UnicodeAttribute(null=True)
    peer_ticket_id = UnicodeAttribute(null=True)
    lead_version = NumberAttribute(null=True)


class ItemRecord(Record):
    """Common attributes of ticket items; each kind is a subclass with its own discriminator."""

    ticket_id = UnicodeAttribute()
    item_id = UnicodeAttribute()
    internal = BooleanAttribute(default=False)
    origin = UnicodeAttribute(default="local")
    origin_tenant = UnicodeAttribute(null=True)
    origin_ticket_id = UnicodeAttribute(null=True)
    origin_item_id = UnicodeAttribute(null=True)
    origin_version = NumberAttribute(null=True)
    outsourcing_id = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    deleted = BooleanAttribute(default=False)
    # Set on local items written while the ticket's outsourcing was in progress.
    share_outsourcing_id = UnicodeAttribute(null=True)
    share_side = UnicodeAttribute(null=True)
    share_peer_owner_id = UnicodeAttribute(null=True)
    share_peer_ticket_id = UnicodeAttribute(null=True)


class NoteRecord(ItemRecord, discriminator="note"):
    text = UnicodeAttribute()


class TimeEntryRecord(ItemRecord, discriminator="time_entry"):
    date = UnicodeAttribute()
    hours_worked = DecimalAttribute()
    hours_billable = DecimalAttribute()
    work_type = UnicodeAttribute(null=True)
    summary = UnicodeAttribute(default="")


class ChargeRecord(ItemRecord, discriminator="charge"):
    name = UnicodeAttribute()
    quantity = DecimalAttribute()
    unit_cost = DecimalAttribute()
    unit_price = DecimalAttribute()
    billable = BooleanAttribute(default=True)
    currency = UnicodeAttribute()


class AttachmentRecord(ItemRecord, discriminator="attachment"):
    file_name = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    object_key = UnicodeAttribute()
