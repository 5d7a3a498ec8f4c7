"""API keys of the tenant (permission 'all')."""

from __future__ import annotations

from chalicelib.api.models import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut, PageQuery
from chalicelib.api.routing import Api, Call
from chalicelib.domain.tenants import Permission
from chalicelib.service import api_keys as key_service

api = Api(__name__, "api-keys")


@api.route(
    "POST",
    "/v1/api-keys",
    summary="Create an API key; the secret is returned only in this response",
    body=ApiKeyCreate,
    response=ApiKeyCreated,
    status=201,
    permission=Permission.ALL,
)
def create_key(call: Call) -> ApiKeyCreated:
    body: ApiKeyCreate = call.body
    issued = key_service.create_key(
        call.container.api_keys,
        call.tenant_id,
        name=body.name,
        permission=body.permission,
        now=call.now,
    )
    return ApiKeyCreated(**ApiKeyOut.of(issued.key).model_dump(), api_key=issued.token)


@api.route(
    "GET",
    "/v1/api-keys",
    summary="List the tenant's API keys (never their secrets)",
    query=PageQuery,
    response=ApiKeyList,
    permission=Permission.ALL,
)
def list_keys(call: Call) -> ApiKeyList:
    query: PageQuery = call.query
    page = key_service.list_keys(call.container.api_keys, call.tenant_id, query.limit, query.cursor)
    return ApiKeyList(items=[ApiKeyOut.of(k) for k in page.items], next_cursor=page.next_cursor)


@api.route(
    "DELETE",
    "/v1/api-keys/{key_id}",
    status=204,
    summary="Revoke an API key (409 for the last active 'all' key)",
    permission=Permission.ALL,
)
def revoke_key(call: Call) -> None:
    key_service.revoke_key(
        call.container.api_keys,
        call.container.auth_cache,
        call.tenant_id,
        call.params["key_id"],
        call.now,
    )
