"""Decimal amounts in one canonical form, whatever the storage engine did to trailing zeros.

DynamoDB stores numbers without their scale (``40.00`` comes back as ``40``), so amounts are
shown with at least ``places`` decimals and without meaningless trailing zeros beyond that.
"""

from __future__ import annotations

from decimal import Decimal


def canonical(value: Decimal, places: int = 2) -> Decimal:
    """``40`` → ``40.00``, ``12.3400`` → ``12.34``, ``0.0001`` stays, for ``places=2``."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -places:
        return normalized.quantize(Decimal(1).scaleb(-places))
    return normalized


def format_amount(value: Decimal, places: int = 2) -> str:
    return f"{canonical(value, places):f}"
