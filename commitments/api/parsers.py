"""The API's JSON parser: DRF's, with limits on the shape of the body.

Python's json module recurses once per nesting level, so a body of 100,000 "[" was a
RecursionError (a 500) before any view ran. We look at the brackets first, with a flat
scan that never recurses, and refuse a body nested deeper or holding more values than any
real request needs. What passes is parsed by DRF as before (strict: no NaN).
"""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Strings are skipped whole (escapes included), so brackets and commas inside them do
# not count; what is left is structure.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRUCTURE = re.compile(r"[\[\]{},]")

# The deepest real body is a sync item's evidence list: {commitments: [{...}]} is 3.
DEFAULT_MAX_DEPTH = 20
# A full sync (1,000 items of ~25 fields) is about 25,000 values.
DEFAULT_MAX_VALUES = 100_000


def check_json_shape(text: str, *, max_depth: int, max_values: int) -> None:
    """Raise ParseError when `text` nests deeper than max_depth or holds more than
    max_values values (counted by separators and containers, an upper bound)."""
    depth = values = 0
    for match in _STRUCTURE.finditer(_STRING.sub('""', text)):
        char = match.group()
        if char in "[{":
            depth += 1
            values += 1
            if depth > max_depth:
                raise ParseError(_("JSON nested deeper than %(n)d levels.") % {"n": max_depth})
        elif char == ",":
            values += 1
            if values > max_values:
                raise ParseError(_("JSON with more than %(n)d values.") % {"n": max_values})
        else:
            depth -= 1


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(_("The body is not valid %(e)s text.") % {"e": encoding}) from None
        check_json_shape(
            text,
            max_depth=getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH),
            max_values=getattr(settings, "API_JSON_MAX_VALUES", DEFAULT_MAX_VALUES),
        )
        return super().parse(io.BytesIO(raw), media_type, parser_context)
