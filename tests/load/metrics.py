"""What a load run measures: latency per route template, statuses, sync lag, and the printout."""

from __future__ import annotations

import statistics
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


@dataclass
class Recorder:
    """Thread-safe tallies: seconds per route ("METHOD /path/{template}"), statuses per route,
    and the statuses a caller did not expect (any 5xx is one, whatever was expected)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[tuple[str, int]] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # the first few unexpected answers
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, route: str, seconds: float, status: int, expected: bool, text: str = ""
    ) -> None:
        with self._lock:
            self.latencies[route].append(seconds)
            self.statuses[status] += 1
            if not expected or status >= 500:
                self.errors[(route, status)] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{route} -> {status}: {text[:300]}")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.errors.items() if status >= 500)

    def table(self) -> str:
        """route, count, p50 ms, p99 ms: one line per route template, busiest first."""
        rows = sorted(self.latencies.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        width = max([len("route"), *(len(route) for route, _ in rows)])
        lines = [f"{'route':<{width}}  {'count':>7}  {'p50 ms':>8}  {'p99 ms':>8}"]
        for route, values in rows:
            lines.append(
                f"{route:<{width}}  {len(values):>7,}  "
                f"{statistics.median(values) * 1000:>8.0f}  {percentile(values, 0.99) * 1000:>8.0f}"
            )
        return "\n".join(lines)

    def status_line(self) -> str:
        """Answers by status, e.g. ``200 x 1,204, 201 x 310, 303 x 96, 404 x 52``."""
        return ", ".join(f"{status} x {n:,}" for status, n in sorted(self.statuses.items()))

    def error_lines(self) -> list[str]:
        return [
            f"error: {n:,} x {status} on {route}"
            for (route, status), n in sorted(self.errors.items())
        ]


@dataclass
class LagClock:
    """Sync lag: when a note was written (its 201) and when its replica was first readable on
    the other side (a poller's 200)."""

    written: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrote(self, key: str, at: float) -> None:
        with self._lock:
            self.written[key] = at

    def saw(self, key: str, at: float) -> None:
        with self._lock:
            self.arrived.setdefault(key, at)

    def pending(self) -> list[str]:
        with self._lock:
            return [k for k in self.written if k not in self.arrived]

    def lags(self) -> list[float]:
        with self._lock:
            return [self.arrived[k] - self.written[k] for k in self.written if k in self.arrived]

    def summary(self) -> str:
        lags = self.lags()
        if not lags:
            return "sync lag n/a"
        return (
            f"sync lag p50 {statistics.median(lags) * 1000:.0f} ms "
            f"p99 {percentile(lags, 0.99) * 1000:.0f} ms"
        )
