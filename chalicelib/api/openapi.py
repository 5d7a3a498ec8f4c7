"""``GET /v1/openapi.json``: OpenAPI 3.1, generated from the route registry and the models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import pydantic
from pydantic.json_schema import models_json_schema

from chalicelib.api.errors import REASON_BY_STATUS
from chalicelib.api.models.base import ErrorResponse
from chalicelib.api.routing import REGISTRY, RouteSpec
from chalicelib.domain.tenants import Permission


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[{}]", "", spec.path).strip("/").replace("-", "_").split("/")
    return spec.method.lower() + "_" + "_".join(w for w in words if w)


def _ref(model: type[pydantic.BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


_REF_TEMPLATE = "#/components/schemas/{model}"


def _query_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template=_REF_TEMPLATE)


def _query_parameters(model: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    schema = _query_schema(model)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def error_statuses(spec: RouteSpec) -> set[int]:
    """Every error status the route can answer: those every route of its kind may answer, plus
    the ones its use case raises (``errors`` in its declaration).

    400 any route (query, body, headers); 401 a missing or bad credential; 403 a credential of a
    lower permission level than the route's, or a tenant key on an operator route; 404 an id in
    the path that is not the caller's; 413 and 415 a body too large or not JSON; 409 and 422 an
    Idempotency-Key still in use or reused for another request."""
    codes = {400, *spec.errors}
    if spec.auth != "none":
        codes.add(401)
    if spec.auth == "operator" or spec.permission is not Permission.NONE:
        codes.add(403)
    if "{" in spec.path:
        codes.add(404)
    if spec.body is not None:
        codes |= {413, 415}
    if spec.idempotent and spec.auth == "tenant":
        codes |= {409, 422}
    return codes


def _operation(spec: RouteSpec) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(spec),
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", spec.path)
        ],
    }
    if spec.query is not None:
        operation["parameters"].extend(_query_parameters(spec.query))
    if spec.idempotent:
        operation["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "A repeat with the same key returns the first result.",
            }
        )
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(spec.body)}},
        }
    status = spec.status
    if status == 204:
        success: dict[str, Any] = {"description": "No content"}
    else:
        if spec.response is not None:
            content_schema: dict[str, Any] = _ref(spec.response)
        elif spec.produces == "application/json":
            content_schema = {"type": "object"}
        else:
            content_schema = {"type": "string"}
        success = {"description": "Success", "content": {spec.produces: {"schema": content_schema}}}
        for media_type in spec.also_produces:
            success["content"][media_type] = {"schema": {"type": "string"}}
    error = {"content": {"application/json": {"schema": _ref(ErrorResponse)}}}
    responses: dict[str, Any] = {str(status): success}
    codes = error_statuses(spec)
    for code in sorted(codes):
        responses[str(code)] = {"description": REASON_BY_STATUS.get(code, "Error"), **error}
    operation["responses"] = responses
    if spec.auth != "none":
        operation["security"] = [{"bearer": []}]
    return operation


@lru_cache(maxsize=4)
def document(server_url: str) -> dict[str, Any]:
    """The whole API, every registered route, with component schemas from the pydantic models."""
    models: set[type[pydantic.BaseModel]] = {ErrorResponse}
    for spec in REGISTRY:
        for model in (spec.body, spec.response):
            if model is not None:
                models.add(model)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "validation" if _is_request(m) else "serialization") for m in ordered],
        ref_template=_REF_TEMPLATE,
    )
    components = dict(schemas.get("$defs", {}))
    for spec in REGISTRY:
        if spec.query is not None:
            components.update(_query_schema(spec.query).get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ticket outsourcing API",
            "version": "1",
            "description": "Outsource tickets to partners, subcontractors and networks.",
        },
        "servers": [{"url": server_url}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _is_request(model: type[pydantic.BaseModel]) -> bool:
    return any(spec.body is model for spec in REGISTRY)
