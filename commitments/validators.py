"""Field validators shared by models, forms and API serializers."""

from __future__ import annotations

import re

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

_url = URLValidator(schemes=["http", "https"])


def validate_http_url(value: str) -> None:
    """Accept only absolute http(s) URLs, exactly as typed.

    Browsers strip leading control characters and whitespace and ignore scheme case, so
    "\\x01JaVaScRiPt:alert(1)" is a script link to them. We refuse anything that is not
    already a clean http(s) URL rather than trying to repair it.
    """
    if not value:
        return
    if value != value.strip() or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise ValidationError(_("Enter a URL without spaces or control characters."))
    scheme = value.split(":", 1)[0] if ":" in value else ""
    if scheme not in ("http", "https"):
        raise ValidationError(_("Only http:// and https:// links are allowed."))
    _url(value)


def validate_currency(value: str) -> None:
    if value and (value != value.upper() or pycountry.currencies.get(alpha_3=value) is None):
        raise ValidationError(
            _("%(value)s is not an ISO 4217 currency code."), params={"value": value}
        )


def validate_string_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Enter a list of names."))


# --- Text PostgreSQL can store ------------------------------------------------------------
# PostgreSQL's text and jsonb refuse NUL, and UTF-8 cannot encode a lone surrogate (JSON
# "\ud800" decodes to one). Input holding either is refused by the fields; anything we
# store or send that may echo input (error messages, replayed answers) is made safe.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def has_unstorable_text(value: str) -> bool:
    return bool(_UNSTORABLE.search(value))


def validate_storable_text(value) -> None:
    if isinstance(value, str) and has_unstorable_text(value):
        raise ValidationError(_("Remove NUL characters and unpaired surrogates."))


def storable(value):
    """`value` (JSON-like: str, dict, list, scalars) with every NUL and lone surrogate
    in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
