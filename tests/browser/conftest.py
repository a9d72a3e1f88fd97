"""Browser tests: Debian's Chromium driven by Playwright's sync API against pytest-django's
live server, with the demo data set loaded. They skip, saying how to install Chromium,
where /usr/bin/chromium is missing (CI installs it, so CI always runs them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import override_settings

from commitments.models import Role

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "browser-test-pass"


@pytest.fixture(scope="session")
def plain_http_live_server(request):
    """pytest-django's live server, speaking plain HTTP.

    SecurityMiddleware reads SECURE_SSL_REDIRECT once, when the live server builds its
    handler, before the per-test settings fixture runs; so it is turned off just while
    the server starts, and the rest of the suite keeps the secure defaults."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        return request.getfixturevalue("live_server")


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright():
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls
    # from a thread with a running loop unless told this is deliberate. Set for these
    # tests only, so that no later test (or `check --deploy` subprocess) inherits it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def browser(_allow_orm_beside_playwright):
    if not CHROMIUM.exists():
        pytest.skip(
            "Chromium is not installed at /usr/bin/chromium: install Debian's package with "
            "`apt-get install chromium` to run the browser tests."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def demo(plain_http_live_server, transactional_db, monkeypatch):
    """The demo data set and users, in the live server's database.

    transactional_db is asked for here, not left to each module's django_db mark: the live
    server is reached through getfixturevalue, so pytest-django cannot see that a test
    uses it, and a browser test without the mark ran against the database DATABASE_URL
    names, which the flush after it emptied (seen: every table of a developer database)."""
    # Transactional tests flush the groups migration 0002 made; load_demo expects them.
    for role in Role.ALL:
        Group.objects.get_or_create(name=role)
    monkeypatch.setenv("DEMO_PASSWORD", PASSWORD)
    call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return plain_http_live_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A Content-Security-Policy violation that Chromium logged on the console of any page
    a test opened (new_page) fails that test, whatever it was about (issue 11).

    Failed here, in the test's call, not in new_page's teardown: an error raised while the
    fixtures tear down left the live server's flush to run against the database
    DATABASE_URL names, not the test database (seen: every table of it emptied)."""
    outcome = yield
    messages = getattr(item, "csp_console_messages", None)
    if messages and outcome.excinfo is None:
        outcome.force_exception(AssertionError(f"CSP violations on the console: {messages}"))


@pytest.fixture
def new_page(browser, demo, request):
    """Open a fresh browser context (cookies, JS on/off) on the live server. Its console
    is watched for CSP violations (pytest_runtest_call above)."""
    contexts = []
    csp_messages: list[str] = []
    request.node.csp_console_messages = csp_messages

    def watch(message) -> None:
        if "Content Security Policy" in message.text:
            csp_messages.append(f"{message.location.get('url', '?')}: {message.text}")

    def open_page(*, javascript: bool = True, width: int = 1280, height: int = 900):
        context = browser.new_context(
            base_url=demo.url,
            java_script_enabled=javascript,
            accept_downloads=True,
            viewport={"width": width, "height": height},
        )
        context.set_default_timeout(15_000)
        context.on("console", watch)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, username: str, next_path: str = "/") -> None:
    page.goto(f"/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_path}")


def screenshot(page, name: str, *, docs: bool = False) -> None:
    """Save under test-artifacts/; with UPDATE_SCREENSHOTS=1 also refresh the README's
    images in docs/screenshots/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
