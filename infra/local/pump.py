"""The stream pump: what Lambda's event source mapping does for a DynamoDB stream, on one machine.

It reads the table's stream with the DynamoDB Streams API, hands batches to the app's own stream
handler in the shape Lambda uses, and honours ``batchItemFailures``: on a failure it retries from
the lowest failed sequence number, never skipping past it. After ``max_attempts`` failures of one
record the batch is written to a dead-letter file (Lambda's on-failure destination) and the pump
moves on. Its position per shard is checkpointed (in a JSON file for the local stack), so a
restarted pump continues where it stopped instead of replaying the stream.

An iterator that has read nothing for ``refresh_seconds`` is replaced by a new one from the
checkpoint: an iterator can go stale without an error. moto answers a cancelled transaction by
putting back a copy of the table taken before it, stream included, so the iterators already
handed out read a shard that no longer grows and return empty pages for ever (the restarted
stack's pump once stopped that way under load: no failure, no dead letter, the checkpoint
simply stopped moving); DynamoDB's own iterators expire after 15 minutes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict, Unpack

from chalicelib.adapters.dynamo.stream_reader import lambda_record
from infra.local.lambda_context import lambda_context

Handler = Callable[[dict[str, Any], Any], Any]


class Checkpoints(Protocol):
    def get(self, shard_id: str) -> str | None: ...

    def put(self, shard_id: str, sequence_number: str) -> None: ...


class MemoryCheckpoints:
    """Positions kept in memory (tests)."""

    def __init__(self) -> None:
        self._positions: dict[str, str] = {}

    def get(self, shard_id: str) -> str | None:
        return self._positions.get(shard_id)

    def put(self, shard_id: str, sequence_number: str) -> None:
        self._positions[shard_id] = sequence_number


class FileCheckpoints:
    """Positions kept in a JSON file, per stream ARN and shard (local stack restarts)."""

    def __init__(self, path: Path, stream_arn: str) -> None:
        self._path = path
        self._stream = stream_arn
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data: dict[str, dict[str, str]] = json.loads(self._path.read_text())
            return data
        except (FileNotFoundError, ValueError):
            return {}

    def get(self, shard_id: str) -> str | None:
        with self._lock:
            return self._load().get(self._stream, {}).get(shard_id)

    def put(self, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            data = self._load()
            data.setdefault(self._stream, {})[shard_id] = sequence_number
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(self._path)


@dataclass
class PumpStats:
    batches: int = 0
    records: int = 0
    failures: int = 0
    dead_lettered: int = 0
    handler_errors: list[str] = field(default_factory=list)


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None = None
    read_at: float = 0.0  # when the iterator was made or last read records
    pending_retry: str | None = None  # sequence number to restart at after a failure
    attempts: int = 0
    closed: bool = False


class PumpOptions(TypedDict, total=False):
    checkpoints: Checkpoints | None  # where positions are kept (default: in memory)
    batch_size: int  # records per invocation, as the event source mapping's BatchSize (100)
    region: str
    max_attempts: int  # deliveries of a failing batch before it is dead-lettered (10)
    dead_letters: Callable[[dict[str, Any]], None] | None  # the on-failure destination
    context_factory: Callable[[], Any]  # the Lambda context of each invocation
    refresh_seconds: float  # an iterator that read nothing for this long is replaced (1.0)
    clock: Callable[[], float]  # monotonic seconds (tests)


class StreamPump:
    """Feeds a table's stream to a Lambda-style handler with partial batch failure semantics."""

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        handler: Handler,
        **options: Unpack[PumpOptions],
    ) -> None:
        self._streams = streams_client
        self.stream_arn = stream_arn
        self._handler = handler
        self._checkpoints = options.get("checkpoints") or MemoryCheckpoints()
        self._batch_size = options.get("batch_size", 100)
        self._region = options.get("region", "us-east-1")
        self._max_attempts = options.get("max_attempts", 10)
        self._dead_letters = options.get("dead_letters")
        self._context_factory = options.get(
            "context_factory", lambda: lambda_context("table_stream")
        )
        self._refresh_seconds = options.get("refresh_seconds", 1.0)
        self._clock = options.get("clock", time.monotonic)
        self._shards: dict[str, _Shard] = {}
        self.stats = PumpStats()

    # -- shards and iterators ----------------------------------------------------------------

    def _refresh_shards(self) -> list[_Shard]:
        description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        ordered: list[_Shard] = []
        for shard in description.get("Shards", []):
            state = self._shards.setdefault(shard["ShardId"], _Shard(shard["ShardId"]))
            ordered.append(state)
        return [s for s in ordered if not s.closed]

    def _iterator(self, shard: _Shard) -> str:
        seq: str | None
        if shard.pending_retry is not None:
            kind, seq = "AT_SEQUENCE_NUMBER", shard.pending_retry
        else:
            done = self._checkpoints.get(shard.shard_id)
            kind, seq = ("AFTER_SEQUENCE_NUMBER", done) if done else ("TRIM_HORIZON", None)
        args: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": shard.shard_id,
            "ShardIteratorType": kind,
        }
        if seq is not None:
            args["SequenceNumber"] = seq
        iterator: str = self._streams.get_shard_iterator(**args)["ShardIterator"]
        return iterator

    # -- one round ---------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Read and deliver at most one batch per shard; returns the records delivered."""
        delivered = 0
        for shard in self._refresh_shards():
            if shard.iterator is None:
                shard.iterator = self._iterator(shard)
                shard.read_at = self._clock()
            response = self._streams.get_records(
                ShardIterator=shard.iterator, Limit=self._batch_size
            )
            records = response.get("Records", [])
            next_iterator = response.get("NextShardIterator")
            if not records:
                shard.iterator = next_iterator
                if next_iterator is None:
                    shard.closed = True
                elif self._clock() - shard.read_at >= self._refresh_seconds:
                    shard.iterator = None  # start again from the checkpoint (see above)
                continue
            delivered += len(records)
            shard.read_at = self._clock()
            self._deliver(shard, records, next_iterator)
        return delivered

    def _deliver(
        self, shard: _Shard, records: list[dict[str, Any]], next_iterator: str | None
    ) -> None:
        event = {"Records": [lambda_record(r, self.stream_arn, self._region) for r in records]}
        self.stats.batches += 1
        try:
            result = self._handler(event, self._context_factory())
            failures = (result or {}).get("batchItemFailures", [])
        except Exception as exc:  # the whole batch failed, as Lambda sees an error
            self.stats.handler_errors.append(repr(exc))
            failures = [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]
        if not failures:
            self.stats.records += len(records)
            self._checkpoints.put(shard.shard_id, records[-1]["dynamodb"]["SequenceNumber"])
            shard.pending_retry = None
            shard.attempts = 0
            shard.iterator = next_iterator
            if next_iterator is None:
                shard.closed = True
            return
        self.stats.failures += 1
        failed = min(int(f["itemIdentifier"]) for f in failures)
        succeeded = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) < failed]
        self.stats.records += len(succeeded)
        if succeeded:
            self._checkpoints.put(shard.shard_id, succeeded[-1]["dynamodb"]["SequenceNumber"])
            shard.attempts = 0
        failed_seq = next(
            r["dynamodb"]["SequenceNumber"]
            for r in records
            if int(r["dynamodb"]["SequenceNumber"]) == failed
        )
        shard.attempts += 1
        if shard.attempts >= self._max_attempts:
            self._dead_letter(shard, [r for r in records if r not in succeeded])
            return
        shard.pending_retry = failed_seq
        shard.iterator = None

    def _dead_letter(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        """Give up on the failing records (after max_attempts) and move past them."""
        self.stats.dead_lettered += len(records)
        if self._dead_letters is not None:
            self._dead_letters(
                {
                    "stream_arn": self.stream_arn,
                    "shard_id": shard.shard_id,
                    "first_sequence_number": records[0]["dynamodb"]["SequenceNumber"],
                    "last_sequence_number": records[-1]["dynamodb"]["SequenceNumber"],
                    "records": [lambda_record(r, self.stream_arn, self._region) for r in records],
                }
            )
        self._checkpoints.put(shard.shard_id, records[-1]["dynamodb"]["SequenceNumber"])
        shard.pending_retry = None
        shard.attempts = 0
        shard.iterator = None

    # -- loops -------------------------------------------------------------------------------

    def drain(self, max_rounds: int = 1000) -> int:
        """Poll until a round from fresh iterators delivers nothing and no retry is pending;
        returns the count. (An empty round is confirmed by one more from new iterators at the
        checkpoint: the iterators in hand may be stale, see above.)"""
        total = 0
        confirming = False
        for _ in range(max_rounds):
            delivered = self.poll_once()
            total += delivered
            if delivered or any(s.pending_retry for s in self._shards.values()):
                confirming = False
                continue
            if confirming:
                return total
            for shard in self._shards.values():
                shard.iterator = None
            confirming = True
        raise RuntimeError("stream did not drain")

    def run(self, stop: threading.Event, idle_sleep: float = 0.05) -> None:
        """Poll until ``stop`` is set, sleeping briefly when the stream is idle."""
        while not stop.is_set():
            try:
                delivered = self.poll_once()
            except Exception as exc:  # endpoint restarting, iterator expired: start again
                self.stats.handler_errors.append(repr(exc))
                for shard in self._shards.values():
                    shard.iterator = None
                delivered = 0
                stop.wait(0.5)
            if delivered == 0:
                stop.wait(idle_sleep)


def file_dead_letters(path: Path) -> Callable[[dict[str, Any]], None]:
    """A dead-letter sink appending one JSON line per abandoned batch."""

    def write(entry: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")

    return write
