"""Record → domain event → reactions, with partial batch failures.

Each batch goes through Powertools' ``BatchProcessor``: a failing record is reported in
``batchItemFailures`` and Lambda (or the local pump) retries from the lowest failed sequence
number, redelivering everything after it. So once a record fails, every later record of the batch
is reported failed without running: nothing is applied out of order, and nothing is applied
twice just because a neighbour failed. (Reactions are still idempotent: Lambda delivers at least
once, and a whole batch can be retried after a timeout.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamo.stream_events import decode, record_key, source_of
from chalicelib.domain.changes import StreamSource
from chalicelib.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )

Reaction = Callable[[Any], None]
# A reaction that also needs the stream record's identity and time (the change feed).
SourcedReaction = Callable[[Any, StreamSource], None]


class EarlierChangeFailedError(Exception):
    """An earlier record of the batch failed; this one waits for the retry that starts there."""


class Dispatcher:
    """Routes each decoded domain event to the reactions registered for its type."""

    def __init__(
        self,
        reactions: Mapping[type, Sequence[Reaction]],
        sourced: Mapping[type, Sequence[SourcedReaction]] | None = None,
    ) -> None:
        self._reactions = reactions
        self._sourced = sourced or {}

    def dispatch(self, raw: dict[str, Any]) -> int:
        """Run every reaction for one raw stream record (those taking the record's identity
        last); returns how many ran."""
        event = decode(raw)
        if event is None:
            return 0
        reactions = self._reactions.get(type(event), ())
        for reaction in reactions:
            reaction(event)
        sourced = self._sourced.get(type(event), ())
        if sourced:
            source = source_of(raw)
            for sourced_reaction in sourced:
                sourced_reaction(event, source)
        return len(reactions) + len(sourced)


def process_batch(event: dict[str, Any], context: Any, dispatcher: Dispatcher) -> dict[str, Any]:
    """Process a Lambda DynamoDB stream event; returns ``{"batchItemFailures": [...]}``."""
    # Imported here: only the stream function needs it, and the API's cold start should not pay.
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    # Whole-batch failures are reported like partial ones, so the retry starts at the first record.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    first_failure: list[tuple[str, str]] = []

    def handle(record: DynamoDBRecord) -> None:
        raw = record.raw_event
        if first_failure:
            raise EarlierChangeFailedError(str(first_failure[0]))
        try:
            dispatcher.dispatch(raw)
        except Exception:
            first_failure.append(record_key(raw))
            logger.exception(
                "stream record failed",
                extra={"sequence_number": raw.get("dynamodb", {}).get("SequenceNumber")},
            )
            raise

    return process_partial_response(  # type: ignore[return-value]
        event=event,
        record_handler=handle,
        processor=processor,
        context=context,
    )
