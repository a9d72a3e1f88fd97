"""Every HTML page runs under the Content-Security-Policy in a real Chromium: the header is
there, has no 'unsafe-inline', and the browser reports no violation (console or
`securitypolicyviolation` event), htmx and the Swagger UI included."""

from __future__ import annotations

import pytest

from commitments.models import Commitment, Note, Visit

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's init scripts run outside the page's CSP: this records every violation the
# page reports, whatever the console shows.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""


def _watch(page) -> list[str]:
    console: list[str] = []
    page.on(
        "console",
        lambda msg: console.append(msg.text) if msg.type in ("error", "warning") else None,
    )
    page.context.add_init_script(RECORD_VIOLATIONS)
    return console


def _visit(page, console: list[str], path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, path
    assert "unsafe-inline" not in policy, path
    assert "permissions-policy" in response.headers, path
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__cspViolations")
    csp_console = [m for m in console if "Content Security Policy" in m]
    assert violations == [], (path, violations)
    assert csp_console == [], (path, csp_console)


def test_every_html_page_has_the_csp_header_and_no_violation(new_page):
    page = new_page()
    console = _watch(page)
    _visit(page, console, "/accounts/login/")
    _visit(page, console, "/accounts/password_reset/")
    sign_in(page, "admin")
    commitment = Commitment.objects.overdue().order_by("due_date").first()
    visit = Visit.objects.order_by("pk").first()
    for path in (
        "/",
        "/commitments/",
        "/commitments/overdue/",
        f"/commitments/{commitment.pk}/",
        f"/commitments/{commitment.pk}/?history=all",
        f"/visits/{visit.pk}/",
        "/accounts/password_change/",
        "/accounts/two-factor/",
        "/admin/",
        f"/admin/commitments/commitment/{commitment.pk}/change/",
        "/admin/commitments/note/",
        "/api/docs/",
    ):
        _visit(page, console, path)

    # The Swagger UI really ran (its setup script came from its own URL) ...
    page.goto("/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    # ... and htmx did on the detail page.
    page.goto(f"/commitments/{commitment.pk}/")
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.__cspViolations") == []


def test_officer_retracts_a_note_in_the_browser_under_the_csp(new_page):
    page = new_page()
    console = _watch(page)
    commitment = Commitment.objects.filter(owner__username="officer").order_by("pk").first()
    sign_in(page, "officer", f"/commitments/{commitment.pk}/")
    # The Update panel shows one form at a time: choose the action first (htmx, in place).
    page.get_by_role("link", name="Add a note").click()
    form = page.locator("#note-form")
    form.get_by_label("Note").fill("Sent to the wrong ministry.")
    form.get_by_role("button", name="Add note").click()
    timeline = page.locator("ol.timeline")
    timeline.get_by_text("Sent to the wrong ministry.").wait_for()

    note = Note.objects.get(text="Sent to the wrong ministry.")
    page.get_by_label("Why retract it?").first.fill("Wrong commitment.")
    page.get_by_role("button", name="Retract note").first.click()
    page.locator(".entry-note", has_text="Wrong commitment.").wait_for()
    assert timeline.get_by_text("Sent to the wrong ministry.").count() == 0
    assert Note.objects.filter(retracts=note, kind=Note.Kind.RETRACTION).count() == 1
    assert Note.objects.get(pk=note.pk).text == "Sent to the wrong ministry."
    assert page.evaluate("window.__cspViolations") == []
    assert [m for m in console if "Content Security Policy" in m] == []
