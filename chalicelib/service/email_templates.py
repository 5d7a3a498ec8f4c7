"""Tenant-editable email templates: checked when saved, rendered in a sandbox when sent.

Templates use Jinja2 placeholders (``{{ token }}``); only the documented placeholders may appear,
and rendering runs in Jinja2's sandbox so a template cannot reach Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import ValidationError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def check_template(
    source: str,
    *,
    field: str,
    allowed: frozenset[str],
    required: frozenset[str] = frozenset(),
) -> None:
    """Refuse (400) a template that does not parse, uses unknown placeholders or misses one,
    or fails when rendered with sample values (unknown filters, includes, calls)."""
    from jinja2 import TemplateError, TemplateSyntaxError, meta

    env = _environment()
    try:
        parsed = env.parse(source)
        used = meta.find_undeclared_variables(parsed)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            f"The template does not parse: {exc.message} (line {exc.lineno}).", field=field
        ) from exc
    except TemplateError as exc:
        raise ValidationError(f"The template is not valid: {exc}.", field=field) from exc
    unknown = sorted(used - allowed)
    if unknown:
        raise ValidationError(
            f"Unknown placeholder '{unknown[0]}'; use only {', '.join(sorted(allowed))}.",
            field=field,
        )
    missing = sorted(required - used)
    if missing:
        raise ValidationError(f"The template must contain {{{{ {missing[0]} }}}}.", field=field)
    try:
        env.from_string(source).render(**{name: f"sample {name}" for name in allowed})
    except Exception as exc:  # anything a sandboxed render raises makes the template unusable
        raise ValidationError(f"The template cannot be rendered: {exc}.", field=field) from exc


def render_template(source: str, values: Mapping[str, Any]) -> str:
    """Render a checked template with the given placeholder values."""
    return _environment().from_string(source).render(**values)
