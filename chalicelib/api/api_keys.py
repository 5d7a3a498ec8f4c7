"""API keys of the tenant (permission 'all')."""

from __future__ import annotations

from chalicelib.api.models.base import PageQuery
from chalicelib.api.models.tenants import ApiKeyCreate, ApiKeyCreated, ApiKeyList
from chalicelib.api.routing import Api, Call
from chalicelib.domain.tenants import Permission
from chalicelib.service import api_keys as key_service
from chalicelib.service.api_keys import NewKey

api = Api(__name__, "api-keys")


@api.route(
    "POST",
    "/v1/api-keys",
    summary="Create an API key; the secret is returned only in this response",
    status=201,
    permission=Permission.ALL,
    secrets=("api_key",),
)
def create_key(call: Call[ApiKeyCreate, None]) -> ApiKeyCreated:
    issued = key_service.create_key(
        call.container.key_ports,
        NewKey(
            tenant_id=call.tenant_id,
            name=call.body.name,
            permission=call.body.permission,
            now=call.now,
        ),
    )
    return ApiKeyCreated.of(issued)


@api.route(
    "GET",
    "/v1/api-keys",
    summary="List the tenant's API keys (never their secrets)",
    permission=Permission.ALL,
)
def list_keys(call: Call[None, PageQuery]) -> ApiKeyList:
    page = key_service.list_keys(call.container.key_ports, call.tenant_id, call.query.paging)
    return ApiKeyList.of(page)


@api.route(
    "DELETE",
    "/v1/api-keys/{key_id}",
    summary="Revoke an API key (409 for the last active 'all' key)",
    permission=Permission.ALL,
    errors=(409,),
)
def revoke_key(call: Call[None, None]) -> None:
    key_service.revoke_key(
        call.container.key_ports, call.tenant_id, call.params["key_id"], call.now
    )
