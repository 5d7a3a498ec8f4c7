"""Health and the OpenAPI document (both public)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.models.base import HealthOut
from chalicelib.api.routing import Api, Call

api = Api(__name__, "meta")


@api.route("GET", "/health", summary="Liveness check", auth="none")
def health(call: Call[None, None]) -> HealthOut:
    return HealthOut(status="ok")


@api.route("GET", "/v1/openapi.json", summary="This API as OpenAPI 3", auth="none")
def openapi(call: Call[None, None]) -> Response:
    from chalicelib.api.openapi import document

    return Response(
        body=document(call.container.settings.api_base_url),
        status_code=200,
        headers={"Content-Type": "application/json"},
    )
