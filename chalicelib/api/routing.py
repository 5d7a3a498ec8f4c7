"""Declarative routes: authentication, permission, validation, idempotency and error mapping.

A route is declared once, its path written out, its models read from the view's signature::

    @api.route("POST", "/v1/tickets", summary="Create a ticket", status=201)
    def create_ticket(call: Call[TicketCreate, None]) -> TicketOut: ...

``Call[Body, Query]`` names the request body and query models (None: the route takes none) and
the return annotation the response model (a Chalice ``Response`` for other content; None for a
204). The declaration does four jobs: it registers the Chalice route, it authenticates the
caller and checks the permission level, it validates path, query and body with pydantic (400
with the field named), and it records the route for ``GET /v1/openapi.json``.
"""

from __future__ import annotations

import contextvars
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypedDict, TypeVar, Unpack

import pydantic
from chalice.app import Blueprint, Request, Response

from chalicelib.api.errors import error_body, error_response, rewrite_chalice_error, status_of
from chalicelib.container import Container, get_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import (
    AuthenticationError,
    DomainError,
    PermissionDeniedError,
    TooLargeError,
    ValidationError,
)
from chalicelib.domain.tenants import Actor, Permission, Principal, require_permission
from chalicelib.observability import logger
from chalicelib.ports import StoredResponse
from chalicelib.service import api_keys as api_key_service
from chalicelib.service.idempotency import IdempotentRequest, fingerprint, run_idempotent

Auth = Literal["tenant", "operator", "none"]
B = TypeVar("B")
Q = TypeVar("Q")

_current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "current_request", default=None
)


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    summary: str
    tag: str
    body: type[pydantic.BaseModel] | None
    query: type[pydantic.BaseModel] | None
    response: type[pydantic.BaseModel] | None
    status: int
    auth: Auth
    permission: Permission
    idempotent: bool
    produces: str
    errors: tuple[int, ...]
    secrets: tuple[str, ...] = ()
    also_produces: tuple[str, ...] = ()


REGISTRY: list[RouteSpec] = []


class RouteOptions(TypedDict, total=False):
    """How a route answers and who may call it (see :meth:`Api.route`)."""

    status: int  # the success status (default 200; 204 when the view returns None)
    auth: Auth  # "tenant" (default), "operator" or "none"
    permission: Permission  # the tenant credential's level needed (default none)
    idempotent: bool  # whether Idempotency-Key applies (default: POST routes)
    produces: str  # the success content type (default application/json)
    errors: tuple[int, ...]  # statuses beyond the ones every route may answer
    secrets: tuple[str, ...]  # response fields shown once: never stored, null in a replay
    also_produces: tuple[str, ...]  # other success content types (a Response), e.g. text/csv


@dataclass(slots=True)
class Call(Generic[B, Q]):
    """Everything a view needs about the request, already checked: the body and query are
    instances of the route's models."""

    principal: Principal | None
    params: dict[str, str]
    body: B
    query: Q
    request: Request
    container: Container
    now: datetime = field(default_factory=utcnow)

    @property
    def tenant_id(self) -> str:
        if self.principal is None or self.principal.tenant_id is None:
            raise AuthenticationError("A tenant API key is required.")
        return self.principal.tenant_id

    @property
    def actor(self) -> Actor:
        """The calling tenant credential, for use cases: tenant, permission, audit label."""
        principal = self.principal
        if principal is None or principal.tenant_id is None:
            raise AuthenticationError("A tenant API key is required.")
        return Actor(
            tenant_id=principal.tenant_id,
            permission=principal.permission,
            label=f"{principal.name} ({principal.key_id})",
        )


def pydantic_error(exc: pydantic.ValidationError) -> ValidationError:
    """The first pydantic error as a 400 naming the field."""
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "json_invalid":
        return ValidationError("The request body is not valid JSON.", field="body")
    if kind == "extra_forbidden":
        return ValidationError(f"Unknown field '{loc}'.", field=loc or "body")
    if not loc:
        return ValidationError("The request body must be a JSON object.", field="body")
    return ValidationError(f"{loc}: {first.get('msg', 'invalid value')}.", field=loc)


def parse_body(model: type[pydantic.BaseModel] | None, raw: bytes) -> Any:
    if model is None:
        if raw.strip() not in (b"", b"{}"):
            raise ValidationError("This request takes no body.", field="body")
        return None
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}", strict=True)
    except pydantic.ValidationError as exc:
        raise pydantic_error(exc) from exc


def parse_query(model: type[pydantic.BaseModel] | None, request: Request) -> Any:
    params = request.query_params
    values: dict[str, Any] = {}
    if params is not None:
        for name in params:
            found = params.getlist(name)
            if len(found) > 1:
                raise ValidationError(f"Query parameter '{name}' is repeated.", field=name)
            values[name] = found[0]
    if model is None:
        if values:
            name = sorted(values)[0]
            raise ValidationError(f"Unknown query parameter '{name}'.", field=name)
        return None
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        raise pydantic_error(exc) from exc


def raw_body(request: Request, limit: int, *, takes_body: bool = True) -> bytes:
    """The body, refused above ``limit`` bytes: 413, or 400 for a route that takes none."""
    raw = request.raw_body or b""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > limit:
        if not takes_body:
            raise ValidationError("This request takes no body.", field="body")
        raise TooLargeError(f"The request body is larger than {limit} bytes.", field="body")
    return data


def bearer_token(request: Request) -> str:
    header = str(request.headers.get("authorization") or "")
    if not header:
        raise AuthenticationError("An API key is required: 'Authorization: Bearer <key>'.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Use 'Authorization: Bearer <key>'.")
    return token.strip()


def authenticate(spec: RouteSpec, request: Request, container: Container) -> Principal | None:
    if spec.auth == "none":
        return None
    principal = api_key_service.authenticate(
        container.key_ports, bearer_token(request), container.operator_token()
    )
    if spec.auth == "operator":
        if not principal.operator:
            raise PermissionDeniedError("This endpoint needs the operator credential.")
        return principal
    if principal.operator:
        raise AuthenticationError("This endpoint needs a tenant API key.")
    require_permission(principal.permission, spec.permission)
    logger.append_keys(tenant_id=principal.tenant_id)
    return principal


def to_stored(spec: RouteSpec, result: Any) -> StoredResponse:
    """A view's result as status, JSON-able body and headers."""
    if isinstance(result, Response):
        return StoredResponse(
            status=result.status_code,
            body=result.body,
            headers={k: str(v) for k, v in result.headers.items()},
        )
    if result is None:
        return StoredResponse(status=204, body=None, headers={})
    if isinstance(result, pydantic.BaseModel):
        return StoredResponse(
            status=spec.status,
            body=result.model_dump(mode="json"),
            headers={"Content-Type": "application/json"},
        )
    raise TypeError(f"view returned {type(result).__name__}")


def to_response(stored: StoredResponse, extra_headers: Mapping[str, str] | None = None) -> Response:
    headers: dict[str, str | list[str]] = {**stored.headers, **(extra_headers or {})}
    # A 204 has no body at all: Chalice would write ``null``, which a client keeping the
    # connection alive then reads as the start of the next response.
    body = "" if stored.status == 204 else stored.body
    return Response(body=body, status_code=stored.status, headers=headers)


def _error_stored(error: DomainError) -> StoredResponse:
    return StoredResponse(
        status=status_of(error),
        body=error_body(error.code, error.message, error.field),
        headers={"Content-Type": "application/json"},
    )


View = Callable[[Call[Any, Any]], Any]


def dispatch(spec: RouteSpec, view: View, params: dict[str, str]) -> Response:
    request = _current_request.get()
    if request is None:  # pragma: no cover - the middleware always sets it
        raise RuntimeError("request context missing")
    try:
        container = get_container()
        principal = authenticate(spec, request, container)
        data = raw_body(
            request, container.settings.request_body_max_bytes, takes_body=spec.body is not None
        )
        call = Call(
            principal=principal,
            params=params,
            body=parse_body(spec.body, data),
            query=parse_query(spec.query, request),
            request=request,
            container=container,
        )
        key = request.headers.get("idempotency-key")
        if spec.idempotent and key is not None and principal and principal.tenant_id:

            def run() -> StoredResponse:
                try:
                    return to_stored(spec, view(call))
                except DomainError as error:
                    return _error_stored(error)

            request_print = fingerprint(
                spec.method, spec.path + json.dumps(params, sort_keys=True), data
            )
            stored, replayed = run_idempotent(
                container.idempotency,
                IdempotentRequest(principal.tenant_id, key, request_print, spec.secrets),
                run,
            )
            return to_response(stored, _replay_headers(spec) if replayed else None)
        return to_response(to_stored(spec, view(call)))
    except DomainError as error:
        return error_response(error)


def _replay_headers(spec: RouteSpec) -> dict[str, str]:
    headers = {"Idempotent-Replayed": "true"}
    if spec.secrets:
        headers["Idempotent-Secrets-Withheld"] = ",".join(spec.secrets)
    return headers


class Api:
    """A Blueprint plus the declarations of its routes."""

    def __init__(self, import_name: str, tag: str) -> None:
        self.blueprint = Blueprint(import_name)
        self.tag = tag

    def route(
        self, method: str, path: str, *, summary: str, **options: Unpack[RouteOptions]
    ) -> Callable[[View], View]:
        """Declare the view below as ``method path``; its models come from its signature."""

        def decorator(view: View) -> View:
            body, query, response, returns_nothing = _models_of(view)
            spec = RouteSpec(
                method=method,
                path=path,
                summary=summary,
                tag=self.tag,
                body=body,
                query=query,
                response=response,
                status=options.get("status", 204 if returns_nothing else 200),
                auth=options.get("auth", "tenant"),
                permission=options.get("permission", Permission.NONE),
                idempotent=options.get("idempotent", method == "POST"),
                produces=options.get("produces", "application/json"),
                errors=options.get("errors", ()),
                secrets=options.get("secrets", ()),
                also_produces=options.get("also_produces", ()),
            )
            REGISTRY.append(spec)

            def chalice_view(**params: str) -> Response:
                return dispatch(spec, view, params)

            chalice_view.__name__ = view.__name__
            self.blueprint.route(
                path,
                methods=[method],
                name=f"{self.tag}_{view.__name__}",
                content_types=["application/json"],
            )(chalice_view)
            return view

        return decorator


Model = type[pydantic.BaseModel] | None


def _models_of(view: View) -> tuple[Model, Model, Model, bool]:
    """Body, query and response models from ``def view(call: Call[Body, Query]) -> Response``,
    and whether the view returns nothing (a 204)."""
    hints = typing.get_type_hints(view)
    returned = hints.pop("return", None)
    body, query = (_model(arg) for arg in typing.get_args(next(iter(hints.values()))))
    return body, query, _model(returned), returned is type(None)


def _model(annotation: Any) -> Model:
    # ``XOut | Response``: a view answering JSON, or another content type (``also_produces``).
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, pydantic.BaseModel):
            return candidate
    return None


def http_middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Outermost layer of every HTTP request: request context, and never an unshaped 500."""
    token = _current_request.set(request)
    try:
        logger.append_keys(path=getattr(request, "path", None))
        response = get_response(request)
        return rewrite_chalice_error(response)
    except Exception:
        logger.exception("unhandled error")
        return Response(
            body=error_body("internal_error", "An internal error occurred; it has been logged."),
            status_code=500,
            headers={"Content-Type": "application/json"},
        )
    finally:
        _current_request.reset(token)
