"""Optimistic concurrency: re-read and re-apply when a conditional write lost a race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chalicelib.domain.errors import ConflictError

T = TypeVar("T")
R = TypeVar("R")

ATTEMPTS = 4


def retry_on_conflict(apply: Callable[[T], R], *, first: T, reload: Callable[[], T]) -> R:
    """Run ``apply`` on ``first``; on a version conflict reload and try again, a few times.

    Used for edits that set absolute values (PATCH), where re-applying on the newer version is the
    intended outcome. Conflicts that carry their own code (a rule, not a race) are not retried.
    """
    current = first
    for attempt in range(ATTEMPTS):
        try:
            return apply(current)
        except ConflictError as exc:
            if exc.code != "version_conflict" or attempt == ATTEMPTS - 1:
                raise
            current = reload()
    raise AssertionError("unreachable")  # pragma: no cover
