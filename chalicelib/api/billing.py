"""Fees: the operator's fee plans and billing, and a tenant's own fees."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.models.billing import (
    BillingQuery,
    FeePlanIn,
    FeePlanOut,
    FeeStatementOut,
    TenantFeesQuery,
    csv_file_name,
    fees_csv,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.fees import Month
from chalicelib.domain.tenants import Permission
from chalicelib.service import fees as service
from chalicelib.service.fees import FeeQuery, SetFeePlan

api = Api(__name__, "billing")


@api.route(
    "PUT",
    "/v1/admin/tenants/{tenant_id}/fee-plan",
    summary="Set the tenant's fee per acceptance through the Subcontractor Portal (operator)",
    auth="operator",
    errors=(409,),  # a race with another change of the tenant was lost
)
def put_fee_plan(call: Call[FeePlanIn, None]) -> FeePlanOut:
    tenant, plan = service.set_fee_plan(
        call.container.tenants,
        SetFeePlan(
            tenant_id=call.params["tenant_id"],
            amount=call.body.amount,
            currency=call.body.currency,
            now=call.now,
        ),
    )
    return FeePlanOut.of(tenant, plan)


@api.route(
    "GET",
    "/v1/admin/tenants/{tenant_id}/fee-plan",
    summary="The tenant's fee plan (operator; 404 fee_plan_not_set without one)",
    auth="operator",
)
def get_fee_plan(call: Call[None, None]) -> FeePlanOut:
    tenant, plan = service.get_fee_plan(call.container.tenants, call.params["tenant_id"])
    return FeePlanOut.of(tenant, plan)


@api.route(
    "GET",
    "/v1/billing/fees",
    summary="A tenant's fee records of a month with the month's total, or format=csv (operator)",
    auth="operator",
    errors=(404,),  # an unknown tenant_id
    also_produces=("text/csv",),
)
def billing_fees(call: Call[None, BillingQuery]) -> FeeStatementOut | Response:
    query = call.query
    ports = call.container.fee_ports
    if query.format == "json":
        statement = service.fee_statement(
            ports, FeeQuery(tenant_id=query.tenant_id, month=query.month, paging=query.paging)
        )
        return FeeStatementOut.of(statement)
    if query.cursor is not None:
        raise ValidationError(
            "The CSV export is the whole month; it takes no cursor.", field="cursor"
        )
    statement = service.month_export(ports, query.tenant_id, query.month)
    return Response(
        body=fees_csv(statement),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{csv_file_name(statement)}"',
            "Cache-Control": "no-store",
        },
    )


@api.route(
    "GET",
    "/v1/outsourcing/fees",
    summary="This tenant's fee records of a month (default: this month) with the month's total",
    permission=Permission.ALL,
)
def own_fees(call: Call[None, TenantFeesQuery]) -> FeeStatementOut:
    query = call.query
    month = query.month or str(Month.of(call.now))
    statement = service.fee_statement(
        call.container.fee_ports,
        FeeQuery(tenant_id=call.tenant_id, month=month, paging=query.paging),
    )
    return FeeStatementOut.of(statement)
