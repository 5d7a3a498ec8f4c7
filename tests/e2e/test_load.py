"""The load test at a small size on the session's stack: 2 tenants (each with a partner and a
portal company), 4 workers, 10 s. No 5xx, no unexpected status, every item exactly once on
each side; the timings are printed, never asserted."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.harness import StackProcess
from tests.load.check import Tally, expected_on
from tests.load.run import Config, run_load
from tests.load.workload import Written

SMALL = Config(tenants=2, seconds=10.0, workers=4)


@pytest.mark.e2e
def test_a_small_load_run_loses_and_duplicates_nothing(stack: StackProcess) -> None:
    report = run_load(SMALL, stack)
    print("\n" + report.text())

    assert report.load.server_errors == 0 and report.other.server_errors == 0
    assert report.errors == 0, report.text()
    # Items were written, and every one of them counted on both sides
    assert report.written > 0
    assert report.tally.checked >= report.written
    assert (report.tally.lost, report.tally.duplicated) == (0, 0), report.tally.problems
    assert not report.tally.problems, report.tally.problems
    assert report.lag_missing == 0 and report.lag.lags()
    assert report.transitions == 2  # tenant 0's partner lane and portal lane
    assert report.ok


def _written(side: str, marker: str, internal: bool = False) -> Written:
    return Written("partner 0", side, "note", internal, marker)  # type: ignore[arg-type]


def test_the_count_catches_a_lost_a_doubled_and_a_leaked_item() -> None:
    written = [
        _written("lead", "mk-a"),
        _written("lead", "mk-b"),
        _written("receiver", "mk-c"),
        _written("lead", "mk-secret", internal=True),
    ]
    # The receiver should see the lead's two shared notes and its own, never the internal one
    assert expected_on("receiver", written) == {"mk-a", "mk-b", "mk-c"}
    assert expected_on("lead", written) == {"mk-a", "mk-b", "mk-c", "mk-secret"}
    tally = Tally()
    tally.add("receiver", expected_on("receiver", written), Counter(["mk-a", "mk-a", "mk-secret"]))
    assert (tally.checked, tally.lost, tally.duplicated) == (3, 2, 2)
    assert len(tally.problems) == 3
    exact = Tally()
    exact.add("lead", expected_on("lead", written), Counter(["mk-a", "mk-b", "mk-c", "mk-secret"]))
    assert (exact.lost, exact.duplicated, exact.problems) == (0, 0, [])
