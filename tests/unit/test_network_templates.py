"""The network lane's templates: parsed into tokens, rendered by concatenation, never evaluated;
link templates keep their literal scheme and host whatever the ticket holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import Settings
from chalicelib.domain.errors import RuleViolationError, ValidationError
from chalicelib.domain.networks import (
    MAX_LINK,
    MAX_SUBJECT,
    PLACEHOLDERS,
    EmailSpec,
    FileLink,
    Literal,
    Network,
    NetworkAction,
    Placeholder,
    check_network,
    ensure_active,
    parse_link_template,
    parse_template,
    render,
    render_link,
    single_line,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EVERYTHING = {name: f"<{name}>" for name in PLACEHOLDERS}


def _parse(template: str) -> tuple[Literal | Placeholder, ...]:
    return parse_template(template, "email.body", PLACEHOLDERS)


def test_a_template_is_literal_text_and_named_placeholders() -> None:
    tokens = _parse("Ticket {ticket_number}: {title} {{literal}} }}{{")
    assert tokens == (
        Literal("Ticket "),
        Placeholder("ticket_number"),
        Literal(": "),
        Placeholder("title"),
        Literal(" {literal} }{"),
    )
    assert render(tokens, EVERYTHING) == "Ticket <ticket_number>: <title> {literal} }{"


@pytest.mark.parametrize(
    "template",
    [
        "{__class__}",
        "{title.__class__}",
        "{title.__init__.__globals__}",
        "{title[0]}",
        "{title!r}",
        "{title!s}",
        "{title!a}",
        "{title!}",
        "{title:>99999}",
        "{title:{description}}",
        "{{{title:{{x}}}}}",
        "{0}",
        "{}",
        "{ title }",
        "{TITLE}",
        "{unknown}",
        "{title",
        "title}",
        "{{title}",
        "{ {title} }",
        "}{",
    ],
)
def test_anything_but_a_named_placeholder_is_refused_naming_the_field(template: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _parse(template)
    assert refused.value.field == "email.body"


def test_values_are_inserted_as_text_never_evaluated_or_parsed_again() -> None:
    tokens = _parse("{title}|{description}")
    values = {"title": "{description}", "description": "{0.__class__} {{ }} %s ${x}"}
    assert render(tokens, values) == "{description}|{0.__class__} {{ }} %s ${x}"


def test_a_huge_template_is_refused_before_it_is_parsed_for_an_entry() -> None:
    entry = _entry(email=EmailSpec(to=("a@b.example",), subject="s", body="{title}" * 2000))
    with pytest.raises(ValidationError) as refused:
        check_network(entry)
    assert refused.value.field == "email.body"


def test_the_subject_is_one_line_of_bounded_length() -> None:
    assert single_line("Printer\r\nBcc: all@example.com\tnow\x00\u2028x") == (
        "Printer Bcc: all@example.com now x"
    )
    long = single_line("word " * 200)
    assert len(long) == MAX_SUBJECT and long.endswith("\u2026") and "\n" not in long


def _entry(**fields: object) -> Network:
    base: dict[str, object] = {
        "tenant_id": "T",
        "network_id": "N",
        "name": "Desk",
        "action": NetworkAction.EMAIL,
        "email": EmailSpec(to=("a@b.example",), subject="{title}", body="{description}"),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Network(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": EmailSpec(to=(), subject="s")}, "email.to"),
        (
            {"email": EmailSpec(to=tuple(f"a{i}@b.example" for i in range(11)), subject="s")},
            "email.to",
        ),
        ({"email": EmailSpec(to=("a@b.example",), subject=" ")}, "email.subject"),
        ({"email": EmailSpec(to=("a@b.example",), subject="{contact}")}, "email.subject"),
        (
            {"email": EmailSpec(to=("a@b.example",), subject="s", body="{attachments}")},
            "email.body",
        ),
        ({"email": None}, "email.to"),
        ({"action": NetworkAction.LINK}, "link_template"),
        ({"action": NetworkAction.NONE, "link_template": "javascript:alert(1)"}, "link_template"),
    ],
)
def test_an_entry_is_checked_as_a_whole(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_network(_entry(**fields))
    assert refused.value.field == field


def test_contact_and_attachments_are_allowed_only_when_included() -> None:
    spec = EmailSpec(
        to=("a@b.example",),
        subject="{contact}",
        body="{attachments}",
        include_contact=True,
        include_attachments=True,
    )
    check_network(_entry(email=spec))
    with pytest.raises(ValidationError):
        parse_link_template("https://v.example/{attachments}", include_contact=True)
    parse_link_template("https://v.example/{contact}", include_contact=True)
    with pytest.raises(ValidationError):
        parse_link_template("https://v.example/{contact}", include_contact=False)


@pytest.mark.parametrize(
    "template",
    [
        "javascript:alert(1)",
        "JavaScript://%0aalert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "ftp://v.example/",
        "//v.example/{title}",
        "/relative/{title}",
        "{title}",
        "{title}://v.example/",
        "https://{title}/",
        "https://v.example{title}",
        "https://v.example.{title}/",
        "https://v.example:{title}/",
        "https://user:pass@v.example/",
        "https://v.example\\@evil.example/",
        "https://v.example/\n{title}",
        "https://v.example/ {title}",
        "https://exa{{mple.com/",
        "https:///{title}",
        "https://v.example:99999/",
    ],
)
def test_a_link_template_must_spell_out_an_http_scheme_and_host(template: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_link_template(template, include_contact=False)
    assert refused.value.field == "link_template"


@pytest.mark.parametrize(
    "value",
    [
        "@evil.example",
        "/../../evil",
        "x#@evil.example/",
        "javascript:alert(1)",
        "\r\nLocation: https://evil.example",
        "%2F%2Fevil.example",
        "\\\\evil.example",
        "data:text/html,<script>",
    ],
)
def test_a_rendered_link_keeps_the_templates_scheme_and_host(value: str) -> None:
    template = parse_link_template("https://v.example/new?t={title}#{site}", include_contact=False)
    link = render_link(template, {**EVERYTHING, "title": value, "site": value})
    assert link.startswith("https://v.example/new?t=")
    assert "evil.example/" not in link.split("?", 1)[0]
    assert not any(c in link for c in " \r\n\\")


def test_values_are_url_encoded_in_a_link() -> None:
    template = parse_link_template("https://v.example/t/{title}?n={ticket_number}", False)
    link = render_link(template, {**EVERYTHING, "title": "a/b?c=d&e#f g", "ticket_number": "T1"})
    assert link == "https://v.example/t/a%2Fb%3Fc%3Dd%26e%23f%20g?n=T1"


def test_a_rendered_link_that_grows_too_long_is_refused() -> None:
    template = parse_link_template("https://v.example/{description}", False)
    with pytest.raises(RuleViolationError) as refused:
        render_link(template, {**EVERYTHING, "description": "x" * MAX_LINK})
    assert refused.value.code == "link_invalid"


def test_a_template_without_placeholders_is_its_own_link() -> None:
    template = parse_link_template("https://V.Example", False)
    assert (template.scheme, template.host) == ("https", "v.example")
    assert render_link(template, EVERYTHING) == "https://V.Example"


def test_an_inactive_entry_takes_nothing_and_links_expire() -> None:
    with pytest.raises(RuleViolationError) as refused:
        ensure_active(_entry(active=False))
    assert refused.value.code == "network_inactive"
    ensure_active(_entry())
    link = FileLink(
        token_hash="h",
        tenant_id="T",
        ticket_id="K",
        attachment_id="A",
        outsourcing_id="O",
        created_at=NOW,
        valid_until=NOW + timedelta(days=7),
    )
    assert link.valid_at(NOW + timedelta(days=7) - timedelta(seconds=1))
    assert not link.valid_at(NOW + timedelta(days=7))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"API_BASE_URL": "http://127.0.0.1:8123/"}, "http://127.0.0.1:8123"),
        (
            {"PORTAL_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/api/portal"},
            "https://abc.execute-api.eu-west-1.amazonaws.com/api",
        ),
        (
            {"API_BASE_URL": "/", "PORTAL_URL": "https://x.example/api/portal/"},
            "https://x.example/api",
        ),
        ({"API_BASE_URL": "/", "PORTAL_URL": ""}, None),
        ({"API_BASE_URL": "/", "PORTAL_URL": "https://x.example/somewhere"}, None),
        ({"API_BASE_URL": "javascript:alert(1)", "PORTAL_URL": "/portal"}, None),
    ],
)
def test_the_public_address_of_links_comes_from_configuration_only(
    environ: dict[str, str], expected: str | None
) -> None:
    assert Settings.from_environ(environ).public_api_url == expected
