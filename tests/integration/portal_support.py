"""Helpers for the portal tests: a browser with a cookie jar over ``harness.client``, a lead with
a subcontractor company whose admin has activated and signed in, colleagues, outsourced work,
and the upload form posted to S3 as a browser would.

``chalice.test.Client`` keeps no cookies and follows no redirects, so :class:`Browser` reads
``Set-Cookie`` itself and follows a 303 only when asked.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.service.portal_accounts import csrf_token
from tests.integration.conftest import Harness, Reply, Tenant

PASSWORD = "Correct-Horse-42"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def set_cookies(reply: Reply) -> list[str]:
    found: Any = reply.headers.get("Set-Cookie") or reply.headers.get("set-cookie") or []
    return [found] if isinstance(found, str) else list(found)


def cookie_attributes(header: str) -> tuple[str, str, dict[str, str]]:
    """``name``, ``value`` and the attributes (lower-case names) of one Set-Cookie header."""
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    attributes: dict[str, str] = {}
    for part in rest:
        key, _, val = part.partition("=")
        attributes[key.lower()] = val
    return name, value, attributes


@dataclass
class Browser:
    """One browser: its cookies, and requests the way a plain HTML form sends them."""

    harness: Harness
    cookies: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep(self, reply: Reply) -> Reply:
        for header in set_cookies(reply):
            name, value, attributes = cookie_attributes(header)
            if attributes.get("max-age") == "0" or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return reply

    def get(self, path: str, **query: str) -> Reply:
        target = path + ("?" + urlencode(query) if query else "")
        reply = self.harness.client.http.request("GET", target, headers=self._headers(), body=b"")
        return self._keep(Reply(reply.status_code, dict(reply.headers), reply.body or b""))

    def post(self, path: str, fields: dict[str, str] | None = None, *, csrf: bool = True) -> Reply:
        """Post a form; with ``csrf`` the right token is added as the page would have."""
        sent = dict(fields or {})
        if csrf and "csrf" not in sent:
            sent["csrf"] = self.csrf
        reply = self.harness.client.http.request(
            "POST", path, headers=self._headers(FORM_TYPE), body=urlencode(sent).encode()
        )
        return self._keep(Reply(reply.status_code, dict(reply.headers), reply.body or b""))

    def follow(self, reply: Reply) -> Reply:
        assert reply.status_code == 303, (reply.status_code, reply.body[:500])
        return self.get(reply.headers["Location"])

    @property
    def csrf(self) -> str:
        """The form token a page of this browser carries (the session's, else the form
        cookie's)."""
        session = self.cookies.get("portal_session")
        if session:
            return csrf_token(session)
        return self.cookies.get("portal_form", "")

    @property
    def signed_in(self) -> bool:
        return "portal_session" in self.cookies


def hidden_fields(page: Reply) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def sent_links(to: str) -> list[str]:
    """The portal links emailed to one address, oldest first (moto's SES)."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    found: list[str] = []
    for message in backend.sent_messages:
        if to in message.destinations.get("ToAddresses", []):
            found += re.findall(r"https?://\S+token=[A-Za-z0-9_-]+", message.body)
    return found


def activate(harness: Harness, url: str, password: str = PASSWORD) -> Reply:
    """Set the first password through an activation link, as its page's form does."""
    browser = Browser(harness)
    target = urlsplit(url)
    page = browser.get(target.path, token=token_of(url))
    assert page.status_code == 200, page.text
    return browser.post(
        "/portal/activate", {"token": token_of(url), "password": password, "confirm": password}
    )


def sign_in(harness: Harness, email: str, password: str = PASSWORD) -> Browser:
    browser = Browser(harness)
    assert browser.get("/portal/login").status_code == 200
    reply = browser.post("/portal/login", {"email": email, "password": password})
    assert reply.status_code == 303, reply.text
    assert browser.signed_in
    return browser


@dataclass
class Company:
    """A lead and one subcontractor company whose admin is signed in."""

    harness: Harness
    lead: Tenant
    subcontractor_id: str
    admin_email: str
    admin: Browser
    lead_tickets: dict[str, str] = field(default_factory=dict)  # outsourcing id -> lead ticket

    def outsource(self, **terms: Any) -> str:
        """A new lead ticket outsourced to the company; its outsourcing id."""
        ticket = self.harness.create_ticket(
            self.lead,
            title=terms.pop("title", "Replace the office switch"),
            site=terms.pop("site", "Main St 1, 2nd floor"),
            contact=terms.pop("contact", "Ann Smith, +1 555 0100"),
            organization=terms.pop("organization", "Smith & Co"),
        )
        reply = self.harness.post(
            f"/v1/tickets/{ticket['ticket_id']}/outsource",
            self.lead.key,
            {"subcontractor_id": self.subcontractor_id, "terms": terms},
        )
        assert reply.status_code == 201, reply.body
        outsourcing_id: str = reply.json["outsourcing_id"]
        self.lead_tickets[outsourcing_id] = ticket["ticket_id"]
        return outsourcing_id

    def colleague(self, name: str, *, can_accept: bool = False, admin: bool = False) -> Browser:
        """A colleague added by the admin, activated through the emailed link, signed in."""
        email = f"{name.lower().replace(' ', '.')}@{self.admin_email.split('@')[1]}"
        fields = {"name": name, "email": email}
        if can_accept:
            fields["can_accept"] = "on"
        if admin:
            fields["admin"] = "on"
        added = self.admin.post("/portal/users", fields)
        assert added.status_code == 303, added.text
        assert activate(self.harness, sent_links(email)[-1]).status_code == 303
        return sign_in(self.harness, email)

    def accept(self, outsourcing_id: str, browser: Browser | None = None) -> None:
        reply = (browser or self.admin).post(f"/portal/tickets/{outsourcing_id}/accept")
        assert reply.status_code == 303, reply.text


def add_company(
    harness: Harness, lead: Tenant | None = None, *, name: str = "Field Techs Ltd"
) -> Company:
    """A lead (outsourcing on) adds a subcontractor over the API; its admin activates and signs
    in."""
    if lead is None:
        lead = harness.create_tenant()
        harness.enable_outsourcing(lead)
    slug = re.sub(r"[^a-z0-9]+", "", name.lower())
    email = f"admin@{slug}.example"
    reply = harness.post(
        "/v1/subcontractors", lead.key, {"company_name": name, "admin_email": email}
    )
    assert reply.status_code == 201, reply.body
    assert activate(harness, reply.json["activation_url"]).status_code == 303
    return Company(harness, lead, reply.json["subcontractor_id"], email, sign_in(harness, email))


def upload_through_form(page: Reply, content: bytes, file_name: str = "report.pdf") -> Any:
    """Post the upload page's form straight to S3 (moto), as the browser would."""
    form = re.search(
        r'<form class="panel" method="post" action="([^"]+)" enctype="multipart/form-data">'
        r"(.*?)</form>",
        page.text,
        re.DOTALL,
    )
    assert form is not None, page.text
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(form.group(2))}
    return requests.post(
        html.unescape(form.group(1)),
        data=fields,
        files={"file": (file_name, content)},
        timeout=10,
        allow_redirects=False,
    )
