"""HTTP clients of a load run, each timing every request into a :class:`Recorder` under its
route template ("POST /v1/tickets/{ticket_id}/notes"), never the filled-in path.

Every URL is on the stack's base URL (127.0.0.1). Redirects are never followed: a portal form
answers 303 and that is what is measured (the page after it is a request of its own).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.load.metrics import Recorder

TIMEOUT = 30.0
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_local = threading.local()


def _session() -> requests.Session:
    """One connection pool per worker thread (a ``requests.Session`` is not shared)."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    assert host == "127.0.0.1", f"load traffic goes to 127.0.0.1 only, not {url}"


class Api:
    """One tenant's API key."""

    def __init__(self, base_url: str, key: str, recorder: Recorder) -> None:
        _check_loopback(base_url)
        self.base_url = base_url
        self.key = key
        self.recorder = recorder

    def call(
        self,
        method: str,
        template: str,
        body: Any = None,
        expect: Collection[int] = (200,),
        query: str = "",
        **params: str,
    ) -> requests.Response:
        path = template.format(**params)
        started = time.perf_counter()
        reply = _session().request(
            method,
            f"{self.base_url}{path}{query}",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=TIMEOUT,
        )
        elapsed = time.perf_counter() - started
        ok = reply.status_code in expect
        self.recorder.record(f"{method} {template}", elapsed, reply.status_code, ok, reply.text)
        return reply

    def ok(
        self, method: str, template: str, body: Any = None, status: int = 200, **params: str
    ) -> Any:
        """The JSON of an answer that must have ``status`` (set-up steps)."""
        reply = self.call(method, template, body, expect=(status,), **params)
        assert reply.status_code == status, (method, template, reply.status_code, reply.text)
        return reply.json()


class Portal:
    """One portal user: their own cookies, sent by hand.

    The portal's cookies are ``Secure``, which ``requests`` never sends over plain http (a
    browser treats 127.0.0.1 as secure and does), so they are kept here and put in the
    ``Cookie`` header of every request."""

    def __init__(self, base_url: str, recorder: Recorder) -> None:
        _check_loopback(base_url)
        self.base_url = base_url
        self.recorder = recorder
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.session = requests.Session()  # one user is driven by one worker at a time

    def _remember(self, reply: requests.Response) -> None:
        for header in reply.raw.headers.getlist("Set-Cookie"):
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "Max-Age=0" in header or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        found = _CSRF.search(reply.text) if reply.status_code == 200 else None
        if found:
            self.csrf = found.group(1)

    def request(
        self,
        method: str,
        template: str,
        form: dict[str, str] | None = None,
        *,
        expect: Collection[int] = (200,),
        query: str = "",
        url: str | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        target = url or f"{self.base_url}{template.format(**(params or {}))}{query}"
        _check_loopback(target)
        data = None if form is None else {**form, "csrf": self.csrf}
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        started = time.perf_counter()
        reply = self.session.request(
            method, target, data=data, headers=headers, allow_redirects=False, timeout=TIMEOUT
        )
        elapsed = time.perf_counter() - started
        ok = reply.status_code in expect
        self.recorder.record(f"{method} {template}", elapsed, reply.status_code, ok, reply.text)
        self._remember(reply)
        return reply

    def get(self, template: str, **params: str) -> requests.Response:
        return self.request("GET", template, params=params)

    def post(self, template: str, form: dict[str, str], **params: str) -> requests.Response:
        """A form: 303 to the next page."""
        return self.request("POST", template, form, expect=(303,), params=params)

    def activate_and_sign_in(self, activation_url: str, email: str, password: str) -> None:
        """The activation link's page, the password form, then the sign-in form."""
        page = self.request("GET", "/portal/activate", url=activation_url)
        assert page.status_code == 200, page.text[:500]
        token = activation_url.split("token=", 1)[1]
        done = self.post(
            "/portal/activate", {"token": token, "password": password, "confirm": password}
        )
        assert done.status_code == 303, done.text[:500]
        assert self.get("/portal/login").status_code == 200
        signed = self.post("/portal/login", {"email": email, "password": password, "next": ""})
        assert signed.status_code == 303 and "portal_session" in self.cookies, signed.text[:500]
        listed = self.get("/portal/")
        assert listed.status_code == 200, listed.text[:500]
