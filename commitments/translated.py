"""Texts that carry the tracker's translations (issue 15): which they are, how their
columns are named, and which version a reader sees.

The original (`Commitment.title`, `.description`, `Organisation.name`, `Person.name`) is
never replaced: a translation lives beside it, one column per interface language, made
by django-modeltranslation from the base fields registered in commitments/translation.py
(`translated_title` -> `translated_title_ru`, ...). A reader sees the translation in
their language when there is one, marked as a translation, and the original otherwise.
The source quote has no translation: it is quoted verbatim.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import translation

# Original field -> the base field modeltranslation translates, per model.
COMMITMENT_TEXTS = {"title": "translated_title", "description": "translated_description"}
NAME_TEXTS = {"name": "translated_name"}


def languages() -> tuple[str, ...]:
    return tuple(settings.MODELTRANSLATION_LANGUAGES)


def column(base: str, language: str) -> str:
    return f"{base}_{language}"


def columns(texts: Mapping[str, str]) -> list[str]:
    """Every translation column of a model, e.g. translated_title_en ... _ps."""
    return [column(base, lang) for base in texts.values() for lang in languages()]


def reader_language() -> str:
    return (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]


def shown(obj: Any, field: str, texts: Mapping[str, str], language: str | None = None):
    """(text, language) to show for obj.<field>: the translation in the reader's language
    with that language's code, or the original with None."""
    language = language or reader_language()
    found = getattr(obj, "translations", None)
    if isinstance(found, dict):  # a row read with its translations (selectors.OverdueGroup)
        return (found[language], language) if found.get(language) else (obj.name, None)
    if field in texts and language in languages():
        value = getattr(obj, column(texts[field], language), None)
        if value:
            return value, language
    return getattr(obj, field), None


def texts_of(obj: Any) -> Mapping[str, str]:
    return COMMITMENT_TEXTS if hasattr(obj, "translated_title") else NAME_TEXTS


def translations_of(obj: Any, texts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """{"ru": {"title": ..., "description": ...}, ...}: the languages with any text."""
    return translations_in({name: getattr(obj, name) for name in columns(texts)}, texts)


def translations_in(
    values: Mapping[str, Any], texts: Mapping[str, str], layout: tuple | None = None
) -> dict[str, dict[str, str]]:
    """translations_of for plain values keyed by column (a row read with .values()).
    `layout` (translation_layout(texts)) saves a page of rows reading the settings for
    each row."""
    out = {}
    for lang, pairs in layout or translation_layout(texts):
        found = {field: values[name] or "" for field, name in pairs}
        if any(found.values()):
            out[lang] = found
    return out


def translation_layout(texts: Mapping[str, str]) -> tuple:
    """The columns of each language, for translations_in."""
    return _columns_by_language(tuple(texts.items()), languages())


@functools.cache
def _columns_by_language(texts: tuple, langs: tuple) -> tuple:
    """((lang, ((field, column), ...)), ...): the names built once, not for every row
    of every page (a list of 100 asked for them a thousand times)."""
    return tuple(
        (lang, tuple((field, column(base, lang)) for field, base in texts)) for lang in langs
    )


def flatten(given: Mapping[str, Mapping[str, str]], texts: Mapping[str, str]) -> dict[str, str]:
    """{"ru": {"title": "..."}} -> {"translated_title_ru": "..."} (what the services take).
    An empty string clears that translation."""
    return {
        column(texts[field], lang): value
        for lang, values in given.items()
        for field, value in values.items()
    }
