"""A real browser for the portal's e2e tests: Playwright driving Debian's Chromium (headless), an
axe-core check, screenshots at desktop and phone width, and guards on what a page does.

Playwright's own browser download does not work on these machines, so the browser is always
``/usr/bin/chromium`` (``make test`` installs it through apt when it is missing), started with a
new, empty profile (Playwright's ``launch`` makes one per browser) and the flags that keep it
from calling anywhere on its own. Every request a page makes is checked: anything but 127.0.0.1
is aborted and reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    Route,
)

from tests.e2e.harness import PROJECT_DIR, StackProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = PROJECT_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_RULESETS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}
SCREENSHOTS = PROJECT_DIR / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOOPBACK = "127.0.0.1"
ACTION_TIMEOUT_MS = 15_000


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with a new empty profile."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs it (apt chromium)"
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def _axe_source() -> str:
    assert AXE_SCRIPT.exists(), f"{AXE_SCRIPT} is missing: run `npm ci` (make does)"
    return AXE_SCRIPT.read_text()


@dataclass
class Session:
    """One browser context (its own cookies): a person at their screen.

    Collects what no page should do: requests off 127.0.0.1, Content-Security-Policy violations,
    script errors. ``problems()`` lists them; the tests assert it stays empty."""

    context: BrowserContext
    page: Page
    off_loopback: list[str] = field(default_factory=list)
    console_problems: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [*(f"request off loopback: {u}" for u in self.off_loopback), *self.console_problems]

    def close(self) -> None:
        self.context.close()


def open_session(browser: Browser) -> Session:
    """A new context at desktop size, with the page guards installed."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    session = Session(context, context.new_page())

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname == LOOPBACK:
            route.continue_()
        else:
            session.off_loopback.append(route.request.url)
            route.abort("blockedbyclient")

    def console(message: ConsoleMessage) -> None:
        text = message.text
        # A page answered with an error status logs it; what it loads is checked below.
        if message.type == "error" and not text.startswith("Failed to load resource"):
            session.console_problems.append(f"console error: {text}")
        elif "Content Security Policy" in text or "Content-Security-Policy" in text:
            session.console_problems.append(f"CSP: {text}")

    def response(reply: Response) -> None:
        # Error pages are pages too; a stylesheet, script or image the page names must load.
        # (Chromium asks for /favicon.ico on its own; the portal has none.)
        request = reply.request
        if (
            reply.status >= 400
            and request.resource_type != "document"
            and not urlsplit(request.url).path.endswith("/favicon.ico")
        ):
            session.console_problems.append(f"{reply.status} for {request.url}")

    def failed(request: Request) -> None:
        if not urlsplit(request.url).path.endswith("/favicon.ico"):
            session.console_problems.append(f"failed: {request.url} {request.failure}")

    context.route("**/*", guard)
    session.page.on("console", console)
    session.page.on("pageerror", lambda error: session.console_problems.append(f"{error}"))
    session.page.on("response", response)
    session.page.on("requestfailed", failed)
    return session


def axe_run(page: Page) -> dict[str, Any]:
    """Run axe-core on the page as it is now: its result (violations, passes, incomplete...).

    The portal's Content-Security-Policy (``script-src 'self'``) refuses a script tag with
    axe's source (``page.add_script_tag`` fails), so axe is evaluated through the DevTools
    protocol instead, which the page's CSP does not govern: the portal's own policy stays in
    force for everything the page itself loads (no ``bypass_csp``)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_RULESETS
    )
    return result


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:10]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


def horizontal_overflow(page: Page) -> list[str]:
    """Elements that stick out past the right edge of the viewport (a sideways scroll)."""
    found: list[str] = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          const out = [];
          for (const el of document.body.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (box.right > width + 0.5 && box.width > 0) {
              out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                (el.className && typeof el.className === 'string' ? '.' + el.className : '') +
                ' right=' + Math.round(box.right));
            }
          }
          const all = document.documentElement.scrollWidth;
          return out.length ? out.slice(0, 10) : ['document ' + all];
        }"""
    )
    return found


@dataclass
class Audit:
    """What every main page gets: axe at both widths, no sideways scroll on a phone, and a
    screenshot of each width under build/screenshots/."""

    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rules: dict[str, dict[str, int]] = field(default_factory=dict)  # rule counts per page view

    def page(self, session: Session, name: str) -> None:
        page = session.page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        failing: list[str] = []
        try:
            for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
                page.set_viewport_size(size)
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
                result = axe_run(page)
                violations: list[dict[str, Any]] = result["violations"]
                self.results[f"{name}-{width}"] = violations
                self.rules[f"{name}-{width}"] = {
                    kind: len(result[kind])
                    for kind in ("violations", "passes", "incomplete", "inapplicable")
                }
                serious = [v for v in violations if v["impact"] in FAILING_IMPACTS]
                if serious:
                    failing.append(f"axe on {name} ({width}):\n{describe(serious)}")
                if width == "phone" and (overflow := horizontal_overflow(page)):
                    failing.append(f"{name} scrolls sideways at 390 px: {overflow}")
        finally:
            page.set_viewport_size(DESKTOP)
        assert not failing, "\n".join(failing)
        assert not session.problems(), session.problems()

    def print_preview(self, session: Session, name: str) -> None:
        """A screenshot of the page as printed (print media, A4-ish width)."""
        page = session.page
        page.emulate_media(media="print")
        try:
            page.set_viewport_size({"width": 794, "height": 1123})
            page.screenshot(path=str(SCREENSHOTS / f"{name}-print.png"), full_page=True)
            hidden = page.evaluate(
                "() => [...document.querySelectorAll('header.top, footer, form, .no-print')]"
                ".every(el => getComputedStyle(el).display === 'none')"
            )
            assert hidden, f"{name}: navigation, forms or links still show when printed"
        finally:
            page.emulate_media(media="screen")
            page.set_viewport_size(DESKTOP)

    def report(self) -> str:
        """The rules each page view was checked against, and every violation found (any
        impact): one line per page and rule."""
        lines = [
            f"{name}: " + ", ".join(f"{count} {kind}" for kind, count in counts.items())
            for name, counts in sorted(self.rules.items())
        ]
        for name, violations in sorted(self.results.items()):
            for v in violations:
                lines.append(f"{name}: {v['id']} ({v['impact']}, {len(v['nodes'])} nodes)")
        if not any(self.results.values()):
            lines.append("no axe violations of any impact")
        return "\n".join(lines)


# -- the stack's side channels ------------------------------------------------------------------

_LINK = re.compile(r"https?://\S+token=[A-Za-z0-9_-]+")


def sent_links(stack: StackProcess, to: str) -> list[str]:
    """The portal links emailed to one address, oldest first: the stack's moto SES, read through
    moto's model dump."""
    reply = requests.get(f"{stack.info['aws_endpoint']}/moto-api/data.json", timeout=10)
    assert reply.status_code == 200, reply.text[:500]
    found: list[str] = []
    for message in json.loads(reply.text).get("ses", {}).get("Message", []):
        if to in (message.get("destinations") or {}).get("ToAddresses", []):
            found += _LINK.findall(str(message.get("body", "")))
    return found


@contextmanager
def session_of(browser: Browser) -> Iterator[Session]:
    session = open_session(browser)
    try:
        yield session
    finally:
        session.close()
