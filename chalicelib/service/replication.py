"""Replication: the stream reactions that keep both sides of an outsourcing in step.

What travels is decided in ``domain.sync`` (the rule book); this module only carries it out:

* an item change stamped with a destination → the other side's replica (one conditional write;
  replays and old changes write nothing); an unstamped one is checked against its ticket as it
  is now, because it may have been stamped from a read made just before the work started;
* the work starts or resumes → both tickets' items are caught up;
* the lead edits a followed field → the insourced copy follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain import sync
from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.events import ItemChanged, OutsourcingChanged, TicketChanged
from chalicelib.domain.items import Attachment, Item
from chalicelib.domain.outsourcing import Outsourcing, Side
from chalicelib.domain.sync import Tombstone
from chalicelib.observability import count, logger
from chalicelib.ports import FileStore, ItemRepository, TicketRepository
from chalicelib.service.lookup import all_items


@dataclass(frozen=True, slots=True)
class ReplicationPorts:
    tickets: TicketRepository
    items: ItemRepository
    files: FileStore


def replicate(ports: ReplicationPorts, item: Item, destination: sync.Destination) -> bool:
    """Write the other side's copy of ``item`` (its tombstone when hidden); attachments get
    their own copy of the file."""
    replica = sync.replica_of(item, destination)
    if not ports.items.put_replica(replica):
        return False  # a replay or an older change: nothing to do, not even the file
    count("ItemSynced")
    if isinstance(item, Attachment) and isinstance(replica, Attachment):
        try:
            ports.files.copy(item.object_key, replica.object_key)
        except Exception:
            # Not uploaded yet, or storage unavailable: the replica is in place, and its file is
            # copied when it is first downloaded.
            logger.info("attachment file not copied yet", extra={"item_id": item.item_id})
    return True


def on_item_changed(ports: ReplicationPorts, event: ItemChanged) -> None:
    """Replicate a local item's change that was made while its outsourcing was in progress.

    A change without a destination is looked at once more against its ticket as it is now (a
    strongly consistent read): it may have been stamped from a read made just before the
    receiver accepted, and the catch-up that followed the acceptance may have run before the
    item was written. Either way the replica is the same conditional write, so nothing is
    written twice in effect.
    """
    item, before = event.after, event.before
    if not isinstance(item, Item) or isinstance(before, Tombstone):
        return  # a removed row, or a replica's own tombstone: nothing to send
    if not sync.change_travels(before, item):
        return  # replicas never echo back; hidden before and after changes nothing there
    destination = item.destination
    if destination is None:
        try:
            ticket = ports.tickets.get(item.tenant_id, item.ticket_id)
        except NotFoundError:
            return
        destination = sync.destination_of(ticket)
        if destination is None:
            return  # the ticket's work is not in progress: the change stays here
        count("ItemSyncedLate")
    replicate(ports, item, destination)


def catch_up(ports: ReplicationPorts, lead_copy: Outsourcing) -> int:
    """Bring both tickets' local items (and the lead's followed fields) to the other side.

    Runs when work starts or resumes; every write is conditional on the origin version, so it is
    idempotent and never overwrites a newer replica. Hidden items are caught up too: their
    tombstones hide replicas written before they were hidden.
    """
    outsourcing_id = lead_copy.outsourcing_id
    lead_ticket = ports.tickets.get(lead_copy.lead_tenant_id, lead_copy.lead_ticket_id)
    lead = sync.destination_of(lead_ticket)
    if lead_ticket.outsourcing_id != outsourcing_id or lead is None:
        # Not (or no longer) in progress: a late or replayed start-of-work record brings nothing.
        return 0
    written = 0
    for destination, owner, ticket_id in sync.destinations_of_both(lead_ticket, lead_copy):
        for item in all_items(ports.items, owner, ticket_id, include_deleted=True):
            if sync.travels(item):
                written += int(replicate(ports, item, destination))
    ports.tickets.apply_lead_fields(
        lead.peer_owner_id, lead.peer_ticket_id, sync.lead_fields(lead_ticket), lead_ticket.version
    )
    logger.info(
        "outsourcing caught up", extra={"outsourcing_id": outsourcing_id, "written": written}
    )
    return written


def on_outsourcing_changed(ports: ReplicationPorts, event: OutsourcingChanged) -> None:
    """When work starts or resumes, catch both sides up (reacting to the lead's copy only)."""
    after = event.after
    if after is None or after.side is not Side.LEAD:
        return
    if sync.starts_work(event.before.status if event.before else None, after.status):
        catch_up(ports, after)


def on_ticket_changed(ports: ReplicationPorts, event: TicketChanged) -> None:
    """Lead edits to the followed fields reach the insourced copy."""
    after = event.after
    destination = sync.follows_lead(event.before, after)
    if after is None or destination is None:
        return
    if ports.tickets.apply_lead_fields(
        destination.peer_owner_id,
        destination.peer_ticket_id,
        sync.lead_fields(after),
        after.version,
    ):
        count("TicketFieldsSynced")
