"""Support for the portal fuzz (``tests/e2e/test_portal_fuzz.py``): the portal's routes and form
models read from the app, a browser-like client on 127.0.0.1 that keeps its own cookies, the
accounts and ids the fuzz works with, forged cursors and links, and the hypothesis strategies for
form values and bodies.

The routes are ``app.app.routes`` under ``/portal``; a route's form (or query) models are the
pydantic models of :mod:`chalicelib.portal.forms` its view names (``forms.NoteForm`` in the view's
code), so a new form is fuzzed as soon as it exists.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import html
import inspect
import json
import re
import secrets
import types
import typing
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pydantic
import requests
from hypothesis import strategies as st
from pydantic.fields import FieldInfo

import app
from chalicelib.adapters.dynamo import keys
from chalicelib.domain.ids import new_id
from chalicelib.portal import forms
from tests.e2e.harness import LOOPBACK, StackProcess

PASSWORD = "Correct-Horse-42"
FORM_TYPE = "application/x-www-form-urlencoded"
_HIDDEN_CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')
_USER_LINK = re.compile(r"/portal/users/([0-9A-Z]{26})/")


# -- the routes, from the app ---------------------------------------------------------------------


@dataclass(frozen=True)
class PortalRoute:
    method: str
    path: str
    name: str
    models: tuple[type[pydantic.BaseModel], ...]  # the forms (POST) or queries (GET) it reads
    public: bool  # shown or posted without a session

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _models_named_by(view: Any) -> tuple[type[pydantic.BaseModel], ...]:
    code = inspect.unwrap(view).__code__
    found = []
    for name in code.co_names:
        model = getattr(forms, name, None)
        if (
            isinstance(model, type)
            and issubclass(model, pydantic.BaseModel)
            and model not in (forms.FormModel, forms.QueryModel)
        ):
            found.append(model)
    return tuple(found)


def _is_public(view: Any) -> bool:
    # The decorator's handler: ``public_page.<locals>.handler``, ``public_action.<locals>...``
    return str(view.__code__.co_qualname).startswith("public_")


def portal_routes() -> list[PortalRoute]:
    """Every ``/portal`` route of the app with the form or query models its view reads (the
    static files have neither and are left out)."""
    found = []
    for path, methods in app.app.routes.items():
        if not path.startswith("/portal") or path.startswith("/portal/static/"):
            continue
        for method, entry in methods.items():
            view = entry.view_function
            found.append(
                PortalRoute(method, path, entry.view_name, _models_named_by(view), _is_public(view))
            )
    return sorted(found, key=lambda r: (r.method, r.path))


# -- a browser on 127.0.0.1 -----------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str
    cookies: list[str]


@dataclass
class Client:
    """Requests as a browser sends them, cookies kept here (they are ``Secure``, so a cookie jar
    would not send them over http), redirects never followed."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str | None = FORM_TYPE,
        cookies: dict[str, str] | None = None,
        route: str = "",
    ) -> Reply:
        assert urlsplit(self.base_url).hostname == LOOPBACK
        jar = self.cookies if cookies is None else cookies
        headers = {"Accept": "text/html"}
        if content_type is not None and method != "GET":
            headers["Content-Type"] = content_type
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        data = body if method != "GET" else None
        url = self.base_url + path
        reply = requests.request(
            method, url, data=data, headers=headers, allow_redirects=False, timeout=30
        )
        self.sent[route or f"{method} {path}"] += 1
        raw = reply.raw.headers.getlist("Set-Cookie") if reply.raw is not None else []
        if cookies is None:
            for header in raw:
                name, _, rest = header.partition("=")
                value = rest.split(";", 1)[0]
                if "max-age=0" in header.lower() or not value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return Reply(reply.status_code, dict(reply.headers), reply.text, raw)

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        return self.send("POST", path, urlencode(fields).encode())


@dataclass
class Account:
    """A portal user signed in through the forms, with the session's CSRF token."""

    client: Client
    email: str
    csrf: str = ""

    def sign_in(self) -> None:
        token = secrets.token_urlsafe(32)
        self.client.cookies = {"portal_form": token}
        fields = {"csrf": token, "email": self.email, "password": PASSWORD}
        reply = self.client.post_form("/portal/login", fields)
        assert reply.status == 303 and "portal_session" in self.client.cookies, reply.text[-800:]
        page = self.client.send("GET", "/portal/")
        assert page.status == 200, page.text[-800:]
        self.csrf = html.unescape(_HIDDEN_CSRF.findall(page.text)[0])

    def ensure_signed_in(self) -> None:
        """Sign in again when a fuzzed form ended the session (sign-out)."""
        jar = self.client.cookies
        if "portal_session" not in jar or self.client.send("GET", "/portal/").status != 200:
            self.sign_in()

    def post(self, path: str, fields: dict[str, str], status: int = 303) -> Reply:
        reply = self.client.post_form(path, {"csrf": self.csrf, **fields})
        assert reply.status == status, (path, reply.status, reply.text[-800:])
        return reply


def activate(client: Client, activation_url: str, email: str) -> Account:
    """Set the first password through the activation link, then sign in."""
    token = parse_qs(urlsplit(activation_url).query)["token"][0]
    form_token = secrets.token_urlsafe(32)
    client.cookies = {"portal_form": form_token}
    fields = {"csrf": form_token, "token": token, "password": PASSWORD, "confirm": PASSWORD}
    reply = client.post_form("/portal/activate", fields)
    assert reply.status == 303, reply.text[-800:]
    account = Account(client, email)
    account.sign_in()
    return account


@dataclass(repr=False)  # its stack's environment holds the operator key
class Company:
    """A subcontractor company of the lead, its admin signed in, and what it holds."""

    lead_key: str
    subcontractor_id: str
    admin: Account
    stack: StackProcess

    def _api(self, method: str, path: str, body: Any, status: int) -> Any:
        reply = self.stack.call(method, path, self.lead_key, body)
        assert reply.status_code == status, reply.text
        return reply.json()

    def outsource(self) -> str:
        ticket = self._api("POST", "/v1/tickets", {"title": "Fuzzed work"}, 201)["ticket_id"]
        body = {"subcontractor_id": self.subcontractor_id, "terms": {"instructions": "Fix it"}}
        return str(
            self._api("POST", f"/v1/tickets/{ticket}/outsource", body, 201)["outsourcing_id"]
        )

    def fresh_ids(self) -> dict[str, list[str]]:
        """New things of this company, by path parameter: work awaiting acceptance, accepted
        work, a declared file on it, a new colleague and the admin."""
        self.admin.ensure_signed_in()
        waiting, accepted = self.outsource(), self.outsource()
        self.admin.post(f"/portal/tickets/{accepted}/accept", {})
        declared = self.admin.post(
            f"/portal/tickets/{accepted}/attachments",
            {"file_name": "a.txt", "content_type": "text/plain", "size": "1"},
        )
        attachment = declared.headers["Location"].rstrip("/").split("/")[-2]
        email = f"tech-{uuid.uuid4().hex[:8]}@example.com"
        self.admin.post("/portal/users", {"name": "Tech", "email": email, "can_accept": "on"})
        users = self.admin.client.send("GET", "/portal/users")
        people = sorted(set(_USER_LINK.findall(users.text)))
        return {
            "outsourcing_id": [waiting, accepted],
            "attachment_id": [attachment],
            "user_id": people,
        }


def add_company(stack: StackProcess, lead_key: str, name: str) -> Company:
    email = f"admin-{uuid.uuid4().hex[:8]}@{name.lower().replace(' ', '-')}.example"
    added = stack.call(
        "POST", "/v1/subcontractors", lead_key, {"company_name": name, "admin_email": email}
    )
    assert added.status_code == 201, added.text
    data = added.json()
    account = activate(Client(stack.base_url), data["activation_url"], email)
    return Company(lead_key, data["subcontractor_id"], account, stack)


def lead_with_outsourcing(stack: StackProcess) -> str:
    _, key = stack.create_tenant(f"Fuzz Lead {uuid.uuid4().hex[:6]}")
    version = stack.call("GET", "/v1/outsourcing/agreement", key).json()["version"]
    accept = {"version": version, "accepted_by": "Jane Admin"}
    assert stack.call("POST", "/v1/outsourcing/agreement/accept", key, accept).status_code == 200
    assert stack.call("PUT", "/v1/outsourcing/settings", key, {"enabled": True}).status_code == 200
    return key


# -- forged cursors and links ----------------------------------------------------------------------


def _b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def forged_cursors(company_ids: list[str]) -> list[str]:
    """Cursors as the portal hands them out (``pk``/``sk``), pointing at the signed-in company,
    at another one, or with the wrong shape."""
    found = [_b64(b"not json"), _b64([1, 2]), _b64({}), "!" * 10, _b64({"pk": {"N": "1"}})]
    for company in [*company_ids, new_id()]:
        pk = keys.tenant_pk(company)
        found += [
            _b64({"pk": {"S": pk}, "sk": {"S": keys.PORTAL_USER_PREFIX + new_id()}}),
            _b64({"pk": {"S": pk}, "sk": {"S": keys.OUTSOURCING_PREFIX}}),
            _b64({"pk": {"S": pk + "#TK#" + new_id()}, "sk": {"S": keys.ITEM_PREFIX + "x"}}),
            _b64({"pk": {"S": pk}, "sk": {"S": "\ud800"}, "gsi1pk": {"S": pk}}),
            _b64({"pk": {"S": pk}, "sk": {"S": ""}}),
            _b64({"pk": {"S": pk}, "sk": {"B": "AA=="}}),
        ]
    return found


def forged_links(company_ids: list[str], user_ids: list[str]) -> list[str]:
    """Activation and reset tokens of the right shape for real companies and users, but never
    issued (and some of the wrong shape)."""
    found = ["pl_", "pl_" + "A" * 95, "ps_" + new_id() * 2 + "x" * 43]
    for company in [*company_ids, new_id()]:
        for user in [*user_ids[:2], new_id()]:
            found += [f"pl_{company}{user}{secrets.token_urlsafe(24)}", f"pl_{company}{user}"]
    return found


# -- strategies -----------------------------------------------------------------------------------

NASTY = ["", " ", "\t\r\n", "\x00", "a\x00b", "\x1b[31m", "\u202eevil", "\ufeff", "😀" * 3,
         "Ω≈ç√∫", "<script>alert(1)</script>", "{{ 7*7 }}", "' OR 1=1 --", "../../etc/passwd",
         "%00", "%FF", "null", "None", "true", "[]", "{}"]  # fmt: skip
NUMBERS = ["-1", "0", "-0", "0.001", "1e400", "-1e400", "1e-400", "NaN", "Infinity", "-inf",
           "25", "24.01", "1" + "0" * 40, "1,5", "1.5.5", "0x10", "1_000", " 1 ", "٣"]  # fmt: skip
DATES = ["2026-02-30", "2026-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "99999-01-01",
         "yesterday", "2026-12-01T10:00:00Z", "1700000000", "2026/12/01", "-1-01-01"]  # fmt: skip
BOOLS = ["on", "true", "1", "yes", "off", "false", "0", "no"]
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@dataclass(frozen=True)
class Shape:
    kind: type
    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    email: bool = False


def shape_of(info: FieldInfo) -> Shape:
    """What a field takes, read from its annotation and constraints."""
    metadata: list[Any] = list(info.metadata)
    kind: Any = info.annotation
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Union or origin is types.UnionType:
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        elif origin is typing.Annotated:
            kind, *extra = typing.get_args(kind)
            metadata += extra
        else:
            break
    flat: list[Any] = []
    for item in metadata:
        flat += [item, *getattr(item, "metadata", [])] if isinstance(item, FieldInfo) else [item]
    values: dict[str, Any] = {}
    email = False
    for item in flat:
        for name in ("min_length", "max_length", "pattern", "ge", "gt", "le", "lt"):
            if getattr(item, name, None) is not None:
                value = getattr(item, name)
                if name == "max_length" and values.get(name) is not None:
                    value = min(value, values[name])
                values[name] = value
        if isinstance(item, pydantic.AfterValidator) and "email" in item.func.__name__:
            email = True
    low = values.get("ge", values.get("gt"))
    if "gt" in values:
        low = Decimal(values["gt"]) + Decimal("0.01")
    high = values.get("le", values.get("lt"))
    return Shape(
        kind=kind,
        min_length=values.get("min_length") or 0,
        max_length=values.get("max_length"),
        pattern=values.get("pattern"),
        low=None if low is None else Decimal(low),
        high=None if high is None else Decimal(high),
        email=email,
    )


def valid_value(name: str, shape: Shape, ids: dict[str, list[str]]) -> st.SearchStrategy[str]:
    """Values the field should take (a few of them may still be refused by the use case)."""
    kind = shape.kind
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return st.sampled_from([str(m.value) for m in kind])
    if kind is bool:
        return st.sampled_from(BOOLS)
    if kind is dt.date:
        return st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
    if kind in (int, Decimal):
        low = shape.low if shape.low is not None else Decimal(0)
        high = min(shape.high if shape.high is not None else Decimal(10**6), low + 10**6)
        places = 0 if kind is int else 2
        return st.decimals(low, high, places=places, allow_nan=False).map(lambda d: f"{d:f}")
    if shape.email:  # what RFC 5321/6531 allow in a local part, and internationalized domains
        atext = st.sampled_from(list("abz09!#$%&'*+/=?^_`{|}~-")) | st.characters(categories=["Ll"])
        local = st.text(atext, min_size=1, max_size=20)
        domain = st.sampled_from(["example.com", "k.d.example", "bücher.example"])
        return st.builds("{}@{}".format, local, domain)
    if name.endswith("_id"):
        return st.sampled_from([i for pool in ids.values() for i in pool] or [new_id()])
    if name in {"cursor", "items"}:
        return st.sampled_from(forged_cursors(ids.get("company_id", [])))
    if name == "token":
        return st.sampled_from(forged_links(ids.get("company_id", []), ids.get("own", [])))
    if name == "content_type":
        return st.sampled_from(["text/plain", "application/pdf", "image/png", "image/jpeg"])
    if name == "next":
        return st.sampled_from(["", "/portal/", "/portal/users", "//evil.example/", "https://x.y/"])
    if shape.pattern:
        return st.from_regex(shape.pattern, fullmatch=True).filter(
            lambda s: len(s) <= (shape.max_length or 10**6)
        )
    top = min(shape.max_length or 200, 80)
    return st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=max(shape.min_length, 1),
        max_size=max(top, shape.min_length, 1),
    ).filter(lambda s: bool(s.strip()))


def bad_value(shape: Shape) -> st.SearchStrategy[str]:
    """Values the field should refuse, or that sit on its edges."""
    choices: list[st.SearchStrategy[str]] = [st.sampled_from(NASTY), _TEXT]
    if shape.max_length is not None:
        over = shape.max_length + 1
        choices += [st.just("x" * over), st.just("é" * over), st.just(" " * over + "x")]
    if shape.kind in (int, Decimal, bool) or isinstance(shape.kind, type):
        choices.append(st.sampled_from(NUMBERS))
    if shape.kind is dt.date:
        choices.append(st.sampled_from(DATES))
    choices.append(st.integers().map(str))
    return st.one_of(choices)


_OTHER_NAMES = [*sorted(forms.LABELS), "csrf", "x", "", "a b", "\x00", "é", "text[]", "_"]


FORM_MODES = ["valid", "valid", "valid", "one_bad", "one_missing", "anything", "anything"]


@st.composite
def form_pairs(
    draw: st.DrawFn, model: type[pydantic.BaseModel], ids: dict[str, list[str]]
) -> list[tuple[str, str]]:
    """The fields of one form: all valid (optional ones sometimes left out), all valid but one
    wrong or one missing, or anything: each field valid, wrong or missing, sometimes a field
    twice, sometimes fields the form does not have."""
    mode = draw(st.sampled_from(FORM_MODES))
    names = list(model.model_fields)
    odd = draw(st.sampled_from(names)) if names and mode.startswith("one_") else None
    pairs: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        shape = shape_of(info)
        if name == odd and mode == "one_missing":
            continue
        if name == odd or (mode == "anything" and draw(st.integers(0, 2)) == 0):
            if mode == "anything" and draw(st.booleans()):
                continue  # missing
            pairs.append((name, draw(bad_value(shape))))
        elif info.is_required() or draw(st.booleans()):
            pairs.append((name, draw(valid_value(name, shape, ids))))
    if mode == "anything":
        for _ in range(draw(st.integers(0, 2))):
            extra = draw(st.sampled_from(_OTHER_NAMES) | _TEXT)
            if extra != "csrf":
                pairs.append((extra, draw(_TEXT)))
        if pairs and draw(st.booleans()):  # a field twice
            pairs.append((draw(st.sampled_from(pairs))[0], draw(_TEXT)))
        pairs = draw(st.permutations(pairs))
    return pairs


RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([
        b'{"text": "json, not a form"}', b"text=%FF%FE", b"text=%", b"=&&==&", b"%00=%00",
        b"--b\r\nContent-Disposition: form-data; name=text\r\n\r\nx\r\n--b--\r\n",
        b"a" * 70_000, b"&".join(b"f%d=1" % i for i in range(60)), b"\x00\x01\x02",
    ]),
)  # fmt: skip
CONTENT_TYPES = st.sampled_from([
    None, "", "application/json", "multipart/form-data; boundary=b", "text/plain", "text/html",
    "application/octet-stream", "application/x-www-form-urlencoded; charset=latin-1",
    "APPLICATION/X-WWW-FORM-URLENCODED", "garbage",
])  # fmt: skip
AUTH = st.sampled_from(
    ["signed_in"] * 6 + ["no_csrf", "wrong_csrf", "no_session", "forged_session"]
)


def _segment(text: str) -> str:
    """``text`` as one path segment (a bare ``.`` or ``..`` would be resolved by the client into
    another path: a request to no route at all, which never reaches the portal)."""
    quoted = quote(text, safe="")
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


def path_value(name: str, own: dict[str, list[str]], foreign: dict[str, list[str]]) -> Any:
    """A path id: the signed-in company's, another company's, or made up."""
    garbage = st.one_of(
        st.builds(new_id),
        st.sampled_from(["0", "%2e%2e", "%00", "a" * 600, "%F0%9F%98%80", "null", "%20"]),
        _TEXT.filter(bool).map(_segment),
    )
    choices = [garbage]
    if own.get(name):
        choices = [st.sampled_from(own[name])] * 3 + choices
    if foreign.get(name):
        choices.append(st.sampled_from(foreign[name]))
    return st.one_of(choices)
