"""The check that keeps the visit data set true to its two source texts (issue 10).

The texts are not in the repository (the sources' README asks that the articles are not
pasted into the project; the data set keeps only short quotes): they are read from
../shared/sources/ beside the checkout, or from the folder TRACKER_SOURCES_DIR names
(each source of the data set names its file under "text", and SOURCE_DIGESTS holds each
file's SHA-256, so a different or edited copy fails instead of passing). Where they are
absent, the tests that need them skip and say so, except where TRACKER_REQUIRE_SOURCES=1
(.ci/run sets it when it finds the texts): there a missing text fails, so the check
cannot silently stop running.

- every quote (commitments and context facts) occurs verbatim in its source's text;
- every commitment has a source and a quote; titles are our own words;
- no URL and no date appears in the data set that the sources do not contain;
- the dashboard, on the real data set alone (no demo), shows the money pledged, the
  value of agreements and the target apart, each labelled, with the sources' figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from commitments.selectors import dashboard_figures
from commitments.services.importer import visit_dataset_load

from .conftest import VISIT_FIXTURE as FIXTURE


def _sources_dir(environ) -> Path:
    """TRACKER_SOURCES_DIR where set, else ../shared/sources beside the checkout."""
    named = environ.get("TRACKER_SOURCES_DIR", "").strip()
    return Path(named) if named else Path(settings.BASE_DIR).parent / "shared" / "sources"


SOURCES_DIR = _sources_dir(os.environ)
# The texts the data set was checked against: a copy that differs by one byte is not them.
SOURCE_DIGESTS = {
    "000_6a6699c72bfad833.txt": "f17dbfea95735b2cb4779ece5c8ae02704cfbfefbc8b2cc111c30d32633a6d19",
    "001_f95641e1287279dd.txt": "fee221eb75bc26f314a1db795e1f12dbf2352d5a285cc9557fb0297fc86dc8d1",
}
DATA = json.loads(FIXTURE.read_text(encoding="utf-8"))

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "January February March April May June July August September October November "
        "December".split()
    )
}
MONTH = "|".join(MONTHS)


def _required() -> bool:
    """Where the texts are known to be (.ci/run sets TRACKER_REQUIRE_SOURCES=1 when it
    finds them), a skip would hide a check that stopped running."""
    return os.environ.get("TRACKER_REQUIRE_SOURCES") == "1"


def _absent(message: str) -> None:
    if _required():
        pytest.fail(message + " (required here: TRACKER_REQUIRE_SOURCES=1)")
    pytest.skip(message)


def _texts() -> dict[str, str]:
    if not SOURCES_DIR.is_dir():
        _absent(
            f"The source texts are not at {SOURCES_DIR}: the verbatim and no-invention "
            "checks need ../shared/sources/ beside the checkout, or TRACKER_SOURCES_DIR "
            "naming the folder that holds them."
        )
    texts = {}
    for source in DATA["sources"]:
        path = SOURCES_DIR / source["text"]
        if not path.is_file():
            _absent(f"{path} is missing: cannot check the quotes of {source['key']!r}.")
        raw = path.read_bytes()
        # Present but not the text the data set was checked against: always a failure.
        assert source["text"] in SOURCE_DIGESTS, f"no digest recorded for {source['text']}"
        digest = hashlib.sha256(raw).hexdigest()
        assert digest == SOURCE_DIGESTS[source["text"]], (
            f"{path} is not the published text (sha256 {digest})"
        )
        texts[source["key"]] = raw.decode("utf-8")
    return texts


def _strings(value) -> list[str]:
    """Every string in the data set, keys and values, however deeply nested."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _quoted_items() -> list[tuple[str, str, str]]:
    """(what, source key, quote) for every commitment and context fact."""
    items = [(c["reference"], c["source"], c["quote"]) for c in DATA["commitments"]]
    items += [(f"context {f['key']}", f["source"], f["quote"]) for f in DATA["visit"]["context"]]
    return items


def test_every_source_names_its_text_and_no_url():
    for source in DATA["sources"]:
        assert source.get("text"), f"source {source['key']} names no text file"
        assert source["url"] == "", "neither text gives a web address"


def test_every_commitment_has_a_source_and_a_quote():
    keys = {s["key"] for s in DATA["sources"]}
    for c in DATA["commitments"]:
        assert c["source"] in keys, c["reference"]
        assert c["quote"].strip(), c["reference"]


def test_titles_and_names_carry_the_trackers_translations_never_a_quote():
    """Issue 15: every commitment title and every organisation and person name has a
    Russian, Kazakh, Dari and Pashto translation under `translations` (the tracker's own
    words, kept apart from the quote, which is never translated)."""
    rows = [(c["reference"], "title", c) for c in DATA["commitments"]]
    rows += [(o["key"], "name", o) for o in DATA["organisations"]]
    rows += [(p["name"], "name", p) for p in DATA["people"]]
    for label, text, row in rows:
        given = row.get("translations", {})
        assert set(given) == {"ru", "kk", "fa", "ps"}, label
        for lang, values in given.items():
            assert set(values) <= {"title", "description", "name"}, (label, lang)
            assert values[text].strip() and values[text] != row[text], (label, lang)
            assert "quote" not in values and values[text] != row.get("quote"), (label, lang)
        # Each in its own script: Cyrillic for Russian and Kazakh, Arabic for Dari, Pashto.
        for lang, script in (("ru", "\u0400-\u04ff"), ("kk", "\u0400-\u04ff"),
                             ("fa", "\u0600-\u06ff"), ("ps", "\u0600-\u06ff")):  # fmt: skip
            assert re.search(f"[{script}]", given[lang][text]), (label, lang)


@pytest.mark.parametrize(("what", "source", "quote"), _quoted_items())
def test_every_quote_occurs_verbatim_in_its_source(what, source, quote):
    texts = _texts()
    assert quote in texts[source], f"{what}: not verbatim in {source}: {quote!r}"


def test_titles_are_our_own_words():
    texts = _texts()
    everything = " ".join(texts.values()).lower()
    for c in DATA["commitments"]:
        if len(c["title"].split()) >= 5:  # a short phrase may match by chance
            assert c["title"].lower() not in everything, f"{c['reference']}: title copied"


def test_no_paragraph_of_a_source_is_pasted_into_a_description():
    """Descriptions, summaries and statements are our own words: no run of 10 words of a
    source outside the quotes."""
    texts = _texts()

    def runs(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[\w'%$,.-]+", text.lower().replace("\u2019", "'"))
        return {tuple(words[i : i + 10]) for i in range(len(words) - 9)}

    source_runs = set().union(*(runs(t) for t in texts.values()))
    ours = [c["description"] for c in DATA["commitments"]] + [DATA["visit"]["summary"]]
    ours += [m["summary"] for m in DATA["visit"]["meetings"]]
    ours += [f["statement"] for f in DATA["visit"]["context"]]
    for text in ours:
        assert not runs(text) & source_runs, text


def test_no_url_appears_that_the_sources_do_not_contain():
    texts = " ".join(_texts().values())
    for string in _strings(DATA):
        for url in re.findall(r"(?:https?://|www\.)\S+", string):
            assert url in texts, f"invented URL {url}"


def _dates(text: str, default_year: int | None = None) -> set[tuple[int | None, int, int]]:
    """(year, month, day) of every date written in `text`, in the forms the data set
    and the sources use: 2025-04-21, 21 April 2025, April 21, 2025, 14 April, April 14."""
    found = set()
    for y, m, d in re.findall(r"\b(\d{4})-(\d{2})-(\d{2})\b", text):
        found.add((int(y), int(m), int(d)))
    for d, m, y in re.findall(rf"\b(\d{{1,2}}) ({MONTH})(?:,? (\d{{4}}))?\b", text):
        found.add((int(y) if y else default_year, MONTHS[m], int(d)))
    for m, d, y in re.findall(rf"\b({MONTH}) (\d{{1,2}})(?:, (\d{{4}}))?\b", text):
        found.add((int(y) if y else default_year, MONTHS[m], int(d)))
    return found


def test_no_date_or_year_appears_that_the_sources_do_not_contain():
    stated: set = set()
    years: set = set()
    for text in _texts().values():
        # A date without a year ("April 14") is in the year of the text's own date.
        own = re.search(r"\b(\d{4})-\d{2}-\d{2}\b", text) or re.search(
            rf"(?:{MONTH}) \d{{1,2}}, (\d{{4}})", text
        )
        stated |= _dates(text, int(own.group(1)) if own else None)
        years |= set(re.findall(r"\b(?:19|20)\d{2}\b", text))
    stated_days = {(m, d) for _y, m, d in stated}
    for string in _strings(DATA):
        for y, m, d in _dates(string):
            if y is None:
                assert (m, d) in stated_days, f"date not in the sources: {d}/{m} in {string!r}"
            else:
                assert (y, m, d) in stated, f"date not in the sources: {y}-{m}-{d} in {string!r}"
        for year in re.findall(r"\b(?:19|20)\d{2}\b", string):
            assert year in years, f"year {year} not in the sources: {string!r}"


def test_the_check_finds_an_invented_date_and_url():
    """The checks above can fail: the patterns catch what the old data set had."""
    assert _dates("arrived on 14 April 2025 and left 2025-04-23") == {
        (2025, 4, 14),
        (2025, 4, 23),
    }
    assert re.findall(r"(?:https?://|www\.)\S+", "see https://example.org/x") == [
        "https://example.org/x"
    ]


@pytest.mark.django_db
def test_dashboard_on_the_real_data_set_shows_each_kind_of_figure_apart(client, viewer):
    visit_dataset_load(path=FIXTURE)
    figures = dashboard_figures()
    assert [(r["currency"], r["total"]) for r in figures.pledged] == [
        ("USD", Decimal("500000000"))
    ], "money pledged: the railway's USD 500 million only"
    assert [(r["label"], r["measure"], r["total"]) for r in figures.agreements] == [
        ("Value of agreements signed", "USD", Decimal("140000000"))
    ]
    assert [(r["label"], r["measure"], r["total"]) for r in figures.targets] == [
        ("Target: trade turnover", "USD", Decimal("3000000000"))
    ], "the USD 3 billion is a target, never money pledged"
    assert figures.unstated == []

    client.force_login(viewer)
    html = client.get("/").content.decode()
    pledged = html[html.index('id="pledged"') : html.index('id="other-figures"')]
    assert "Money pledged" in pledged and "500,000,000" in pledged
    assert "3,000,000,000" not in pledged and "140,000,000" not in pledged
    rows = dict(re.findall(r'data-figure-kind="(\w+)"><th scope="row">([^<]+)</th>', html))
    assert rows == {
        "agreement_value": "Value of agreements signed",
        "target_trade_turnover": "Target: trade turnover",
    }
    assert re.search(r"Target: trade turnover</th><td>USD</td><td[^>]*>3,000,000,000<", html)
    assert re.search(r"Value of agreements signed</th><td>USD</td><td[^>]*>140,000,000<", html)


def test_without_the_source_texts_the_checks_skip_and_say_where_they_looked(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "SOURCES_DIR", tmp_path / "no")
    monkeypatch.delenv("TRACKER_REQUIRE_SOURCES", raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"source texts are not at .*no"):
        _texts()
    monkeypatch.setenv("TRACKER_REQUIRE_SOURCES", "1")
    with pytest.raises(pytest.fail.Exception, match=r"source texts are not at .*no"):
        _texts()


def _copy_of_the_texts(tmp_path, names) -> Path:
    """A folder holding copies of the real texts named (skips or fails where they are absent)."""
    _texts()
    folder = tmp_path / "sources"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes((SOURCES_DIR / name).read_bytes())
    return folder


def test_where_required_a_missing_text_fails_instead_of_skipping(monkeypatch, tmp_path):
    """TRACKER_REQUIRE_SOURCES=1 (as .ci/run sets it) turns a skip into a failure; one
    file missing is enough."""
    first, second = (s["text"] for s in DATA["sources"])
    folder = _copy_of_the_texts(tmp_path, [first])
    monkeypatch.setattr(sys.modules[__name__], "SOURCES_DIR", folder)
    monkeypatch.setenv("TRACKER_REQUIRE_SOURCES", "1")
    with pytest.raises(pytest.fail.Exception, match=f"{second} is missing"):
        _texts()
    monkeypatch.delenv("TRACKER_REQUIRE_SOURCES")
    with pytest.raises(pytest.skip.Exception, match=f"{second} is missing"):
        _texts()


def test_a_copy_that_differs_by_one_character_is_refused(monkeypatch, tmp_path):
    folder = _copy_of_the_texts(tmp_path, [s["text"] for s in DATA["sources"]])
    monkeypatch.setattr(sys.modules[__name__], "SOURCES_DIR", folder)
    assert set(_texts()) == {s["key"] for s in DATA["sources"]}
    edited = folder / DATA["sources"][1]["text"]
    edited.write_text(edited.read_text(encoding="utf-8").replace("$500", "$600", 1), "utf-8")
    with pytest.raises(AssertionError, match="is not the published text"):
        _texts()


def test_the_sources_folder_can_be_named_by_the_environment(tmp_path):
    """TRACKER_SOURCES_DIR points a checkout that has no ../shared/sources at the texts."""
    assert _sources_dir({"TRACKER_SOURCES_DIR": str(tmp_path)}) == tmp_path
    beside = Path(settings.BASE_DIR).parent / "shared" / "sources"
    assert _sources_dir({}) == _sources_dir({"TRACKER_SOURCES_DIR": " "}) == beside
