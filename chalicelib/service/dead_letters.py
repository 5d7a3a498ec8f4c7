"""Retrying the stream's dead letters: batches that failed every automatic retry.

The operator runs this once the cause is fixed. Each dead letter names a range of the stream;
those records are read again and handed to the same stream processing as live ones (every
reaction is idempotent, so a batch partly applied before is safe to run again). A letter is
removed only when its whole batch succeeds; one whose records the stream no longer holds (older
than the stream's retention) is removed and reported as lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.observability import count, logger
from chalicelib.ports import DeadLetterQueue, StreamReader


@dataclass
class RetryReport:
    received: int = 0
    succeeded: int = 0
    still_failing: int = 0
    lost: int = 0
    records: int = 0
    failures: list[str] = field(default_factory=list)


def retry_dead_letters(
    queue: DeadLetterQueue,
    reader: StreamReader,
    process: Callable[[dict[str, Any]], dict[str, Any]],
    max_messages: int = 10,
) -> RetryReport:
    """Process up to ``max_messages`` dead-lettered batches again."""
    report = RetryReport()
    for letter in queue.receive(max_messages):
        report.received += 1
        records = reader.read(
            letter.stream_arn,
            letter.shard_id,
            letter.first_sequence_number,
            letter.last_sequence_number,
        )
        if not records:
            report.lost += 1
            logger.error(
                "dead letter beyond stream retention",
                extra={"first": letter.first_sequence_number, "shard": letter.shard_id},
            )
            queue.delete(letter)
            continue
        report.records += len(records)
        failures = process({"Records": records}).get("batchItemFailures", [])
        if failures:
            report.still_failing += 1
            report.failures.extend(str(f["itemIdentifier"]) for f in failures)
            continue
        queue.delete(letter)
        report.succeeded += 1
        count("DeadLetterRetried")
    logger.info("dead letters retried", extra=report.__dict__)
    return report
