"""Tenant-edited templates cannot exhaust a request: text, placeholders, a few argument-free
filters and ``if`` blocks only, and a rendered size that is bounded when the template is saved."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import RuleViolationError, ValidationError
from chalicelib.service.email_templates import (
    MAX_RENDERED_CHARS,
    check_template,
    render_template,
)

PLACEHOLDERS = frozenset({"token", "company_name", "inviter"})


def _check(source: str) -> None:
    check_template(
        source, field="invitation_template", allowed=PLACEHOLDERS, required=frozenset({"token"})
    )


@pytest.mark.parametrize(
    "source",
    [
        "Hello {{ company_name }}, use {{ token }}.",
        "{{ token }}{% if inviter %} from {{ inviter | upper }}{% endif %}",
        "{{ token }}{% if inviter %}a{% else %}b{% endif %}",
        "{{ company_name|title }} {{ token|trim }}",
    ],
)
def test_placeholders_filters_and_conditions_are_accepted(source: str) -> None:
    _check(source)
    assert "T0K3N" in render_template(
        source, {"token": "T0K3N", "company_name": "acme", "inviter": "lead"}
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ token }}{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}"
        "{% endfor %}",
        "{{ token * 100000 }}",
        "{{ token }}{{ 'x' * 10000000 }}",
        "{{ token ~ token ~ token }}",
        "{{ token + token }}",
        "{{ token.__class__ }}",
        "{{ token.__init__.__globals__ }}",
        "{{ token['x'] }}",
        "{{ range(10) }}{{ token }}",
        "{{ token.upper() }}",
        "{{ token | replace('a', 'b' * 100000) }}",
        "{{ token | center(1000000) }}",
        "{{ token | format(1) }}",
        "{% set x = token %}{{ token }}",
        "{% macro m() %}{% endmacro %}{{ token }}",
        "{% include 'x' %}{{ token }}",
        "{% import 'x' as y %}{{ token }}",
        "{% if token == 'a' %}{% endif %}{{ token }}",
        "{{ token if token else token }}",
        "{{ [token] }}",
        "{{ {'a': token} }}",
        "{% filter upper %}{{ token }}{% endfilter %}",
        "{% with x = 1 %}{{ token }}{% endwith %}",
    ],
)
def test_anything_beyond_placeholders_is_refused_when_saved(source: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _check(source)
    assert refused.value.field == "invitation_template"


def test_a_template_that_could_grow_past_the_limit_is_refused_when_saved() -> None:
    # Each placeholder may be filled with up to 255 characters
    repeated = "{{ company_name }}" * (MAX_RENDERED_CHARS // 255 + 1)
    with pytest.raises(ValidationError):
        _check("{{ token }}" + repeated)
    _check("{{ token }}" + "{{ company_name }}" * 100)


def test_an_email_that_grew_past_the_limit_is_refused_when_sent() -> None:
    with pytest.raises(RuleViolationError) as refused:
        render_template("{{ token }}", {"token": "x" * (MAX_RENDERED_CHARS + 1)})
    assert refused.value.code == "email_too_large"
