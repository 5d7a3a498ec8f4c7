"""The stream Blueprint: one consumer of the main table's stream.

The stream ARN given to Chalice is a placeholder: the deployment's merge template
(``infra/aws/resources.json``) replaces the event source mapping's ARN with the table's real
stream and adds the settings Chalice cannot express (partial batch responses, retries,
bisecting, record age, on-failure destination).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from chalice.app import Blueprint, DynamoDBEvent

from chalicelib.container import Container, get_container
from chalicelib.domain.events import ItemChanged, OutsourcingChanged, TicketChanged
from chalicelib.service import changes, fees, items, notifications, replication
from chalicelib.streams.dispatcher import BatchReaction, Dispatcher, process_batch

STREAM_ARN_PLACEHOLDER = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/outsourcing-main/stream/replaced-at-package"
)

streams = Blueprint(__name__)


def build_dispatcher(container: Container) -> Dispatcher:
    """Every reaction of the service, by domain event type: the one place that wires them."""
    replicating = container.replication_ports
    return Dispatcher(
        {
            ItemChanged: [
                partial(replication.on_item_changed, replicating),
                partial(items.remove_deleted_attachment_file, container.files),
            ],
            OutsourcingChanged: [
                partial(replication.on_outsourcing_changed, replicating),
                partial(fees.meter_acceptance, container.fee_ports),
                partial(notifications.notify_transitions, container.notification_ports),
            ],
            TicketChanged: [partial(replication.on_ticket_changed, replicating)],
        },
        batched=partial(_change_feed, container),
    )


def _change_feed(container: Container) -> dict[type, list[BatchReaction]]:
    """The change feed logs each ticket, item and outsourcing record in its owner's feed, with
    the record's identity (to log it once) and time, per owner once at the end of the batch."""
    feed = changes.ChangeBatch(container.change_ports)
    return {ItemChanged: [feed], OutsourcingChanged: [feed], TicketChanged: [feed]}


@streams.on_dynamodb_record(
    stream_arn=STREAM_ARN_PLACEHOLDER,
    batch_size=100,
    starting_position="TRIM_HORIZON",
    name="table_stream",
)
def on_table_change(event: DynamoDBEvent) -> dict[str, Any]:
    """Lambda entry point for the table's stream: returns partial batch failures."""
    return process_batch(event.to_dict(), event.context, build_dispatcher(get_container()))
