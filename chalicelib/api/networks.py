"""The Outsource Network list (add, list, read, change an entry), and the download links that
forwarded emails carry (``GET /files/{token}``, public: the token is the credential)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.models.base import PageQuery
from chalicelib.api.models.networks import NetworkCreate, NetworkList, NetworkOut, NetworkPatch
from chalicelib.api.routing import Api, Call
from chalicelib.domain.tenants import Permission
from chalicelib.service import networks as service
from chalicelib.service.networks import AddNetwork, UpdateNetwork

api = Api(__name__, "networks")


@api.route(
    "POST",
    "/v1/networks",
    summary="Add an entry to the Outsource Network list (action email, link or none)",
    status=201,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(422,),  # 422: outsourcing not set up (agreement, enabled)
)
def add_network(call: Call[NetworkCreate, None]) -> NetworkOut:
    network = service.add_network(
        call.container.network_ports,
        AddNetwork(actor=call.actor, fields=call.body.fields(), now=call.now),
    )
    return NetworkOut.of(network)


@api.route("GET", "/v1/networks", summary="This tenant's Outsource Network list, newest first")
def list_networks(call: Call[None, PageQuery]) -> NetworkList:
    page = service.list_networks(call.container.network_ports, call.tenant_id, call.query.paging)
    return NetworkList.of(page)


@api.route("GET", "/v1/networks/{network_id}", summary="One entry of the Outsource Network list")
def get_network(call: Call[None, None]) -> NetworkOut:
    return NetworkOut.of(
        service.get_network(call.container.network_ports, call.tenant_id, call.params["network_id"])
    )


@api.route(
    "PATCH",
    "/v1/networks/{network_id}",
    summary="Change an entry (only the fields given; the result must be valid as a whole)",
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409, 422),  # 409: a lost race; 422: outsourcing not set up
)
def update_network(call: Call[NetworkPatch, None]) -> NetworkOut:
    changes, email_changes = call.body.changes()
    network = service.update_network(
        call.container.network_ports,
        UpdateNetwork(
            actor=call.actor,
            network_id=call.params["network_id"],
            changes=changes,
            email_changes=email_changes,
            now=call.now,
        ),
    )
    return NetworkOut.of(network)


@api.route(
    "GET",
    "/files/{token}",
    summary="A forwarded email's download link: 302 to a short-lived download while the link "
    "is valid and the attachment is still shared; 404 otherwise",
    auth="none",
    status=302,
    produces="text/plain",
)
def open_file(call: Call[None, None]) -> Response:
    url = service.open_file(call.container.network_ports, call.params["token"], call.now)
    return Response(
        body="",
        status_code=302,
        headers={
            "Location": url,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Type": "text/plain",
        },
    )
