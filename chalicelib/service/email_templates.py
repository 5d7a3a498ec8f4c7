"""Tenant-editable email templates: checked when saved, rendered in a sandbox when sent.

A template is text with placeholders: ``{{ token }}``, optionally through one of a few filters
without arguments (``{{ company_name | upper }}``), and ``{% if name %}...{% endif %}`` around
text that only makes sense when a placeholder has a value. Nothing else is accepted: no loops,
no calls, no arithmetic, no attribute or item access, no assignments, no includes. So rendering
costs one pass over the template and the output is at most the template plus its placeholders'
values, which is also checked (:data:`MAX_RENDERED_CHARS`) with the longest values a placeholder
can hold, when the template is saved and again when it is sent. Rendering runs in Jinja2's
sandbox all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import RuleViolationError, ValidationError

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim"})
MAX_RENDERED_CHARS = 100_000
# The longest value any placeholder is filled with (names are at most 200 characters, tokens and
# dates far less): what a template is checked with when saved.
LONGEST_VALUE = 255


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def _refuse_unsafe(node: nodes.Node, field: str) -> None:
    """Only text, placeholders, allowed filters and ``if`` on a placeholder."""
    from jinja2 import nodes

    if isinstance(node, nodes.Template | nodes.Output | nodes.TemplateData):
        allowed = True
    elif isinstance(node, nodes.Name):
        allowed = node.ctx == "load"
    elif isinstance(node, nodes.Filter):
        allowed = node.name in FILTERS and not (node.args or node.kwargs)
        allowed = allowed and not (node.dyn_args or node.dyn_kwargs)
        if not allowed:
            raise ValidationError(
                f"Filter '{node.name}' is not allowed; use only {', '.join(sorted(FILTERS))}, "
                "without arguments.",
                field=field,
            )
    elif isinstance(node, nodes.If):
        allowed = isinstance(node.test, nodes.Name)
    else:
        allowed = False
    if not allowed:
        raise ValidationError(
            "Templates may only contain text, {{ placeholders }}, the filters "
            f"{', '.join(sorted(FILTERS))} and {{% if placeholder %}} blocks "
            f"(found {type(node).__name__.lower()} on line {node.lineno}).",
            field=field,
        )
    for child in node.iter_child_nodes():
        _refuse_unsafe(child, field)


def check_template(
    source: str,
    *,
    field: str,
    allowed: frozenset[str],
    required: frozenset[str] = frozenset(),
) -> None:
    """Refuse (400) a template that does not parse, goes beyond placeholders and simple
    conditions, uses unknown placeholders or misses one, or renders too large."""
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
    _refuse_unsafe(parsed, field)
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
        longest = env.from_string(source).render(**{name: "x" * LONGEST_VALUE for name in allowed})
    except Exception as exc:  # anything a sandboxed render raises makes the template unusable
        raise ValidationError(f"The template cannot be rendered: {exc}.", field=field) from exc
    if len(longest) > MAX_RENDERED_CHARS:
        raise ValidationError(
            f"Filled in, the template could reach {len(longest)} characters; the limit is "
            f"{MAX_RENDERED_CHARS}.",
            field=field,
        )


def render_template(source: str, values: Mapping[str, Any]) -> str:
    """Render a checked template with the given placeholder values (422 if it grew too large,
    which a checked template cannot)."""
    rendered = _environment().from_string(source).render(**values)
    if len(rendered) > MAX_RENDERED_CHARS:
        raise RuleViolationError(
            f"The email would be {len(rendered)} characters; the limit is {MAX_RENDERED_CHARS}.",
            code="email_too_large",
        )
    return rendered
