"""Portal sessions and form tokens: the cookies' attributes at ``/`` and under a stage prefix,
forms refused without their token (nothing changed), sign-out, sign-out everywhere and
deactivation ending sessions, throttled sign-in, and the security headers."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from chalice.local import RouteMatcher

from chalicelib.container import get_container
from infra.local.lambda_context import lambda_context
from tests.integration.conftest import Harness, Reply
from tests.integration.portal_support import (
    FORM_TYPE,
    PASSWORD,
    Browser,
    Company,
    add_company,
    cookie_attributes,
    set_cookies,
    sign_in,
)
from tests.integration.test_portal_isolation import CHARGE, FILE, TIME, table_state

# Every form of a signed-in user, with valid fields.
ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("/portal/tickets/{oid}/accept", {}),
    ("/portal/tickets/{oid}/decline", {"reason": "No"}),
    ("/portal/tickets/{oid}/notes", {"text": "Hello"}),
    ("/portal/tickets/{oid}/time-entries", TIME),
    ("/portal/tickets/{oid}/charges", CHARGE),
    ("/portal/tickets/{oid}/attachments", FILE),
    ("/portal/tickets/{oid}/submit-completion", {}),
    ("/portal/users", {"name": "New One", "email": "new.one@example.com"}),
    ("/portal/company", {"name": "Renamed Ltd"}),
    ("/portal/logout", {}),
    ("/portal/logout-everywhere", {}),
]


def _cookie(reply: Reply, name: str) -> dict[str, str]:
    for header in set_cookies(reply):
        found, value, attributes = cookie_attributes(header)
        if found == name:
            return {"value": value, **attributes}
    raise AssertionError(f"no {name} cookie in {set_cookies(reply)}")


@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_a_form_without_the_sessions_token_is_refused_and_changes_nothing(
    harness: Harness, token: str
) -> None:
    # Given a signed-in admin, work awaiting acceptance and accepted work
    company = add_company(harness)
    waiting, accepted = company.outsource(), company.outsource()
    company.accept(accepted)
    before = table_state(harness)
    # When every form is posted without its token, or with another one
    answers = []
    for path, fields in ACTIONS:
        oid = waiting if path.endswith(("accept", "decline")) else accepted
        sent = {**fields, "csrf": "0" * 40} if token == "wrong" else dict(fields)
        answers.append(company.admin.post(path.format(oid=oid), sent, csrf=False))
    # Then each is a 403 page and nothing changed (the session goes on, too)
    assert [a.status_code for a in answers] == [403] * len(ACTIONS)
    assert all("This form has expired" in a.text for a in answers)
    assert table_state(harness) == before
    assert company.admin.get("/portal/").status_code == 200


def test_sessionless_forms_need_the_double_submit_token(harness: Harness) -> None:
    # Given an activated admin and a fresh browser that loaded the sign-in page
    company = add_company(harness)
    browser = Browser(harness)
    browser.get("/portal/login")
    good = {"email": company.admin_email, "password": PASSWORD}
    # When it signs in without the token, with another token, or without the cookie
    missing = browser.post("/portal/login", good, csrf=False)
    wrong = browser.post("/portal/login", {**good, "csrf": "x" * 43}, csrf=False)
    cookieless = Browser(harness).post("/portal/login", {**good, "csrf": browser.csrf})
    reset = Browser(harness).post("/portal/reset", {"email": company.admin_email}, csrf=False)
    # Then each is refused, and no session was made
    assert [r.status_code for r in (missing, wrong, cookieless, reset)] == [403] * 4
    assert not browser.signed_in
    # And with the token it works
    assert browser.post("/portal/login", good).status_code == 303 and browser.signed_in


def test_the_session_cookie_is_httponly_secure_lax_and_scoped_to_the_portal(
    harness: Harness,
) -> None:
    # Given an activated admin
    company = add_company(harness)
    browser = Browser(harness)
    page = browser.get("/portal/login")
    # When they sign in
    reply = browser.post("/portal/login", {"email": company.admin_email, "password": PASSWORD})
    # Then both cookies are HttpOnly, Secure, SameSite=Lax with Path=/portal
    for cookie in (_cookie(page, "portal_form"), _cookie(reply, "portal_session")):
        assert {k: cookie.get(k) for k in ("httponly", "secure", "samesite", "path")} == {
            "httponly": "",
            "secure": "",
            "samesite": "Lax",
            "path": "/portal",
        }
    assert reply.headers["Location"] == "/portal/"
    # And signing out clears the session cookie on the same path
    cleared = browser.post("/portal/logout")
    assert _cookie(cleared, "portal_session")["max-age"] == "0"
    assert _cookie(cleared, "portal_session")["path"] == "/portal"


def _gateway(method: str, path: str, cookies: dict[str, str], body: dict[str, str]) -> Any:
    """The REST API event API Gateway sends for ``/api<path>`` (stage ``api``)."""
    from app import app

    parts = urlsplit(path)
    matched = RouteMatcher(list(app.routes)).match_route(parts.path)
    headers = {"host": "abc.execute-api.us-east-1.amazonaws.com"}
    if method == "POST":
        headers.update(FORM_TYPE)
    if cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    query = {k: [v[0]] for k, v in matched.query_params.items()} or None
    event = {
        "resource": matched.route,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[0] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query,
        "pathParameters": matched.captured or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": matched.route,
            "httpMethod": method,
            "path": f"/api{parts.path}",
            "stage": "api",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": base64.b64encode(urlencode(body).encode()).decode() if body else None,
        "isBase64Encoded": bool(body),
    }
    response = app(event, lambda_context("api_handler"))
    headers_out = {**response["headers"], **response.get("multiValueHeaders", {})}
    return Reply(response["statusCode"], headers_out, (response.get("body") or "").encode())


def test_behind_a_stage_prefix_links_redirects_and_cookies_carry_the_prefix(
    harness: Harness,
) -> None:
    # Given an activated admin, and the portal reached through API Gateway's stage "api"
    company = add_company(harness)
    # When a browser loads the sign-in page there, signs in and opens the list
    page = _gateway("GET", "/portal/login", {}, {})
    form = _cookie(page, "portal_form")
    signed = _gateway(
        "POST",
        "/portal/login",
        {"portal_form": form["value"]},
        {"email": company.admin_email, "password": PASSWORD, "csrf": form["value"]},
    )
    session = _cookie(signed, "portal_session")
    listed = _gateway("GET", "/portal/", {"portal_session": session["value"]}, {})
    anonymous = _gateway("GET", "/portal/reports/summary", {}, {})
    # Then every cookie, link and redirect names /api/portal
    assert (form["path"], session["path"]) == ("/api/portal", "/api/portal")
    assert 'action="/api/portal/login"' in page.text
    assert 'href="/api/portal/static/portal.css?v=' in page.text
    assert signed.status_code == 303 and signed.headers["Location"] == "/api/portal/"
    assert listed.status_code == 200 and 'action="/api/portal/logout"' in listed.text
    assert anonymous.headers["Location"].startswith("/api/portal/login?next=")


def test_signing_out_ends_the_session(harness: Harness) -> None:
    # Given a signed-in admin whose cookie someone kept
    company = add_company(harness)
    kept = dict(company.admin.cookies)
    # When they sign out
    assert company.admin.post("/portal/logout").status_code == 303
    # Then the kept cookie opens nothing: pages go to sign-in, forms are a 401 page
    stale = Browser(harness, cookies=kept)
    assert stale.get("/portal/").status_code == 303
    assert stale.get("/portal/").headers["Location"].startswith("/portal/login")
    assert stale.post("/portal/company", {"name": "X"}).status_code == 401


def test_signing_out_everywhere_ends_every_session_of_the_user(harness: Harness) -> None:
    # Given the admin signed in on two browsers
    company = add_company(harness)
    other = sign_in(harness, company.admin_email)
    # When one signs out everywhere
    assert company.admin.post("/portal/logout-everywhere").status_code == 303
    # Then the other's session has ended too, and a new sign-in works
    assert other.get("/portal/").status_code == 303
    assert sign_in(harness, company.admin_email).get("/portal/").status_code == 200


def test_a_deactivated_user_is_signed_out_at_once_and_cannot_sign_in(harness: Harness) -> None:
    # Given a signed-in technician
    company = add_company(harness)
    tech = company.colleague("Tom Tech")
    user = get_container().portal_users.find_by_email("tom.tech@fieldtechsltd.example")
    assert user is not None and tech.get("/portal/").status_code == 200
    # When the admin deactivates them
    assert company.admin.post(f"/portal/users/{user.user_id}/deactivate").status_code == 303
    # Then their session is over and signing in is refused
    assert tech.get("/portal/").status_code == 303
    again = Browser(harness)
    again.get("/portal/login")
    refused = again.post("/portal/login", {"email": user.email, "password": PASSWORD})
    assert refused.status_code == 401 and "not right" in refused.text


def test_repeated_failed_sign_ins_are_a_readable_429_page(harness: Harness) -> None:
    # Given an activated admin
    company = add_company(harness)
    browser = Browser(harness)
    browser.get("/portal/login")
    # When someone keeps trying wrong passwords
    answers = [
        browser.post("/portal/login", {"email": company.admin_email, "password": "wrong"})
        for _ in range(6)
    ]
    # Then after the limit the page says to wait, even with the right password
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert answers[5].status_code == 429 and "Too many attempts" in answers[5].text
    right = browser.post("/portal/login", {"email": company.admin_email, "password": PASSWORD})
    assert right.status_code == 429


def test_pages_carry_the_security_headers_and_are_not_cached(harness: Harness) -> None:
    # Given a signed-in admin with work
    company: Company = add_company(harness)
    oid = company.outsource()
    # When pages are loaded, signed in or not
    for reply in (
        company.admin.get("/portal/"),
        company.admin.get(f"/portal/tickets/{oid}"),
        Browser(harness).get("/portal/login"),
        Browser(harness).get("/portal/reset", token="pl_bogus"),
    ):
        # Then each forbids framing, inline script and referrers, and is not stored
        csp = reply.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["Referrer-Policy"] == "no-referrer"
        assert reply.headers["Cache-Control"] == "no-store"
        assert reply.headers["Content-Type"].startswith("text/html")
    # And the stylesheet may be cached for good (its URL changes with it)
    css = Browser(harness).get("/portal/static/portal.css")
    assert css.status_code == 200 and "immutable" in css.headers["Cache-Control"]
    assert "@media print" in css.text
    script = Browser(harness).get("/portal/static/portal.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in script.headers["Cache-Control"]
