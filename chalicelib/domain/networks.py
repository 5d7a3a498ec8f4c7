"""The Outsource Network list: entries a ticket can be forwarded to, and the templates they use.

An entry's action is ``email`` (recipients, a subject and a body template), ``link`` (a URL
template rendered and handed back to the caller to open) or ``none`` (only the record and the
note). Templates name ticket values in braces, ``{title}``; ``{{`` and ``}}`` are literal braces.
They are parsed once into tokens (:func:`parse_template`) and rendered by concatenation: the
values are never evaluated, formatted or looked into, so ``{title.__class__}``, ``{title!r}``,
``{title:>99999}``, ``{0}`` and ``{}`` are refused when the template is saved (400 naming the
field) rather than interpreted when it is used.

A link template must spell out its scheme (``https`` or ``http``) and host literally, up to the
first ``/``, ``?`` or ``#``: a placeholder cannot reach the host, and each value is URL-encoded
(every reserved character escaped) when rendered. The rendered link is checked again: same
scheme and host as the template, no longer than :data:`MAX_LINK`.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from chalicelib.domain.errors import RuleViolationError, ValidationError

PLACEHOLDERS = frozenset(
    {
        "ticket_number",
        "title",
        "description",
        "instructions",
        "priority",
        "complete_by",
        "organization",
        "site",
        "contact",
        "attachments",
    }
)
CONTACT = "contact"  # only with include_contact
ATTACHMENTS = "attachments"  # only with include_attachments (email bodies)

MAX_RECIPIENTS = 10
MAX_SUBJECT_TEMPLATE = 200
MAX_BODY_TEMPLATE = 8000
MAX_LINK_TEMPLATE = 2000
MAX_SUBJECT = 250  # the rendered subject, cut beyond this
MAX_LINK = 4000  # the rendered link, refused beyond this
MAX_ATTACHMENT_LINKS = 20  # files linked in one email (the rest are named only)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_LINK_SCHEMES = frozenset({"https", "http"})
# A host name (IDN hosts in their xn-- form) or an IPv4 address, as urlsplit lower-cases it.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


class NetworkAction(enum.StrEnum):
    EMAIL = "email"
    LINK = "link"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSpec:
    """The email an ``email`` entry sends: recipients and templates."""

    to: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    include_attachments: bool = False
    include_contact: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """One entry of a tenant's Outsource Network list."""

    tenant_id: str
    network_id: str
    name: str
    organization: str | None = None
    active: bool = True
    action: NetworkAction = NetworkAction.NONE
    email: EmailSpec | None = None
    link_template: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True, slots=True)
class Literal:
    text: str


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


Token = Literal | Placeholder


def parse_template(template: str, field: str, allowed: frozenset[str]) -> tuple[Token, ...]:
    """The template as literal text and named placeholders; 400 naming ``field`` for anything
    else: unbalanced braces, unknown names, positional ``{}``/``{0}``, attribute or index
    access, conversions and format specs (a nested ``{`` inside a placeholder is a spec)."""
    tokens: list[Token] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValidationError(
            f"{field}: unbalanced braces (write {{{{ and }}}} for literal braces).", field=field
        ) from exc
    for literal, name, spec, conversion in parsed:
        if literal and tokens and isinstance(tokens[-1], Literal):
            tokens[-1] = Literal(tokens[-1].text + literal)  # "{{" splits the text in two
        elif literal:
            tokens.append(Literal(literal))
        if name is None:
            continue
        if conversion is not None or spec:
            raise ValidationError(
                f"{field}: placeholders take no conversion or format ('{{{name}}}' only).",
                field=field,
            )
        if name in PLACEHOLDERS and name not in allowed:
            needs = "include_contact" if name == CONTACT else "include_attachments (email only)"
            raise ValidationError(f"{field}: '{{{name}}}' needs {needs}.", field=field)
        if name not in allowed:
            known = ", ".join(f"{{{n}}}" for n in sorted(allowed))
            shown = name if re.fullmatch(r"\w{1,40}", name) else "..."
            raise ValidationError(
                f"{field}: unknown placeholder '{{{shown}}}'; use one of {known}.", field=field
            )
        tokens.append(Placeholder(name))
    return tuple(tokens)


def render(tokens: Sequence[Token], values: Mapping[str, str]) -> str:
    """The tokens with each placeholder replaced by its value, as plain text."""
    return "".join(t.text if isinstance(t, Literal) else values.get(t.name, "") for t in tokens)


def single_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """``text`` on one line (control characters, CR and LF included, become spaces), cut at
    ``limit`` characters."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


def allowed_in(email: EmailSpec, *, in_link: bool = False) -> frozenset[str]:
    """The placeholders a template may use: contact only when it is included, attachment links
    only in an email that includes them (never in a link)."""
    allowed = set(PLACEHOLDERS)
    if not email.include_contact:
        allowed.discard(CONTACT)
    if in_link or not email.include_attachments:
        allowed.discard(ATTACHMENTS)
    return frozenset(allowed)


@dataclass(frozen=True, slots=True)
class LinkTemplate:
    tokens: tuple[Token, ...]
    scheme: str
    host: str


def parse_link_template(template: str, include_contact: bool) -> LinkTemplate:
    """A link template whose scheme and host are literal (400 ``link_template`` otherwise)."""
    field = "link_template"
    if _CONTROL.search(template) or any(c.isspace() for c in template):
        raise ValidationError("link_template: no spaces or control characters.", field=field)
    allowed = allowed_in(EmailSpec(include_contact=include_contact), in_link=True)
    tokens = parse_template(template, field, allowed)
    prefix = tokens[0].text if tokens and isinstance(tokens[0], Literal) else ""
    whole = len(tokens) == 1 and isinstance(tokens[0], Literal)
    scheme, sep, rest = prefix.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    closed = whole or len(authority) < len(rest)
    if not sep or scheme.lower() not in _LINK_SCHEMES or not closed:
        raise ValidationError(
            "link_template: must start with a literal 'https://host/' (or http), the host "
            "followed by '/', '?' or '#' before any placeholder.",
            field=field,
        )
    host = _host(prefix)
    if host is None or not _HOST.match(host) or "@" in authority or "\\" in prefix:
        raise ValidationError(
            "link_template: the host must be a plain host name (no user, no backslash).",
            field=field,
        )
    return LinkTemplate(tokens=tokens, scheme=scheme.lower(), host=host)


def _host(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    return parts.hostname or None


def render_link(template: LinkTemplate, values: Mapping[str, str]) -> str:
    """The link with URL-encoded values; refused (422 ``link_invalid``) unless it keeps the
    template's scheme and host and stays within :data:`MAX_LINK`."""
    encoded = {name: quote(value, safe="") for name, value in values.items()}
    link = render(template.tokens, encoded)
    parts = urlsplit(link)
    if (
        len(link) > MAX_LINK
        or parts.scheme.lower() != template.scheme
        or _host(link) != template.host
    ):
        raise RuleViolationError(
            "The rendered link is not a link to the network's own host (or is too long).",
            code="link_invalid",
            field="link_template",
        )
    return link


def check_network(network: Network) -> None:
    """The entry as a whole (after a create or a partial update): every template parses with
    the placeholders its settings allow, and its action has what it needs (400 naming the
    field)."""
    email = network.email
    if email is not None:
        if len(email.to) > MAX_RECIPIENTS:
            raise ValidationError(
                f"email.to: at most {MAX_RECIPIENTS} recipients.", field="email.to"
            )
        if len(email.subject) > MAX_SUBJECT_TEMPLATE:
            raise ValidationError("email.subject: too long.", field="email.subject")
        if len(email.body) > MAX_BODY_TEMPLATE:
            raise ValidationError("email.body: too long.", field="email.body")
        allowed = allowed_in(email)
        parse_template(email.subject, "email.subject", allowed)
        parse_template(email.body, "email.body", allowed)
    include_contact = email.include_contact if email is not None else False
    if network.link_template is not None:
        if len(network.link_template) > MAX_LINK_TEMPLATE:
            raise ValidationError("link_template: too long.", field="link_template")
        parse_link_template(network.link_template, include_contact)
    if network.action is NetworkAction.EMAIL:
        if email is None or not email.to:
            raise ValidationError("The email action needs recipients.", field="email.to")
        if not email.subject.strip():
            raise ValidationError("The email action needs a subject.", field="email.subject")
    if network.action is NetworkAction.LINK and not network.link_template:
        raise ValidationError("The link action needs a link template.", field="link_template")


def ensure_active(network: Network) -> None:
    """An inactive entry takes no forwarded work (422)."""
    if not network.active:
        raise RuleViolationError(
            "This network entry is inactive: nothing can be forwarded to it.",
            code="network_inactive",
            field="network_id",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLink:
    """A download link for one attachment, sent in a forwarded email: only the token's SHA-256
    is kept, and the link stops working at ``valid_until`` (or when the attachment is deleted
    or made internal)."""

    token_hash: str
    tenant_id: str
    ticket_id: str
    attachment_id: str
    outsourcing_id: str
    created_at: datetime
    valid_until: datetime

    def valid_at(self, now: datetime) -> bool:
        return now < self.valid_until
