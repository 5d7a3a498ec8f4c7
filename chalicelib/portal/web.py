"""The portal's request plumbing: where the portal lives (the stage prefix), cookies, the
signed-in caller, form tokens, pages, redirects, error pages and the security headers.

* **Prefix.** Chalice's local server serves the portal at ``/portal``; API Gateway serves it
  under its stage (``/api/portal``) but routes (and Chalice's ``request.path``) never include the
  stage. The prefix is what the browser's path has in front of the route:
  ``requestContext.path`` (the path as requested, stage included behind API Gateway) less the
  route with its parameters filled in; failing that, the stage named in the context. Every link,
  redirect and cookie ``Path`` is built from it.
* **Sessions.** The session cookie (``portal_session``) is ``HttpOnly; Secure; SameSite=Lax``
  with ``Path=<prefix>/portal``. Pages without a session redirect to the sign-in page (303);
  forms posted without one are a 401 page.
* **Form tokens.** Every form of a signed-in user carries the session's CSRF token. Forms shown
  before there is a session (sign-in, activation, password reset) carry a double-submit token:
  a random value in a short-lived ``portal_form`` cookie, repeated in the form; a post whose
  field and cookie differ is refused.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import pydantic
from chalice.app import Blueprint, Request, Response

from chalicelib.api.errors import status_of
from chalicelib.container import Container, get_container
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import (
    AuthenticationError,
    DomainError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from chalicelib.domain.ids import is_id
from chalicelib.observability import logger
from chalicelib.portal import forms, pages
from chalicelib.service import portal_accounts as accounts
from chalicelib.service.portal_accounts import SignedIn

blueprint = Blueprint(__name__)

# Every Content-Type passes Chalice's gate (it would refuse another one itself, with the API's
# JSON 415); a form route then refuses anything but a web form with the portal's own page.
FORM = ["*/*"]
FORM_TYPE = "application/x-www-form-urlencoded"
SESSION_COOKIE = "portal_session"
FORM_COOKIE = "portal_form"
FORM_COOKIE_SECONDS = 3600
_FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
M = TypeVar("M", bound=pydantic.BaseModel)

TITLES = {
    400: "Something in the form is not right",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible now",
    413: "Too large",
    415: "Not a form",
    422: "Not possible",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Not available",
}
NOT_FOUND = "This page does not exist, or it is not yours to see."


def route_of(request: Request) -> str:
    """The route as requested, its parameters filled in (no stage prefix)."""
    route = request.path
    for name, value in (request.uri_params or {}).items():
        route = route.replace("{" + name + "}", value)
    return route


def prefix_of(request: Request) -> str:
    """What the browser's path has in front of the portal's routes ("" or e.g. "/api")."""
    context = request.context or {}
    full = str(context.get("path") or "")
    route = route_of(request)
    requested = full.rstrip("/") or "/"
    prefix = ""
    if route != "/" and requested.endswith(route):
        prefix = requested[: len(requested) - len(route)]
    else:
        stage = str(context.get("stage") or "")
        if stage and full.startswith(f"/{stage}/"):
            prefix = f"/{stage}"
    return prefix if _PREFIX.match(prefix) else ""


def cookies_of(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in str(request.headers.get("cookie") or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip()
    return found


def client_of(request: Request) -> str:
    """Who is signing in, for throttling: the source address API Gateway saw."""
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def cookie(name: str, value: str, path: str, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "Secure", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
        if max_age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    return "; ".join(parts)


def security_headers(form_action: str = "") -> dict[str, str | list[str]]:
    """Every portal answer: no framing, no referrer (links may carry one-time tokens), no inline
    script or style, nothing but our own stylesheet and script."""
    extra = f" {form_action}" if form_action else ""
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (an upload form's target, for the CSP)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@dataclass
class Portal:
    """One portal request: where the portal lives, the caller, and what the answer sets."""

    request: Request
    prefix: str
    container: Container
    now: datetime = field(default_factory=utcnow)
    signed_in: SignedIn | None = None
    form_token: str = ""
    set_cookies: list[str] = field(default_factory=list)
    back: str = ""  # where an error page sends the user

    @property
    def cookie_path(self) -> str:
        return self.prefix + "/portal"

    @property
    def csrf(self) -> str:
        return self.signed_in.csrf if self.signed_in is not None else self.form_token

    @property
    def me(self) -> SignedIn:
        assert self.signed_in is not None
        return self.signed_in

    def url(self, path: str, **query: object) -> str:
        given = {name: str(value) for name, value in query.items() if value not in (None, "")}
        return self.prefix + path + ("?" + urlencode(given) if given else "")

    def static(self, name: str) -> str:
        return self.url(f"/portal/static/{name}", v=pages.static_file(name)[1])

    def query(self, model: type[M]) -> M:
        values: dict[str, str] = {}
        params = self.request.query_params
        if params is not None:
            for name in params:
                found = params.getlist(name)
                if len(found) > 1:
                    raise ValidationError(f"{forms.label(name)} was given twice.", field=name)
                values[name] = found[0]
        return forms.validate(model, values)

    def page(
        self, template: str, *, status: int = 200, form_action: str = "", **context: Any
    ) -> Response:
        body = pages.render(template, portal=self, **context)
        headers = security_headers(form_action)
        headers.update({"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})
        if self.set_cookies:
            headers["Set-Cookie"] = list(self.set_cookies)
        return Response(body=body, status_code=status, headers=headers)

    def redirect(self, path: str, **query: object) -> Response:
        """Post-redirect-get (303), or to the sign-in page."""
        headers = security_headers()
        headers.update({"Location": self.url(path, **query), "Cache-Control": "no-store"})
        if self.set_cookies:
            headers["Set-Cookie"] = list(self.set_cookies)
        return Response(body="", status_code=303, headers=headers)

    def error(self, error: DomainError) -> Response:
        status = status_of(error)
        if error.code == "csrf_invalid":
            status = 403
        message = NOT_FOUND if status == 404 else error.message
        back = self.back
        if status == 404 or not back:
            back = self.url("/portal/") if self.signed_in else self.url("/portal/login")
        return self.page(
            "error.html",
            status=status,
            title=TITLES.get(status, "Not possible"),
            message=message,
            field=forms.label(error.field) if error.field and status == 400 else None,
            back=back,
        )


def _begin() -> Portal:
    request = blueprint.current_request
    return Portal(request=request, prefix=prefix_of(request), container=get_container())


def _resume(portal: Portal) -> SignedIn:
    token = cookies_of(portal.request).get(SESSION_COOKIE)
    signed_in = accounts.resume(portal.container.portal_ports, token, portal.now)
    logger.append_keys(company_id=signed_in.user.company_id)
    return signed_in


def _run(portal: Portal, work: Callable[[], Response]) -> Response:
    try:
        return work()
    except DomainError as error:
        logger.info("portal request refused", extra={"code": error.code})
        return portal.error(error)
    except Exception:
        logger.exception("portal page failed")
        return portal.page(
            "error.html",
            status=500,
            title=TITLES[500],
            message="An internal error occurred; it has been logged. Try again later.",
            field=None,
            back=portal.url("/portal/"),
        )


def _form_of(portal: Portal) -> dict[str, str]:
    """The posted form; a body sent as anything but a web form (JSON, multipart, none) is a 415
    page."""
    given = str(portal.request.headers.get("content-type") or "")
    if given.split(";", 1)[0].strip().lower() != FORM_TYPE:
        raise UnsupportedMediaTypeError(
            "This was not sent as a web form (application/x-www-form-urlencoded). "
            "Go back and send the form from its page.",
            field="form",
        )
    return forms.parse_form(portal.request.raw_body or b"")


def _back_to_ticket(portal: Portal, params: dict[str, str]) -> None:
    outsourcing_id = params.get("outsourcing_id")
    if outsourcing_id and is_id(outsourcing_id):
        portal.back = portal.url(f"/portal/tickets/{outsourcing_id}")


View = Callable[..., Response]


def page(view: View) -> View:
    """A page for signed-in users (``view(portal, **params)``); others go to the sign-in page."""

    @functools.wraps(view)
    def handler(**params: str) -> Response:
        portal = _begin()
        try:
            portal.signed_in = _resume(portal)
        except AuthenticationError:
            wanted = forms.safe_next(route_of(portal.request))
            return portal.redirect("/portal/login", next=wanted)
        _back_to_ticket(portal, params)
        return _run(portal, lambda: view(portal, **params))

    return handler


def action(view: View) -> View:
    """A form of a signed-in user (``view(portal, form, **params)``): refused without a session
    (401) and without the session's form token (403), before anything is changed."""

    @functools.wraps(view)
    def handler(**params: str) -> Response:
        portal = _begin()
        _back_to_ticket(portal, params)

        def work() -> Response:
            try:
                portal.signed_in = _resume(portal)
            except AuthenticationError as exc:
                raise AuthenticationError(
                    "Your session has ended: sign in again, then send the form again.",
                    code="signed_out",
                ) from exc
            form = _form_of(portal)
            accounts.check_csrf(portal.signed_in, form.pop("csrf", None))
            return view(portal, form, **params)

        return _run(portal, work)

    return handler


def _form_token(portal: Portal) -> str:
    """The double-submit token of this browser: the cookie's, or a new one (set now)."""
    given = cookies_of(portal.request).get(FORM_COOKIE, "")
    if _FORM_TOKEN.match(given):
        return given
    token = secrets.token_urlsafe(32)
    portal.set_cookies.append(cookie(FORM_COOKIE, token, portal.cookie_path, FORM_COOKIE_SECONDS))
    return token


def public_page(view: View) -> View:
    """A page shown without a session whose forms carry the double-submit token."""

    @functools.wraps(view)
    def handler(**params: str) -> Response:
        portal = _begin()
        portal.form_token = _form_token(portal)
        return _run(portal, lambda: view(portal, **params))

    return handler


def public_action(view: View) -> View:
    """A form posted without a session (``view(portal, form)``): its token must equal the
    browser's ``portal_form`` cookie."""

    @functools.wraps(view)
    def handler(**params: str) -> Response:
        portal = _begin()

        def work() -> Response:
            form = _form_of(portal)
            given = form.pop("csrf", "")
            expected = cookies_of(portal.request).get(FORM_COOKIE, "")
            if not (
                _FORM_TOKEN.match(expected)
                and hmac.compare_digest(given.encode(), expected.encode())
            ):
                raise ValidationError(
                    "This form has expired or did not come from this page; load it again.",
                    code="csrf_invalid",
                    field="csrf",
                )
            portal.form_token = expected
            return view(portal, form, **params)

        return _run(portal, work)

    return handler
