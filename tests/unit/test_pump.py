"""The local stream pump: Lambda's delivery rules for DynamoDB streams, on a fake stream."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.pump import FileCheckpoints, MemoryCheckpoints, StreamPump

ARN = "arn:aws:dynamodb:us-east-1:1:table/t/stream/x"


class FakeStreams:
    """One shard holding records with increasing sequence numbers, served like GetRecords."""

    def __init__(self, count: int) -> None:
        self.records = [self._record(1000 + n) for n in range(count)]
        self._iterators: dict[str, int] = {}
        self._ids = itertools.count()

    @staticmethod
    def _record(seq: int) -> dict[str, Any]:
        return {
            "eventID": str(seq),
            "eventName": "INSERT",
            "dynamodb": {
                "ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=UTC),
                "Keys": {"pk": {"S": f"k{seq % 3}"}},
                "NewImage": {"pk": {"S": f"k{seq % 3}"}, "blob": {"B": b"\x00\x01"}},
                "SequenceNumber": str(seq),
            },
        }

    def add(self, count: int) -> None:
        start = int(self.records[-1]["dynamodb"]["SequenceNumber"]) + 1 if self.records else 1000
        self.records.extend(self._record(start + n) for n in range(count))

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        kind = kwargs["ShardIteratorType"]
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in self.records]
        if kind == "TRIM_HORIZON":
            position = 0
        else:
            target = int(kwargs["SequenceNumber"])
            if kind == "AFTER_SEQUENCE_NUMBER":
                target += 1
            position = next((i for i, s in enumerate(seqs) if s >= target), len(seqs))
        return {"ShardIterator": self._new(position)}

    def _new(self, position: int) -> str:
        name = f"it-{next(self._ids)}"
        self._iterators[name] = position
        return name

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        position = self._iterators[ShardIterator]
        chunk = self.records[position : position + Limit]
        return {"Records": chunk, "NextShardIterator": self._new(position + len(chunk))}


def _seqs(event: dict[str, Any]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]


def test_records_arrive_in_order_in_lambdas_shape() -> None:
    stream = FakeStreams(7)
    batches: list[list[int]] = []
    first: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append(_seqs(event))
        first.extend(event["Records"][:1])
        return {"batchItemFailures": []}

    pump = StreamPump(stream, ARN, handler, batch_size=3)
    assert pump.drain() == 7
    assert [s for batch in batches for s in batch] == list(range(1000, 1007))
    record = first[0]
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == ARN
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}


def test_a_partial_failure_is_retried_from_the_failed_record() -> None:
    stream = FakeStreams(5)
    deliveries: list[list[int]] = []
    failed_once = [False]

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seqs = _seqs(event)
        deliveries.append(seqs)
        if 1002 in seqs and not failed_once[0]:
            failed_once[0] = True
            return {"batchItemFailures": [{"itemIdentifier": "1003"}, {"itemIdentifier": "1002"}]}
        return {"batchItemFailures": []}

    pump = StreamPump(stream, ARN, handler, batch_size=10)
    pump.drain()
    assert deliveries == [[1000, 1001, 1002, 1003, 1004], [1002, 1003, 1004]]
    assert pump.stats.records == 5
    assert pump.stats.failures == 1


def test_an_exception_retries_the_whole_batch() -> None:
    stream = FakeStreams(3)
    deliveries: list[list[int]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        deliveries.append(_seqs(event))
        if len(deliveries) == 1:
            raise TimeoutError("function timed out")
        return {"batchItemFailures": []}

    StreamPump(stream, ARN, handler).drain()
    assert deliveries == [[1000, 1001, 1002], [1000, 1001, 1002]]


def test_a_record_that_keeps_failing_is_dead_lettered_and_the_stream_moves_on() -> None:
    stream = FakeStreams(4)
    dead: list[dict[str, Any]] = []
    delivered_after: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seqs = _seqs(event)
        if seqs[0] == 1001:
            return {"batchItemFailures": [{"itemIdentifier": "1001"}]}
        delivered_after.extend(seqs)
        return {"batchItemFailures": []}

    pump = StreamPump(stream, ARN, handler, batch_size=1, max_attempts=3, dead_letters=dead.append)
    pump.drain()
    assert len(dead) == 1
    assert dead[0]["first_sequence_number"] == "1001"
    assert delivered_after == [1000, 1002, 1003]
    assert pump.stats.dead_lettered == 1


def test_a_restarted_pump_continues_after_its_checkpoint(tmp_path: Path) -> None:
    stream = FakeStreams(4)
    seen: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(_seqs(event))
        return {"batchItemFailures": []}

    path = tmp_path / "checkpoints.json"
    StreamPump(stream, ARN, handler, checkpoints=FileCheckpoints(path, ARN)).drain()
    stream.add(2)
    StreamPump(stream, ARN, handler, checkpoints=FileCheckpoints(path, ARN)).drain()
    assert seen == list(range(1000, 1006))
    assert FileCheckpoints(path, ARN).get("shard-1") == "1005"
    assert FileCheckpoints(path, "another-stream").get("shard-1") is None


def test_memory_checkpoints_start_from_the_beginning() -> None:
    checkpoints = MemoryCheckpoints()
    assert checkpoints.get("s") is None
    checkpoints.put("s", "7")
    assert checkpoints.get("s") == "7"


class FlakyStreams(FakeStreams):
    """A stream whose next ``failing`` reads fail (a read timed out, an endpoint restarting)."""

    def __init__(self, count: int, failing: int) -> None:
        super().__init__(count)
        self.failing = failing

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        if self.failing:
            self.failing -= 1
            raise TimeoutError("Read timeout on endpoint URL")
        return super().get_records(ShardIterator, Limit)


def test_a_failed_read_does_not_stop_the_running_pump() -> None:
    stream = FlakyStreams(3, failing=2)
    seen: list[int] = []
    stop = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(_seqs(event))
        if len(seen) >= 5:
            stop.set()
        return {"batchItemFailures": []}

    pump = StreamPump(stream, ARN, handler)
    worker = threading.Thread(target=pump.run, args=(stop, 0.01))
    worker.start()
    stream.add(2)
    worker.join(10)
    assert not worker.is_alive(), "the pump stopped moving after a failed read"
    assert seen == list(range(1000, 1005))
    assert [e for e in pump.stats.handler_errors if "Read timeout" in e] == [
        "TimeoutError('Read timeout on endpoint URL')"
    ] * 2


class RestoredStreams(FakeStreams):
    """A stream whose shard is put back from a copy (what moto does on a cancelled transaction):
    iterators handed out before read the old copy, which never grows, and raise no error."""

    def restore(self) -> None:
        self.records = list(self.records)  # the old list stays behind the old iterators
        self._stale = set(self._iterators)

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        if ShardIterator in getattr(self, "_stale", ()):
            self._stale.add(name := self._new(self._iterators[ShardIterator]))
            return {"Records": [], "NextShardIterator": name}
        return super().get_records(ShardIterator, Limit)


def test_an_iterator_that_reads_nothing_is_replaced_from_the_checkpoint() -> None:
    stream = RestoredStreams(2)
    now = [0.0]
    seen: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(_seqs(event))
        return {"batchItemFailures": []}

    pump = StreamPump(stream, ARN, handler, refresh_seconds=1.0, clock=lambda: now[0])
    assert pump.poll_once() == 2
    stream.restore()
    stream.add(3)
    # the stale iterator reads nothing, however often it is asked, until it is a second old
    for _ in range(5):
        now[0] += 0.1
        assert pump.poll_once() == 0
    now[0] += 0.6
    assert pump.poll_once() == 0  # found stale: replaced on the next round
    assert pump.poll_once() == 3
    assert seen == list(range(1000, 1005))


def test_drain_reads_past_a_stale_iterator() -> None:
    stream = RestoredStreams(2)
    seen: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(_seqs(event))
        return {"batchItemFailures": []}

    pump = StreamPump(stream, ARN, handler)
    assert pump.drain() == 2
    stream.restore()
    stream.add(3)
    assert pump.drain() == 3
    assert seen == list(range(1000, 1005))
