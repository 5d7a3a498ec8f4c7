"""The OpenAPI document is generated from the models and lists every route."""

from __future__ import annotations

from typing import Any

from app import app
from tests.integration.conftest import Harness


def _resolve(document: dict[str, Any], node: Any) -> None:
    """Every $ref points at a schema that exists."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/components/schemas/")
            assert name in document["components"]["schemas"], ref
        for value in node.values():
            _resolve(document, value)
    elif isinstance(node, list):
        for value in node:
            _resolve(document, value)


def test_openapi_lists_every_chalice_route_with_resolvable_schemas(harness: Harness) -> None:
    reply = harness.get("/v1/openapi.json", None)
    assert reply.status_code == 200
    document = reply.json
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    # The portal's HTML pages (/portal...) are no part of the JSON API.
    served = {
        (path, method)
        for path, methods in app.routes.items()
        for method in methods
        if not (path == "/portal" or path.startswith("/portal/"))
    }
    assert documented == served
    _resolve(document, document)
    create = document["paths"]["/v1/tickets"]["post"]
    schema_name = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    ticket_create = document["components"]["schemas"][schema_name.rsplit("/", 1)[1]]
    assert ticket_create["required"] == ["title"]
    assert ticket_create["additionalProperties"] is False
    assert "ErrorResponse" in document["components"]["schemas"]
    assert create["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/health"]["get"]
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_change_feed_documents_its_entries_and_the_expired_cursor(harness: Harness) -> None:
    document = harness.get("/v1/openapi.json", None).json
    feed = document["paths"]["/v1/changes"]["get"]
    assert "410" in feed["responses"] and "400" in feed["responses"]
    assert {p["name"] for p in feed.get("parameters", [])} >= {"cursor", "limit"}
    schemas = document["components"]["schemas"]
    assert "next_cursor" in schemas["ChangeList"]["required"]
    entry = schemas["ChangeOut"]
    assert set(entry["required"]) >= {"sequence", "at", "object", "operation", "state"}
