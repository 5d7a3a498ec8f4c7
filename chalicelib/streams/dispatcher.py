"""Record → domain event → reactions, with partial batch failures.

Each batch goes through Powertools' ``BatchProcessor``: a failing record is reported in
``batchItemFailures`` and Lambda (or the local pump) retries from the lowest failed sequence
number, redelivering everything after it. So once a record fails, every later record of the batch
is reported failed without running: nothing is applied out of order, and nothing is applied
twice just because a neighbour failed. (Reactions are still idempotent: Lambda delivers at least
once, and a whole batch can be retried after a timeout.)

A batch reaction (the change feed) collects the batch's events and does its work once at the end
of the batch; if that fails for a record, that record and every later one are reported failed as
well, so the retry starts there (what was done before it is skipped as already done).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.adapters.dynamo.stream_events import decode, record_key, source_of
from chalicelib.domain.changes import StreamSource
from chalicelib.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )

Reaction = Callable[[Any], None]


class BatchReaction(Protocol):
    """A reaction that collects a batch's events (with each record's identity, time and place
    in the batch) and does its work once at the end of the batch (the change feed)."""

    def add(self, event: Any, source: StreamSource, position: int) -> None: ...

    def flush(self) -> int | None:
        """Do the work; the position of the earliest record not done, or None."""
        ...


class EarlierChangeFailedError(Exception):
    """An earlier record of the batch failed; this one waits for the retry that starts there."""


class Dispatcher:
    """Routes each decoded domain event to the reactions registered for its type."""

    def __init__(
        self,
        reactions: Mapping[type, Sequence[Reaction]],
        batched: Callable[[], Mapping[type, Sequence[BatchReaction]]] | None = None,
    ) -> None:
        self._reactions = reactions
        self._new_batch = batched or dict
        self._batched: Mapping[type, Sequence[BatchReaction]] = {}
        self._positions: list[str] = []

    def begin(self) -> None:
        """Start a batch: the batch reactions start empty."""
        self._batched = self._new_batch()
        self._positions = []

    def dispatch(self, raw: dict[str, Any]) -> int:
        """Run every reaction for one raw stream record (and hand it to the batch reactions);
        returns how many ran."""
        event = decode(raw)
        if event is None:
            return 0
        reactions = self._reactions.get(type(event), ())
        for reaction in reactions:
            reaction(event)
        batched = self._batched.get(type(event), ())
        if batched:
            position = len(self._positions)
            self._positions.append(str(raw.get("dynamodb", {}).get("SequenceNumber", "")))
            source = source_of(raw)
            for batch_reaction in batched:
                batch_reaction.add(event, source, position)
        return len(reactions) + len(batched)

    def finish(self) -> str | None:
        """End the batch: run the batch reactions' work; the sequence number of the earliest
        record whose work failed, or None."""
        flushed = {id(r): r for group in self._batched.values() for r in group}.values()
        failed = [p for p in (r.flush() for r in flushed) if p is not None]
        self._batched = {}
        return self._positions[min(failed)] if failed else None


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
    dispatcher.begin()

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

    response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
        event=event,
        record_handler=handle,
        processor=processor,
        context=context,
    )
    return _with_batch_failures(event, response, dispatcher.finish())


def _with_batch_failures(
    event: dict[str, Any], response: dict[str, Any], failed_at: str | None
) -> dict[str, Any]:
    """Report the earliest record whose batch work failed, and every later one, as failed too:
    the retry then starts there (the records before it are done)."""
    if failed_at is None:
        return response
    reported = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    sequences = [r.get("dynamodb", {}).get("SequenceNumber", "") for r in event.get("Records", [])]
    logger.warning("batch work failed", extra={"sequence_number": failed_at})
    failing = [s for s in sequences if s in reported or int(s) >= int(failed_at)]
    return {**response, "batchItemFailures": [{"itemIdentifier": s} for s in failing]}
