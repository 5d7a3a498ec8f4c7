"""The Subcontractor Portal in a real browser (Playwright on Debian's headless Chromium) against
the local stack.

A lead (over the API) adds a subcontractor company and outsources a ticket to it; the company's
admin activates, signs in, accepts the work, adds a note, a time entry, a charge and a file (the
file straight to the stack's S3, which sends the browser back), and submits completion; the lead
sees it all over the API and approves; the portal then shows the work complete and read-only,
and its work order and invoice still print. Also: a technician who may not accept work does not
see work awaiting acceptance; signing out ends only that browser's session.

Every portal page visited gets an axe-core run (no serious or critical violation allowed), a
check that nothing scrolls sideways at 390 px, and a screenshot at 1280x800 and 390x844 under
``build/screenshots/``. No page may load anything from off 127.0.0.1, break its own
Content-Security-Policy or raise a script error.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.e2e.browser import (
    AXE_RULESETS,
    Audit,
    Session,
    launch,
    open_session,
    sent_links,
    session_of,
)
from tests.e2e.harness import StackProcess

# One worker runs the whole module (with `pytest -n`, `make test` distributes by group): one
# stack, one browser.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("portal_browser")]

PASSWORD = "Correct-Horse-42"
DOMAIN = f"fieldtechs-{uuid.uuid4().hex[:8]}.example"  # the stack is shared by the session
ADMIN_EMAIL = f"admin@{DOMAIN}"
FUTURE = "2099-06-30T17:00:00Z"
REPORT = b"%PDF-1.4\n% the technician's report\n"
SYNC_SECONDS = 30.0
# A long unbroken link in a note must wrap on a phone, not push the page sideways.
NOTE = (
    "On site, switch replaced. Photos: "
    "https://files.example.com/acme/2026/12/01/main-street-2nd-floor-switch-replacement.zip"
)


def eventually(check: Callable[[], Any], what: str, timeout: float = SYNC_SECONDS) -> Any:
    """``check()`` once it is truthy (the stream syncs both sides in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what} (last: {found!r})")
        time.sleep(0.2)


# -- the stack, the browser, the lead ----------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def audit() -> Iterator[Audit]:
    found = Audit()
    yield found
    print(f"\naxe-core ({', '.join(AXE_RULESETS)}) on {len(found.results)} page views:")
    print(found.report())


@dataclass
class Lead:
    """The lead tenant, over the API with ``requests``, and the company it added."""

    stack: StackProcess
    key: str
    subcontractor_id: str
    activation_url: str

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        reply = self.stack.call(method, path, self.key, body)
        assert reply.status_code == status, (method, path, reply.status_code, reply.text)
        return reply.json()

    def outsource(self, title: str, **terms: Any) -> tuple[str, dict[str, Any]]:
        """A new ticket outsourced to the company: (outsourcing id, the lead's ticket)."""
        ticket = self.call(
            "POST",
            "/v1/tickets",
            {
                "title": title,
                "site": "Main St 1, 2nd floor",
                "contact": "Ann Smith, +1 555 0100",
                "organization": "Smith & Co",
            },
            status=201,
        )
        outsourced = self.call(
            "POST",
            f"/v1/tickets/{ticket['ticket_id']}/outsource",
            {"subcontractor_id": self.subcontractor_id, "terms": terms},
            status=201,
        )
        return outsourced["outsourcing_id"], ticket


@pytest.fixture(scope="module")
def lead(stack: StackProcess) -> Lead:
    """A lead with outsourcing on, and the subcontractor company it added over the API."""
    _, key = stack.create_tenant("Acme Services")
    lead = Lead(stack, key, "", "")
    version = lead.call("GET", "/v1/outsourcing/agreement")["version"]
    lead.call(
        "POST", "/v1/outsourcing/agreement/accept", {"version": version, "accepted_by": "Jane"}
    )
    lead.call("PUT", "/v1/outsourcing/settings", {"enabled": True})
    added = lead.call(
        "POST",
        "/v1/subcontractors",
        {"company_name": "Field Techs Ltd", "admin_email": ADMIN_EMAIL},
        status=201,
    )
    lead.subcontractor_id = added["subcontractor_id"]
    lead.activation_url = added["activation_url"]
    return lead


def activate_and_sign_in(
    session: Session, url: str, email: str, audit: Audit | None = None
) -> None:
    """Set the first password through an activation link, then sign in with it."""
    page = session.page
    assert urlsplit(url).hostname == "127.0.0.1", url
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set your password")
    if audit:
        audit.page(session, "activate")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile(r"/portal/login\?done=activated"))
    expect(page.get_by_role("status")).to_have_text("Your password is set. Sign in with it.")
    if audit:
        audit.page(session, "sign-in")
    sign_in(session, email)


def sign_in(session: Session, email: str) -> None:
    page = session.page
    if "/portal/login" not in page.url:
        page.goto(session_base(session) + "/portal/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/(\?.*)?$"))
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()


def session_base(session: Session) -> str:
    parts = urlsplit(session.page.url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="module")
def admin(browser: Browser, lead: Lead, audit: Audit) -> Iterator[Session]:
    """The company's admin, activated through the link the lead was given, and signed in."""
    session = open_session(browser)
    activate_and_sign_in(session, lead.activation_url, ADMIN_EMAIL, audit)
    yield session
    session.close()


# -- the flow ----------------------------------------------------------------------------------


def test_the_admin_works_a_ticket_from_acceptance_to_approval(
    lead: Lead, admin: Session, audit: Audit
) -> None:
    # Given a ticket the lead outsourced to the company, hourly
    oid, lead_ticket = lead.outsource(
        "Replace the office switch",
        instructions="Bring a ladder",
        pricing={"type": "hourly", "amount": "80"},
        authorized_hours="4",
        complete_by=FUTURE,
    )
    page = admin.page
    base = session_base(admin)
    number = str(lead_ticket["number"])

    # When the admin opens the ticket list and follows the ticket's link
    page.goto(f"{base}/portal/")
    link = page.get_by_role("link", name=number, exact=True)
    expect(link).to_be_visible()
    audit.page(admin, "tickets")
    link.click()
    page.wait_for_url(f"**/portal/tickets/{oid}")
    # Then the work order shows the terms and the end customer, and offers acceptance
    for shown in ("Bring a ladder", "Main St 1, 2nd floor", "Ann Smith", "Smith & Co"):
        expect(page.locator("main")).to_contain_text(shown)
    expect(page.get_by_role("button", name="Decline")).to_be_visible()
    audit.page(admin, "ticket-assigned")

    # When the admin accepts it
    page.get_by_role("button", name="Accept the work").click()
    expect(page.get_by_role("status")).to_have_text("You accepted the work; it is assigned to you.")

    # And adds a note, a time entry and a charge
    page.locator("#f-text").fill(NOTE)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_have_text("The note was added.")
    page.get_by_label("Date").fill("2026-12-01")
    page.get_by_label("Hours worked").fill("1.5")
    page.get_by_label("Work type").fill("Installation")
    page.get_by_label("Summary").fill("Swapped the switch")
    page.get_by_role("button", name="Add time").click()
    expect(page.get_by_role("status")).to_have_text("The time entry was added.")
    page.locator("#f-name").fill("Patch cable")
    page.get_by_label("Quantity").fill("2")
    page.get_by_label("Unit price (USD)").fill("4")
    page.get_by_role("button", name="Add charge").click()
    expect(page.get_by_role("status")).to_have_text("The charge was added.")

    # And a file: choosing it fills in its name, type and size (the portal's own script)
    chosen = {"name": "report.pdf", "mimeType": "application/pdf", "buffer": REPORT}
    # (the picker shows once the deferred script has run: wait for it, as a person would)
    picker = page.get_by_label("Choose the file to fill in the fields below")
    expect(picker).to_be_visible()
    picker.set_input_files(chosen)
    expect(page.get_by_label("File name")).to_have_value("report.pdf")
    expect(page.get_by_label("Size in bytes")).to_have_value(str(len(REPORT)))
    expect(page.get_by_label("File type")).to_have_value("application/pdf")
    page.get_by_role("button", name="Continue to upload").click()
    page.wait_for_url(re.compile(r"/attachments/[0-9A-Z]{26}/upload$"))
    # Then the upload form posts straight to the stack's S3, on 127.0.0.1
    action = page.locator("main form").get_attribute("action") or ""
    assert urlsplit(action).hostname == "127.0.0.1", action
    assert not action.startswith(base + "/portal"), action
    audit.page(admin, "upload")
    # And after the upload S3 sends the browser back to the ticket page
    page.get_by_label("File", exact=True).set_input_files(chosen)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(rf"/portal/tickets/{oid}\?done=uploaded"))
    expect(page.get_by_role("status")).to_have_text("The file was uploaded.")
    items = page.locator("main table.cards").first
    for shown in ("On site, switch replaced", "1.50 h worked", "Patch cable", "report.pdf"):
        expect(items).to_contain_text(shown)
    # And the file's link downloads what was uploaded (a presigned S3 link, with this cookie)
    href = page.get_by_role("link", name="report.pdf").get_attribute("href") or ""
    download = admin.context.request.get(base + href if href.startswith("/") else href)
    assert download.status == 200 and download.body() == REPORT
    audit.page(admin, "ticket")

    # When the changes have travelled, the lead sees them over the API
    def lead_items() -> dict[str, dict[str, Any]]:
        listed = lead.call("GET", f"/v1/tickets/{lead_ticket['ticket_id']}/items")["items"]
        kinds = {item["kind"]: item for item in listed}
        wanted = {"note", "time_entry", "charge", "attachment"}
        return kinds if wanted <= set(kinds) else {}

    seen = eventually(lead_items, "the portal's items on the lead's ticket")
    assert seen["note"]["text"] == NOTE
    assert float(seen["time_entry"]["hours_worked"]) == 1.5
    assert seen["charge"]["name"] == "Patch cable"
    assert seen["attachment"]["file_name"] == "report.pdf"
    assert all(item["origin"] == "partner" for item in seen.values())

    # When the admin submits completion
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("status")).to_have_text(
        "The work was submitted for approval; it is read-only now."
    )
    expect(page.get_by_role("button", name="Add note")).to_have_count(0)

    # And the lead, once it sees the submission, approves over the API
    def waiting() -> bool:
        status = lead.call("GET", f"/v1/outsourcings/{oid}")["status"]
        return bool(status == "waiting_approval")

    eventually(waiting, "the submission on the lead's side")
    lead.call("POST", f"/v1/outsourcings/{oid}/approve")

    # Then the portal, reloaded, shows the work complete and read-only: no action forms
    def complete() -> bool:
        page.reload()
        return page.locator("main .status-complete").count() > 0

    eventually(complete, "the approval in the portal")
    expect(page.locator("main")).to_contain_text("it is read-only. Printing still works.")
    expect(page.locator("main form")).to_have_count(0)
    audit.page(admin, "ticket-complete")

    # And the printable work order and the invoice still work from its links
    page.get_by_role("link", name="Printable work order").click()
    page.wait_for_url(f"**/portal/tickets/{oid}/work-order")
    expect(page.locator("main")).to_contain_text("On site, switch replaced")
    audit.page(admin, "work-order")
    audit.print_preview(admin, "work-order")
    page.get_by_role("link", name="Back to the ticket").click()
    page.get_by_role("link", name="Invoice").click()
    page.wait_for_url(f"**/portal/tickets/{oid}/invoice")
    # 1.5 h x 80 + 2 x 4 = 128 USD
    expect(page.locator("main")).to_contain_text("120.00 USD")
    expect(page.locator("main tfoot")).to_contain_text("128.00 USD")
    audit.page(admin, "invoice")
    audit.print_preview(admin, "invoice")


def test_a_technician_who_may_not_accept_does_not_see_awaiting_work(
    browser: Browser, lead: Lead, admin: Session, audit: Audit
) -> None:
    page = admin.page
    base = session_base(admin)
    # Given work awaiting acceptance, which the admin sees
    oid, ticket = lead.outsource("Check the door sensor", pricing={"type": "flat", "amount": "90"})
    number = str(ticket["number"])
    page.goto(f"{base}/portal/?view=awaiting")
    expect(page.get_by_role("link", name=number, exact=True)).to_be_visible()

    # And a technician the admin added without "May accept work"
    page.get_by_role("link", name="Users").click()
    email = f"tom.tech@{DOMAIN}"
    page.get_by_label("Name").fill("Tom Tech")
    page.get_by_label("Email").fill(email)
    expect(page.locator("#f-can_accept-new")).not_to_be_checked()
    page.get_by_role("button", name="Add and send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("The colleague was added")
    link = eventually(lambda: sent_links(lead.stack, email), "the invitation email")[-1]

    with session_of(browser) as tech:
        # When the technician activates, signs in and looks at the work
        activate_and_sign_in(tech, link, email)
        # Then the list offers no other view, and the awaiting work is not in it
        expect(tech.page.get_by_role("heading", level=2)).to_have_text("Assigned to me")
        expect(tech.page.get_by_label("Show")).to_have_count(0)
        expect(tech.page.get_by_role("link", name=number, exact=True)).to_have_count(0)
        expect(tech.page.locator("main")).to_contain_text("No tickets here")
        # And neither the awaiting view nor the ticket itself opens
        for path, status in (("/portal/?view=awaiting", 400), (f"/portal/tickets/{oid}", 404)):
            reply = tech.page.goto(f"{base}{path}")
            assert reply is not None and reply.status == status, (path, reply)
            expect(tech.page.get_by_role("alert")).to_be_visible()
        expect(tech.page.locator("main")).not_to_contain_text("Check the door sensor")
        audit.page(tech, "error")
        # And the nav offers no admin pages
        expect(tech.page.get_by_role("link", name="Users")).to_have_count(0)


def test_the_admin_pages_render(browser: Browser, admin: Session, audit: Audit) -> None:
    page = admin.page
    base = session_base(admin)
    # The reports
    page.get_by_role("link", name="Summary report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Summary report")
    audit.page(admin, "summary")
    page.get_by_role("link", name="Status report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Status report")
    audit.page(admin, "status")
    # The users page lists the admin
    page.get_by_role("link", name="Users").click()
    expect(page.locator("main table")).to_contain_text(ADMIN_EMAIL)
    audit.page(admin, "users")
    # The company profile saves
    page.get_by_role("link", name="Company").click()
    page.get_by_label("Phone").fill("+1 555 0199")
    page.get_by_label("Address").fill("Depot Road 7\nSpringfield")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("The company profile was saved.")
    expect(page.get_by_label("Phone")).to_have_value("+1 555 0199")
    audit.page(admin, "company")
    # The password reset request page (signed out, in its own browser context)
    with session_of(browser) as visitor:
        visitor.page.goto(f"{base}/portal/reset")
        expect(visitor.page.get_by_role("heading", level=1)).to_have_text("Reset your password")
        audit.page(visitor, "reset")


def test_signing_out_ends_only_this_browsers_session(browser: Browser, admin: Session) -> None:
    base = session_base(admin)
    with session_of(browser) as other:
        # Given the admin signed in on a second browser
        other.page.goto(f"{base}/portal/login")
        sign_in(other, ADMIN_EMAIL)
        # When they sign out there
        other.page.get_by_role("button", name="Sign out", exact=True).click()
        # Then the sign-in page says so, and the portal asks to sign in again
        other.page.wait_for_url(re.compile(r"/portal/login\?done=signed_out"))
        expect(other.page.get_by_role("status")).to_have_text("You are signed out.")
        other.page.goto(f"{base}/portal/")
        other.page.wait_for_url(re.compile(r"/portal/login"))
        expect(other.page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
        assert not other.problems(), other.problems()
    # And the first browser is still signed in
    admin.page.goto(f"{base}/portal/")
    expect(admin.page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    assert not admin.problems(), admin.problems()
