"""Integrations in a real Chromium: a manager adds a webhook and sends a test event,
imports a spreadsheet through the preview, and finds the calendar feed on the profile."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from commitments.models import Commitment, Organisation, Visit, WebhookDelivery, WebhookEndpoint

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_adds_a_webhook_sends_a_test_event_and_sees_it_in_the_log(new_page):
    page = new_page()
    sign_in(page, "manager")
    # The header names the user by their full name (demo: Aigerim Nurlanova).
    page.get_by_role("link", name="Aigerim Nurlanova").click()
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill("https://registry.example.org/hook")
    page.get_by_label("Secret").fill("a long enough shared secret")
    page.get_by_label("Status changed").check()
    page.get_by_role("button", name="Add webhook").click()
    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("Test event queued.").wait_for()
    assert page.get_by_role("cell", name="webhook.test").is_visible()
    screenshot(page, "webhook-detail")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["commitment.status_changed"]
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event="webhook.test").count() == 1


def test_manager_imports_a_sheet_after_the_preview(new_page, tmp_path):
    visit = Visit.objects.first()
    org = Organisation.objects.first()
    book = Workbook()
    book.active.append(["external_id", "title", "visit", "sector", "nature", "pledged_by"])
    book.active.append(["BR-1", "Fibre link", visit.code, "telecoms_ict", "intention", org.name])
    book.active.append(["BR-2", "", visit.code, "trade", "intention", org.name])
    out = io.BytesIO()
    book.save(out)
    path = tmp_path / "pledges.xlsx"
    path.write_bytes(out.getvalue())
    before = Commitment.objects.count()

    page = new_page()
    sign_in(page, "manager", "/commitments/import/")
    page.get_by_label("Spreadsheet (.xlsx or .csv)").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("1 to create, 0 to update, 0 unchanged, 1 with errors").wait_for()
    screenshot(page, "import-preview")
    assert Commitment.objects.count() == before
    page.get_by_role("button", name="Confirm the import").click()
    page.wait_for_url("**/commitments/")
    assert Commitment.objects.count() == before + 1
    assert Commitment.objects.filter(external_id="BR-1").exists()


def test_officer_finds_the_calendar_feed_on_the_profile_page(new_page):
    page = new_page()
    sign_in(page, "officer", "/profile/")
    url = page.get_by_label("Your calendar feed address").input_value()
    assert "/calendar/" in url and url.endswith(".ics")
    screenshot(page, "profile")
    # A calendar app fetches it with no session.
    anonymous = new_page()
    response = anonymous.request.get("/calendar/" + url.split("/calendar/", 1)[1])
    assert response.status == 200
    assert response.body().startswith(b"BEGIN:VCALENDAR")


def test_webhook_pages_and_the_import_preview_fit_a_phone(new_page, tmp_path):
    # At 390 px the tables were crushed into one letter a column ("Redeliver" stacked
    # letter by letter) and each event's tick box stood alone across the line above the
    # next event's name.
    page = new_page(width=390)
    sign_in(page, "manager", "/webhooks/")
    created = page.get_by_label("Created", exact=True)
    box, label = created.bounding_box(), page.get_by_text("Created", exact=True).bounding_box()
    assert box["width"] < 40, box
    assert abs(box["y"] - label["y"]) < 20, (box, label)  # beside its name, not above it
    page.get_by_label("URL").fill("https://registry.example.org/hook")
    page.get_by_label("Secret").fill("a long enough shared secret")
    created.check()
    page.get_by_role("button", name="Add webhook").click()
    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("Test event queued.").wait_for()
    redeliver = page.get_by_role("button", name="Redeliver").bounding_box()
    assert redeliver["height"] < 60, redeliver  # one line of text
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "webhook-detail-phone")

    visit, org = Visit.objects.first(), Organisation.objects.first()
    book = Workbook()
    book.active.append(["external_id", "title", "visit", "sector", "nature", "pledged_by"])
    book.active.append(["PH-1", "", visit.code, "trade", "intention", org.name])
    path = tmp_path / "phone.xlsx"
    book.save(path)
    page.goto("/commitments/import/")
    page.get_by_label("Spreadsheet (.xlsx or .csv)").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    error = page.locator(".form-errors").first
    error.wait_for()
    assert error.bounding_box()["width"] > 250  # the message has the card's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "import-preview-phone")
