"""Opaque pagination cursors: the DynamoDB LastEvaluatedKey, encoded and checked on the way back.

A cursor is only accepted for the same query it came from: it must hold exactly that query's key
attributes (the table's ``pk`` and ``sk``; for an index, the index's two as well), each a
non-empty string, and its partition attribute must equal the partition being queried, so a forged
cursor can neither reach another tenant nor cause a storage error (it is a 400
``validation_error`` instead).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from typing import Any

from chalicelib.domain.errors import ValidationError

_MAX_LEN = 1024


def encode(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(
    cursor: str | None,
    *,
    attributes: Collection[str],
    expected: dict[str, str],
    prefixes: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Decode a cursor holding exactly the key ``attributes`` of the query, each a string, those
    in ``expected`` equal to it and those in ``prefixes`` starting with it."""
    key = frozenset(attributes)
    if not set(expected) | set(prefixes or {}) <= key:
        raise ValueError("expected and prefixes must name key attributes of the query")
    if cursor is None:
        return None
    invalid = ValidationError("The cursor is not valid for this list.", field="cursor")
    if not cursor or len(cursor) > _MAX_LEN:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not isinstance(value, dict) or set(value) != key:
        raise invalid
    for typed in value.values():
        if (
            not isinstance(typed, dict)
            or list(typed) != ["S"]
            or not isinstance(typed["S"], str)
            or not typed["S"]
            or not _utf8(typed["S"])
        ):
            raise invalid
    for attr, wanted in expected.items():
        if value.get(attr) != {"S": wanted}:
            raise invalid
    for attr, prefix in (prefixes or {}).items():
        if attr not in value or not value[attr]["S"].startswith(prefix):
            raise invalid
    return value


def _utf8(text: str) -> bool:
    """Whether the string can be sent (JSON allows lone surrogates, UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
