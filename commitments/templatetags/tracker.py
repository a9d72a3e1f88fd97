"""Template helpers for the browser pages: safe links, sortable headers, page links and
the server-side SVG chart (no JavaScript, no CDN: it renders offline)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django import forms, template
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils import translation
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.translation import gettext as _

from ..formats import person_name

register = template.Library()


@register.filter
def safe_href(url: str | None) -> str:
    """The URL when it is an http(s) link, otherwise "" so the template shows no link.

    The validators refuse other schemes on the way in; this guards the way out too, for
    rows written before a validator existed or by a bulk import."""
    url = (url or "").strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") and url.isprintable() else ""


@register.filter
def render_field(bound: forms.BoundField) -> str:
    """A form field's widget; drop-down lists are written here directly.

    Django draws every <option> through its own template, which costs ~60 ms on the
    filter form (hundreds of organisations and users). Writing the options with
    format_html keeps the same markup and attributes (id, aria-invalid,
    aria-describedby, multiple, required) at a fraction of the cost."""
    widget = bound.field.widget
    if (
        not isinstance(widget, forms.Select)
        or isinstance(widget, forms.RadioSelect)
        or not hasattr(bound.field, "choices")
    ):
        return str(bound)
    attrs = bound.build_widget_attrs({**widget.attrs, "id": bound.auto_id}, widget)
    if bound.errors:
        attrs["aria-invalid"] = "true"
    if bound.help_text and bound.auto_id:
        attrs["aria-describedby"] = f"{bound.auto_id}_helptext"
    if widget.allow_multiple_selected:
        attrs["multiple"] = True
    value = bound.value()
    if not isinstance(value, (list, tuple)):
        value = [value]
    selected = {str(v) for v in value if v is not None}
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (str(option), " selected" if str(option) in selected else "", label)
            for option, label in bound.field.choices
        ),
    )
    return format_html('<select name="{}"{}>{}</select>', bound.html_name, flatatt(attrs), options)


@register.filter
def days(value: dt.timedelta | None) -> int | str:
    return value.days if isinstance(value, dt.timedelta) else ""


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced ("" removes one)."""
    params: QueryDict = context["request"].GET.copy()
    for name, value in changes.items():
        params.pop(name, None)
        if value not in ("", None):
            params[name] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_header(context, field: str, label: str) -> str:
    """A column header that sorts by `field` (the FilterSet's `ordering` values);
    clicking the sorted column reverses it. aria-sort tells screen readers the order."""
    current = context["request"].GET.get("ordering", "")
    if current == field:
        state, target, arrow = "ascending", f"-{field}", "▲"
    elif current == f"-{field}":
        state, target, arrow = "descending", field, "▼"
    else:
        state, target, arrow = "none", field, ""
    href = query_with(context, ordering=target, page="")
    title = _("Sort by %(c)s") % {"c": label}
    return format_html(
        '<th scope="col" aria-sort="{}"><a href="{}" title="{}">{}</a>'
        '<span aria-hidden="true"> {}</span></th>',
        state,
        href,
        title,
        label,
        arrow,
    )


# Bar colours per open status; each segment also carries its count and a <title>, and
# the same numbers stand in the table beside the chart, so colour is never the only cue.
STATUS_COLOURS = {
    "proposed": "#8a94a6",
    "agreed": "#2f6fb0",
    "in_progress": "#2a8a5b",
    "blocked": "#b3261e",
}


@register.inclusion_tag("commitments/partials/chart_status_sector.html")
def status_sector_chart(figures) -> dict:
    """Geometry of a horizontal stacked bar chart: open commitments by sector and status."""
    rows = figures.by_sector
    label_width, bar_width, row_height, top = 170, 420, 28, 8
    biggest = max((row.total for row in rows), default=0) or 1
    bars = []
    for index, row in enumerate(rows):
        y = top + index * row_height
        x = label_width
        segments = []
        for value, label in figures.open_statuses:
            count = row.counts.get(value, 0)
            if not count:
                continue
            width = bar_width * count / biggest
            segments.append(
                {
                    "x": round(x, 1),
                    "width": round(width, 1),
                    "count": count,
                    "label": label,
                    "colour": STATUS_COLOURS.get(value, "#666"),
                    "show_count": width >= 28,
                    "text_x": round(x + width / 2, 1),
                }
            )
            x += width
        bars.append(
            {
                "label": row.label,
                "y": y,
                "text_y": y + row_height / 2 + 4,
                "total": row.total,
                "total_x": round(x + 6, 1),
                "segments": segments,
            }
        )
    width = label_width + bar_width + 60
    label_x = label_width - 8
    rtl = translation.get_language_bidi()
    # The SVG is always laid out left to right (the stylesheet sets direction: ltr on it),
    # so the anchors below are physical: a label ends just before its bar, a total starts
    # just after it.
    label_anchor, total_anchor = "end", "start"
    if rtl:
        # Right to left (Dari, Pashto): labels on the right, bars growing leftwards: x is
        # mirrored and the anchors swap, so a label starts just after its bar (running to
        # the right edge) and a total ends just before it.
        label_anchor, total_anchor = "start", "end"
        label_x = width - label_x
        for bar in bars:
            bar["total_x"] = round(width - bar["total_x"], 1)
            for segment in bar["segments"]:
                segment["x"] = round(width - segment["x"] - segment["width"], 1)
                segment["text_x"] = round(width - segment["text_x"], 1)
    return {
        "bars": bars,
        "rtl": rtl,
        "label_anchor": label_anchor,
        "total_anchor": total_anchor,
        "bar_height": row_height - 8,
        "label_x": label_x,
        "width": width,
        "height": top * 2 + max(len(rows), 1) * row_height,
        "legend": [
            {"label": label, "colour": STATUS_COLOURS.get(value, "#666")}
            for value, label in figures.open_statuses
        ],
    }


# One date format across pages, CSV and emails (settings.TRACKER_DATE_FORMAT), and times
# always in the viewer's zone with the zone named, so "16:35" is never ambiguous.
@register.filter
def day(value) -> str:
    """A date (or the date of a time, in the viewer's zone) in the one display format."""
    from commitments.formats import format_day

    return format_day(value)


@register.filter
def when(value) -> str:
    """A time in the active (viewer's) zone, e.g. "16 Oct 2026, 21:05 Asia/Kabul"."""
    from commitments.formats import format_when

    return format_when(value)


@register.filter
def person(user) -> str:
    """A user as people know them: the full name, the username only when no name is set."""
    return person_name(user)


@register.filter
def is_past(value) -> bool:
    """A follow-up time already passed: flagged on every list."""
    from django.utils import timezone

    return value is not None and value < timezone.now()


@register.filter
def may_own(user) -> bool:
    """Only desk officers and managers own commitments ("My commitments" is for them)."""
    from commitments.permissions import is_desk_officer, is_manager

    return bool(user and user.is_authenticated and (is_desk_officer(user) or is_manager(user)))


@register.inclusion_tag("commitments/partials/chart_overdue_trend.html")
def overdue_trend_chart(trend) -> dict:
    """Geometry of the weekly "overdue over time" bars (server-side SVG, no script)."""
    from commitments.formats import format_day

    step, height, top, base = 16, 120, 16, 140
    biggest = max((n for _, n in trend), default=0) or 1
    bars = []
    for index, (day, n) in enumerate(trend):
        h = round(height * n / biggest, 1)
        bars.append({"x": 8 + index * step, "y": base - h, "h": h, "n": n, "day": format_day(day)})
    return {
        "bars": bars,
        "bar_width": step - 4,
        "width": 16 + len(trend) * step,
        "height": base + 22,
        "base": base,
        "top": top,
        "first": bars[0]["day"] if bars else "",
        "last": bars[-1]["day"] if bars else "",
        "biggest": biggest,
    }


@register.filter
def manages(user) -> bool:
    """{% if user|manages %}: a manager or admin (the menu's webhook and import links)."""
    from ..permissions import is_manager

    return is_manager(user)


@register.filter(expects_localtime=True, is_safe=False)
def caldate(value, fmt: str = "j F Y") -> str:
    """A date as the reader reads it: their calendar (Gregorian or Solar Hijri) and digits
    (issue 15). Machine-readable copies (``<time datetime>``, URLs) keep ``|date``."""
    from tracker.calendars import format_date

    try:
        return format_date(value, fmt)
    except (TypeError, ValueError, AttributeError):
        return ""


@register.simple_tag
def interface_languages() -> list[tuple[str, str]]:
    """The switcher's choices, each named in its own language (not translated into the
    page's), so a reader finds theirs whatever language the page is in."""
    from django.conf import settings

    return list(settings.LANGUAGES)


@register.simple_tag
def tr(obj, field: str = "title", truncate: int = 0) -> str:
    """A commitment's title or description, or an organisation's or person's name, in the
    reader's language: the tracker's translation, marked as one (`lang`, the
    "translation" label, the original on hover), or else the original as written
    (on a right-to-left page with `dir="auto"`, so a Latin original reads left to right)."""
    from django.template.defaultfilters import linebreaksbr, truncatechars

    from ..translated import shown, texts_of

    if obj is None:
        return ""
    text, language = shown(obj, field, texts_of(obj))
    short = truncatechars(text, truncate) if truncate else text
    body = linebreaksbr(short, autoescape=True) if field == "description" else short
    if language is None:
        if translation.get_language_bidi():
            return format_html('<span dir="auto">{}</span>', body)
        return conditional_escape(body)
    original = getattr(obj, field, "")
    return format_html(
        '<span lang="{}" dir="auto" class="translated">{}</span>'
        ' <small class="tr-mark" title="{}">{}</small>',
        language,
        body,
        _("Translated by the tracker. Original: %(text)s") % {"text": original},
        _("translation"),
    )


@register.filter
def tr_text(obj, field: str = "title") -> str:
    """The same choice as {% tr %} as plain text (emails), a translation marked in
    brackets."""
    from ..translated import shown, texts_of

    if obj is None:
        return ""
    text, language = shown(obj, field, texts_of(obj))
    return text if language is None else f"{text} ({_('translation')})"
