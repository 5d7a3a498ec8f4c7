"""Portal pages for the work: the ticket list, the ticket page (the work order with its action
forms), its actions, attachments, the printable work order and invoice, and the reports.

Every path is written out in its decorator. Who may see and do what is decided by the use cases
(:mod:`chalicelib.service.portal_work`), not here: a route only reads the form, calls one use
case and redirects (303) to the page to show next.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib.domain.items import ItemKind
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.portal import forms
from chalicelib.portal.web import FORM, Portal, action, blueprint, origin_of, page, security_headers
from chalicelib.ports import Paging
from chalicelib.service import portal_reports as reports
from chalicelib.service import portal_work as work
from chalicelib.service.portal_work import (
    AddWork,
    DeclareFile,
    Decline,
    FileRef,
    Reassign,
    WorkQuery,
)

DONE = {
    "accepted": "You accepted the work; it is assigned to you.",
    "declined": "You declined the work.",
    "reassigned": "The work was given to your colleague.",
    "note": "The note was added.",
    "time": "The time entry was added.",
    "charge": "The charge was added.",
    "uploaded": "The file was uploaded.",
    "submitted": "The work was submitted for approval; it is read-only now.",
}


def _ports(portal: Portal) -> work.PortalWorkPorts:
    return portal.container.portal_work_ports


def _ticket(portal: Portal, outsourcing_id: str, done: str) -> Response:
    return portal.redirect(f"/portal/tickets/{outsourcing_id}", done=done)


# -- the list and the ticket page ---------------------------------------------------------------


@blueprint.route("/portal", methods=["GET"], name="portal_list")
@page
def ticket_list(portal: Portal) -> Response:
    query = portal.query(forms.ListQuery)
    user = portal.me.user
    found = work.list_work(
        _ports(portal),
        user,
        WorkQuery(
            view=query.view,
            status=query.status,
            text=query.q,
            paging=Paging(work.LIST_PAGE, query.cursor),
        ),
    )
    return portal.page(
        "list.html",
        found=found,
        views=work.views_of(user),
        statuses=list(OutsourceStatus),
        q=query.q or "",
        names=_names(portal) if user.may_accept else {},
    )


def _names(portal: Portal) -> dict[str, str]:
    return {u.user_id: u.name or u.email for u in work.colleagues(_ports(portal), portal.me.user)}


@blueprint.route("/portal/tickets/{outsourcing_id}", methods=["GET"], name="portal_ticket")
@page
def ticket(portal: Portal, outsourcing_id: str) -> Response:
    query = portal.query(forms.TicketQuery)
    user = portal.me.user
    ports = _ports(portal)
    order = work.work_order(ports, user, outsourcing_id, Paging(work.ITEM_PAGE, query.items))
    reassignable = work.may_reassign(user, order.copy)
    people = work.colleagues(ports, user) if reassignable else []
    return portal.page(
        "ticket.html",
        order=order,
        copy=order.copy,
        done=DONE.get(query.done or ""),
        may_accept=user.may_accept and order.copy.status is OutsourceStatus.ASSIGNED,
        reassignable=reassignable,
        colleagues=[c for c in people if c.user_id != order.copy.assignee_id],
        names={c.user_id: c.name or c.email for c in people},
        content_types=sorted(ports.items.upload_policy.content_types),
        max_bytes=ports.items.upload_policy.max_bytes,
    )


# -- acting on the work -------------------------------------------------------------------------


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/accept",
    methods=["POST"],
    content_types=FORM,
    name="portal_accept",
)
@action
def accept(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    forms.validate(forms.EmptyForm, form)
    work.accept(_ports(portal), portal.me.user, outsourcing_id, portal.now)
    return _ticket(portal, outsourcing_id, "accepted")


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/decline",
    methods=["POST"],
    content_types=FORM,
    name="portal_decline",
)
@action
def decline(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    given = forms.validate(forms.DeclineForm, form)
    work.decline(_ports(portal), portal.me.user, Decline(outsourcing_id, given.reason, portal.now))
    return _ticket(portal, outsourcing_id, "declined")


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/reassign",
    methods=["POST"],
    content_types=FORM,
    name="portal_reassign",
)
@action
def reassign(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    given = forms.validate(forms.ReassignForm, form)
    work.reassign(
        _ports(portal), portal.me.user, Reassign(outsourcing_id, given.assignee_id, portal.now)
    )
    return _ticket(portal, outsourcing_id, "reassigned")


def _add(portal: Portal, outsourcing_id: str, kind: ItemKind, fields: dict[str, Any]) -> None:
    work.add_work_item(
        _ports(portal), portal.me.user, AddWork(outsourcing_id, kind, fields, portal.now)
    )


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/notes",
    methods=["POST"],
    content_types=FORM,
    name="portal_add_note",
)
@action
def add_note(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    given = forms.validate(forms.NoteForm, form)
    _add(portal, outsourcing_id, ItemKind.NOTE, given.model_dump())
    return _ticket(portal, outsourcing_id, "note")


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/time-entries",
    methods=["POST"],
    content_types=FORM,
    name="portal_add_time_entry",
)
@action
def add_time_entry(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    fields = forms.validate(forms.TimeForm, form).model_dump()
    if fields["hours_billable"] is None:
        fields["hours_billable"] = fields["hours_worked"]
    _add(portal, outsourcing_id, ItemKind.TIME_ENTRY, fields)
    return _ticket(portal, outsourcing_id, "time")


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/charges",
    methods=["POST"],
    content_types=FORM,
    name="portal_add_charge",
)
@action
def add_charge(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    given = forms.validate(forms.ChargeForm, form)
    _add(portal, outsourcing_id, ItemKind.CHARGE, given.model_dump())
    return _ticket(portal, outsourcing_id, "charge")


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/submit-completion",
    methods=["POST"],
    content_types=FORM,
    name="portal_submit_completion",
)
@action
def submit_completion(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    forms.validate(forms.EmptyForm, form)
    work.submit_completion(_ports(portal), portal.me.user, outsourcing_id, portal.now)
    return _ticket(portal, outsourcing_id, "submitted")


# -- attachments ------------------------------------------------------------------------------


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/attachments",
    methods=["POST"],
    content_types=FORM,
    name="portal_declare_attachment",
)
@action
def declare_attachment(portal: Portal, form: dict[str, str], outsourcing_id: str) -> Response:
    given = forms.validate(forms.AttachmentForm, form)
    attachment = work.declare_attachment(
        _ports(portal),
        portal.me.user,
        DeclareFile(
            outsourcing_id=outsourcing_id,
            file_name=given.file_name,
            content_type=given.content_type,
            size=given.size,
            internal=given.internal,
            now=portal.now,
        ),
    )
    return portal.redirect(
        f"/portal/tickets/{outsourcing_id}/attachments/{attachment.item_id}/upload"
    )


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/attachments/{attachment_id}/upload",
    methods=["GET"],
    name="portal_upload_page",
)
@page
def upload_page(portal: Portal, outsourcing_id: str, attachment_id: str) -> Response:
    # S3 sends the browser back here (an absolute URL: the portal's configured address).
    back = portal.container.settings.portal_url.rstrip("/")
    return_url = f"{back}/tickets/{outsourcing_id}?done=uploaded"
    form = work.upload_form(
        _ports(portal),
        portal.me.user,
        FileRef(outsourcing_id, attachment_id, portal.now),
        return_url,
    )
    return portal.page(
        "upload.html",
        form_action=origin_of(form.url),
        upload=form,
        outsourcing_id=outsourcing_id,
    )


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/attachments/{attachment_id}",
    methods=["GET"],
    name="portal_download",
)
@page
def download(portal: Portal, outsourcing_id: str, attachment_id: str) -> Response:
    found = work.download(
        _ports(portal), portal.me.user, FileRef(outsourcing_id, attachment_id, portal.now)
    )
    headers = security_headers()
    headers.update({"Location": found.url, "Cache-Control": "no-store"})
    return Response(body="", status_code=303, headers=headers)


# -- printing and reports -----------------------------------------------------------------------


@blueprint.route(
    "/portal/tickets/{outsourcing_id}/work-order", methods=["GET"], name="portal_work_order"
)
@page
def work_order(portal: Portal, outsourcing_id: str) -> Response:
    order, complete = work.full_work_order(
        _ports(portal), portal.me.user, outsourcing_id, reports.INVOICE_PAGES
    )
    return portal.page("work_order.html", order=order, copy=order.copy, complete=complete)


@blueprint.route("/portal/tickets/{outsourcing_id}/invoice", methods=["GET"], name="portal_invoice")
@page
def invoice(portal: Portal, outsourcing_id: str) -> Response:
    found = reports.invoice(_ports(portal), portal.me.user, outsourcing_id)
    return portal.page("invoice.html", invoice=found, copy=found.copy)


@blueprint.route("/portal/reports/summary", methods=["GET"], name="portal_summary_report")
@page
def summary_report(portal: Portal) -> Response:
    summary = reports.summary_report(_ports(portal), portal.me.user)
    return portal.page(
        "summary.html", summary=summary, limit=reports.REPORT_PAGES * reports.REPORT_PAGE
    )


@blueprint.route("/portal/reports/status", methods=["GET"], name="portal_status_report")
@page
def status_report(portal: Portal) -> Response:
    groups = reports.status_report(_ports(portal), portal.me.user)
    return portal.page("status.html", groups=groups, page_size=reports.REPORT_PAGE)
