"""Fixtures for the Playwright browser tests.

Playwright's sync API drives Debian's Chromium (never a downloaded browser) against pytest-django's
``live_server``.  One browser per module, a fresh context (cookies, viewport) per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "kehu-demo"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this thread; Django would
    # otherwise refuse the ORM calls the test thread makes (loading the demo data, the flush after
    # each transactional test).  Only while the browser lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def live_demo(transactional_db, live_server):
    """The demo users in a database the live server's thread can see (committed, not rolled back).

    A transactional test flushes the tables afterwards and Django's post_migrate handler then
    recreates the built-in roles and rights, but not what data migrations seeded; put both back
    before loading the demo company, so each test starts from the same state."""
    from kehu.accounts.demo import load
    from kehu.accounts.models import User
    from kehu.core.models import DictEntry
    from kehu.core.sync import seed_dictionary, sync_after_migrate

    sync_after_migrate()
    seed_dictionary(DictEntry)
    load()
    return {u.username: u for u in User.objects.all()}


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


class Session:
    """One browser context: a page, the live server's URL, and what went wrong on the way
    (uncaught JavaScript errors, sub-resources answering 4xx/5xx)."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.base_url = base_url
        self.page = context.new_page()
        self.js_errors: list[str] = []
        self.bad_responses: list[str] = []
        self.page.on("pageerror", lambda exc: self.js_errors.append(str(exc)))
        self.page.on("response", self._on_response)

    def _on_response(self, response):
        # The document itself may legitimately be a 403/404 page; what it loads may not fail.
        if response.status >= 400 and response.request.resource_type != "document":
            self.bad_responses.append(f"{response.status} {response.url}")

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def login(self, username: str, password: str = DEMO_PASSWORD, *, expect_success: bool = True):
        page = self.page
        page.goto(self.url("/accounts/login/"))
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("#login")
        if expect_success:
            assert page.url == self.url("/"), f"{username} did not land on the dashboard but on {page.url}"
        return page

    def assert_clean(self):
        assert not self.js_errors, f"JavaScript errors: {self.js_errors}"
        assert not self.bad_responses, f"sub-resources failed: {self.bad_responses}"


@pytest.fixture
def open_session(browser, live_server):
    """open_session(viewport=DESKTOP, locale="zh-CN") -> a Session in a fresh browser context."""
    contexts = []

    def make(viewport=None, locale: str = "zh-CN") -> Session:
        context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return Session(context, live_server.url)

    yield make
    for context in contexts:
        context.close()
