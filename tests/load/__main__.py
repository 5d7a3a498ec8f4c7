"""``make load``: the bounded load test, printed as a table and a summary line.

``LOAD_TENANTS`` (default 4), ``LOAD_SECONDS`` (30) and ``LOAD_WORKERS`` (6) size it. Exits 1
when any request failed (any 5xx, or a status the step did not expect), an item was lost or
duplicated, or a timed note never arrived.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from infra.local.stack import prepare_environment
from tests.load.run import Config, run_load


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    # SIGTERM ends the run as Ctrl-C does: the workers stop and the stack is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    # This process reads the stack's stream too (to see the pump drained): a fake identity,
    # the same one the stack gets, never a real account's.
    prepare_environment(os.environ)
    config = Config.from_env()
    print(
        f"load: {config.tenants} tenants, {config.workers} workers, {config.seconds:.0f} s "
        "on a local stack (127.0.0.1)",
        flush=True,
    )
    try:
        report = run_load(config)
    except KeyboardInterrupt as stopped:
        print(f"load: interrupted ({stopped or 'SIGINT'}); the workers and the stack are stopped")
        return 130
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
