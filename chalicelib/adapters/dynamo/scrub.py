"""Scrubbing the content out of hidden replicas written before tombstones carried none.

Until 2026-12 a hidden replica (its origin made internal or deleted) kept the whole item, only
flagged ``deleted``, in the other tenant's partition. New hides write a :class:`TombstoneRecord`
instead. This one-off job finds the old ones (a Scan: run by an operator, never on a request or
stream path) and replaces each with its tombstone, conditional on it being unchanged since it
was read, so it never races a newer change of the same replica. Running it again finds nothing.
``python -m infra.aws.scrub_tombstones`` runs it against a deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import AttributeNullError, PutError
from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamo.items import ItemRecord, TombstoneRecord
from chalicelib.adapters.dynamo.operations import condition_failed
from chalicelib.adapters.dynamo.table import Record
from chalicelib.domain.items import Origin
from chalicelib.observability import logger

ITEM_TYPES = ("note", "time_entry", "charge", "attachment")


@dataclass
class ScrubReport:
    scanned: int = 0
    scrubbed: int = 0
    changed_meanwhile: int = 0
    incomplete: int = 0  # lacking an origin id or its outsourcing: reported, left as they are


def _content_tombstones(page_size: int) -> Iterator[ItemRecord]:
    condition = (
        (ItemRecord.origin == Origin.PARTNER)
        & (ItemRecord.deleted == True)  # noqa: E712 - a DynamoDB condition
        & Path("type").is_in(*ITEM_TYPES)
    )
    for record in Record.scan(condition, page_size=page_size):
        if isinstance(record, ItemRecord):
            yield record


def scrub_content_tombstones(page_size: int = 100) -> ScrubReport:
    """Replace every hidden replica that still holds content with its content-free tombstone."""
    report = ScrubReport()
    for old in _content_tombstones(page_size):
        report.scanned += 1
        tombstone = TombstoneRecord(
            pk=old.pk,
            sk=old.sk,
            tenant_id=old.tenant_id,
            ticket_id=old.ticket_id,
            item_id=old.item_id,
            hidden_kind=old.kind,
            origin_tenant=old.origin_tenant,
            origin_ticket_id=old.origin_ticket_id,
            origin_item_id=old.origin_item_id,
            origin_version=old.origin_version,
            outsourcing_id=old.outsourcing_id,
        )
        tombstone.version = int(old.version or 1) - 1  # the put keeps the stored version
        unchanged: Any = (ItemRecord.origin_version == old.origin_version) & (
            ItemRecord.deleted == True  # noqa: E712
        )
        try:
            tombstone.save(condition=unchanged, add_version_condition=False)
        except AttributeNullError:
            report.incomplete += 1
            logger.error("hidden replica without its origin", extra={"pk": old.pk, "sk": old.sk})
            continue
        except PutError as exc:
            if not condition_failed(exc):
                raise
            report.changed_meanwhile += 1  # a newer change rewrote it: nothing left to scrub
            continue
        report.scrubbed += 1
    logger.info("content tombstones scrubbed", extra=report.__dict__)
    return report
