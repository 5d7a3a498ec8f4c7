"""One bounded load run: set up, drive for a fixed time, drain, count, transition, report."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import StackProcess, stack_environment, start_stack
from tests.load.check import Tally, check_counts, drain, submit_and_approve
from tests.load.clients import Api
from tests.load.metrics import LagClock, Recorder
from tests.load.workload import Workload
from tests.load.world import set_up_tenant


@dataclass(frozen=True)
class Config:
    tenants: int = 4
    seconds: float = 30.0
    workers: int = 6

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        """``LOAD_TENANTS``, ``LOAD_SECONDS``, ``LOAD_WORKERS``; the defaults otherwise."""
        given = os.environ if env is None else env
        default = cls()
        config = cls(
            tenants=int(given.get("LOAD_TENANTS") or default.tenants),
            seconds=float(given.get("LOAD_SECONDS") or default.seconds),
            workers=int(given.get("LOAD_WORKERS") or default.workers),
        )
        if config.tenants < 1 or config.seconds <= 0 or config.workers < 1:
            raise ValueError(
                f"LOAD_TENANTS, LOAD_SECONDS and LOAD_WORKERS must be positive: {config}"
            )
        return config


@dataclass
class Report:
    config: Config
    load: Recorder
    other: Recorder  # set-up, checks and the transitions at the end
    lag: LagClock
    tally: Tally
    seconds: float = 0.0
    sent: int = 0
    setup_seconds: float = 0.0
    drain_seconds: float = 0.0
    written: int = 0
    transitions: int = 0
    lag_missing: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.load.error_count + self.other.error_count

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.tally.lost == 0
            and self.tally.duplicated == 0
            and not self.tally.problems
            and self.lag_missing == 0
        )

    def summary(self) -> str:
        c = self.config
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"load: tenants {c.tenants}, workers {c.workers}, {self.seconds:.0f} s, "
            f"{self.sent:,} requests, {rate:.0f} req/s, {self.errors:,} errors, "
            f"{self.lag.summary()}, items {self.tally.checked:,} checked, "
            f"lost {self.tally.lost:,}, duplicated {self.tally.duplicated:,}"
        )

    def text(self) -> str:
        lines = [
            self.load.table(),
            "",
            f"load: set-up {self.setup_seconds:.1f} s ({self.other.requests:,} requests "
            f"for set-up, checks and transitions), drained in {self.drain_seconds:.1f} s",
            f"load: {self.written:,} items written, {len(self.lag.lags()):,} notes timed for "
            f"sync lag ({self.lag_missing} never arrived), {self.transitions} lanes submitted "
            "and approved",
            f"load: statuses in the timed phase {self.load.status_line()} (a 404 is the poller "
            "not finding a replica yet); at set-up and the end "
            f"{self.other.status_line()}",
            *self.load.error_lines(),
            *self.other.error_lines(),
            *(f"sample: {s}" for s in self.load.samples + self.other.samples),
            *(f"problem: {p}" for p in self.tally.problems[:50]),
            self.summary(),
        ]
        return "\n".join(lines)


def _checker(recorder: Recorder) -> Any:
    """The same client, timed into ``recorder`` (the load table stays the timed phase's)."""

    def check(client: Any) -> Any:
        if isinstance(client, Api):
            return Api(client.base_url, client.key, recorder)
        client.recorder = recorder
        return client

    return check


def run_load(config: Config, stack: StackProcess | None = None) -> Report:
    """Run against ``stack``, or a new local stack of its own, stopped at the end whatever
    happens (Ctrl-C included)."""
    with ExitStack() as cleanup:
        if stack is None:
            state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
            stack = start_stack(stack_environment(state), state / "output.log")
            cleanup.callback(stack.stop)
        return _run(config, stack)
    raise AssertionError("unreachable")


def _run(config: Config, stack: StackProcess) -> Report:
    other, load = Recorder(), Recorder()
    started = time.monotonic()
    tenants = [set_up_tenant(stack, n, other) for n in range(config.tenants)]
    setup_seconds = time.monotonic() - started
    for tenant in tenants:  # the timed phase is timed into its own table
        for client in (tenant.lead, tenant.partner, tenant.portal):
            client.recorder = load
    work = Workload(tenants, load)
    seconds, sent = work.run(config.workers, config.seconds)
    check = _checker(other)
    drained = drain(stack)
    tally = check_counts(tenants, work.ledger, check)
    done = submit_and_approve(
        [lane for t in tenants if t.index % 2 == 0 for lane in t.lanes], check, tally
    )
    report = Report(
        config,
        load,
        other,
        work.lag,
        tally,
        seconds=seconds,
        sent=sent,
        setup_seconds=setup_seconds,
        drain_seconds=drained,
        written=len(work.ledger.items),
        transitions=done,
        lag_missing=len(work.lag.pending()),
    )
    return report
