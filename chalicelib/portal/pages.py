"""The portal's Jinja2 templates and stylesheet: autoescaped, strict, built on first use."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.domain.clock import iso
from chalicelib.domain.money import format_amount

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"


def _when(value: datetime | date | None) -> str:
    """A readable UTC time (``2026-12-01 09:30 UTC``) or date."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.tzinfo else value.isoformat()
    return value.isoformat()


def _money(value: Decimal | None, currency: str = "") -> str:
    if value is None:
        return ""
    text = format_amount(value)
    return f"{text} {currency}".strip()


def _label(value: object) -> str:
    """An enum value as words: ``waiting_approval`` -> ``waiting approval``."""
    return str(getattr(value, "value", value)).replace("_", " ")


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = lambda value: iso(value) if value is not None else ""
    env.filters["when"] = _when
    env.filters["money"] = _money
    env.filters["amount"] = format_amount
    env.filters["label"] = _label
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


STATIC = HERE / "static"
STATIC_TYPES = {"portal.css": "text/css", "portal.js": "text/javascript"}


@lru_cache(maxsize=4)
def static_file(name: str) -> tuple[str, str]:
    """A static file's text and a short hash of it (its URL carries the hash, so it can be
    cached for good: a changed file has a new URL)."""
    text = (STATIC / name).read_text()
    return text, hashlib.sha256(text.encode()).hexdigest()[:12]
