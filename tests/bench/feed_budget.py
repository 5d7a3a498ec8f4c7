"""What a change of the change feed costs (requests and write units per logged change, counted on
the app's DynamoDB client: one change per stream batch, and 20 in one batch), and how far behind
the feed runs on the local stack (an object written until ``GET /v1/changes`` shows it).

The head is remembered by the process that wrote it, so the counter is read only on a cold start
or after another writer moved it (0 reads here); write units are computed from the items' sizes
by DynamoDB's rules (2 per started KB for a transactional write)."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.e2e.harness import stack_environment, start_stack

Row = tuple[str, str, str, str]


def feed_cost(notes: int = 20) -> list[Row]:
    """Requests and write units the feed adds per logged change (a note on a ticket)."""
    from tests.bench.costs import bench_world
    from tests.bench.counting import count_dynamodb

    with bench_world("bench-feed") as harness:
        pump = harness.pump

        def call(method: str, path: str, key: str, body: Any = None) -> Any:
            reply = harness.request(method, path, key=key, json_body=body)
            assert reply.status_code < 300, reply.body
            return reply.json

        key = harness.create_tenant("Feed").key
        ticket = call("POST", "/v1/tickets", key, {"title": "Bench"})["ticket_id"]
        pump.drain()  # the ticket's change, and the log's head, exist before counting
        cursor = call("GET", "/v1/changes?limit=100", key)["next_cursor"]
        with count_dynamodb() as counted:
            for n in range(notes):
                text = "Checked the cabling on the third floor, " * 4 + str(n)
                call("POST", f"/v1/tickets/{ticket}/notes", key, {"text": text})
                # The note's record, and the append's three (which decode to nothing).
                assert pump.drain() == 1 + 3
        with count_dynamodb() as page:
            logged = call("GET", f"/v1/changes?limit=100&cursor={cursor}", key)["items"]
        assert len(logged) == notes, len(logged)
        # The same notes written before the stream is read: one batch holds them all.
        for n in range(notes):
            call("POST", f"/v1/tickets/{ticket}/notes", key, {"text": f"batched {n}"})
        with count_dynamodb() as batched:
            assert pump.drain() == notes + 2 * notes + 1
    per = float(notes)
    in_batch = (
        "change feed: per change, 20 in one batch",
        f"{batched.feed_writes / per:.2f} TransactWriteItems "
        f"({batched.feed_items_written} items), {batched.feed_reads / per:.1f} reads",
        f"{batched.feed_write_units / per:.1f} WCU",
        "",
    )
    return [
        (
            "change feed: per logged change",
            f"{counted.feed_writes / per:.1f} TransactWriteItems "
            f"({counted.feed_items_written / per:.0f} items), {counted.feed_reads / per:.1f} reads",
            f"{counted.feed_write_units / per:.1f} WCU "
            f"(entry {statistics.mean(counted.feed_entry_bytes):.0f} B)",
            "1 transaction of 3 = 6 WCU, <= 1 read",
        ),
        in_batch,
        (
            f"GET /v1/changes page of {notes}",
            f"{page.feed_calls['Query']} Query, {page.feed_calls['GetItem']} GetItem, "
            f"{page.scans} Scan",
            "",
            "1 Query, 0 Scan",
        ),
    ]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def feed_lag(rate: float = 20.0, seconds: float = 10.0) -> list[Row]:
    """Notes written at ``rate`` on one ticket; a reader polls the feed from its cursor."""
    with tempfile.TemporaryDirectory() as state:
        stack = start_stack(stack_environment(Path(state)), Path(state) / "output.log")
        try:
            _, key = stack.create_tenant("Feed bench")
            ticket = stack.call("POST", "/v1/tickets", key, {"title": "Feed lag"}).json()
            written: dict[str, float] = {}
            arrived: dict[str, float] = {}
            lock = threading.Lock()
            done = threading.Event()
            cursor = [stack.call("GET", "/v1/changes", key).json()["next_cursor"]]

            def poll() -> None:
                deadline: float | None = None
                while True:
                    reply = stack.call("GET", f"/v1/changes?limit=100&cursor={cursor[0]}", key)
                    assert reply.status_code == 200, reply.text
                    body = reply.json()
                    seen = time.monotonic()
                    with lock:
                        for entry in body["items"]:
                            arrived.setdefault(entry["object"]["id"], seen)
                        complete = written and all(n in arrived for n in written)
                    cursor[0] = body["next_cursor"]
                    if done.is_set():
                        deadline = deadline or time.monotonic() + 30
                        if complete or time.monotonic() > deadline:
                            return
                    if not body["items"]:
                        time.sleep(0.01)

            poller = threading.Thread(target=poll)
            poller.start()
            interval, count, start = 1.0 / rate, int(rate * seconds), time.monotonic()
            for n in range(count):
                time.sleep(max(0.0, start + n * interval - time.monotonic()))
                reply = stack.call(
                    "POST",
                    f"/v1/tickets/{ticket['ticket_id']}/notes",
                    key,
                    {"text": f"feed note {n}"},
                )
                assert reply.status_code == 201, reply.text
                with lock:
                    written[reply.json()["note_id"]] = time.monotonic()
            achieved = count / (time.monotonic() - start)
            done.set()
            poller.join()
        finally:
            stack.stop()
    lags = [arrived[n] - written[n] for n in written if n in arrived]
    missing = len(written) - len(lags)
    return [
        (
            f"change feed lag at {rate:.0f} notes/s ({achieved:.1f} achieved)",
            f"p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p99 {_percentile(lags, 0.99) * 1000:.0f} ms",
            f"{len(lags)} notes, {missing} missing",
            "",
        )
    ]
