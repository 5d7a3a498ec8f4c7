"""The Subcontractor Portal's work: what a signed-in portal user may see of the work their
company received, and what they may do with it.

Authorization is here, for every use case, not only in the routes:

* a user sees their own company's received copies only (the copy is read under the company's
  id, so another company's outsourcing simply does not exist);
* a user who may not accept work (neither ``admin`` nor ``can_accept``) sees only the work
  assigned to them: any other id is the same ``NotFoundError``;
* accepting and declining need ``may_accept``; reassigning needs ``may_accept`` or being the
  current assignee, and the new assignee must be an active colleague;
* notes, time, charges, attachments and completion are only for work ``in_progress``; in
  ``waiting_approval`` and after the end the work is read-only (409 ``read_only``), though it can
  still be read, printed and downloaded.

The work itself is the partner machinery's: the company's copy is a ``Side.RECEIVER`` copy owned
by the company, and after acceptance it has its own insourced ticket whose items the stream
engine keeps in step with the lead's.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.ids import is_id
from chalicelib.domain.items import Attachment, Item, ItemKind
from chalicelib.domain.outsourcing import Event, Lane, OutsourceStatus, Outsourcing, Side
from chalicelib.domain.subcontractors import PortalUser, require_may_accept
from chalicelib.domain.tenants import Actor
from chalicelib.domain.tickets import Ticket
from chalicelib.observability import count, logger
from chalicelib.ports import CopyFilter, FileStore, Page, Paging, PortalUserRepository
from chalicelib.service.items import (
    AddAttachment,
    AddItem,
    Download,
    ItemPorts,
    ItemRef,
    add_item,
    create_attachment,
    download_attachment,
    get_item,
)
from chalicelib.service.outsourcing import OutsourcingPorts, Transition, transition

LIST_PAGE = 25  # tickets per page of the portal's list
ITEM_PAGE = 100  # items per page of a ticket


class BrowserUploads(Protocol):
    """Upload forms that a browser posts straight to the file store."""

    def redirecting(self, url: str) -> FileStore:
        """The file store, whose upload forms send the browser to ``url`` once the file is
        stored."""


@dataclass(frozen=True, slots=True)
class PortalWorkPorts:
    """What the portal's work needs: outsourcing transitions, the items of the company's
    tickets, its users (colleagues to reassign to), and browser uploads."""

    outsourcing: OutsourcingPorts
    items: ItemPorts
    users: PortalUserRepository
    uploads: BrowserUploads


class WorkView(enum.StrEnum):
    MINE = "mine"  # assigned to me
    AWAITING = "awaiting"  # waiting for someone to accept it (may_accept users)
    ALL = "all"  # all of the company's work (may_accept users)


@dataclass(frozen=True, slots=True)
class WorkQuery:
    """Which page of the list: a view (None: the user's default), a status, a text."""

    view: WorkView | None = None
    status: OutsourceStatus | None = None
    text: str | None = None
    paging: Paging = dataclasses.field(default_factory=lambda: Paging(LIST_PAGE))


@dataclass(frozen=True, slots=True)
class WorkList:
    view: WorkView
    status: OutsourceStatus | None
    page: Page[Outsourcing]


def views_of(user: PortalUser) -> tuple[WorkView, ...]:
    """The list views this user may choose from."""
    if user.may_accept:
        return (WorkView.ALL, WorkView.AWAITING, WorkView.MINE)
    return (WorkView.MINE,)


def list_work(ports: PortalWorkPorts, user: PortalUser, query: WorkQuery) -> WorkList:
    """One page of the company's work as this user may see it; one Query per page."""
    view = query.view or views_of(user)[0]
    if view not in views_of(user):
        raise ValidationError(
            "Only users who may accept work see the company's other work.", field="view"
        )
    status = query.status
    if view is WorkView.AWAITING:
        status = OutsourceStatus.ASSIGNED
    wanted = CopyFilter(
        assignee_id=user.user_id if view is WorkView.MINE else None,
        status=status,
        text=(query.text or "").strip() or None,
    )
    page = ports.outsourcing.outsourcings.find(
        user.company_id, wanted, query.paging.limit, query.paging.cursor
    )
    return WorkList(view=view, status=status, page=page)


def may_see(user: PortalUser, copy: Outsourcing) -> bool:
    """The one rule of what a portal user sees: their company's received subcontractor work,
    and, unless they may accept work, only what is assigned to them."""
    return (
        copy.owner_id == user.company_id
        and copy.side is Side.RECEIVER
        and copy.lane is Lane.SUBCONTRACTOR
        and (user.may_accept or copy.assignee_id == user.user_id)
    )


def get_work(ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str) -> Outsourcing:
    """The company's copy of one outsourcing, if this user may see it (else not found)."""
    if not is_id(outsourcing_id):
        raise NotFoundError("No such ticket.")
    copy = ports.outsourcing.outsourcings.get(user.company_id, outsourcing_id)
    if not may_see(user, copy):
        raise NotFoundError("No such ticket.")
    return copy


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A ticket page: the company's copy (terms, the lead ticket's snapshot), its insourced
    ticket once accepted, and one page of that ticket's items (both sides')."""

    copy: Outsourcing
    ticket: Ticket | None
    items: list[Item]
    next_cursor: str | None = None

    @property
    def writable(self) -> bool:
        return self.copy.status is OutsourceStatus.IN_PROGRESS


def work_order(
    ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str, paging: Paging
) -> WorkOrder:
    """The work order of one ticket with one page of its items (oldest first)."""
    copy = get_work(ports, user, outsourcing_id)
    if copy.insourced_ticket_id is None:
        return WorkOrder(copy=copy, ticket=None, items=[])
    ticket = ports.outsourcing.tickets.get(user.company_id, copy.insourced_ticket_id)
    page = ports.items.items.list(
        user.company_id, copy.insourced_ticket_id, paging.limit, paging.cursor
    )
    return WorkOrder(copy=copy, ticket=ticket, items=list(page.items), next_cursor=page.next_cursor)


def full_work_order(
    ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str, max_pages: int
) -> tuple[WorkOrder, bool]:
    """The work order with up to ``max_pages`` pages of items (printing, the invoice); and
    whether that was all of them."""
    order = work_order(ports, user, outsourcing_id, Paging(ITEM_PAGE))
    items, cursor, pages = list(order.items), order.next_cursor, 1
    ticket_id = order.copy.insourced_ticket_id
    while cursor is not None and ticket_id is not None and pages < max_pages:
        page = ports.items.items.list(user.company_id, ticket_id, ITEM_PAGE, cursor)
        items.extend(page.items)
        cursor, pages = page.next_cursor, pages + 1
    return dataclasses.replace(order, items=items, next_cursor=cursor), cursor is None


def colleagues(ports: PortalWorkPorts, user: PortalUser) -> list[PortalUser]:
    """The company's active users (one page: who the work can be given to)."""
    page = ports.users.list(user.company_id, 100, None)
    return [colleague for colleague in page.items if colleague.active]


def may_reassign(user: PortalUser, copy: Outsourcing) -> bool:
    return copy.open and (user.may_accept or copy.assignee_id == user.user_id)


def _actor(user: PortalUser) -> Actor:
    # The company acts as the receiver (its id is where a tenant's would be); the user's name
    # is what its history and items record as author.
    return Actor(tenant_id=user.company_id, label=user.name or user.email)


def _log(message: str, user: PortalUser, outsourcing_id: str) -> None:
    logger.info(
        message,
        extra={
            "company_id": user.company_id,
            "user_id": user.user_id,
            "outsourcing_id": outsourcing_id,
        },
    )


def accept(ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str, now: datetime) -> None:
    """Accept work awaiting acceptance (``may_accept`` users); it is then assigned to them and
    the company's insourced ticket exists."""
    copy = get_work(ports, user, outsourcing_id)
    require_may_accept(user)
    accepted = transition(
        ports.outsourcing,
        Transition(
            actor=_actor(user), outsourcing_id=copy.outsourcing_id, event=Event.ACCEPT, now=now
        ),
    )
    ports.outsourcing.outsourcings.assign(accepted, user.user_id, now)
    _log("portal work accepted", user, outsourcing_id)
    count("PortalWorkAccepted")


@dataclass(frozen=True, slots=True)
class Decline:
    outsourcing_id: str
    reason: str
    now: datetime


def decline(ports: PortalWorkPorts, user: PortalUser, cmd: Decline) -> None:
    """Decline work awaiting acceptance, with a reason (``may_accept`` users)."""
    copy = get_work(ports, user, cmd.outsourcing_id)
    require_may_accept(user)
    transition(
        ports.outsourcing,
        Transition(
            actor=_actor(user),
            outsourcing_id=copy.outsourcing_id,
            event=Event.DECLINE,
            now=cmd.now,
            reason=cmd.reason,
        ),
    )
    _log("portal work declined", user, cmd.outsourcing_id)
    count("PortalWorkDeclined")


@dataclass(frozen=True, slots=True)
class Reassign:
    outsourcing_id: str
    assignee_id: str
    now: datetime


def reassign(ports: PortalWorkPorts, user: PortalUser, cmd: Reassign) -> None:
    """Give open work to an active colleague (``may_accept`` users, or its current assignee)."""
    copy = get_work(ports, user, cmd.outsourcing_id)
    if not copy.open:
        raise _read_only(copy)
    if not may_reassign(user, copy):
        require_may_accept(user)
    colleague = _active_colleague(ports, user, cmd.assignee_id)
    ports.outsourcing.outsourcings.assign(copy, colleague.user_id, cmd.now)
    _log("portal work reassigned", user, cmd.outsourcing_id)
    count("PortalWorkReassigned")


def _active_colleague(ports: PortalWorkPorts, user: PortalUser, user_id: str) -> PortalUser:
    unknown = ValidationError("Choose an active colleague.", field="assignee_id")
    if not is_id(user_id):
        raise unknown
    try:
        colleague = ports.users.get(user.company_id, user_id)
    except NotFoundError as exc:
        raise unknown from exc
    if colleague.company_id != user.company_id or not colleague.active:
        raise unknown
    return colleague


def _read_only(copy: Outsourcing) -> ConflictError:
    if copy.status is OutsourceStatus.ASSIGNED:
        message = "This work has not been accepted yet: accept it before adding to it."
    elif copy.status is OutsourceStatus.WAITING_APPROVAL:
        message = "This work is waiting for the lead's approval: it is read-only now."
    else:
        message = f"This work is {copy.status.value.replace('_', ' ')}: it is read-only now."
    return ConflictError(message, code="read_only")


def _writable_ticket(ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str) -> str:
    """The insourced ticket of work in progress that the user may see (else 404 / 409)."""
    copy = get_work(ports, user, outsourcing_id)
    if copy.status is not OutsourceStatus.IN_PROGRESS or copy.insourced_ticket_id is None:
        raise _read_only(copy)
    return copy.insourced_ticket_id


@dataclass(frozen=True, slots=True)
class AddWork:
    """A note, time entry or charge for work in progress (fields already validated)."""

    outsourcing_id: str
    kind: ItemKind
    fields: Mapping[str, Any]
    now: datetime


def add_work_item(ports: PortalWorkPorts, user: PortalUser, cmd: AddWork) -> Item:
    """Add a note, time entry or charge to the company's ticket of this work."""
    ticket_id = _writable_ticket(ports, user, cmd.outsourcing_id)
    item = add_item(
        ports.items,
        AddItem(
            actor=_actor(user), ticket_id=ticket_id, kind=cmd.kind, fields=cmd.fields, now=cmd.now
        ),
    )
    count("PortalItemAdded")
    return item


@dataclass(frozen=True, slots=True)
class DeclareFile:
    """An attachment to declare; the browser then posts the file straight to the file store,
    which sends it back to ``return_url``."""

    outsourcing_id: str
    file_name: str
    content_type: str
    size: int
    internal: bool
    now: datetime


def declare_attachment(ports: PortalWorkPorts, user: PortalUser, cmd: DeclareFile) -> Attachment:
    """Record an attachment on the company's ticket of work in progress (its upload form is
    :func:`upload_form`)."""
    ticket_id = _writable_ticket(ports, user, cmd.outsourcing_id)
    created = create_attachment(
        ports.items,
        AddAttachment(
            actor=_actor(user),
            ticket_id=ticket_id,
            file_name=cmd.file_name,
            content_type=cmd.content_type,
            size=cmd.size,
            internal=cmd.internal,
            now=cmd.now,
        ),
    )
    return created.attachment


@dataclass(frozen=True, slots=True)
class FileRef:
    outsourcing_id: str
    attachment_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class UploadForm:
    attachment: Attachment
    url: str
    fields: Mapping[str, str]


def upload_form(
    ports: PortalWorkPorts, user: PortalUser, ref: FileRef, return_url: str
) -> UploadForm:
    """The browser form that uploads a declared attachment's file straight to the file store
    and comes back to ``return_url``: only for work in progress, once per file."""
    ticket_id = _writable_ticket(ports, user, ref.outsourcing_id)
    attachment = _attachment(ports, user, ticket_id, ref.attachment_id)
    if attachment.read_only:
        raise NotFoundError("No such attachment.")
    files = ports.uploads.redirecting(return_url)
    if files.exists(attachment.object_key):
        raise ConflictError("This file has been uploaded already.", code="already_uploaded")
    upload = files.presign_upload(
        attachment.object_key, attachment.content_type, attachment.size, ports.items.link_seconds
    )
    return UploadForm(attachment=attachment, url=upload.url, fields=dict(upload.fields))


def _attachment(
    ports: PortalWorkPorts, user: PortalUser, ticket_id: str, attachment_id: str
) -> Attachment:
    item = get_item(
        ports.items, ItemRef(user.company_id, ticket_id, attachment_id, ItemKind.ATTACHMENT)
    )
    assert isinstance(item, Attachment)
    return item


def download(ports: PortalWorkPorts, user: PortalUser, ref: FileRef) -> Download:
    """A time-limited download of an attachment of this work (any state once accepted)."""
    copy = get_work(ports, user, ref.outsourcing_id)
    if copy.insourced_ticket_id is None:
        raise NotFoundError("No such attachment.")
    return download_attachment(
        ports.items,
        ItemRef(user.company_id, copy.insourced_ticket_id, ref.attachment_id, ItemKind.ATTACHMENT),
        ref.now,
    )


def submit_completion(
    ports: PortalWorkPorts, user: PortalUser, outsourcing_id: str, now: datetime
) -> None:
    """Hand the finished work to the lead for approval; it is read-only until then."""
    copy = get_work(ports, user, outsourcing_id)
    if copy.status is not OutsourceStatus.IN_PROGRESS:
        raise _read_only(copy)
    transition(
        ports.outsourcing,
        Transition(
            actor=_actor(user),
            outsourcing_id=copy.outsourcing_id,
            event=Event.SUBMIT_COMPLETION,
            now=now,
        ),
    )
    _log("portal completion submitted", user, outsourcing_id)
    count("PortalCompletionSubmitted")
