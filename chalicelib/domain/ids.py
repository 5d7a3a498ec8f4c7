"""Identifiers: time-ordered, opaque, URL-safe.

IDs are ULIDs (26 characters of Crockford base32: 48 bits of milliseconds then 80 random bits), so
sorting by id sorts by creation time, which gives "newest last" lists for free.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


_lock = threading.Lock()
_last = (0, 0)


def new_id(now_ms: int | None = None) -> str:
    """A new ULID, strictly greater than the previous one made by this process.

    Within one millisecond (or if the clock steps back) the random part is incremented instead of
    drawn again, so ids made one after the other always sort in the order they were made.
    """
    global _last  # noqa: PLW0603 - the monotonic state, guarded by the lock
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        last_ms, last_random = _last
        if ms <= last_ms and now_ms is None:
            ms, random = last_ms, last_random + 1
        else:
            random = secrets.randbits(79)  # leaves room to count up within the millisecond
        _last = (ms, random)
    return _encode(ms, 10) + _encode(random, 16)


def derived_id(time_source_id: str, *parts: str) -> str:
    """A deterministic id that sorts where ``time_source_id`` sorts.

    The same inputs always give the same id, so writing a derived record twice is one write.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return time_source_id[:10] + _encode(int.from_bytes(digest[:10], "big"), 16)


def is_id(value: str) -> bool:
    """True when ``value`` has the shape of an id (anything else cannot exist: 404)."""
    return bool(ID_PATTERN.match(value))
