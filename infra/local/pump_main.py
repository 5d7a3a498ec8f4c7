"""The stream pump as a process of the local stack: ``python -m infra.local.pump_main``.

It feeds the table's stream to the app's own stream handler (``app.on_table_change``, the
function's Lambda handler, with the app's middleware) until SIGTERM or SIGINT, finishing the batch
in hand first so its checkpoint is written. Environment: ``STREAM_ARN`` (required),
``LOCAL_STATE_DIR`` (checkpoints, dead letters and statistics), ``PUMP_IDLE_SECONDS`` (sleep when
the stream is idle, default 0.1) and the app's own settings (``TABLE_NAME``, ``AWS_ENDPOINT_URL``,
``DYNAMODB_ENDPOINT_URL``, ...).

``kill -USR1 <pid>`` prints every thread's stack to stderr (the stack's log): what a pump that
has stopped moving is waiting on.

Statistics go to ``pump-stats.json`` in the state directory and, when they change and at exit, to
stdout as one line: ``pump: delivered N records batches=.. processed=.. retried=.. replayed=..``.
``replayed`` counts records at or below the position this stream was checkpointed at when the
pump started: records a previous run had already processed (it must stay 0).
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from infra.local.lambda_context import lambda_context
from infra.local.pump import FileCheckpoints, StreamPump, file_dead_letters

CHECKPOINTS_FILE = "checkpoints.json"
DEAD_LETTERS_FILE = "dead-letters.jsonl"
STATS_FILE = "pump-stats.json"
REPORT_SECONDS = 1.0
# GetRecords answers at once (it never long-polls), so a read that has not answered in a few
# seconds never will: botocore's defaults (60 s per attempt, five attempts) let one lost answer
# stop the pump for minutes. A timed-out read is retried, and after that the pump starts again
# from its checkpoint (``StreamPump.run``).
STREAM_CONNECT_TIMEOUT = 2.0
STREAM_READ_TIMEOUT = 5.0
STREAM_ATTEMPTS = 3


def streams_client(
    region: str, endpoint_url: str | None, *, read_timeout: float = STREAM_READ_TIMEOUT
) -> Any:
    """The DynamoDB Streams client of the pump, with timeouts bounded as above."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=STREAM_CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": STREAM_ATTEMPTS},
    )
    return boto3.session.Session().client(
        "dynamodbstreams", region_name=region, endpoint_url=endpoint_url, config=config
    )


def state_dir() -> Path:
    return Path(os.environ.get("LOCAL_STATE_DIR", ".local")).resolve()


def stream_positions(path: Path, stream_arn: str) -> dict[str, str]:
    """The checkpointed position per shard of one stream (empty when none)."""
    try:
        data: dict[str, dict[str, str]] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return dict(data.get(stream_arn, {}))


class DeliveryLog:
    """Wraps the stream handler to count what it is handed, retries and replays included."""

    def __init__(self, handler: Any, start_positions: dict[str, str]) -> None:
        self._handler = handler
        # Local streams (moto, DynamoDB Local) have one shard per table, and sequence numbers
        # grow along a stream: anything at or below the highest start position was processed
        # by an earlier run.
        self._floor = max((int(s) for s in start_positions.values()), default=-1)
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self.delivered = 0
        self.retried = 0
        self.replayed = 0
        self.first_sequence_number: str | None = None
        self.last_sequence_number: str | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in event.get("Records", [])]
        with self._lock:
            for seq in sequence_numbers:
                number = int(seq)
                self.delivered += 1
                if number in self._seen:
                    self.retried += 1
                self._seen.add(number)
                if number <= self._floor:
                    self.replayed += 1
                if self.first_sequence_number is None:
                    self.first_sequence_number = seq
                if self.last_sequence_number is None or number > int(self.last_sequence_number):
                    self.last_sequence_number = seq
        return self._handler(event, context)


def snapshot(pump: StreamPump, log: DeliveryLog, started_at: str, state: str) -> dict[str, Any]:
    errors = list(pump.stats.handler_errors)
    return {
        "state": state,
        "pid": os.getpid(),
        "stream_arn": pump.stream_arn,
        "started_at": started_at,
        "delivered": log.delivered,
        "processed": pump.stats.records,
        "batches": pump.stats.batches,
        "retried": log.retried,
        "replayed": log.replayed,
        "failures": pump.stats.failures,
        "dead_lettered": pump.stats.dead_lettered,
        "errors": len(errors),
        "last_error": errors[-1] if errors else None,
        "first_sequence_number": log.first_sequence_number,
        "last_sequence_number": log.last_sequence_number,
    }


def stats_line(stats: dict[str, Any]) -> str:
    fields = " ".join(
        f"{name}={stats[name]}"
        for name in (
            "batches",
            "processed",
            "retried",
            "replayed",
            "failures",
            "dead_lettered",
            "errors",
            "last_sequence_number",
            "state",
        )
    )
    return f"pump: delivered {stats['delivered']} records {fields}"


def write_stats(path: Path, stats: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats, indent=1))
    tmp.replace(path)


def report(
    pump: StreamPump, log: DeliveryLog, started_at: str, path: Path, stop: threading.Event
) -> None:
    """Write and print the statistics whenever they changed, until ``stop``."""
    last: dict[str, Any] | None = None
    while not stop.wait(REPORT_SECONDS):
        # The pump keeps every error; only the recent ones matter here.
        del pump.stats.handler_errors[:-20]
        stats = snapshot(pump, log, started_at, "running")
        if stats != last:
            new_error = last is None or stats["errors"] != last["errors"]
            if new_error and stats["last_error"]:
                print(f"pump: error {stats['last_error']}", flush=True)
            write_stats(path, stats)
            print(stats_line(stats), flush=True)
            last = stats


def dead_letter_sink(path: Path, settings: Any) -> Any:
    """Abandoned batches go to a file, and to the dead-letter queue as Lambda would send them."""
    to_file = file_dead_letters(path)
    if not settings.dead_letter_queue_url:
        return to_file
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.sqs import SqsDeadLetterQueue, batch_info_message

    queue = SqsDeadLetterQueue(client("sqs", settings), settings.dead_letter_queue_url)

    def sink(entry: dict[str, Any]) -> None:
        to_file(entry)
        queue.send(batch_info_message(entry, "RetryAttemptsExhausted"))

    return sink


def run_jobs(stop: threading.Event, every: float) -> None:
    """What EventBridge schedules do in AWS: call each scheduled handler now and then."""
    from app import expire_outsourcings, retry_notifications

    scheduled = {
        "expire_outsourcings": (expire_outsourcings, "expired", "expired {} outsourcing(s)"),
        "retry_notifications": (retry_notifications, "retried", "retried {} notification(s)"),
    }
    while not stop.wait(every):
        event = {
            "version": "0",
            "id": "local-schedule",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "000000000000",
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }
        for name, (job, figure, said) in scheduled.items():
            try:
                result = job(event, lambda_context(name))
            except Exception as exc:  # a failing job must not stop the pump
                print(f"jobs: {name} failed: {exc!r}", flush=True)
                continue
            if result.get(figure):
                print(f"jobs: {said.format(result[figure])}", flush=True)


def main() -> int:
    stream_arn = os.environ.get("STREAM_ARN")
    if not stream_arn:
        print("pump: STREAM_ARN is not set", file=sys.stderr, flush=True)
        return 2
    # A signal handler must not take locks (Event.set does): it raises a flag, and the main
    # thread, which only watches, passes it on to the pump thread.
    signalled: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    from app import on_table_change
    from chalicelib.config import get_settings

    settings = get_settings()
    directory = state_dir()
    checkpoint_path = directory / CHECKPOINTS_FILE
    log = DeliveryLog(on_table_change, stream_positions(checkpoint_path, stream_arn))
    streams = streams_client(settings.region, settings.dynamodb_endpoint)
    pump = StreamPump(
        streams,
        stream_arn,
        log,
        checkpoints=FileCheckpoints(checkpoint_path, stream_arn),
        dead_letters=dead_letter_sink(directory / DEAD_LETTERS_FILE, settings),
        region=settings.region,
    )
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    stats_path = directory / STATS_FILE
    write_stats(stats_path, snapshot(pump, log, started_at, "running"))
    print(f"pump: started stream={stream_arn}", flush=True)
    stop = threading.Event()
    idle = float(os.environ.get("PUMP_IDLE_SECONDS", "0.1"))
    worker = threading.Thread(target=pump.run, args=(stop, idle), name="pump")
    reporter = threading.Thread(
        target=report, args=(pump, log, started_at, stats_path, stop), name="report"
    )
    jobs = threading.Thread(
        target=run_jobs,
        args=(stop, float(os.environ.get("JOB_INTERVAL_SECONDS", "30"))),
        name="jobs",
    )
    started = time.monotonic()
    worker.start()
    reporter.start()
    jobs.start()
    while not signalled and worker.is_alive():
        time.sleep(0.1)
    # The batch in hand is finished and checkpointed before the pump thread returns.
    stop.set()
    worker.join()
    reporter.join()
    jobs.join()
    final = snapshot(pump, log, started_at, "stopped")
    write_stats(stats_path, final)
    print(stats_line(final) + f" uptime={time.monotonic() - started:.1f}s", flush=True)
    return 0 if signalled else 1


if __name__ == "__main__":
    sys.exit(main())
