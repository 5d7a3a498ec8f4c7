"""Synchronisation reactions, run by the stream handler.

* an item change made while the outsourcing was in progress → the replica on the other side
  (one conditional write; replays and old changes write nothing);
* the work (re)starts (accepted, or a completion rejected) → both tickets' items are caught up;
* the lead edits title, description, priority or complete-by → the insourced copy follows.
"""

from __future__ import annotations

from chalicelib.domain.events import ItemChanged, OutsourcingChanged, TicketChanged
from chalicelib.domain.items import Attachment, Item, Origin
from chalicelib.domain.outsourcing import Side, SyncTarget, syncs
from chalicelib.domain.sync import replica_of
from chalicelib.domain.tickets import SYNCED_FIELDS
from chalicelib.observability import count, logger
from chalicelib.ports import FileStore, ItemRepository, TicketRepository
from chalicelib.service.items import all_items


def _visible(item: Item | None) -> bool:
    return item is not None and not item.deleted and not item.internal


def replicate(items: ItemRepository, files: FileStore, item: Item, target: SyncTarget) -> bool:
    """Write the other side's copy of ``item``; attachments get their own copy of the file."""
    replica = replica_of(item, target)
    written = items.put_replica(replica)
    if not written:
        return False  # a replay or an older change: nothing to do, not even the file
    count("ItemSynced")
    if isinstance(item, Attachment) and isinstance(replica, Attachment) and not replica.deleted:
        try:
            files.copy(item.object_key, replica.object_key)
        except Exception:
            # Not uploaded yet, or storage unavailable: the replica is in place, and its file is
            # copied when it is first downloaded.
            logger.info("attachment file not copied yet", extra={"item_id": item.item_id})
    return True


def on_item_changed(items: ItemRepository, files: FileStore, event: ItemChanged) -> None:
    """Replicate a local item's change that was made while its outsourcing was in progress."""
    item = event.after
    if item is None or item.origin is not Origin.LOCAL or item.shared_with is None:
        return  # replicas never echo back; unshared changes stay here
    if not (_visible(item) or _visible(event.before)):
        return  # internal or deleted before and after: nothing the other side may see changed
    replicate(items, files, item, item.shared_with)


def catch_up(
    tickets: TicketRepository,
    items: ItemRepository,
    files: FileStore,
    outsourcing_id: str,
    lead_tenant_id: str,
    lead_ticket_id: str,
) -> int:
    """Bring both tickets' shareable items (and the lead's ticket fields) to the other side.

    Runs when work starts or resumes; every write is conditional on the origin version, so it is
    idempotent and never overwrites a newer replica.
    """
    lead_ticket = tickets.get(lead_tenant_id, lead_ticket_id)
    if lead_ticket.outsourcing_id != outsourcing_id or lead_ticket.sync_target() is None:
        # Not (or no longer) in progress: a late or replayed start-of-work record brings nothing.
        return 0
    if lead_ticket.peer_owner_id is None or lead_ticket.peer_ticket_id is None:
        return 0
    sides = (
        (
            lead_tenant_id,
            lead_ticket_id,
            Side.LEAD,
            lead_ticket.peer_owner_id,
            lead_ticket.peer_ticket_id,
        ),
        (
            lead_ticket.peer_owner_id,
            lead_ticket.peer_ticket_id,
            Side.RECEIVER,
            lead_tenant_id,
            lead_ticket_id,
        ),
    )
    written = 0
    for owner, ticket_id, side, peer_owner, peer_ticket in sides:
        target = SyncTarget(
            outsourcing_id=outsourcing_id,
            side=side,
            peer_owner_id=peer_owner,
            peer_ticket_id=peer_ticket,
        )
        for item in all_items(items, owner, ticket_id, include_deleted=True):
            # Every local item, hidden ones too: their tombstones hide earlier replicas.
            if item.origin is Origin.LOCAL:
                written += int(replicate(items, files, item, target))
    fields = {name: getattr(lead_ticket, name) for name in SYNCED_FIELDS}
    tickets.apply_lead_fields(
        lead_ticket.peer_owner_id, lead_ticket.peer_ticket_id, fields, lead_ticket.version
    )
    logger.info(
        "outsourcing caught up", extra={"outsourcing_id": outsourcing_id, "written": written}
    )
    return written


def on_outsourcing_changed(
    tickets: TicketRepository,
    items: ItemRepository,
    files: FileStore,
    event: OutsourcingChanged,
) -> None:
    """When work starts or resumes, catch both sides up (reacting to the lead's copy only)."""
    after = event.after
    if after is None or after.side is not Side.LEAD:
        return
    before_status = event.before.status if event.before else None
    if after.status is before_status:
        return
    if syncs(after.status):
        catch_up(
            tickets, items, files, after.outsourcing_id, after.lead_tenant_id, after.lead_ticket_id
        )


def on_ticket_changed(tickets: TicketRepository, event: TicketChanged) -> None:
    """Lead edits to title, description, priority and complete-by reach the insourced copy."""
    before, after = event.before, event.after
    if after is None or after.outsourcing_side is not Side.LEAD:
        return
    target = after.sync_target()
    if target is None:
        return
    if before is not None and all(
        getattr(before, name) == getattr(after, name) for name in SYNCED_FIELDS
    ):
        return
    fields = {name: getattr(after, name) for name in SYNCED_FIELDS}
    if tickets.apply_lead_fields(
        target.peer_owner_id, target.peer_ticket_id, fields, after.version
    ):
        count("TicketFieldsSynced")
