"""The playground in a real browser: Debian's Chromium, headless, driven by Playwright, against
the demo app (built as ``aimpay demo`` builds it) under uvicorn on loopback.

A visitor starts as Anna, opens her referral link as Boris, buys through the checkout page (its
real button, in a new tab), and sees the invite link in Boris's chat, the email in its panel and
Anna's credit in the ledger; then joins the course chat with the link. No console error may
appear and no request may leave 127.0.0.1. It runs at a desktop and at a phone-sized viewport,
and keeps screenshots under ``var/artefacts/``; with ``PLAYGROUND_SCREENSHOT=path`` the desktop
one is also written there (``make screenshots`` regenerates ``docs/playground.png`` so)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from entrypoints.demo import ADMIN, BUYER, REFERRER, build_demo
from tests.standins.server import free_port, serve_asgi

try:
    from playwright.async_api import Browser, ConsoleMessage, Page, Route, async_playwright, expect
except ImportError:  # pragma: no cover - the dev extras are not installed
    async_playwright = None  # type: ignore[assignment]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "var" / "artefacts"
VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}

_missing = [
    what
    for what, present in (
        (f"{CHROMIUM} (apt-get install -y chromium)", CHROMIUM.exists()),
        ("playwright (pip install -e '.[dev]')", async_playwright is not None),
    )
    if not present
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(_missing), reason="the browser tests need " + " and ".join(_missing)),
]


class Watch:
    """Collects what must not happen: console errors, uncaught exceptions, requests elsewhere."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: uncaught {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    async def route(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "about", "blob") or url.hostname == "127.0.0.1":
            await route.continue_()
            return
        self.problems.append(f"a request left 127.0.0.1: {route.request.url}")
        await route.abort()


async def launch(playwright: Any) -> Browser:
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def bot_message(page: Page, text: str | re.Pattern[str]) -> Any:
    return page.locator(".msg.from-bot").filter(has_text=text)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_visitor_buys_the_course_in_the_browser(viewport: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = await build_demo(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", base)
    watch = Watch()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    async with serve_asgi(demo.app, port), async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            context = await browser.new_context(viewport=VIEWPORTS[viewport], locale="en-GB", timezone_id="UTC")
            context.set_default_timeout(8000)
            await context.route("**/*", watch.route)
            context.on("page", watch.page)
            page = await context.new_page()
            await page.goto(f"{base}/#user={REFERRER.id}")
            await expect(page).to_have_title(re.compile("aimpay playground"))
            await expect(page.locator(f'.user[data-user-id="{REFERRER.id}"]')).to_have_attribute("aria-pressed", "true")

            # Anna starts and asks for her link with the menu's button
            await page.locator(".chip", has_text="/start").click()
            await expect(bot_message(page, "Hello, Anna!")).to_be_visible()
            await bot_message(page, "Hello, Anna!").locator(".kb-button", has_text="My referral link").click()
            referral = page.locator(".msg.from-bot .text a", has_text="?start=")
            await expect(referral).to_be_visible()

            # her link, opened as Boris, starts Boris's chat with her code
            await referral.click()
            await page.locator(f'#link-dialog button[data-user-id="{BUYER.id}"]').click()
            await expect(page.locator(f'.user[data-user-id="{BUYER.id}"]')).to_have_attribute("aria-pressed", "true")
            await expect(page.locator(".msg.from-user").first).to_contain_text("/start ")
            welcome = bot_message(page, "Hello, Boris!")
            await welcome.locator(".kb-button", has_text="Buy the course").click()
            await expect(bot_message(page, "Enter your email")).to_be_visible()
            await page.locator("#text").fill("boris@example.com")
            await page.locator("#text").press("Enter")
            pay = page.locator("a.kb-button", has_text="Pay 4990.00")
            await expect(pay).to_be_visible()
            assert (await page.locator(".msg.from-user").last.inner_text()).startswith("boris@example.com")

            # the payment button opens the demo checkout in a new tab; its real button pays
            async with context.expect_page() as opened:
                await pay.click()
            checkout = await opened.value
            await expect(checkout.locator(".demo-note")).to_contain_text("No money moves")
            await checkout.get_by_role("button", name=re.compile("^Pay ")).click()
            await expect(checkout.locator(".outcome")).to_contain_text("Paid.")
            await expect(checkout.get_by_role("link", name=re.compile("Back to the chat"))).to_have_attribute(
                "href", "/"
            )
            await checkout.screenshot(path=str(ARTEFACTS / f"checkout-{viewport}.png"))
            await checkout.close()

            # the outbox: the invite link in Boris's chat, the email, the admin's note, Anna's credit
            invite = bot_message(page, re.compile(r"t\.me/\+fakeinvite"))
            await expect(invite).to_be_visible(timeout=10000)
            await expect(page.locator("#emails .email-head")).to_contain_text("Your access to")
            await expect(page.locator("#emails .email-head")).to_contain_text("boris@example.com")
            await expect(page.locator("#admin-notes .note")).to_contain_text("Boris")
            await expect(page.locator("#ledger")).to_contain_text("499.00 RUB")
            await expect(page.locator("#outbox .badge.delivered")).to_have_count(5)

            # Boris follows his link into the course chat: the link is spent
            await invite.locator(".kb-button", has_text="Join").click()
            await expect(page.locator("#toast")).to_contain_text("Boris joined the course chat")
            await expect(page.locator("#invites .badge")).to_have_text("revoked")
            await expect(page.locator(".msg.service")).to_contain_text("You joined the course chat")

            # the admin's chat holds the sale note
            await page.locator(f'.user[data-user-id="{ADMIN.id}"]').click()
            await expect(bot_message(page, "Boris")).to_be_visible()
            await page.locator(f'.user[data-user-id="{BUYER.id}"]').click()
            await expect(invite).to_be_visible()

            chat = await page.locator(".chat").bounding_box()
            panels = await page.locator(".panels").bounding_box()
            assert chat is not None and panels is not None
            if viewport == "phone":
                assert panels["y"] >= chat["y"] + chat["height"] - 1, "the panels stack under the chat"
                assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            else:
                assert panels["x"] >= chat["x"] + chat["width"], "the panels stand beside the chat"

            await page.mouse.move(0, 0)
            await expect(page.locator("#toast")).to_be_hidden()
            await page.screenshot(path=str(ARTEFACTS / f"playground-{viewport}.png"), full_page=viewport == "phone")
            target = os.environ.get("PLAYGROUND_SCREENSHOT")
            if target and viewport == "desktop":
                (ROOT / target).parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ROOT / target))
            await context.close()
        finally:
            await browser.close()

    assert watch.problems == []
