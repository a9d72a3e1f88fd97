"""The one FilterSet for commitments, shared by the browser list and the REST API.

Parameter names are a contract with integrations: status (several), sector, owner
(username), visit, pledged_by (any pledging party), beneficiary (ids), figure_kind,
overdue, due_before, due_after,
updated_since (ISO 8601), q (free text), ordering.
"""

from __future__ import annotations

import copy
import datetime as dt

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Exists, OuterRef, Q
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from .formats import DATE_INPUT_FORMATS, CalendarDateField, PersonChoiceField
from .models import Commitment, FigureKind, Organisation, Role, Sector, Status, Visit
from .search import search_condition


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 allows any UTC offset; PostgreSQL refuses offsets beyond ±15:59 (a 500).
    Compare in UTC instead."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError:  # before year 1 or after 9999 in UTC
                return qs if value.year == 1 else qs.none()
        return super().filter(qs, value)


class OverdueSelect(forms.NullBooleanSelect):
    """Plain words instead of Django's "Unknown / Yes / No"."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [
            ("unknown", _("Any")),
            ("true", _("Overdue only")),
            ("false", _("Not overdue")),
        ]


class BuiltOnceFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters and form class are built once per class, not per request.

    django-filter deep-copies every declared filter (their querysets, choices and form
    fields with them) and builds a new form class on each instance: about 2 ms of every
    API request (issue 13). Ours keep no per-request state but `model` and `parent`, so
    each instance takes shallow copies of the class's filters and points them, and their
    `method`, at itself; the form class is shared (Django's form deep-copies its fields
    per instance anyway)."""

    _form_classes: dict[type, type] = {}

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, base in self.base_filters.items():
            filter_ = copy.copy(base)
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method is not None:
                filter_.method = filter_.method  # a FilterMethod bound to this copy
            self.filters[name] = filter_

    def get_form_class(self):
        cls = type(self)
        form_class = self._form_classes.get(cls)
        if form_class is None:
            fields = {name: base.field for name, base in self.base_filters.items()}
            form_class = type(f"{cls.__name__}Form", (self._meta.form,), fields)
            self._form_classes[cls] = form_class
        return form_class

    @classmethod
    def parameter_names(cls) -> frozenset[str]:
        """The query parameters any of the filters reads (worked out once per class)."""
        names = cls.__dict__.get("_parameter_names")
        if names is None:
            found = set()
            for name, base in cls.base_filters.items():
                suffixes = getattr(base.field.widget, "widgets_names", None) or [""]
                found.update(f"{name}{suffix}" for suffix in suffixes)
            names = cls._parameter_names = frozenset(found)
        return names


class CalendarDateFilter(django_filters.DateFilter):
    field_class = CalendarDateField


class PersonFilter(django_filters.ModelChoiceFilter):
    field_class = PersonChoiceField


class _NameChoices(django_filters.fields.ModelChoiceIterator):
    """Options as (id, name) rows: no model instance per option. The seeded data's two
    hundred organisations, twice on the list's filter form, each built through
    modeltranslation's constructor, were a fifth of a list page's time. The label is the
    name, as Organisation.__str__ gives it."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        yield from self.queryset.values_list("pk", "name")


class _NameChoiceField(django_filters.fields.ModelChoiceField):
    iterator = _NameChoices


class OrganisationFilter(django_filters.ModelChoiceFilter):
    """A choice of organisation by name (validated against the queryset as usual)."""

    field_class = _NameChoiceField


_ORGANISATION_CHOICES = Organisation.objects.only("pk", "name")


def _possible_owners():
    """Who can be named in the Owner filter: desk officers and managers, and anyone who
    still owns a commitment (a former officer); not viewers or an administrator who owns
    nothing. Each user is checked by an EXISTS on the owner index, never a join."""
    owns = Exists(Commitment.objects.filter(owner=OuterRef("pk")))
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=[Role.DESK_OFFICER, Role.MANAGER]) | owns)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class CommitmentFilterSet(BuiltOnceFilterSet):
    # distinct=False: these are the commitment's own columns, so no row can come twice;
    # django-filter's default SELECT DISTINCT made a page's count 250 ms at 1M rows
    # (two statuses), where the plain count takes a tenth of that.
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, label=_("Status"), distinct=False
    )
    sector = django_filters.MultipleChoiceFilter(
        choices=Sector.choices, label=_("Sector"), distinct=False
    )
    # Owners by name in the browser ("Farida Azizi", not "officer"); the parameter stays
    # the username (the API's contract). "Any" rather than Django's "---------".
    owner = PersonFilter(
        queryset=_possible_owners(),
        to_field_name="username",
        label=_("Owner"),
        empty_label=_("Any"),
    )
    visit = django_filters.ModelChoiceFilter(
        queryset=Visit.objects.all(), label=_("Visit"), empty_label=_("Any")
    )
    # Any pledging party: the first named (pledged_by) or one of the others (co_pledgers).
    # The drop-downs show names only: reading each organisation's aliases (JSON) and
    # translations as well cost every list page a few milliseconds per hundred.
    pledged_by = OrganisationFilter(
        queryset=_ORGANISATION_CHOICES,
        method="filter_pledged_by",
        label=_("Pledged by"),
        empty_label=_("Any"),
    )
    figure_kind = django_filters.MultipleChoiceFilter(
        choices=FigureKind.choices, label=_("Kind of figure"), distinct=False
    )
    beneficiary = OrganisationFilter(
        queryset=_ORGANISATION_CHOICES, label=_("Beneficiary"), empty_label=_("Any")
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label=_("Overdue"), widget=OverdueSelect
    )
    # The pages take dates in the reader's calendar (issue 15); the API's FilterSet
    # below keeps them ISO, whatever the calendar.
    due_after = CalendarDateFilter(
        field_name="due_date", lookup_expr="gte", label=_("Due on or after")
    )
    due_before = CalendarDateFilter(
        field_name="due_date", lookup_expr="lte", label=_("Due on or before")
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Updated since (ISO 8601)")
    )
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    # --- REST API: incremental sync. change_seq follows commit order
    # (services.next_change_seq), so "after the largest change_seq I saw" misses nothing.
    changed_after = django_filters.NumberFilter(
        field_name="change_seq", lookup_expr="gt", label=_("Changed after (sync position)")
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("due_date", "due_date"),
            ("status", "status"),
            ("updated_at", "updated_at"),
            ("reference", "reference"),
            ("status_changed_at", "status_changed_at"),
        ),
        label=_("Sort by"),
    )

    class Meta:
        model = Commitment
        fields: list[str] = []

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.overdue() if value else queryset.not_overdue()

    def filter_pledged_by(self, queryset, name, value):
        return queryset if value is None else queryset.pledged_by_party(value)

    def filter_q(self, queryset, name, value):
        # One search for the list, the API and /search/: commitments/search.py.
        if "\x00" in value:
            return queryset.none()  # no stored text holds a NUL (PostgreSQL refuses one)
        found = search_condition(value)
        return queryset if found is None else queryset.filter(found[0])


class IntegerFilter(django_filters.NumberFilter):
    """Whole numbers only (NumberFilter takes 1.5 and 1e16, which the schema does not)."""

    field_class = forms.IntegerField
    BIGINT = 2**63

    def filter(self, qs, value):
        # Beyond a bigint no row can match (and the database would refuse the number):
        # decide in Python. Only "exact" and "gt" are used.
        if value is not None and not -self.BIGINT < value < self.BIGINT:
            below = value < 0
            return qs if (below and self.lookup_expr == "gt") else qs.none()
        return super().filter(qs, value)


class NulTolerantCharField(forms.CharField):
    """A CharField that lets a NUL through to the filter (which then matches nothing):
    the schema says "string", and a string with a NUL is still a string."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class TextFilter(django_filters.CharFilter):
    field_class = NulTolerantCharField

    def filter(self, qs, value):
        if value and "\x00" in value:
            return qs.none()
        return super().filter(qs, value)


class StrictBooleanField(forms.NullBooleanField):
    # A text widget: NullBooleanSelect reads any unknown value as "either".
    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError(_("Send true or false."), code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


# Orderings the API's cursor can follow: non-null columns only (a cursor cannot point at
# NULL, so due_date is a page ordering only).
CURSOR_ORDERINGS = ("change_seq", "id", "reference", "status", "status_changed_at", "updated_at")


class CommitmentApiFilterSet(CommitmentFilterSet):
    """The same filters for the API, with exactly the orderings its cursor pages accept,
    so the schema offers those and nothing else."""

    ordering = django_filters.OrderingFilter(
        fields=tuple((name, name) for name in CURSOR_ORDERINGS), label=_("Sort by")
    )
    # A filter value that matches nothing is an empty page, not a 400: an integration
    # asking for "my" records before its first one exists is not a bad request (the
    # browser's select boxes only offer what exists, so the pages keep the choice fields).
    owner = TextFilter(field_name="owner__username", label=_("Owner (username)"))
    q = TextFilter(method="filter_q", label=_("Search"))
    visit = IntegerFilter(field_name="visit", label=_("Visit"))
    pledged_by = IntegerFilter(method="filter_pledged_by_id", label=_("Pledged by"))
    beneficiary = IntegerFilter(field_name="beneficiary", label=_("Beneficiary"))
    changed_after = IntegerFilter(
        field_name="change_seq", lookup_expr="gt", label=_("Changed after (change_seq)")
    )
    # The schema says boolean: "true" or "false", and anything else is a 400 (the pages'
    # filter reads an unknown value as "either").
    overdue = StrictBooleanFilter(method="filter_overdue", label=_("Overdue"))
    due_after = django_filters.DateFilter(
        field_name="due_date",
        lookup_expr="gte",
        label=_("Due on or after"),
        input_formats=DATE_INPUT_FORMATS,
    )
    due_before = django_filters.DateFilter(
        field_name="due_date",
        lookup_expr="lte",
        label=_("Due on or before"),
        input_formats=DATE_INPUT_FORMATS,
    )

    # Typed parameters sent empty ("?due_after=") are refused, not read as "no filter":
    # the schema types them, and an empty value is not a date, a number or a choice.
    TYPED = (
        "status",
        "sector",
        "visit",
        "pledged_by",
        "beneficiary",
        "overdue",
        "due_after",
        "due_before",
        "updated_since",
        "changed_after",
        "ordering",
    )

    def filter_pledged_by_id(self, queryset, name, value):
        # Any pledging party, as on the pages; an id that names nothing matches nothing.
        return queryset if value is None else queryset.pledged_by_party(value)

    def is_valid(self) -> bool:
        form = self.form
        form.errors  # noqa: B018 - runs the form's own cleaning first
        for name in self.TYPED:
            if name in self.data and "" in self.data.getlist(name):
                form.add_error(name, _("Send a value, or leave the parameter out."))
        return super().is_valid()
