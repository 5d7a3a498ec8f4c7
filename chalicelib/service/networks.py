"""The network lane: the tenant's Outsource Network list, and forwarding a ticket to an entry.

Forwarding is fire and forget. The order is: check everything (the set-up, the entry, the
ticket, the terms), render the templates, take one email from the tenant's daily allowance,
send the email through SES, and only then write, in one transaction, the lead's outsourcing
record (status ``forwarded``, one history entry, no receiver copy), its status count, an
internal note on the lead ticket saying what was sent, when and to whom, and the download links
the email carries. A refused or failed send records nothing (the allowance taken stays taken,
as for every outbound email). The window that remains is a crash, or a failed write, after SES
took the email (or when SES does not confirm it: ``422 email_unconfirmed``): the email may be
out, but there is no record or note, and its download links answer
404 because they were never stored. A retry with the same ``Idempotency-Key`` runs again once
the first claim lapses, and sends a second email.

The write is not conditional on the ticket's state: the email is already out, so the record
of it is kept even if the ticket was outsourced elsewhere meanwhile. The ticket itself is not
changed: a forwarded outsourcing is ended from the start, so it never
marks the ticket as outsourced and the ticket can be outsourced again (to anyone) at once. The
terms are checked as for the other lanes, except ``accept_by``: nothing is accepted and nothing
expires on this lane, so a deadline to accept is refused (422) rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import agreement
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import NotConfiguredError, NotFoundError, RuleViolationError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.items import Attachment, Note, Origin
from chalicelib.domain.networks import (
    ATTACHMENTS,
    CONTACT,
    MAX_ATTACHMENT_LINKS,
    EmailSpec,
    FileLink,
    Network,
    NetworkAction,
    Placeholder,
    allowed_in,
    check_network,
    ensure_active,
    parse_link_template,
    parse_template,
    render,
    render_link,
    single_line,
)
from chalicelib.domain.outsourcing import (
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    check_terms,
)
from chalicelib.domain.tenants import Actor
from chalicelib.domain.tickets import Ticket
from chalicelib.observability import count, logger
from chalicelib.ports import (
    Email,
    FileLinkRepository,
    FileStore,
    Mailer,
    MailNotSentError,
    MailRejectedError,
    NetworkRepository,
    Page,
    Paging,
)
from chalicelib.service.concurrency import retry_on_conflict
from chalicelib.service.lookup import all_items
from chalicelib.service.outbound_mail import Allowance, reserve
from chalicelib.service.outsourcing import (
    Outsource,
    OutsourcingPorts,
    outsourcable_ticket,
    snapshot,
)

FILE_LINK_PREFIX = "fl_"
_FILE_TOKEN = re.compile(r"^fl_[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32): 256 bits
MAX_EMAIL_BODY = 100_000  # characters of a rendered body; the rest is cut
MAX_NOTE_COPY = 20_000  # characters of the email's text copied into the note


@dataclass(frozen=True, slots=True)
class FileLinks:
    """Where forwarded emails' download links point and how long they work.

    ``base_url`` is the API's public address (``https://<api>/api`` deployed, the stage prefix
    included; ``http://127.0.0.1:<port>`` on the local stack), or None when the deployment does
    not know it: then an email that would carry links is refused (503) before anything is sent.
    """

    repository: FileLinkRepository
    base_url: str | None
    days: int = 7
    redirect_seconds: int = 300  # the presigned GET a link redirects to


@dataclass(frozen=True, slots=True)
class NetworkPorts:
    networks: NetworkRepository
    outsourcing: OutsourcingPorts
    files: FileStore
    mailer: Mailer
    allowance: Allowance
    links: FileLinks


@dataclass(frozen=True, slots=True)
class AddNetwork:
    actor: Actor
    fields: Mapping[str, Any]  # name, organization, active, action, email, link_template
    now: datetime


@dataclass(frozen=True, slots=True)
class UpdateNetwork:
    actor: Actor
    network_id: str
    changes: Mapping[str, Any]  # top-level fields given (``email`` not among them)
    email_changes: Mapping[str, Any] | None  # fields of ``email`` given, merged into the stored
    now: datetime


@dataclass(frozen=True, slots=True)
class Forwarded:
    outsourcing: Outsourcing
    link: str | None  # the rendered link of a ``link`` entry, for the caller to open


def add_network(ports: NetworkPorts, cmd: AddNetwork) -> Network:
    """Add an entry to the tenant's Outsource Network list (needs outsourcing set up)."""
    lead = ports.outsourcing.tenants.get(cmd.actor.tenant_id)
    agreement.ensure_outsourcing_allowed(lead)
    network = Network(
        tenant_id=lead.tenant_id,
        network_id=new_id(),
        created_at=cmd.now,
        updated_at=cmd.now,
        **cmd.fields,
    )
    check_network(network)
    ports.networks.add(network)
    logger.info(
        "network added", extra={"tenant_id": lead.tenant_id, "network_id": network.network_id}
    )
    count("NetworkAdded")
    return network


def get_network(ports: NetworkPorts, tenant_id: str, network_id: str) -> Network:
    """One of the tenant's entries; anything else (another tenant's, malformed) is not found."""
    if not is_id(network_id):
        raise NotFoundError("No such network.")
    return ports.networks.get(tenant_id, network_id)


def list_networks(ports: NetworkPorts, tenant_id: str, paging: Paging) -> Page[Network]:
    """The tenant's entries, newest first."""
    return ports.networks.list(tenant_id, paging.limit, paging.cursor)


def update_network(ports: NetworkPorts, cmd: UpdateNetwork) -> Network:
    """A partial update; the entry as a whole must be valid afterwards (400 naming the field)."""
    tenant_id = cmd.actor.tenant_id
    current = get_network(ports, tenant_id, cmd.network_id)
    agreement.ensure_outsourcing_allowed(ports.outsourcing.tenants.get(tenant_id))

    def apply(network: Network) -> Network:
        changes: dict[str, Any] = dict(cmd.changes)
        if cmd.email_changes is not None:
            base = network.email or EmailSpec()
            changes["email"] = dataclasses.replace(base, **cmd.email_changes)
        if not changes:
            return network
        changes["updated_at"] = cmd.now
        check_network(dataclasses.replace(network, **changes))
        return ports.networks.update(network, changes)

    updated = retry_on_conflict(
        apply, first=current, reload=lambda: get_network(ports, tenant_id, cmd.network_id)
    )
    count("NetworkUpdated")
    return updated


# -- forwarding ---------------------------------------------------------------------------------


def forward(ports: NetworkPorts, cmd: Outsource) -> Forwarded:
    """Forward the ticket to the network entry named in ``cmd.receivers['network_id']``."""
    network_id = cmd.receivers.get("network_id") or ""
    lead = ports.outsourcing.tenants.get(cmd.actor.tenant_id)
    agreement.ensure_outsourcing_allowed(lead)
    ticket = outsourcable_ticket(ports.outsourcing, cmd)
    if not is_id(network_id):
        raise NotFoundError("No such network.", field="network_id")
    network = ports.networks.get(lead.tenant_id, network_id)
    ensure_active(network)
    check_terms(cmd.terms, cmd.now)
    if cmd.terms.accept_by is not None:
        raise RuleViolationError(
            "Nothing is accepted on a network and nothing expires: leave out accept_by.",
            code="accept_by_not_applicable",
            field="terms.accept_by",
        )
    copy = _forwarded_copy(cmd, lead.name, ticket, network)
    link: str | None = None
    links: list[FileLink] = []
    if network.action is NetworkAction.EMAIL:
        assert network.email is not None  # check_network: an email entry has its spec
        sent, links = _send(ports, cmd, copy, ticket, network.email)
        what = sent
    elif network.action is NetworkAction.LINK:
        assert network.link_template is not None
        include_contact = network.email.include_contact if network.email else False
        template = parse_link_template(network.link_template, include_contact)
        link = render_link(template, _values(ticket, cmd.terms, include_contact))
        what = f"Link produced, for the caller to open (the service did not open it):\n{link}"
    else:
        what = 'Nothing was sent: the action of this entry is "none".'
    note = _note(cmd, copy, network, what)
    ports.networks.record_forward(copy, note, links)
    logger.info(
        "ticket forwarded",
        extra={
            "tenant_id": lead.tenant_id,
            "outsourcing_id": copy.outsourcing_id,
            "network_id": network.network_id,
            "action": network.action.value,
        },
    )
    count("TicketForwarded")
    return Forwarded(outsourcing=copy, link=link)


def _forwarded_copy(
    cmd: Outsource, lead_name: str, ticket: Ticket, network: Network
) -> Outsourcing:
    """The lead's record: ended (``forwarded``) from the start, the network as receiver."""
    entry = HistoryEntry(
        event="forward",
        from_status=None,
        to_status=OutsourceStatus.FORWARDED,
        at=cmd.now,
        by=Side.LEAD,
        actor=cmd.actor.label,
    )
    return Outsourcing(
        owner_id=ticket.tenant_id,
        side=Side.LEAD,
        outsourcing_id=new_id(),
        lane=Lane.NETWORK,
        status=OutsourceStatus.FORWARDED,
        lead_tenant_id=ticket.tenant_id,
        lead_ticket_id=ticket.ticket_id,
        receiver_id=network.network_id,  # an entry of the lead's list: no copy is kept there
        partnership_id=None,
        terms=cmd.terms,
        currency=ticket.currency,
        ticket=snapshot(ticket),
        lead_name=lead_name,
        receiver_name=network.name,
        created_at=cmd.now,
        updated_at=cmd.now,
        history=(entry,),
    )


def _values(
    ticket: Ticket, terms: Terms, include_contact: bool, attachments: str | None = None
) -> dict[str, str]:
    """The placeholders' values: the ticket's fields and the terms' instructions (the terms'
    complete-by date before the ticket's); contact and attachments only when included."""
    complete_by = terms.complete_by or ticket.complete_by
    values = {
        "ticket_number": ticket.number,
        "title": ticket.title,
        "description": ticket.description,
        "instructions": terms.instructions,
        "priority": ticket.priority.value,
        "complete_by": iso(complete_by) if complete_by else "",
        "organization": ticket.organization or "",
        "site": ticket.site or "",
    }
    if include_contact:
        values[CONTACT] = ticket.contact or ""
    if attachments is not None:
        values[ATTACHMENTS] = attachments
    return values


def _send(
    ports: NetworkPorts, cmd: Outsource, copy: Outsourcing, ticket: Ticket, spec: EmailSpec
) -> tuple[str, list[FileLink]]:
    """Render and send the entry's email; returns what the note says and the links to store."""
    allowed = allowed_in(spec)
    subject_tokens = parse_template(spec.subject, "email.subject", allowed)
    body_tokens = parse_template(spec.body, "email.body", allowed)
    wanted = spec.include_attachments and Placeholder(ATTACHMENTS) in body_tokens
    files, left = _shareable_attachments(ports, ticket) if wanted else ([], 0)
    links, sent_list, noted_list = _file_links(ports, cmd, copy, files, left)
    values = _values(ticket, cmd.terms, spec.include_contact, sent_list if wanted else None)
    subject = single_line(render(subject_tokens, values))
    body = render(body_tokens, values)[:MAX_EMAIL_BODY]
    noted_body = render(body_tokens, {**values, ATTACHMENTS: noted_list})[:MAX_NOTE_COPY]
    reserve(ports.allowance, cmd.actor.tenant_id, cmd.now)
    try:
        ports.mailer.send(Email(to=list(spec.to), subject=subject, text=body))
    except (MailRejectedError, MailNotSentError) as exc:
        logger.warning(
            "network email not sent",
            extra={"tenant_id": cmd.actor.tenant_id, "reason": str(exc)[:100]},
        )
        raise RuleViolationError(
            "The email could not be sent; nothing was recorded.", code="email_not_sent"
        ) from exc
    except Exception as exc:
        logger.exception("network email unconfirmed", extra={"tenant_id": cmd.actor.tenant_id})
        raise RuleViolationError(
            "The mail service did not confirm the email: it may have been sent. Nothing was "
            "recorded; check with the recipient before forwarding again.",
            code="email_unconfirmed",
        ) from exc
    count("NetworkEmailSent")
    what = f"Email sent to {', '.join(spec.to)}.\nSubject: {subject}\n\n{noted_body}"
    return what, links


def _shareable_attachments(ports: NetworkPorts, ticket: Ticket) -> tuple[list[Attachment], int]:
    """The lead ticket's own attachments that are not internal and whose file is uploaded, up
    to MAX_ATTACHMENT_LINKS (each is one HEAD on S3, so no more are checked), and how many
    more were left unchecked."""
    candidates = [
        item
        for item in all_items(ports.outsourcing.items, ticket.tenant_id, ticket.ticket_id)
        if isinstance(item, Attachment) and not item.internal and item.origin is Origin.LOCAL
    ]
    found: list[Attachment] = []
    for checked, item in enumerate(candidates, start=1):
        if ports.files.exists(item.object_key):
            found.append(item)
        if len(found) == MAX_ATTACHMENT_LINKS:
            return found, len(candidates) - checked
    return found, 0


def _file_links(
    ports: NetworkPorts,
    cmd: Outsource,
    copy: Outsourcing,
    files: Sequence[Attachment],
    left: int,
) -> tuple[list[FileLink], str, str]:
    """A download link per file: the records to store (token hashes only), the list for the
    email (with the links) and the one for the note (names only); ``left`` more are counted."""
    if not files:
        return [], "(no attachments)", "(no attachments)"
    base = ports.links.base_url
    if not base:
        raise NotConfiguredError(
            "The API's public address is not configured (API_BASE_URL or PORTAL_URL), so "
            "download links cannot be made; nothing was sent."
        )
    valid_until = cmd.now + timedelta(days=ports.links.days)
    linked = list(files)
    records: list[FileLink] = []
    sent_lines: list[str] = []
    noted_lines: list[str] = []
    for attachment in linked:
        token = FILE_LINK_PREFIX + secrets.token_urlsafe(32)
        records.append(
            FileLink(
                token_hash=hash_file_token(token),
                tenant_id=attachment.tenant_id,
                ticket_id=attachment.ticket_id,
                attachment_id=attachment.item_id,
                outsourcing_id=copy.outsourcing_id,
                created_at=cmd.now,
                valid_until=valid_until,
            )
        )
        sent_lines.append(f"- {attachment.file_name}: {base.rstrip('/')}/files/{token}")
        noted_lines.append(f"- {attachment.file_name} (download link)")
    until = f"(links valid until {iso(valid_until)})"
    more = [f"- and up to {left} more file(s), not linked"] if left else []
    return (
        records,
        "\n".join([*sent_lines, *more, until]),
        "\n".join([*noted_lines, *more, until]),
    )


def _note(cmd: Outsource, copy: Outsourcing, network: Network, what: str) -> Note:
    """The lead's internal record of the forwarding."""
    organization = f" ({network.organization})" if network.organization else ""
    text = (
        f'Forwarded to the network "{network.name}"{organization} at {iso(cmd.now)} by '
        f"{cmd.actor.label or 'this tenant'} (outsourcing {copy.outsourcing_id}).\n{what}"
    )
    return Note(
        tenant_id=copy.lead_tenant_id,
        ticket_id=copy.lead_ticket_id,
        item_id=new_id(),
        internal=True,
        text=text,
        created_by=cmd.actor.label,
        created_at=cmd.now,
        updated_at=cmd.now,
    )


# -- download links -----------------------------------------------------------------------------


def hash_file_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_file(ports: NetworkPorts, token: str, now: datetime) -> str:
    """A short-lived download URL for the file a forwarded email's link names: only while the
    link is valid and the attachment still exists, is not deleted and is not internal now.
    Anything else is the same 404."""
    gone = NotFoundError("No such file, or the link has expired.")
    if not _FILE_TOKEN.match(token):
        raise gone
    link = ports.links.repository.get(hash_file_token(token))
    if link is None or not link.valid_at(now):
        raise gone
    attachment = ports.links.repository.attachment(link)
    if attachment is None or attachment.deleted or attachment.internal or attachment.read_only:
        raise gone
    count("NetworkFileOpened")
    return ports.files.presign_download(
        attachment.object_key, attachment.file_name, ports.links.redirect_seconds
    )
