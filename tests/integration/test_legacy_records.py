"""Rows written in the storage format before nested values became maps still work.

Until the "Layout" change, a tenant's agreement and settings, a partner mapping, an outsourcing's
terms, ticket snapshot and history, and a stored idempotent response were JSON strings, and an
item's destination was four flat ``share_*`` attributes. Nothing rewrites those rows: the current
code must read them (GetItem, Query on the table and on every index, stream images), change them,
and write what it changes in the new form. Each row here is put with the low-level client exactly
as the old PynamoDB models wrote it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.stream_events import decode
from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.events import ItemChanged
from chalicelib.domain.ids import new_id
from chalicelib.domain.items import Note, Origin
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    OutsourceStatus,
    PricingType,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.partners import (
    PartnerMapping,
    PartnerRole,
    PartnershipStatus,
)
from chalicelib.domain.sync import Destination, replica_id
from chalicelib.domain.tenants import AgreementAcceptance, OutsourcingSettings
from chalicelib.domain.tickets import TicketStatus
from chalicelib.ports import IdempotencyRecord, StoredResponse
from tests.integration.conftest import Harness, Tenant
from tests.integration.sync_support import stream_records

# PynamoDB's UTCDateTimeAttribute format, as the old records stored top-level timestamps.
PYNAMO_TIME = "%Y-%m-%dT%H:%M:%S.%f+0000"
SHARE_ATTRIBUTES = (
    "share_outsourcing_id",
    "share_side",
    "share_peer_owner_id",
    "share_peer_ticket_id",
)


# -- raw DynamoDB values, as the old models wrote them ------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _bool(value: bool) -> dict[str, bool]:
    return {"BOOL": value}


def _time(moment: datetime) -> dict[str, str]:
    return _s(moment.astimezone(UTC).strftime(PYNAMO_TIME))


def _json(value: Any) -> dict[str, str]:
    """A JSONAttribute value (``json.dumps``, as PynamoDB's JSONAttribute serialized it)."""
    return _s(json.dumps(value))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _dec(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _put(harness: Harness, item: dict[str, Any]) -> None:
    harness.dynamodb().put_item(TableName=harness.table_name, Item=item)


def _raw(harness: Harness, pk: str, sk: str) -> dict[str, Any]:
    found: dict[str, Any] = harness.dynamodb().get_item(
        TableName=harness.table_name, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True
    )["Item"]
    return found


# The old codecs (HEAD~1 repositories.py), one per nested value.


def _old_agreement(agreement: AgreementAcceptance) -> dict[str, str]:
    return _json({"by": agreement.by, "at": agreement.at.isoformat(), "version": agreement.version})


def _old_mapping(mapping: PartnerMapping) -> dict[str, str]:
    return _json(
        {
            "organization": mapping.organization,
            "queue": mapping.queue,
            "work_type": mapping.work_type,
            "resource": mapping.resource,
            "status_map": {k.value: v.value for k, v in mapping.status_map.items()},
        }
    )


def _old_terms(terms: Terms) -> dict[str, str]:
    return _json(
        {
            "complete_by": _iso(terms.complete_by),
            "accept_by": _iso(terms.accept_by),
            "instructions": terms.instructions,
            "pricing_type": terms.pricing_type.value,
            "pricing_amount": str(terms.pricing_amount),
            "authorized_hours": _dec(terms.authorized_hours),
            "authorized_charges": _dec(terms.authorized_charges),
            "bill_customer_rate": _dec(terms.bill_customer_rate),
        }
    )


def _old_snapshot(snapshot: TicketSnapshot) -> dict[str, str]:
    return _json(
        {
            "number": snapshot.number,
            "title": snapshot.title,
            "description": snapshot.description,
            "priority": snapshot.priority,
            "complete_by": _iso(snapshot.complete_by),
            "organization": snapshot.organization,
            "contact": snapshot.contact,
            "site": snapshot.site,
        }
    )


def _old_history(history: tuple[HistoryEntry, ...]) -> dict[str, str]:
    return _json(
        [
            {
                "event": h.event,
                "from": h.from_status.value if h.from_status else None,
                "to": h.to_status.value,
                "at": h.at.isoformat(),
                "by": h.by.value,
                "actor": h.actor,
                "reason": h.reason,
            }
            for h in history
        ]
    )


# -- an outsourcing whose copies carry the old encodings ----------------------------------------


@dataclasses.dataclass(frozen=True)
class OldDeal:
    lead: Tenant
    partner: Tenant
    lead_ticket_id: str
    outsourcing_id: str
    terms: Terms  # the lead's; the receiver's copy has no bill_customer_rate
    snapshot: TicketSnapshot
    history: tuple[HistoryEntry, ...]

    @property
    def receiver_terms(self) -> Terms:
        return dataclasses.replace(self.terms, bill_customer_rate=None)


def _old_deal(harness: Harness, *, accept_by: datetime) -> OldDeal:
    """A real assigned outsourcing whose two copies' terms, snapshot and history are then
    overwritten with the old JSON strings (and the lead copy's expiry keys as the old code
    computed them from that accept-by)."""
    lead = harness.create_tenant("Lead IT")
    partner = harness.create_tenant("Partner IT")
    partnership = harness.partner(lead, partner)
    ticket = harness.create_ticket(lead, title="Switch down", priority="high")
    outsourcing_id = harness.outsource(lead, ticket["ticket_id"], partnership)["outsourcing_id"]
    terms = Terms(
        # The old API kept a deadline's offset as given, and so did its JSON.
        complete_by=datetime(2031, 5, 6, 19, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        accept_by=accept_by,
        instructions="Replace the core switch; parts are on site",
        pricing_type=PricingType.HOURLY,
        pricing_amount=Decimal("85.50"),
        authorized_hours=Decimal("7.25"),
        authorized_charges=Decimal("1200.10"),
        bill_customer_rate=Decimal("140.05"),
    )
    snapshot = TicketSnapshot(
        number=ticket["number"],
        title="Switch down in rack 4",
        description="Core switch has no power",
        priority="high",
        complete_by=datetime(2031, 5, 6, 12, 0, 0, 654321, tzinfo=UTC),
        organization="Acme Corp",
        contact="Joe Customer",
        site="Main office",
    )
    history = (
        HistoryEntry(
            event="outsource",
            from_status=None,
            to_status=OutsourceStatus.ASSIGNED,
            at=datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            by=Side.LEAD,
            actor="Jane Lead (key Main)",
            reason=None,
        ),
    )
    client = harness.dynamodb()
    for owner, copy_terms in (
        (lead.tenant_id, terms),
        (partner.tenant_id, dataclasses.replace(terms, bill_customer_rate=None)),
    ):
        expression = "SET #terms = :terms, #ticket = :ticket, #history = :history"
        values = {
            ":terms": _old_terms(copy_terms),
            ":ticket": _old_snapshot(snapshot),
            ":history": _old_history(history),
        }
        if owner == lead.tenant_id:
            expression += ", gsi3pk = :g3pk, gsi3sk = :g3sk"
            values[":g3pk"] = _s(f"EXPIRY#{accept_by.astimezone(UTC):%Y%m%d}")
            values[":g3sk"] = _s(
                f"{accept_by.astimezone(UTC).isoformat()}#{owner}#{outsourcing_id}"
            )
        names = {"#terms": "terms", "#ticket": "ticket", "#history": "history"}
        client.update_item(
            TableName=harness.table_name,
            Key={"pk": _s(f"T#{owner}"), "sk": _s(f"OUTSOURCING#{outsourcing_id}")},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    return OldDeal(lead, partner, ticket["ticket_id"], outsourcing_id, terms, snapshot, history)


# -- tenants ------------------------------------------------------------------------------------


def _old_tenant_row(
    tenant_id: str, agreement: AgreementAcceptance, settings: OutsourcingSettings
) -> dict[str, Any]:
    return {
        "pk": _s(f"T#{tenant_id}"),
        "sk": _s("TENANT"),
        "type": _s("tenant"),
        "tenant_id": _s(tenant_id),
        "version": _n(1),
        "name": _s("Old Provider"),
        "language": _s("de"),
        "currency": _s("EUR"),
        "contact_email": _s("ops@old-provider.example.com"),
        "created_at": _time(datetime(2029, 2, 3, 4, 5, 6, 7000, tzinfo=UTC)),
        "outsourcing_enabled": _bool(False),
        "agreement": _old_agreement(agreement),
        "active_all_keys": _n(1),
        "settings": _json(dataclasses.asdict(settings)),
    }


OLD_AGREEMENT = AgreementAcceptance(
    by="Jane Admin", at=datetime(2029, 2, 3, 4, 15, 16, 170001, tzinfo=UTC), version="2029-01"
)
OLD_SETTINGS = OutsourcingSettings(
    invitation_subject="Work with {lead_name}",
    invitation_template="Hello {company_name}, join us: {link}",
    invitation_expiry_days=21,
)


def test_an_old_tenant_row_reads_back_with_its_agreement_and_settings(harness: Harness) -> None:
    # Given a tenant row whose agreement and settings are JSON strings
    tenant_id = new_id()
    _put(harness, _old_tenant_row(tenant_id, OLD_AGREEMENT, OLD_SETTINGS))
    # When it is read
    tenant = get_container().tenants.get(tenant_id)
    # Then the agreement (its time to the microsecond) and the settings are the ones written
    assert tenant.agreement == OLD_AGREEMENT
    assert tenant.agreement is not None and tenant.agreement.at == OLD_AGREEMENT.at
    assert tenant.settings == OLD_SETTINGS
    assert (tenant.name, tenant.currency, tenant.active_all_keys, tenant.version) == (
        "Old Provider",
        "EUR",
        1,
        1,
    )


def test_an_old_tenant_row_can_be_updated_and_keeps_its_agreement(harness: Harness) -> None:
    # Given a tenant row whose agreement and settings are JSON strings
    tenant_id = new_id()
    _put(harness, _old_tenant_row(tenant_id, OLD_AGREEMENT, OLD_SETTINGS))
    tenants = get_container().tenants
    tenant = tenants.get(tenant_id)
    # When outsourcing is switched on (the update's returned values still hold the old strings)
    updated = tenants.update(tenant, {"outsourcing_enabled": True})
    # Then the update took, and both the returned and the re-read tenant keep the old values
    assert updated.outsourcing_enabled is True
    assert updated.version == 2
    assert (updated.agreement, updated.settings) == (OLD_AGREEMENT, OLD_SETTINGS)
    assert tenants.get(tenant_id) == updated


def test_an_old_tenant_row_takes_new_settings_in_the_new_format(harness: Harness) -> None:
    # Given a tenant row whose agreement and settings are JSON strings
    tenant_id = new_id()
    _put(harness, _old_tenant_row(tenant_id, OLD_AGREEMENT, OLD_SETTINGS))
    tenants = get_container().tenants
    new_settings = dataclasses.replace(OLD_SETTINGS, invitation_expiry_days=7)
    # When only the settings change
    tenants.update(tenants.get(tenant_id), {"settings": new_settings})
    # Then the settings are a map now, the untouched agreement still the old string, and both read
    raw = _raw(harness, f"T#{tenant_id}", "TENANT")
    assert "M" in raw["settings"]
    assert raw["agreement"] == _old_agreement(OLD_AGREEMENT)
    tenant = tenants.get(tenant_id)
    assert (tenant.settings, tenant.agreement) == (new_settings, OLD_AGREEMENT)


# -- partnerships -------------------------------------------------------------------------------

OLD_MAPPING = PartnerMapping(
    organization="Lead Customers Inc",
    queue="Field service",
    work_type="Onsite",
    resource="Bob Tech",
    status_map={
        OutsourceStatus.ASSIGNED: TicketStatus.NEW,
        OutsourceStatus.IN_PROGRESS: TicketStatus.WAITING,
        OutsourceStatus.CANCELED: TicketStatus.COMPLETE,
    },
)


def _old_partnership_row(service_id: str, lead_id: str, partnership_id: str) -> dict[str, Any]:
    """The service partner's side of a partnership (the side that carries a mapping)."""
    return {
        "pk": _s(f"T#{service_id}"),
        "sk": _s(f"PARTNERSHIP#{partnership_id}"),
        "type": _s("partnership"),
        "tenant_id": _s(service_id),
        "version": _n(1),
        "partnership_id": _s(partnership_id),
        "role": _s("lead"),
        "partner_tenant_id": _s(lead_id),
        "partner_name": _s("Lead IT"),
        "status": _s("active"),
        "created_at": _time(datetime(2029, 6, 7, 8, 9, 10, 111213, tzinfo=UTC)),
        "lead_tenant_id": _s(lead_id),
        "service_tenant_id": _s(service_id),
        "invitation_id": _s(new_id()),
        "mapping": _old_mapping(OLD_MAPPING),
        "gsi1pk": _s(f"T#{service_id}#PARTNERS#lead"),
        "gsi1sk": _s(partnership_id),
    }


def test_an_old_partnership_row_reads_back_with_its_mapping(harness: Harness) -> None:
    # Given the service side of a partnership whose mapping is a JSON string
    service_id, lead_id, partnership_id = new_id(), new_id(), new_id()
    _put(harness, _old_partnership_row(service_id, lead_id, partnership_id))
    partnerships = get_container().partnerships
    # When it is read directly, and listed by role (gsi1)
    got = partnerships.get(service_id, partnership_id)
    listed = partnerships.list(service_id, PartnerRole.LEAD, 10, None).items
    # Then the mapping is the one written, its status map in enums
    assert got.mapping == OLD_MAPPING
    assert got.mapping is not None
    assert all(
        isinstance(k, OutsourceStatus) and isinstance(v, TicketStatus)
        for k, v in got.mapping.status_map.items()
    )
    assert (got.role, got.status, got.lead_tenant_id) == (
        PartnerRole.LEAD,
        PartnershipStatus.ACTIVE,
        lead_id,
    )
    assert listed == [got]


def test_an_old_partnership_mapping_is_rewritten_as_a_map(harness: Harness) -> None:
    # Given the service side of a partnership whose mapping is a JSON string
    service_id, lead_id, partnership_id = new_id(), new_id(), new_id()
    _put(harness, _old_partnership_row(service_id, lead_id, partnership_id))
    partnerships = get_container().partnerships
    partnership = partnerships.get(service_id, partnership_id)
    new_mapping = dataclasses.replace(
        OLD_MAPPING,
        queue="Remote",
        status_map={**OLD_MAPPING.status_map, OutsourceStatus.COMPLETE: TicketStatus.COMPLETE},
    )
    # When the service partner changes its mapping
    returned = partnerships.set_mapping(partnership, new_mapping)
    # Then it is stored as a map and reads back as set
    assert "M" in _raw(harness, f"T#{service_id}", f"PARTNERSHIP#{partnership_id}")["mapping"]
    assert returned.mapping == new_mapping
    assert partnerships.get(service_id, partnership_id).mapping == new_mapping


# -- outsourcings -------------------------------------------------------------------------------


def test_old_outsourcing_copies_read_back_through_get_and_the_lists(harness: Harness) -> None:
    # Given an assigned outsourcing whose copies carry old JSON terms, snapshot and history
    deal = _old_deal(harness, accept_by=datetime(2031, 5, 1, 9, 0, 0, 1, tzinfo=UTC))
    outsourcings = get_container().outsourcings
    # When each side reads its copy
    lead_copy = outsourcings.get(deal.lead.tenant_id, deal.outsourcing_id)
    receiver_copy = outsourcings.get(deal.partner.tenant_id, deal.outsourcing_id)
    # Then terms (exact decimals and datetimes), snapshot and history are the ones written
    assert lead_copy.terms == deal.terms
    assert lead_copy.terms.pricing_amount == Decimal("85.50")
    # (the deadline written with +02:00 is the same instant, now in UTC)
    assert lead_copy.terms.complete_by == datetime(2031, 5, 6, 17, 30, 0, 123456, tzinfo=UTC)
    assert receiver_copy.terms == deal.receiver_terms
    assert receiver_copy.terms.bill_customer_rate is None
    for copy in (lead_copy, receiver_copy):
        assert copy.ticket == deal.snapshot
        assert copy.history == deal.history
        assert copy.history[0].from_status is None
        assert copy.history[0].to_status is OutsourceStatus.ASSIGNED
        assert copy.history[0].by is Side.LEAD
        assert copy.status is OutsourceStatus.ASSIGNED
    # And each side's lists (gsi1, and gsi2 by status) hold the same copy
    for owner, side, copy in (
        (deal.lead.tenant_id, Side.LEAD, lead_copy),
        (deal.partner.tenant_id, Side.RECEIVER, receiver_copy),
    ):
        assert outsourcings.list(owner, side, None, 10, None).items == [copy]
        by_status = outsourcings.list(owner, side, OutsourceStatus.ASSIGNED, 10, None).items
        assert by_status == [copy]


def test_an_old_assigned_outsourcing_past_its_deadline_is_found_for_expiry(
    harness: Harness,
) -> None:
    # Given an assigned outsourcing with old JSON terms whose accept-by passed an hour ago
    accept_by = (utcnow() - timedelta(hours=1)).replace(microsecond=424242)
    deal = _old_deal(harness, accept_by=accept_by)
    # When the expiry job looks for due outsourcings (gsi3)
    due = get_container().outsourcings.due_for_expiry(utcnow(), 2)
    # Then the lead copy is found, with its old terms
    found = [copy for copy in due if copy.outsourcing_id == deal.outsourcing_id]
    assert [(copy.side, copy.terms) for copy in found] == [(Side.LEAD, deal.terms)]
    assert found[0].terms.accept_by == accept_by


def test_an_old_outsourcing_can_be_canceled_and_keeps_its_old_history(harness: Harness) -> None:
    # Given an assigned outsourcing whose copies carry old JSON terms, snapshot and history
    deal = _old_deal(harness, accept_by=datetime(2031, 5, 1, 9, 0, 0, 1, tzinfo=UTC))
    # When the lead cancels it over HTTP
    reply = harness.post(f"/v1/outsourcings/{deal.outsourcing_id}/cancel", deal.lead.key)
    # Then it is canceled, and each copy's history is the old entry followed by the cancel
    assert reply.status_code == 200, reply.body
    assert reply.json["status"] == "canceled"
    assert [(h["event"], h["from_status"], h["to_status"]) for h in reply.json["history"]] == [
        ("outsource", None, "assigned"),
        ("cancel", "assigned", "canceled"),
    ]
    outsourcings = get_container().outsourcings
    for owner, terms in (
        (deal.lead.tenant_id, deal.terms),
        (deal.partner.tenant_id, deal.receiver_terms),
    ):
        copy = outsourcings.get(owner, deal.outsourcing_id)
        assert copy.status is OutsourceStatus.CANCELED
        assert copy.history[:1] == deal.history
        new_entry = copy.history[1:]
        assert [(e.event, e.from_status, e.to_status, e.by) for e in new_entry] == [
            ("cancel", OutsourceStatus.ASSIGNED, OutsourceStatus.CANCELED, Side.LEAD)
        ]
        assert (copy.terms, copy.ticket) == (terms, deal.snapshot)
        # The history was rewritten as a list of maps; the untouched terms are still the string
        raw = _raw(harness, f"T#{owner}", f"OUTSOURCING#{deal.outsourcing_id}")
        assert "L" in raw["history"]
        assert raw["terms"] == _old_terms(terms)


# -- items --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OldNote:
    note: Note  # what the row holds, as the current domain sees it
    row: dict[str, Any]


def _put_old_note(
    harness: Harness,
    tenant_id: str,
    ticket_id: str,
    destination: Destination | None,
    text: str = "Replaced the power supply",
) -> OldNote:
    """A local note row as the old item record wrote it: a destination in ``share_*``."""
    note = Note(
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        item_id=new_id(),
        internal=False,
        origin=Origin.LOCAL,
        created_by="Tom Tech",
        created_at=datetime(2030, 3, 4, 5, 6, 7, 80910, tzinfo=UTC),
        updated_at=datetime(2030, 3, 4, 6, 7, 8, 91011, tzinfo=UTC),
        version=1,
        destination=destination,
        text=text,
    )
    row = {
        "pk": _s(f"T#{tenant_id}#TK#{ticket_id}"),
        "sk": _s(f"ITEM#{note.item_id}"),
        "type": _s("note"),
        "tenant_id": _s(tenant_id),
        "version": _n(1),
        "ticket_id": _s(ticket_id),
        "item_id": _s(note.item_id),
        "internal": _bool(False),
        "origin": _s("local"),
        "created_by": _s(note.created_by),
        "created_at": _time(note.created_at),
        "updated_at": _time(note.updated_at),
        "deleted": _bool(False),
        "text": _s(text),
    }
    if destination is not None:
        row["share_outsourcing_id"] = _s(destination.outsourcing_id)
        row["share_side"] = _s(destination.side.value)
        row["share_peer_owner_id"] = _s(destination.peer_owner_id)
        row["share_peer_ticket_id"] = _s(destination.peer_ticket_id)
    _put(harness, row)
    return OldNote(note, row)


def _old_note(harness: Harness) -> OldNote:
    """A shared note on a real ticket (its destination made up: nothing is pumped)."""
    tenant = harness.create_tenant()
    ticket_id = harness.create_ticket(tenant)["ticket_id"]
    destination = Destination(
        outsourcing_id=new_id(), side=Side.LEAD, peer_owner_id=new_id(), peer_ticket_id=new_id()
    )
    return _put_old_note(harness, tenant.tenant_id, ticket_id, destination)


def test_an_old_item_reads_back_with_its_destination(harness: Harness) -> None:
    # Given a note row whose destination is the four flat share_* attributes
    old = _old_note(harness)
    items = get_container().items
    note = old.note
    # When it is read directly and in its ticket's list
    got = items.get(note.tenant_id, note.ticket_id, note.item_id)
    listed = items.list(note.tenant_id, note.ticket_id, 10, None).items
    # Then it carries the destination written, as a Destination
    assert got == note
    assert got.destination == Destination(
        outsourcing_id=old.row["share_outsourcing_id"]["S"],
        side=Side.LEAD,
        peer_owner_id=old.row["share_peer_owner_id"]["S"],
        peer_ticket_id=old.row["share_peer_ticket_id"]["S"],
    )
    assert [i for i in listed if i.item_id == note.item_id] == [note]


def test_an_old_item_stream_image_decodes_with_its_destination(harness: Harness) -> None:
    # Given the table stream's record of putting a note row with flat share_* attributes
    old = _old_note(harness)
    key = (old.row["pk"], old.row["sk"])
    records = [
        r
        for r in stream_records(harness)
        if (r["dynamodb"]["Keys"]["pk"], r["dynamodb"]["Keys"]["sk"]) == key
    ]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == old.row
    # When the stream record is decoded
    event = decode(records[0])
    # Then it is the item's creation, carrying the destination
    assert isinstance(event, ItemChanged)
    assert event.before is None
    assert event.after == old.note
    assert event.after is not None and event.after.destination == old.note.destination


OTHER_DESTINATION = Destination(
    outsourcing_id="01J0000000000000000000OTHR",
    side=Side.RECEIVER,
    peer_owner_id="01J0000000000000000000PEER",
    peer_ticket_id="01J0000000000000000000TICK",
)


@pytest.mark.parametrize("new_destination", [None, OTHER_DESTINATION], ids=["none", "another"])
def test_updating_an_old_items_destination_drops_the_flat_attributes(
    harness: Harness, new_destination: Destination | None
) -> None:
    # Given a note row whose destination is the four flat share_* attributes
    old = _old_note(harness)
    items = get_container().items
    note = items.get(old.note.tenant_id, old.note.ticket_id, old.note.item_id)
    changed_at = datetime(2030, 3, 5, 1, 2, 3, 456789, tzinfo=UTC)
    # When it is edited and its destination changed
    items.update(note, {"text": "x", "destination": new_destination, "updated_at": changed_at})
    # Then no share_* attribute is left, and it reads back with the new destination
    raw = _raw(harness, old.row["pk"]["S"], old.row["sk"]["S"])
    assert [name for name in SHARE_ATTRIBUTES if name in raw] == []
    assert ("destination" in raw) is (new_destination is not None)
    got = items.get(note.tenant_id, note.ticket_id, note.item_id)
    assert got == dataclasses.replace(
        old.note, text="x", destination=new_destination, updated_at=changed_at, version=2
    )


# -- the stream reactions ------------------------------------------------------------------------


def _texts_shown(harness: Harness, tenant: Tenant, ticket_id: str) -> dict[str, str]:
    reply = harness.get(f"/v1/tickets/{ticket_id}/items?limit=100", tenant.key)
    assert reply.status_code == 200, reply.body
    return {i["item_id"]: i["text"] for i in reply.json["items"] if i["kind"] == "note"}


def test_old_rows_flow_through_the_stream_reactions(harness: Harness) -> None:
    # Given an old-format outsourcing and an old-format note on its lead ticket
    deal = _old_deal(harness, accept_by=datetime(2031, 5, 1, 9, 0, 0, 1, tzinfo=UTC))
    before = _put_old_note(harness, deal.lead.tenant_id, deal.lead_ticket_id, None)
    # When the partner accepts over HTTP, and the stream (old images included) is pumped
    accepted = harness.post(f"/v1/outsourcings/{deal.outsourcing_id}/accept", deal.partner.key)
    assert accepted.status_code == 200, accepted.body
    insourced = accepted.json["insourced_ticket_id"]
    harness.pump.drain()
    # Then the catch-up copied the old note to the insourced ticket, with no failed record
    assert harness.pump.stats.failures == 0
    replica = replica_id(deal.outsourcing_id, before.note.item_id)
    assert _texts_shown(harness, deal.partner, insourced) == {replica: before.note.text}
    # And when a note is written in the old format while shared (share_* to the insourced ticket)
    shared = _put_old_note(
        harness,
        deal.lead.tenant_id,
        deal.lead_ticket_id,
        Destination(
            outsourcing_id=deal.outsourcing_id,
            side=Side.LEAD,
            peer_owner_id=deal.partner.tenant_id,
            peer_ticket_id=insourced,
        ),
        text="Parts ordered",
    )
    harness.pump.drain()
    # Then its stream record is replicated there by that destination
    assert harness.pump.stats.failures == 0
    assert _texts_shown(harness, deal.partner, insourced) == {
        replica: before.note.text,
        replica_id(deal.outsourcing_id, shared.note.item_id): "Parts ordered",
    }


# -- idempotency --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        StoredResponse(
            status=201,
            body={"ticket_id": "01J00000000000000000000TKT", "number": "T-20291103-0001"},
            headers={"Content-Type": "application/json", "Location": "/v1/tickets/x"},
        ),
        StoredResponse(status=204, body=None, headers={}),
    ],
    ids=["created", "no-content"],
)
def test_an_old_idempotent_response_is_replayed(harness: Harness, stored: StoredResponse) -> None:
    # Given an idempotency record whose response is a JSON string
    tenant_id, key, fingerprint = new_id(), "order-42/retry", "f" * 64
    _put(
        harness,
        {
            "pk": _s(f"T#{tenant_id}"),
            "sk": _s(keys.idempotency_sk(key)),
            "type": _s("idempotency"),
            "tenant_id": _s(tenant_id),
            "version": _n(1),
            "fingerprint": _s(fingerprint),
            "response": _json(
                {"status": stored.status, "body": stored.body, "headers": stored.headers}
            ),
            "expires_at": _n(int((utcnow() + timedelta(hours=1)).timestamp())),
        },
    )
    # When the same key is used again
    existing = get_container().idempotency.begin(tenant_id, key, fingerprint)
    # Then the stored response comes back as it was
    assert existing == IdempotencyRecord(fingerprint=fingerprint, response=stored)
