"""Faults for the fault proof: a stream handler that fails where it is told to, and the
exactly-once tallies of what each side shows against what the model expects.

The handler is the app's own (``process_batch`` over the real reactions, as
``chalicelib.streams.handler.on_table_change`` wires them); each armed fault fires once, on the
next batch:

- ``record``: one chosen record raises before any of its reactions ran; the dispatcher reports it
  and the rest of the batch in ``batchItemFailures`` and the pump retries from there;
- ``reaction``: one chosen record raises after some of its reactions ran (replication done, say,
  but not the fee or the notification); the retry runs all of them again;
- ``crash``: the invocation dies after the batch's first records were applied (a timeout, an
  out-of-memory): Lambda sees an error and delivers the whole batch again;
- ``duplicate``: the whole batch is delivered twice (at-least-once delivery).

A consumer restart without checkpoints (re-reading from TRIM_HORIZON) is the machine's own rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.dynamo.stream_events import decode, record_key
from chalicelib.container import get_container
from chalicelib.domain.changes import change_of
from chalicelib.streams.dispatcher import Dispatcher, process_batch
from chalicelib.streams.handler import build_dispatcher, on_table_change

FAULT_KINDS = ("record", "reaction", "crash", "duplicate")


class InjectedFaultError(Exception):
    """The fault a test put there."""


@dataclass(frozen=True)
class Fault:
    kind: str  # one of FAULT_KINDS
    at: int  # which record of the batch (modulo its length)
    reactions_first: int = 0  # ``reaction``: how many reactions run before the raise


@dataclass
class Figures:
    """What the proof did and found, over the whole run."""

    actions: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    lost: int = 0
    duplicated: int = 0

    def line(self) -> str:
        f = self.faults
        return (
            f"fault proof: actions {self.actions}, faults {sum(f.values())} "
            f"(record {f['record']}, mid-batch {f['reaction'] + f['crash']}, "
            f"duplicate {f['duplicate']}, restart {f['restart']}), items checked {self.checked}, "
            f"lost {self.lost}, duplicated {self.duplicated}"
        )

    def tally(self, what: str, expected: Iterable[Hashable], actual: Iterable[Hashable]) -> None:
        """Count ``actual`` against ``expected`` (multisets); fail on any lost or extra one."""
        want, got = Counter(expected), Counter(actual)
        lost, extra = want - got, got - want
        self.checked += sum(want.values())
        self.lost += sum(lost.values())
        self.duplicated += sum(extra.values())
        assert not lost and not extra, f"{what}: lost {dict(lost)}, extra {dict(extra)}"


class FailingDispatcher(Dispatcher):
    """The real dispatcher, raising at one record (by sequence number) after
    ``reactions_first`` of its reactions ran."""

    def __init__(self, real: Dispatcher, sequence_number: str, reactions_first: int) -> None:
        self._target = sequence_number
        self._first = reactions_first
        self._armed = False
        self._ran = 0
        super().__init__(
            {t: [self._counted(r) for r in rs] for t, rs in real._reactions.items()},
            {t: [self._counted(r) for r in rs] for t, rs in real._sourced.items()},
        )

    def _counted(self, reaction: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            if self._armed and self._ran >= self._first:
                raise InjectedFaultError(f"after {self._ran} reactions of {self._target}")
            self._ran += 1
            reaction(*args)

        return run

    def dispatch(self, raw: dict[str, Any]) -> int:
        self._armed = raw["dynamodb"]["SequenceNumber"] == self._target
        self._ran = 0
        ran = super().dispatch(raw)
        if self._armed:  # fewer reactions than ``reactions_first``: fail once all ran
            raise InjectedFaultError(f"after every reaction of {self._target}")
        return ran


class FaultyHandler:
    """The app's stream handler with one armed fault at a time; counts the faults that fired."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.armed: list[Fault] = []
        self.seen: dict[tuple[tuple[str, str], str], dict[str, Any]] = {}

    def arm(self, faults: Iterable[Fault]) -> None:
        """Faults for the next batches, one per batch, in order."""
        self.armed = list(faults)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        records = event["Records"]
        for raw in records:
            self.seen[(record_key(raw), raw["dynamodb"]["SequenceNumber"])] = raw
        if not self.armed or not records:
            return on_table_change(event, context)
        fault = self.armed.pop(0)
        self.figures.faults[fault.kind] += 1
        index = fault.at % len(records)
        if fault.kind == "duplicate":
            first = on_table_change(event, context)
            assert first == {"batchItemFailures": []}, first
            return on_table_change(event, context)
        if fault.kind == "crash":
            applied = process_batch({"Records": records[: index + 1]}, context, _dispatcher())
            assert applied == {"batchItemFailures": []}, applied
            raise InjectedFaultError(f"invocation died after {index + 1} of {len(records)}")
        target = records[index]["dynamodb"]["SequenceNumber"]
        first_reactions = fault.reactions_first if fault.kind == "reaction" else 0
        result = process_batch(
            event, context, FailingDispatcher(_dispatcher(), target, first_reactions)
        )
        failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        assert failed and failed[0] == target, (target, failed)
        return result


def _dispatcher() -> Dispatcher:
    return build_dispatcher(get_container())


def feed_changes(records: Iterable[dict[str, Any]], owners: set[str]) -> dict[str, Counter[Any]]:
    """Per owner in ``owners``: the (type, id, operation) each stream record puts in its feed."""
    found: dict[str, Counter[Any]] = {owner: Counter() for owner in owners}
    for raw in records:
        event = decode(raw)
        change = change_of(event) if event is not None else None
        if change is not None and change.owner_id in owners:
            ref = (change.object.type.value, change.object.id, change.operation.value)
            found[change.owner_id][ref] += 1
    return found
