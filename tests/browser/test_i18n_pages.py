"""Issue 15 in a real Chromium: a Dari reader and a Russian reader find every page in
their language (no interface English left: each text node is compared with the
catalogue's English msgids), the right direction, dates in their calendar, and nothing
sticking out of the page at desktop or phone width."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

from commitments.models import Commitment, Profile, Visit

from ..calendar_names import DARI_MONTHS
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUSSIAN_MONTHS = ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.",
                  "сент.", "окт.", "нояб.", "дек."]  # fmt: skip


def _english_patterns(code: str) -> list[re.Pattern]:
    """The English of every msgid whose translation differs from it (names like "API" and
    "URL" stay), as a pattern matching a whole text node, placeholders as wildcards."""
    po = polib.pofile(str(Path(settings.BASE_DIR) / "locale" / code / "LC_MESSAGES" / "django.po"))
    patterns = []
    for entry in po:
        for english, translated in (
            [(entry.msgid, entry.msgstr_plural.get(0, "")), (entry.msgid_plural, "")]
            if entry.msgid_plural
            else [(entry.msgid, entry.msgstr)]
        ):
            if english == translated or len(english) < 3:
                continue
            parts = re.split(r"%\(\w+\)[sd]|\{\w+\}", english)
            patterns.append(re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$"))
    return patterns


TEXT_NODES = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest('script,style,template,[hidden]')) continue;
    if (el.closest('.quote,blockquote,.note-text')) continue;  // quotes stay verbatim
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    out.push(text);
  }
  return out;
}"""

OVERFLOWING = """() => {
  const limit = document.documentElement.clientWidth + 1;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    // A box that scrolls sideways (wide tables) may hold wider content.
    let scroller = el.parentElement, inside = false;
    while (scroller) {
      const o = getComputedStyle(scroller).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { inside = true; break; }
      scroller = scroller.parentElement;
    }
    if (inside) continue;
    if (r.left < -1 || r.right > limit) {
      bad.push(el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 40));
    }
  }
  return bad;
}"""


def _pages() -> list[str]:
    commitment = Commitment.objects.filter(owner__username="officer").order_by("pk").first()
    visit = Visit.objects.order_by("pk").first()
    return [
        "/",
        "/commitments/",
        "/commitments/?owner=officer",
        "/commitments/overdue/",
        commitment.get_absolute_url(),
        visit.get_absolute_url(),
        "/profile/",
        "/accounts/password_change/",
    ]


def _check_pages(page, code: str, direction: str, months: list[str], width: int) -> None:
    english = _english_patterns(code)
    for path in _pages():
        page.goto(path)
        assert page.evaluate("document.documentElement.lang") == code, path
        assert page.evaluate("document.documentElement.dir") == direction, path
        left = [text for text in page.evaluate(TEXT_NODES) if any(p.match(text) for p in english)]
        assert left == [], f"English left on {path}: {left}"
        assert page.evaluate(OVERFLOWING) == [], f"overflow on {path} at {width}px"
        if path.startswith("/commitments/") and path[13:14].isdigit():
            body = page.inner_text("main")
            assert any(m in body for m in months), f"no date in the reader's calendar on {path}"


def _check_translated_titles(page, code: str) -> None:
    """The data set's titles and names in the reader's language, each marked as the
    tracker's translation (lang, the label); the quote stays verbatim in English."""
    railway = Commitment.objects.get(reference="KZ-AF-2025-001")
    page.goto(railway.get_absolute_url())
    title = page.locator(f"h1 [lang={code}].translated")
    assert title.inner_text() == getattr(railway, f"translated_title_{code}")
    assert page.locator("h1 .tr-mark").is_visible()
    assert railway.title not in page.inner_text("h1")  # the original is on hover only
    assert page.locator("h1 .tr-mark").get_attribute("title").endswith(railway.title)
    quote = page.locator("blockquote.quote")
    assert quote.inner_text() == f"“{railway.source_quote}”"
    assert quote.get_attribute("lang") == "en"
    party = getattr(railway.pledged_by, f"translated_name_{code}")
    assert page.locator(f".facts [lang={code}]", has_text=party).count() == 1
    page.goto("/commitments/?q=KZ-AF-2025-00&per_page=100")
    shown = page.locator(f"table.rows td:nth-child(2) [lang={code}].translated").all_inner_texts()
    assert getattr(railway, f"translated_title_{code}")[:60] in " ".join(shown)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize(
    ("code", "direction", "months"),
    [("fa", "rtl", DARI_MONTHS), ("ru", "ltr", RUSSIAN_MONTHS)],
    ids=["dari-right-to-left-solar-hijri", "russian"],
)
def test_an_officer_reads_every_page_in_their_language(new_page, code, direction, months, width):
    Profile.objects.filter(user__username="officer").update(language=code)
    page = new_page(width=width, height=900)
    sign_in(page, "officer")
    _check_pages(page, code, direction, months, width)
    _check_translated_titles(page, code)
    if code == "fa" and width == 1280:
        page.goto("/")
        screenshot(page, "dashboard-fa", docs=True)
        page.goto(_pages()[4])
        screenshot(page, "detail-fa", docs=True)


def test_the_switcher_in_the_header_changes_the_language(new_page):
    page = new_page()
    sign_in(page, "officer")
    page.select_option("#language-select", "ps")
    page.locator(".language-switcher button").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == "ps"
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert Profile.objects.get(user__username="officer").language == "ps"
