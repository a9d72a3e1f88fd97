"""The dashboard on the visit's real data alone (import_visit, no demo): money pledged,
the value of agreements signed and the trade-turnover target, each in its own labelled
row, at desktop and phone widths (issue 10). With UPDATE_SCREENSHOTS=1 the figures'
cards are saved as the README's docs/screenshots/dashboard-real-data.png."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group

from commitments.models import Commitment, Role
from commitments.services.importer import visit_dataset_load

from ..conftest import VISIT_FIXTURE
from ..factories import UserFactory
from .conftest import ARTIFACTS, PASSWORD, SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIGURES = """() => [...document.querySelectorAll('table.figures tbody tr')].map(tr => [
    tr.closest('section').querySelector('h2').innerText.trim(),
    tr.querySelector('th').innerText.trim(),
    tr.querySelectorAll('td')[0].innerText.trim(),
    tr.querySelectorAll('td.num')[0].innerText.trim(),
])"""

MONEY = "Money pledged (investment, grant, credit)"
OTHER = "Agreements signed and targets"


@pytest.fixture
def real_data(plain_http_live_server):
    Group.objects.get_or_create(name=Role.VIEWER)
    visit_dataset_load(path=VISIT_FIXTURE)
    user = UserFactory(username="reader")
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get(name=Role.VIEWER))
    return plain_http_live_server


@pytest.mark.parametrize("width", [1280, 390])
def test_real_data_dashboard_shows_each_kind_of_figure_labelled(browser, real_data, width):
    assert not Commitment.objects.exclude(owner=None).exists(), "no demo owners"
    context = browser.new_context(base_url=real_data.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto("/accounts/login/?next=/")
        page.get_by_label("Username").fill("reader")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")
        assert page.evaluate(FIGURES) == [
            [MONEY, "Proposed", "USD", "500,000,000"],
            [OTHER, "Value of agreements signed", "USD", "140,000,000"],
            [OTHER, "Target: trade turnover", "USD", "3,000,000,000"],
        ]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        first = page.locator("#pledged").locator("xpath=ancestor::section").bounding_box()
        last = page.locator("#other-figures").locator("xpath=ancestor::section").bounding_box()
        clip = {
            "x": 0,
            "y": first["y"] - 12,
            "width": width,
            "height": last["y"] + last["height"] - first["y"] + 24,
        }
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"dashboard-real-data-{width}.png"
        page.screenshot(path=str(ARTIFACTS / name), full_page=True, clip=clip)
        if width == 1280 and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            page.screenshot(
                path=str(SCREENSHOTS / "dashboard-real-data.png"), full_page=True, clip=clip
            )
    finally:
        context.close()
