"""Opaque pagination cursors: the DynamoDB LastEvaluatedKey, encoded and checked on the way back.

A cursor is only accepted for the same query it came from: its partition attribute must equal
the partition being queried, so a forged cursor can neither reach another tenant nor cause a
storage error (it is a 400 ``validation_error`` instead).
"""

from __future__ import annotations

import base64
import binascii
import json
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
    expected: dict[str, str],
    prefixes: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Decode a cursor whose key attributes equal ``expected`` and start with ``prefixes``."""
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
    if not isinstance(value, dict) or not 2 <= len(value) <= 4:
        raise invalid
    for attr, typed in value.items():
        if (
            not isinstance(attr, str)
            or not isinstance(typed, dict)
            or list(typed) != ["S"]
            or not isinstance(typed["S"], str)
            or not typed["S"]
        ):
            raise invalid
    for attr, wanted in expected.items():
        if value.get(attr) != {"S": wanted}:
            raise invalid
    for attr, prefix in (prefixes or {}).items():
        if attr not in value or not value[attr]["S"].startswith(prefix):
            raise invalid
    return value
