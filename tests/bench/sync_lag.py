"""Local sync lag: a note written on the lead's ticket until it is readable on the partner's.

Runs the real local stack (moto, chalice local, the stream pump) as a subprocess and writes
notes at a steady rate; a second thread polls the partner side for each note's replica.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from chalicelib.domain.sync import replica_id
from tests.e2e.harness import stack_environment, start_stack
from tests.e2e.outsourcing import outsource_and_accept

Row = tuple[str, str, str, str]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def note_lag(rate: float = 20.0, seconds: float = 10.0) -> list[Row]:
    with tempfile.TemporaryDirectory() as state:
        stack = start_stack(stack_environment(Path(state)), Path(state) / "output.log")
        try:
            work = outsource_and_accept(stack, "Lag bench")
            written: dict[str, float] = {}
            arrived: dict[str, float] = {}
            lock = threading.Lock()
            done = threading.Event()

            def poll() -> None:
                while not done.is_set() or len(arrived) < len(written):
                    with lock:
                        pending = [n for n in written if n not in arrived]
                    for note_id in pending:
                        replica = replica_id(work.outsourcing_id, note_id)
                        reply = stack.call(
                            "GET",
                            f"/v1/tickets/{work.insourced_ticket_id}/notes/{replica}",
                            work.partner_key,
                        )
                        if reply.status_code == 200:
                            with lock:
                                arrived[note_id] = time.monotonic()
                    time.sleep(0.01)
                    if done.is_set() and time.monotonic() - finished[0] > 30:
                        return

            finished = [0.0]
            poller = threading.Thread(target=poll)
            poller.start()
            interval = 1.0 / rate
            start = time.monotonic()
            count = int(rate * seconds)
            for n in range(count):
                target = start + n * interval
                time.sleep(max(0.0, target - time.monotonic()))
                reply = stack.call(
                    "POST",
                    f"/v1/tickets/{work.lead_ticket_id}/notes",
                    work.lead_key,
                    {"text": f"lag note {n}"},
                )
                assert reply.status_code == 201, reply.text
                with lock:
                    written[reply.json()["note_id"]] = time.monotonic()
            achieved = count / (time.monotonic() - start)
            finished[0] = time.monotonic()
            done.set()
            poller.join()
        finally:
            stack.stop()
    lags = [arrived[n] - written[n] for n in written if n in arrived]
    missing = len(written) - len(lags)
    return [
        (
            f"local sync lag at {rate:.0f} notes/s ({achieved:.1f} achieved)",
            f"p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p99 {_percentile(lags, 0.99) * 1000:.0f} ms",
            f"{len(lags)} notes, {missing} missing",
            "p99 < 1000 ms",
        )
    ]
