"""Subcontractors (the lead's side): add a company, list them, end a relationship."""

from __future__ import annotations

from chalicelib.api.models.base import PageQuery
from chalicelib.api.models.subcontractors import (
    SubcontractorCreate,
    SubcontractorCreated,
    SubcontractorList,
    SubcontractorOut,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.tenants import Permission
from chalicelib.service import subcontractors as service
from chalicelib.service.subcontractors import AddSubcontractor

api = Api(__name__, "subcontractors")


@api.route(
    "POST",
    "/v1/subcontractors",
    summary="Add a subcontractor company: its admin gets a one-time activation link (shown once)",
    status=201,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409, 422),
    secrets=("activation_url",),
)
def add_subcontractor(call: Call[SubcontractorCreate, None]) -> SubcontractorCreated:
    added = service.add_subcontractor(
        call.container.subcontractor_ports,
        AddSubcontractor(
            actor=call.actor,
            company_name=call.body.company_name,
            admin_email=str(call.body.admin_email),
            now=call.now,
        ),
    )
    return SubcontractorCreated.of(added)


@api.route("GET", "/v1/subcontractors", summary="This tenant's subcontractors, newest first")
def list_subcontractors(call: Call[None, PageQuery]) -> SubcontractorList:
    page = service.list_subcontractors(
        call.container.subcontractor_ports, call.tenant_id, call.query.paging
    )
    return SubcontractorList.of(page)


@api.route("GET", "/v1/subcontractors/{subcontractor_id}", summary="One subcontractor")
def get_subcontractor(call: Call[None, None]) -> SubcontractorOut:
    return SubcontractorOut.of(
        service.get_subcontractor(
            call.container.subcontractor_ports, call.tenant_id, call.params["subcontractor_id"]
        )
    )


@api.route(
    "POST",
    "/v1/subcontractors/{subcontractor_id}/deactivate",
    summary="End the relationship: no new outsourcings to the company; open ones go on",
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409,),
)
def deactivate_subcontractor(call: Call[None, None]) -> SubcontractorOut:
    return SubcontractorOut.of(
        service.deactivate_subcontractor(
            call.container.subcontractor_ports,
            call.tenant_id,
            call.params["subcontractor_id"],
            call.now,
        )
    )
