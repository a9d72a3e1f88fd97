"""The browser app in a real Chromium: what officers, managers and viewers do."""

from __future__ import annotations

import csv
import io

import pytest

from commitments.models import Commitment, Evidence, Sector, Status, StatusChange

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _officers_overdue_movable() -> Commitment:
    return (
        Commitment.objects.overdue()
        .filter(owner__username="officer", status__in=[Status.PROPOSED, Status.AGREED])
        .order_by("due_date")
        .first()
    )


def test_officer_moves_an_overdue_commitment_to_in_progress_with_note_and_evidence(new_page):
    target = _officers_overdue_movable()
    assert target is not None, "the demo data should give officer an overdue commitment"
    version_before = target.version
    page = new_page()
    sign_in(page, "officer")
    screenshot(page, "dashboard-officer")

    page.get_by_role("link", name="My commitments").click()
    page.get_by_label("Overdue").select_option("true")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_role("link", name=target.reference, exact=True).click()
    page.wait_for_url(f"**/commitments/{target.pk}/")

    # htmx comes from the app's own static files (no CDN) and posts the form in place.
    assert page.evaluate("typeof window.htmx") == "object"
    assert "/static/" in page.locator("script[src*=htmx]").get_attribute("src")
    form = page.locator("#status-form")
    form.get_by_label("New status").select_option(Status.IN_PROGRESS)
    form.get_by_label("Note").fill("Rail working group met <b>today</b>.")
    form.get_by_label("Evidence link").fill("https://example.org/minutes")
    form.get_by_label("Evidence title").fill("Minutes of the working group")
    form.get_by_role("button", name="Change status").click()

    timeline = page.locator("ol.timeline")
    timeline.get_by_text("Rail working group met <b>today</b>.").wait_for()
    link = timeline.get_by_role("link", name="Minutes of the working group")
    assert link.get_attribute("href") == "https://example.org/minutes"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator(".status-line .status").inner_text() == "In progress"
    screenshot(page, "commitment-detail")

    target.refresh_from_db()
    assert target.status == Status.IN_PROGRESS
    assert target.version == version_before + 1
    assert (
        Evidence.objects.filter(commitment=target, url="https://example.org/minutes").count() == 1
    )
    last = StatusChange.objects.filter(commitment=target).order_by("-version").first()
    assert (last.to_status, last.actor.username) == (Status.IN_PROGRESS, "officer")


def test_with_javascript_off_the_status_form_still_works_and_shows_errors(new_page):
    target = _officers_overdue_movable()
    page = new_page(javascript=False)
    sign_in(page, "officer", f"/commitments/{target.pk}/")
    form = page.locator("#status-form")
    form.get_by_label("New status").select_option(Status.CANCELLED)
    form.get_by_role("button", name="Change status").click()
    # Cancelling needs a note: the error stands next to the field, nothing changed.
    assert "Say why in a note." in page.locator("#status-form").inner_text()
    assert page.locator("#status-form .has-error").count() == 2  # the reason and the tick
    target.refresh_from_db()
    assert target.status != Status.CANCELLED

    form = page.locator("#status-form")
    form.get_by_label("New status").select_option(Status.IN_PROGRESS)
    form.get_by_role("button", name="Change status").click()
    page.get_by_text("Status changed to In progress.").wait_for()
    target.refresh_from_db()
    assert target.status == Status.IN_PROGRESS


def test_manager_filters_overdue_by_sector_and_the_csv_matches_the_page(new_page):
    sector = (
        Commitment.objects.overdue().order_by("sector").values_list("sector", flat=True).first()
    )
    page = new_page()
    sign_in(page, "manager", "/commitments/overdue/")
    screenshot(page, "overdue", docs=True)

    page.get_by_label("Sector").select_option(sector)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(f"**sector={sector}**")
    page.locator("table.overdue-table").wait_for()

    shown = page.locator("table.overdue-table tbody.row td:nth-child(2) a").all_inner_texts()
    expected = list(
        Commitment.objects.overdue()
        .filter(sector=sector)
        .order_by("due_date", "reference")
        .values_list("reference", flat=True)
    )
    assert shown == expected and shown

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("overdue-")
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert [row["Reference"] for row in rows] == shown
    assert {row["Sector"] for row in rows} == {Sector(sector).label}
    screenshot(page, f"overdue-{Sector(sector).value}")


def test_viewer_sees_no_edit_controls(new_page):
    commitment = Commitment.objects.overdue().order_by("reference").first()
    page = new_page()
    sign_in(page, "viewer")
    screenshot(page, "dashboard", docs=True)
    page.goto(f"/commitments/{commitment.pk}/")
    page.locator("ol.timeline").wait_for()
    assert page.locator("main form").count() == 0
    assert page.get_by_role("button", name="Change status").count() == 0
    screenshot(page, "commitment-detail-viewer")
    page.goto("/commitments/")
    screenshot(page, "commitment-list")
    page.goto(commitment.visit.get_absolute_url())
    screenshot(page, "visit")


def test_pages_read_on_a_phone(new_page):
    page = new_page(width=390, height=844)
    sign_in(page, "manager", "/commitments/overdue/")
    # Nothing but the table (which scrolls in its own box) may be wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    assert not overflow
    screenshot(page, "overdue-phone")
