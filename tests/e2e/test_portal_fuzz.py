"""Every Subcontractor Portal form and page fuzzed on a running local stack: never a 5xx.

The routes are the app's own (``app.app.routes`` under ``/portal``) and each form's fields are its
pydantic model's (:mod:`chalicelib.portal.forms`), so a new form is fuzzed without editing this
file. Hypothesis draws, for each form: every field valid, empty, blank, one past its maximum,
unicode, control characters and NUL, numbers out of range, impossible dates, or missing; fields
twice and fields the form does not have; bodies that are not urlencoded at all; the wrong
Content-Type; path ids of the signed-in company, of another company (of another lead) and made
up. Most are sent signed in with the session's cookie and CSRF token, so they reach validation
and the use cases; some without the token, with a wrong one, without a session or with a forged
one. Pages with a query string get the same treatment for their query.

Every answer: no 5xx; a 4xx is an HTML page that says what was wrong (an alert on an ``<h1>``
page, never JSON, never empty); a redirect stays on ``/portal`` (a file download goes to the
stack's S3); no answer carries a traceback. Only 127.0.0.1 is connected to.

The module runs a stack of its own: the fuzz signs out, and failed sign-ins lock the client
(127.0.0.1) out of signing in for a while, which no other test sharing a stack should see. The
sign-in form is fuzzed last for the same reason. Bounded here (a few examples per route,
derandomized); ``make fuzz`` (``FUZZ_FULL=1``, ``FUZZ_MAX_EXAMPLES``) runs many more, new each run.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chalicelib.domain.ids import new_id
from chalicelib.portal import forms
from tests.e2e.harness import StackProcess, loopback_only, stack_environment, start_stack
from tests.e2e.portal_fuzz_support import (
    AUTH,
    CONTENT_TYPES,
    FORM_TYPE,
    RAW_BODIES,
    Account,
    Company,
    PortalRoute,
    Reply,
    add_company,
    form_pairs,
    lead_with_outsourcing,
    path_value,
    portal_routes,
)

# Meant for one worker (one stack, the sign-in form last); no test relies on another, so a split
# over workers (pytest 9 defeats pytest-xdist's xdist_group) only starts a second stack.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("portal_fuzz")]

FULL = os.environ.get("FUZZ_FULL") == "1"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100" if FULL else "8"))
ROUTES = portal_routes()
FORMS = [route for route in ROUTES if route.method == "POST"]
PAGES = [route for route in ROUTES if route.method == "GET"]
# Forms first (so the pages then show what they stored), the sign-in form last: its failures
# lock the client (127.0.0.1) out of signing in for a while.
SIGN_IN = [route for route in FORMS if route.name == "portal_login"]
FIRST_FORMS = [route for route in FORMS if route not in SIGN_IN]
# The forms the portal has today: the enumeration must find at least these.
KNOWN_FORMS = {
    "/portal/login",
    "/portal/logout",
    "/portal/logout-everywhere",
    "/portal/activate",
    "/portal/reset",
    "/portal/users",
    "/portal/users/{user_id}/roles",
    "/portal/users/{user_id}/deactivate",
    "/portal/users/{user_id}/reset",
    "/portal/company",
    "/portal/tickets/{outsourcing_id}/accept",
    "/portal/tickets/{outsourcing_id}/decline",
    "/portal/tickets/{outsourcing_id}/reassign",
    "/portal/tickets/{outsourcing_id}/notes",
    "/portal/tickets/{outsourcing_id}/time-entries",
    "/portal/tickets/{outsourcing_id}/charges",
    "/portal/tickets/{outsourcing_id}/attachments",
    "/portal/tickets/{outsourcing_id}/submit-completion",
}
_ALERT = re.compile(r'role="alert"[^>]*>\s*([^<\s][^<]*)<', re.S)
QUERY_STRINGS = ["%FF", "&&=", "=x", "q=%00", "view", "a=1;b=2", "status=" + "x" * 3000]


def forged_sessions(real: str, company_ids: list[str]) -> list[str]:
    """Session cookies that are not a session: the real one with another secret, another
    company's id with the real session id, a cut or an overlong one, junk."""
    if len(real) < 60:  # signed out just now: one of the right shape
        real = "ps_" + new_id() + new_id() + secrets.token_urlsafe(32)
    prefix, company, rest = real[:3], real[3:29], real[29:]
    found = [real[:-1] + ("A" if real[-1] != "A" else "B"), real[:-5], real + "x", "", "ps_"]
    found += [prefix + other + rest for other in company_ids if other != company]
    found += [prefix + company + new_id() + rest[26:], "ps_" + "é" * (len(real) - 3)]
    return found


# -- the check of every answer ---------------------------------------------------------------------


def problems_of(reply: Reply, route: PortalRoute, aws_origin: str) -> list[str]:
    """What is wrong with one answer: a 5xx, a 4xx that is not an HTML page saying what was
    wrong, a redirect off the portal, a traceback anywhere."""
    found = []
    kind = reply.headers.get("Content-Type", "")
    if reply.status >= 500:
        found.append(f"server error {reply.status}")
    if "traceback" in reply.text.lower() or 'File "' in reply.text:
        found.append("a traceback in the answer")
    if 400 <= reply.status < 500:
        if not kind.startswith("text/html"):
            found.append(f"{reply.status} answered as {kind or 'no Content-Type'}")
        elif "<h1>" not in reply.text or not _ALERT.search(reply.text):
            found.append(f"{reply.status} page does not say what was wrong")
    if reply.status in (301, 302, 303, 307, 308):
        target = urlsplit(reply.headers.get("Location", ""))
        to_files = route.name == "portal_download" and f"{target.scheme}://{target.netloc}" == (
            aws_origin
        )
        if not to_files and (target.netloc or not target.path.startswith("/portal")):
            found.append(f"redirect off the portal: {reply.headers.get('Location')!r}")
    if 200 <= reply.status < 300 and not kind.startswith("text/html"):
        found.append(f"{reply.status} answered as {kind}")
    return found


@dataclass(repr=False)  # its stack's environment holds the operator key
class World:
    stack: StackProcess
    mine: Company
    other: Company
    foreign: dict[str, list[str]]  # ids of the other company (and a ticket of the lead's)
    statuses: Counter[int] = field(default_factory=Counter)
    generated: Counter[str] = field(default_factory=Counter)  # generated requests, by route
    routes_fuzzed: set[str] = field(default_factory=set)
    made: dict[str, list[str]] = field(default_factory=dict)  # every id of ours made so far
    files: list[tuple[str, str]] = field(default_factory=list)  # (outsourcing, attachment)

    def __repr__(self) -> str:
        return f"World({self.stack.base_url})"

    @property
    def admin(self) -> Account:
        return self.mine.admin

    @property
    def session_cookie(self) -> str:
        return self.admin.client.cookies.get("portal_session", "")

    @property
    def company_ids(self) -> list[str]:
        """The two companies' ids (a session cookie carries its company's)."""
        return [
            c.admin.client.cookies.get("portal_session", "")[3:29] for c in (self.mine, self.other)
        ]

    @property
    def sent(self) -> int:
        return sum(self.admin.client.sent.values())


@pytest.fixture(scope="module", autouse=True)
def _loopback_only() -> Iterator[None]:
    """Nothing in this module connects anywhere but 127.0.0.1."""
    with loopback_only():
        yield


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    state_dir: Path = tmp_path_factory.mktemp("portal-fuzz")
    running = start_stack(stack_environment(state_dir), state_dir / "output.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def world(fuzz_stack: StackProcess) -> Iterator[World]:
    """A signed-in admin of one company, and another lead's company with things of its own;
    at the end, the figure of this process's share of the fuzz (``pytest -n`` may split the
    module over workers: each then has a stack and a world of its own)."""
    mine = add_company(fuzz_stack, lead_with_outsourcing(fuzz_stack), "Field Techs")
    other_lead = lead_with_outsourcing(fuzz_stack)
    other = add_company(fuzz_stack, other_lead, "Other Techs")
    foreign = other.fresh_ids()
    ticket = fuzz_stack.call("POST", "/v1/tickets", other_lead, {"title": "Lead's own"})
    foreign["outsourcing_id"].append(ticket.json()["ticket_id"])
    found = World(fuzz_stack, mine, other, foreign)
    yield found
    forms_done = len([r for r in FORMS if str(r) in found.routes_fuzzed])
    pages_done = len([r for r in PAGES if str(r) in found.routes_fuzzed])
    server_errors = sum(n for status, n in found.statuses.items() if status >= 500)
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(found.statuses.items()))
    print(
        f"\nportal fuzz: {forms_done} forms and {pages_done} pages fuzzed, "
        f"{sum(found.statuses.values())} generated requests "
        f"({found.sent} in all, with set-up and the page sweep), "
        f"5xx {server_errors} ({statuses})"
    )


def _fuzz_settings() -> Any:
    return settings(
        max_examples=MAX_EXAMPLES,
        derandomize=not FULL,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if FULL else [])],
    )


@dataclass
class Sent:
    """One generated request: what to send, and as whom."""

    path: str
    body: bytes
    content_type: str | None
    auth: str
    forged: str = ""  # the session cookie sent with ``forged_session``

    def cookies(self, world: World, route: PortalRoute) -> dict[str, str] | None:
        """The cookies to send (``None``: the admin's own jar, which the answer updates)."""
        if route.public:
            token = secrets.token_urlsafe(32)
            return {"portal_form": token} if self.auth != "no_session" else {}
        if self.auth == "no_session":
            return {}
        if self.auth == "forged_session":
            return {"portal_session": self.forged}
        return None


@st.composite
def _path(draw: st.DrawFn, route: PortalRoute, own: dict[str, list[str]], world: World) -> str:
    path = route.path
    for name in route.params:
        path = path.replace("{" + name + "}", draw(path_value(name, own, world.foreign)))
    return path


def _ids_for_fields(own: dict[str, list[str]], world: World) -> dict[str, list[str]]:
    return {
        "own": own.get("user_id", []),
        "foreign": world.foreign.get("user_id", []),
        "company_id": world.company_ids,
    }


def _forged(draw: st.DrawFn, world: World) -> str:
    return draw(st.sampled_from(forged_sessions(world.session_cookie, world.company_ids)))


@st.composite
def form_posts(
    draw: st.DrawFn, route: PortalRoute, own: dict[str, list[str]], world: World
) -> Sent:
    path = draw(_path(route, own, world))
    auth = draw(AUTH)
    if draw(st.sampled_from([False] * 7 + [True])):
        body = draw(RAW_BODIES)
    else:
        model = draw(st.sampled_from(route.models))
        body = urlencode(draw(form_pairs(model, _ids_for_fields(own, world)))).encode()
    content_type = draw(st.sampled_from([FORM_TYPE] * 7 + [None]))
    if content_type is None:
        content_type = draw(CONTENT_TYPES)
    return Sent(path, body, content_type, auth, _forged(draw, world))


@st.composite
def page_requests(
    draw: st.DrawFn, route: PortalRoute, own: dict[str, list[str]], world: World
) -> Sent:
    path = draw(_path(route, own, world))
    if draw(st.sampled_from([False] * 5 + [True])):
        query = draw(st.sampled_from(QUERY_STRINGS))
    else:
        model = draw(st.sampled_from(route.models or (forms.EmptyForm,)))
        query = urlencode(draw(form_pairs(model, _ids_for_fields(own, world))))
    auth = draw(st.sampled_from(["signed_in"] * 4 + ["no_session", "forged_session"]))
    return Sent(path + ("?" + query if query else ""), b"", None, auth, _forged(draw, world))


def _send(world: World, route: PortalRoute, sent: Sent) -> None:
    admin = world.admin
    body = sent.body
    cookies = sent.cookies(world, route)
    if "portal_session" not in admin.client.cookies:
        admin.sign_in()  # a fuzzed sign-out ended the session
    if route.method == "POST" and sent.auth != "no_csrf" and sent.auth != "no_session":
        if route.public and cookies:
            token = cookies["portal_form"] if sent.auth != "wrong_csrf" else "x" * 43
        else:
            token = admin.csrf if sent.auth != "wrong_csrf" else secrets.token_urlsafe(32)
        body = body + (b"&" if body else b"") + b"csrf=" + token.encode()
    reply = admin.client.send(
        route.method,
        sent.path,
        body,
        sent.content_type,
        cookies=cookies,
        route=str(route),
    )
    world.statuses[reply.status] += 1
    world.routes_fuzzed.add(str(route))
    world.generated[str(route)] += 1
    found = problems_of(reply, route, world.stack.info["aws_endpoint"])
    assert not found, (
        f"{route}: {found}\n{sent.path!r} {sent.content_type!r} {sent.auth} "
        f"{body[:300]!r}\n{reply.status} {reply.headers}\n{reply.text[-1500:]}"
    )


def _own_ids(world: World, route: PortalRoute) -> dict[str, list[str]]:
    """New things of the signed-in company for each route (a route may decline the work, submit
    it or deactivate a colleague: the next route starts afresh); a page also gets those the
    forms before it filled with generated content."""
    if "portal_session" not in world.admin.client.cookies:
        world.admin.sign_in()
    if not route.params and route.name != "portal_reassign":
        return {}
    fresh = _fresh(world)
    if route.method == "GET":
        return {name: sorted(set(ids)) for name, ids in world.made.items()}
    return fresh


def _fresh(world: World) -> dict[str, list[str]]:
    fresh = world.mine.fresh_ids()
    world.files.append((fresh["outsourcing_id"][-1], fresh["attachment_id"][0]))
    for name, ids in fresh.items():
        world.made.setdefault(name, []).extend(ids)
    return fresh


def test_the_portal_routes_come_from_the_app_with_their_forms() -> None:
    # Given the portal's routes as the app registers them
    posted = {route.path for route in FORMS}
    # Then every form known today is among them, each with the pydantic model it validates
    assert posted >= KNOWN_FORMS, KNOWN_FORMS - posted
    for route in FORMS:
        assert route.models, f"{route}: no form model of chalicelib.portal.forms found"
        assert all(issubclass(model, forms.FormModel) for model in route.models), route
    # and every page that reads a query string has its query model
    assert {r.path for r in PAGES if r.models} >= {"/portal", "/portal/tickets/{outsourcing_id}"}
    assert all(issubclass(m, forms.QueryModel) for r in PAGES for m in r.models)
    # and the tests below send generated requests to every one of them
    assert sorted(map(str, FIRST_FORMS + PAGES + SIGN_IN)) == sorted(map(str, ROUTES))
    assert {r.path for r in ROUTES if r.public} == {
        "/portal/login",
        "/portal/activate",
        "/portal/reset",
    }


def _fuzz_form(world: World, route: PortalRoute) -> None:
    # Given things of the signed-in company, of another company, and made-up ids
    own = _own_ids(world, route)

    @_fuzz_settings()
    @given(sent=form_posts(route, own, world))
    def send(sent: Sent) -> None:
        # When a generated form is posted
        # Then the answer is no 5xx, an HTML page naming the problem, or a redirect on /portal
        _send(world, route, sent)

    send()
    assert world.generated[str(route)] >= min(MAX_EXAMPLES, 3), world.generated


@pytest.mark.timeout(3600 if FULL else 300)
@pytest.mark.parametrize("route", FIRST_FORMS, ids=str)
def test_generated_form_posts_never_get_a_server_error_or_a_bad_page(
    world: World, route: PortalRoute
) -> None:
    _fuzz_form(world, route)


@pytest.mark.timeout(3600 if FULL else 300)
@pytest.mark.parametrize("route", PAGES, ids=str)
def test_generated_page_requests_never_get_a_server_error_or_a_bad_page(
    world: World, route: PortalRoute
) -> None:
    own = _own_ids(world, route)

    @_fuzz_settings()
    @given(sent=page_requests(route, own, world))
    def send(sent: Sent) -> None:
        _send(world, route, sent)

    send()
    assert world.generated[str(route)] >= min(MAX_EXAMPLES, 3), world.generated


def _filled(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _filler(world: World, route: PortalRoute, own: dict[str, list[str]]) -> Any:
    accepted = own["outsourcing_id"][-1]

    @_fuzz_settings()
    @given(pairs=form_pairs(route.models[0], _ids_for_fields(own, world)))
    def post(pairs: list[tuple[str, str]]) -> None:
        path = route.path.replace("{outsourcing_id}", accepted)
        body = urlencode([*pairs, ("csrf", world.admin.csrf)]).encode()
        reply = world.admin.client.send("POST", path, body, route=str(route))
        assert not problems_of(reply, route, world.stack.info["aws_endpoint"]), reply.text

    return post


def test_the_pages_show_what_generated_forms_stored_as_pages(world: World) -> None:
    # Given work of the company filled by generated forms (and whatever the fuzz above stored)
    own = _fresh(world)
    for route in FIRST_FORMS:  # every form of the work that stores something
        if route.params == ["outsourcing_id"] and route.models[0].model_fields:
            _filler(world, route, own)()
    made = {name: sorted(set(ids)) for name, ids in world.made.items()}
    shown = Counter[int]()
    # When every page is asked for, with every id of ours it takes
    for route in PAGES:
        if route.public:
            continue
        if "attachment_id" in route.params:  # each file with its own ticket
            fill = [{"outsourcing_id": o, "attachment_id": a} for o, a in world.files]
        else:
            fill = [{name: i for name in route.params} for i in made["outsourcing_id"]]
        paths = sorted({_filled(route.path, values) for values in fill})
        for path in paths:
            reply = world.admin.client.send("GET", path, route=str(route))
            shown[reply.status] += 1
            # Then each is a page (or a refusal page), never a 5xx, and shows nothing unescaped
            assert not problems_of(reply, route, world.stack.info["aws_endpoint"]), (
                path,
                reply.status,
                reply.text[-1500:],
            )
            assert "<script>alert(1)" not in reply.text, path
    assert shown[200] >= len(made["outsourcing_id"]), shown


@pytest.mark.timeout(3600 if FULL else 300)
@pytest.mark.parametrize("route", SIGN_IN, ids=str)
def test_generated_sign_ins_never_get_a_server_error_or_a_bad_page(
    world: World, route: PortalRoute
) -> None:
    _fuzz_form(world, route)


def test_the_check_refuses_what_a_portal_answer_must_not_be() -> None:
    # Given answers of every bad kind, and a good 400 page and redirect
    route = next(r for r in FORMS if r.name == "portal_add_note")
    page = '<h1>Something in the form is not right</h1><p class="problem" role="alert">Note: x</p>'
    html_type = {"Content-Type": "text/html; charset=utf-8"}
    bad = [
        Reply(500, html_type, page, []),
        Reply(502, {"Content-Type": "application/json"}, "{}", []),
        Reply(415, {"Content-Type": "application/json"}, '{"error": {}}', []),
        Reply(400, html_type, "", []),
        Reply(400, html_type, "<h1>Bad</h1>", []),
        Reply(400, html_type, page + 'Traceback (most recent call last):\n  File "x"', []),
        Reply(303, {"Location": "https://evil.example/portal/"}, "", []),
        Reply(303, {"Location": "/v1/tickets"}, "", []),
        Reply(200, {"Content-Type": "application/json"}, "{}", []),
    ]
    good = [Reply(400, html_type, page, []), Reply(303, {"Location": "/portal/tickets/X"}, "", [])]
    # Then the check finds a problem in each bad one and none in the good ones
    assert [bool(problems_of(reply, route, "http://127.0.0.1:1")) for reply in bad] == [True] * 9
    assert [problems_of(reply, route, "http://127.0.0.1:1") for reply in good] == [[], []]
