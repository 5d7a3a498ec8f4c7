"""Retrying dead letters on fakes: the whole range is read, or the letter is kept and reported.

The stream reader is the real ``DynamoStreamReader`` over a fake DynamoDB Streams client that
serves scripted ``GetRecords`` pages (``[]`` is an empty page), as DynamoDB Streams may.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo.stream_reader import MAX_EMPTY_PAGES, DynamoStreamReader
from chalicelib.ports import DeadLetter
from chalicelib.service.dead_letters import RetryReport, retry_dead_letters

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
# More GetRecords calls than any correct read of these shards makes: a reader that loops forever
# fails instead of hanging.
RUNAWAY = 10 * MAX_EMPTY_PAGES


@dataclass
class Shard:
    """Scripted pages of one shard. An open shard serves empty pages after its last one."""

    pages: list[list[int]]
    closed: bool = False
    iterator_error: str | None = None  # raised by GetShardIterator
    records_error: str | None = None  # raised by GetRecords once the pages are used up


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


def _record(sequence: int) -> dict[str, Any]:
    return {
        "eventID": f"e{sequence}",
        "eventName": "MODIFY",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=UTC),
            "Keys": {"pk": {"S": f"k{sequence}"}},
            "NewImage": {"pk": {"S": f"k{sequence}"}},
            "SequenceNumber": str(sequence),
        },
    }


class FakeStreams:
    """``get_shard_iterator`` / ``get_records`` over scripted shards.

    ``AT_SEQUENCE_NUMBER`` starts after the last page that ends before the sequence number, so
    the empty pages in front of a range are served too, and drops that page's earlier records.
    """

    def __init__(self, shards: dict[str, Shard]) -> None:
        self.shards = shards
        self.get_records_calls = 0

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["ShardIteratorType"] == "AT_SEQUENCE_NUMBER"
        shard = self.shards[kwargs["ShardId"]]
        if shard.iterator_error:
            raise _error(shard.iterator_error, "GetShardIterator")
        target = int(kwargs["SequenceNumber"])
        start = 0
        for index, page in enumerate(shard.pages):
            if page and max(page) < target:
                start = index + 1
        return {"ShardIterator": json.dumps([kwargs["ShardId"], start, target])}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.get_records_calls += 1
        assert self.get_records_calls <= RUNAWAY, "the reader does not stop"
        shard_id, index, target = json.loads(ShardIterator)
        shard = self.shards[shard_id]
        if index >= len(shard.pages) and shard.records_error:
            raise _error(shard.records_error, "GetRecords")
        page = shard.pages[index] if index < len(shard.pages) else []
        answer: dict[str, Any] = {"Records": [_record(s) for s in page if s >= target]}
        if not (shard.closed and index >= len(shard.pages) - 1):
            following = min(index + 1, len(shard.pages))
            answer["NextShardIterator"] = json.dumps([shard_id, following, target])
        return answer


class FakeDeadLetterQueue:
    """Letters stay until deleted, as in SQS (where they reappear after the visibility timeout)."""

    def __init__(self, letters: Sequence[DeadLetter]) -> None:
        self.letters = list(letters)

    def receive(self, max_messages: int) -> Sequence[DeadLetter]:
        return self.letters[:max_messages]

    def delete(self, letter: DeadLetter) -> None:
        self.letters.remove(letter)

    def __contains__(self, letter: object) -> bool:
        return letter in self.letters

    def __len__(self) -> int:
        return len(self.letters)


@dataclass
class Processing:
    """The stream processing: records every batch; fails the sequence numbers in ``failing``."""

    failing: set[int] = field(default_factory=set)
    batches: list[list[int]] = field(default_factory=list)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in batch["Records"]]
        self.batches.append(sequences)
        failed = [{"itemIdentifier": str(s)} for s in sequences if s in self.failing]
        return {"batchItemFailures": failed}

    @property
    def records(self) -> list[int]:
        return [s for batch in self.batches for s in batch]


def _letter(first: int, last: int, shard_id: str = "shard-1") -> DeadLetter:
    return DeadLetter(f"receipt-{shard_id}-{first}", ARN, shard_id, str(first), str(last))


def _retry(streams: FakeStreams, queue: FakeDeadLetterQueue, processing: Processing) -> RetryReport:
    return retry_dead_letters(queue, DynamoStreamReader(streams, "us-east-1"), processing)


@pytest.mark.parametrize("empty_pages", [1, 3, MAX_EMPTY_PAGES - 1])
def test_records_behind_empty_pages_are_all_processed_and_the_letter_removed(
    empty_pages: int,
) -> None:
    # Given a shard that answers with empty pages before the letter's records
    streams = FakeStreams({"shard-1": Shard([[]] * empty_pages + [[1000, 1001], [1002]])})
    letter = _letter(1000, 1002)
    queue, processing = FakeDeadLetterQueue([letter]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then every record of the range is processed, once, and the letter is gone
    assert processing.batches == [[1000, 1001, 1002]]
    assert letter not in queue
    assert (report.succeeded, report.records, report.trimmed, report.incomplete) == (1, 3, 0, 0)


def test_a_range_across_pages_is_joined_and_ends_at_its_last_record() -> None:
    # Given a range 999..1002 spread over pages (one empty), the last page running past it
    streams = FakeStreams(
        {"shard-1": Shard([[997, 998, 999], [], [1000, 1001], [1002, 1003, 1004], [1005]])}
    )
    queue, processing = FakeDeadLetterQueue([_letter(999, 1002)]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then one batch holds exactly the range, in order, and nothing past it was asked for
    assert processing.batches == [[999, 1000, 1001, 1002]]
    assert streams.get_records_calls == 4  # the page holding 999, the empty one, two more
    assert report.records == 4
    assert len(queue) == 0


def test_records_after_the_last_sequence_number_are_excluded_when_it_names_no_record() -> None:
    # Given sparse sequence numbers (as DynamoDB's are) and a range ending between two records
    streams = FakeStreams({"shard-1": Shard([[], [1000, 1005], [], [1010, 1015]])})
    queue, processing = FakeDeadLetterQueue([_letter(1000, 1012)]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then the batch stops before the first record past the range
    assert processing.batches == [[1000, 1005, 1010]]
    assert report.succeeded == 1


def test_a_closed_shard_is_read_to_its_end() -> None:
    # Given a closed shard whose last records are the letter's range, with empty pages between
    streams = FakeStreams({"shard-1": Shard([[], [1000], [], [1001]], closed=True)})
    queue, processing = FakeDeadLetterQueue([_letter(1000, 1001)]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then the whole range is processed and the letter removed
    assert processing.records == [1000, 1001]
    assert report.succeeded == 1
    assert len(queue) == 0


@pytest.mark.parametrize("code", ["TrimmedDataAccessException", "ResourceNotFoundException"])
def test_a_range_the_stream_no_longer_holds_is_reported_and_kept(code: str) -> None:
    # Given a letter whose range is past the stream's retention (or whose stream is gone)
    streams = FakeStreams({"shard-1": Shard([[1000, 1001]], iterator_error=code)})
    letter = _letter(1000, 1001)
    queue, processing = FakeDeadLetterQueue([letter]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then nothing is processed, the letter stays, and the report says trimmed
    assert processing.batches == []
    assert letter in queue
    assert (report.received, report.trimmed, report.succeeded, report.incomplete) == (1, 1, 0, 0)


def test_a_range_trimmed_while_it_is_read_is_reported_and_kept() -> None:
    # Given a shard that is trimmed after its first page was read
    streams = FakeStreams({"shard-1": Shard([[1000]], records_error="TrimmedDataAccessException")})
    letter = _letter(1000, 1001)
    queue, processing = FakeDeadLetterQueue([letter]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then the half-read range is not processed and the letter stays
    assert processing.batches == []
    assert letter in queue
    assert report.trimmed == 1


def test_a_closed_shard_without_the_range_is_reported_and_kept() -> None:
    # Given a closed shard that holds nothing at or after the letter's first record
    streams = FakeStreams({"shard-1": Shard([[], [990]], closed=True)})
    letter = _letter(1000, 1001)
    queue, processing = FakeDeadLetterQueue([letter]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then the letter is kept and reported, never deleted as empty
    assert letter in queue
    assert processing.batches == []
    assert report.trimmed == 1


@pytest.mark.parametrize("pages", [[[1000]], []], ids=["records-then-empty", "only-empty"])
def test_a_range_that_cannot_be_read_to_its_end_is_reported_and_kept(
    pages: list[list[int]],
) -> None:
    # Given an open shard that keeps answering with empty pages before the letter's last record
    streams = FakeStreams({"shard-1": Shard(pages)})
    letter = _letter(1000, 1002)
    queue, processing = FakeDeadLetterQueue([letter]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then nothing is processed, the letter stays, and the reader gave up after the cap
    assert processing.batches == []
    assert letter in queue
    assert streams.get_records_calls == len(pages) + MAX_EMPTY_PAGES
    assert (report.incomplete, report.trimmed, report.succeeded) == (1, 0, 0)


def test_an_expired_iterator_is_reported_as_incomplete_and_kept() -> None:
    # Given an iterator that expires in the middle of the range
    streams = FakeStreams({"shard-1": Shard([[1000]], records_error="ExpiredIteratorException")})
    letter = _letter(1000, 1001)
    queue, processing = FakeDeadLetterQueue([letter]), Processing()
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then the letter stays, nothing processed
    assert letter in queue
    assert processing.batches == []
    assert report.incomplete == 1


def test_a_batch_that_fails_again_keeps_its_letter() -> None:
    # Given a fully readable range (behind an empty page) whose second record still fails
    streams = FakeStreams({"shard-1": Shard([[], [1000, 1001]])})
    letter = _letter(1000, 1001)
    queue, processing = FakeDeadLetterQueue([letter]), Processing(failing={1001})
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then the whole batch was run, and the letter stays with the failed record reported
    assert processing.batches == [[1000, 1001]]
    assert letter in queue
    assert (report.still_failing, report.succeeded, report.failures) == (1, 0, ["1001"])


def test_the_report_counts_each_outcome_separately_and_is_json() -> None:
    # Given four letters: one that succeeds, one trimmed, one incomplete, one still failing
    streams = FakeStreams(
        {
            "ok": Shard([[], [1000, 1001]]),
            "trimmed": Shard([[2000]], iterator_error="TrimmedDataAccessException"),
            "open": Shard([[3000]]),
            "failing": Shard([[4000, 4001]]),
        }
    )
    letters = [
        _letter(1000, 1001, "ok"),
        _letter(2000, 2000, "trimmed"),
        _letter(3000, 3001, "open"),
        _letter(4000, 4001, "failing"),
    ]
    queue, processing = FakeDeadLetterQueue(letters), Processing(failing={4000})
    # When the operator retries
    report = _retry(streams, queue, processing)
    # Then only the successful letter is gone, and the report says what happened to each
    assert queue.letters == letters[1:]
    assert json.loads(json.dumps(dataclasses.asdict(report))) == {
        "received": 4,
        "succeeded": 1,
        "still_failing": 1,
        "trimmed": 1,
        "incomplete": 1,
        "records": 4,
        "failures": ["4000"],
    }


def test_each_kept_letter_is_logged_with_its_range(caplog: pytest.LogCaptureFixture) -> None:
    # Given a trimmed letter and an incomplete one
    streams = FakeStreams(
        {
            "trimmed": Shard([[2000]], iterator_error="TrimmedDataAccessException"),
            "open": Shard([[3000]]),
        }
    )
    letters = [_letter(2000, 2000, "trimmed"), _letter(3000, 3001, "open")]
    # When the operator retries
    _retry(streams, FakeDeadLetterQueue(letters), Processing())
    # Then each is logged with a short message and the letter's range as fields
    by_message = {record.getMessage(): record for record in caplog.records}
    trimmed = by_message["dead letter range trimmed"]
    assert (trimmed.levelname, trimmed.shard, trimmed.first, trimmed.last, trimmed.reason) == (
        "ERROR",
        "trimmed",
        "2000",
        "2000",
        "TrimmedDataAccessException",
    )
    incomplete = by_message["dead letter range incomplete"]
    assert (incomplete.shard, incomplete.reason, incomplete.records_read) == (
        "open",
        "empty_pages",
        1,
    )
