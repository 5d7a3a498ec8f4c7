"""No credential reaches a log line: every route is driven (its own success path with the
owner's ids, and again with a wrong key), the portal is used from activation to sign-out, the
stream and the scheduled jobs run, while every log record of every logger is captured; then no
API key, operator key, invitation token, activation or reset link, password, session id, form
token, network download link or presigned upload signature appears anywhere in the output.

Loggers are captured as deployed: the service's own at DEBUG (everything it could ever say), the
libraries' at INFO (Lambda's runtime and Powertools leave them there; botocore's DEBUG request
dumps are never switched on in a function).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import app  # noqa: F401 - registers every route
from chalicelib.api.routing import REGISTRY
from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.observability import logger
from chalicelib.service.notifications import retry_due
from chalicelib.service.outsourcing import expire_due
from tests.integration.conftest import OPERATOR_KEY, Harness, Reply
from tests.integration.portal_support import PASSWORD, Browser, add_company, sent_links
from tests.integration.samples import valid_body
from tests.integration.test_isolation import _fill, _owned_things
from tests.integration.test_network_files import _forward_with_files

SECRET_FIELDS = {"api_key", "token", "activation_url", "signature", "policy", "x-amz-signature"}
NEW_PASSWORD = "Another-Horse-77"


@pytest.fixture
def every_log_line() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    service = logger._logger
    root = logging.getLogger()
    saved = (service.level, root.level)
    service.addHandler(handler)
    service.setLevel(logging.DEBUG)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The service logger's own JSON lines (extra fields included) go to the same place.
    json_handler = logging.StreamHandler(out)
    json_handler.setFormatter(logger.registered_formatter)
    service.addHandler(json_handler)
    yield out
    service.removeHandler(handler)
    service.removeHandler(json_handler)
    root.removeHandler(handler)
    service.setLevel(saved[0])
    root.setLevel(saved[1])


class Recorder:
    """Every secret a reply handed out (fields named as secrets, at any depth)."""

    def __init__(self) -> None:
        self.secrets: set[str] = {OPERATOR_KEY, PASSWORD, NEW_PASSWORD}

    def keep(self, value: Any) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                if name.lower() in SECRET_FIELDS and isinstance(inner, str):
                    self.add(inner)
                else:
                    self.keep(inner)
        elif isinstance(value, list):
            for inner in value:
                self.keep(inner)

    def add(self, secret: str) -> None:
        self.secrets.add(secret)
        for token in parse_qs(urlsplit(secret).query).get("token", []):
            self.secrets.add(token)

    def reply(self, reply: Reply) -> Reply:
        if reply.body[:1] in (b"{", b"["):
            self.keep(reply.json)
        return reply


def _drive_every_route(harness: Harness, recorder: Recorder) -> int:
    owner = harness.create_tenant()
    recorder.add(owner.key)
    harness.enable_outsourcing(owner)
    ids = {**_owned_things(harness, owner), "tenant_id": owner.tenant_id, "token": "fl_unknown"}
    called = 0
    for spec in REGISTRY:
        path = _fill(spec, ids) if "{" in spec.path else spec.path
        key = {"tenant": owner.key, "operator": OPERATOR_KEY, "none": None}[spec.auth]
        body = valid_body(spec.body)
        for attempt_key in (key, "ak_" + "x" * 40):
            recorder.reply(harness.request(spec.method, path, key=attempt_key, json_body=body))
            called += 1
    return called


def _forward_with_file_links(harness: Harness, recorder: Recorder) -> None:
    """A ticket forwarded to a network by email with a download link, which is then opened,
    then tampered with."""
    tenant = harness.create_tenant()
    harness.enable_outsourcing(tenant)
    _, _, path = _forward_with_files(harness, tenant)
    token = path.rsplit("/", 1)[1]
    recorder.add(token)
    harness.get(path, None)
    harness.get(path[:-4] + "AAAA", None)


def _use_the_portal(harness: Harness, recorder: Recorder) -> None:
    company = add_company(harness)
    for link in sent_links(company.admin_email):
        recorder.add(link)
    recorder.add(company.admin.cookies["portal_session"])
    recorder.add(company.admin.csrf)
    outsourcing_id = company.outsource()
    harness.pump.drain()
    company.accept(outsourcing_id)
    page = company.admin.get(f"/portal/tickets/{outsourcing_id}")
    for value in re.findall(
        r'name="(?:policy|x-amz-signature|signature)" value="([^"]+)"', page.text, re.I
    ):
        recorder.add(value)
    company.admin.post(f"/portal/tickets/{outsourcing_id}/notes", {"text": "Done"})
    colleague = company.colleague("Dee Spatcher", can_accept=True)
    recorder.add(colleague.cookies["portal_session"])
    email = "dee.spatcher@fieldtechsltd.example"
    for link in sent_links(email):
        recorder.add(link)
    users = company.admin.get("/portal/users")
    user_id = re.findall(r"/portal/users/([0-9A-Z]{26})/reset", users.text)[-1]
    company.admin.post(f"/portal/users/{user_id}/reset")
    reset = sent_links(email)[-1]
    recorder.add(reset)
    browser = Browser(harness)
    token = parse_qs(urlsplit(reset).query)["token"][0]
    browser.get("/portal/reset", token=token)
    browser.post(
        "/portal/reset", {"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    # A wrong password, a forged session and a forged form token
    Browser(harness).post("/portal/login", {"email": email, "password": PASSWORD + "!"})
    forged = Browser(harness, cookies={"portal_session": "ps_" + "A" * 60})
    forged.get("/portal/")
    company.admin.post(f"/portal/tickets/{outsourcing_id}/notes", {"text": "x", "csrf": "forged"})
    company.admin.post("/portal/logout-everywhere")


@pytest.mark.parametrize("backend", ["moto"])
def test_no_secret_reaches_a_log_line(harness: Harness, every_log_line: io.StringIO) -> None:
    recorder = Recorder()
    # When every route is called, the portal used, the stream drained and the jobs run
    called = _drive_every_route(harness, recorder)
    _use_the_portal(harness, recorder)
    _forward_with_file_links(harness, recorder)
    harness.pump.drain()
    container = get_container()
    expire_due(container.outsourcing_ports, utcnow())
    retry_due(container.notification_ports, utcnow())
    output = every_log_line.getvalue()
    # Then the logs said a lot (the test watched the right place) ...
    assert called >= 2 * len(REGISTRY)
    assert output.count("\n") > 100, output[:2000]
    assert '"tenant_id"' in output and '"outsourcing_id"' in output
    # ... and not one of the secrets handed out or sent, not even a part of one
    secrets = {s for s in recorder.secrets if len(s) >= 12}
    assert len(secrets) >= 10, secrets
    leaked = sorted(s[:12] + "…" for s in secrets if any(p in output for p in _parts(s)))
    assert leaked == [], leaked
    print(f"log secrets: {called} calls, {len(secrets)} secrets, {output.count(chr(10))} lines")


_ULIDS = re.compile(r"^(?:[0-9A-HJKMNP-TV-Z]{26})+")


def _parts(secret: str, width: int = 12) -> set[str]:
    """The secret whole, and every ``width`` characters of its random part (a token's prefix and
    the ids it starts with are not secret: ids are logged on purpose)."""
    if secret.startswith(("http://", "https://")):
        return {secret}  # its token is checked on its own
    random_part = _ULIDS.sub("", re.sub(r"^[a-z]{2,3}_", "", secret))
    if len(random_part) <= width:
        return {secret, random_part} if len(random_part) >= 8 else {secret}
    windows = {random_part[i : i + width] for i in range(len(random_part) - width + 1)}
    return {secret, *windows}
