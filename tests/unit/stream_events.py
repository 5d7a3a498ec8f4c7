"""Builds Lambda DynamoDB stream events from records serialized by the real PynamoDB models."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.items import item_record
from chalicelib.adapters.dynamo.tickets import TicketRecord
from chalicelib.domain.clock import utcnow
from chalicelib.domain.ids import derived_id, new_id
from chalicelib.domain.items import Note

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


class StreamEventBuilder:
    def __init__(self) -> None:
        self.tenant_id = new_id()
        self.ticket_id = new_id()
        self._seq = 1000
        self._base = new_id()

    def item_id(self, name: str) -> str:
        return derived_id(self._base, name)

    def _record(
        self, name: str, new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        self._seq += 1
        image = new or old or {}
        return {
            "eventID": str(self._seq),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": ARN,
            "dynamodb": {
                "ApproximateCreationDateTime": 1764000000,
                "Keys": {"pk": image["pk"], "sk": image["sk"]},
                **({"NewImage": new} if new else {}),
                **({"OldImage": old} if old else {}),
                "SequenceNumber": str(self._seq),
                "SizeBytes": 100,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }

    def note_inserted(self, name: str, text: str = "note") -> dict[str, Any]:
        now = utcnow()
        note = Note(
            tenant_id=self.tenant_id,
            ticket_id=self.ticket_id,
            item_id=self.item_id(name),
            text=text,
            created_at=now,
            updated_at=now,
        )
        record = item_record(note)
        record.version = 1
        return self._record("INSERT", record.serialize(), None)

    def ticket_inserted(self, title: str) -> dict[str, Any]:
        now = utcnow()
        record = TicketRecord(
            pk=keys.ticket_pk(self.tenant_id, self.ticket_id),
            sk=keys.TICKET_SK,
            tenant_id=self.tenant_id,
            ticket_id=self.ticket_id,
            number="T20261125.0001",
            title=title,
            priority="medium",
            status="new",
            currency="USD",
            created_at=now,
            updated_at=now,
            version=1,
        )
        return self._record("INSERT", record.serialize(), None)

    def other_record(self) -> dict[str, Any]:
        image = {
            "pk": {"S": keys.tenant_pk(self.tenant_id)},
            "sk": {"S": keys.ticket_counter_sk(date(2026, 11, 25))},
            "type": {"S": "counter"},
            "value": {"N": "3"},
        }
        return self._record("MODIFY", image, image)

    @staticmethod
    def batch(*records: dict[str, Any]) -> dict[str, Any]:
        return {"Records": list(records)}
