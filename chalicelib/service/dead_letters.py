"""Retrying the stream's dead letters: batches that failed every automatic retry.

The operator runs this once the cause is fixed. Each dead letter names a range of the stream;
those records are read again and handed to the same stream processing as live ones (every
reaction is idempotent, so a batch partly applied before is safe to run again). A letter is
removed only when its whole range was read and processed without failures. Every other letter
stays in the queue and is reported:
- ``trimmed``: the stream no longer holds the range (older than the stream's 24-hour retention,
  or the stream or shard is gone). Nothing is processed; the records can only be recovered from
  elsewhere (e.g. a point-in-time restore), so the operator decides and deletes the letter.
- ``incomplete``: the range could not be read to its end. Nothing is processed (a batch is only
  ever run whole); a later retry reads it again.
- ``still_failing``: the whole range was read but processing failed again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.observability import count, logger
from chalicelib.ports import DeadLetter, DeadLetterQueue, StreamRead, StreamReader


@dataclass
class RetryReport:
    """What one retry did, by letter, plus ``records`` processed and the failed record ids."""

    received: int = 0
    succeeded: int = 0
    still_failing: int = 0
    trimmed: int = 0
    incomplete: int = 0
    records: int = 0
    failures: list[str] = field(default_factory=list)


def _where(letter: DeadLetter) -> dict[str, str]:
    return {
        "stream_arn": letter.stream_arn,
        "shard": letter.shard_id,
        "first": letter.first_sequence_number,
        "last": letter.last_sequence_number,
    }


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
        read = reader.read(
            letter.stream_arn,
            letter.shard_id,
            letter.first_sequence_number,
            letter.last_sequence_number,
        )
        if read.status == StreamRead.TRIMMED:
            report.trimmed += 1
            logger.error(
                "dead letter range trimmed", extra={**_where(letter), "reason": read.reason}
            )
            count("DeadLetterTrimmed")
            continue
        if read.status != StreamRead.COMPLETE:
            report.incomplete += 1
            logger.warning(
                "dead letter range incomplete",
                extra={**_where(letter), "reason": read.reason, "records_read": len(read.records)},
            )
            count("DeadLetterIncomplete")
            continue
        report.records += len(read.records)
        failures = process({"Records": list(read.records)}).get("batchItemFailures", [])
        if failures:
            report.still_failing += 1
            report.failures.extend(str(f["itemIdentifier"]) for f in failures)
            logger.warning(
                "dead letter still failing", extra={**_where(letter), "failures": len(failures)}
            )
            continue
        queue.delete(letter)
        report.succeeded += 1
        count("DeadLetterRetried")
    logger.info("dead letters retried", extra=dataclasses.asdict(report))
    return report
