"""The one FilterSet for commitments, shared by the browser list and the REST API.

Parameter names are a contract with integrations: status (several), sector, owner
(username), visit, pledged_by (any pledging party), beneficiary (ids), figure_kind,
overdue, due_before, due_after,
updated_since (ISO 8601), q (free text), ordering.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Commitment, FigureKind, Organisation, Sector, Status, Visit


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


class CommitmentFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=_("Status"))
    sector = django_filters.MultipleChoiceFilter(choices=Sector.choices, label=_("Sector"))
    owner = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        label=_("Owner (username)"),
    )
    visit = django_filters.ModelChoiceFilter(queryset=Visit.objects.all(), label=_("Visit"))
    # Any pledging party: the first named (pledged_by) or one of the others (co_pledgers).
    pledged_by = django_filters.ModelChoiceFilter(
        queryset=Organisation.objects.all(), method="filter_pledged_by", label=_("Pledged by")
    )
    figure_kind = django_filters.MultipleChoiceFilter(
        choices=FigureKind.choices, label=_("Kind of figure")
    )
    beneficiary = django_filters.ModelChoiceFilter(
        queryset=Organisation.objects.all(), label=_("Beneficiary")
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))
    due_after = django_filters.DateFilter(
        field_name="due_date", lookup_expr="gte", label=_("Due on or after")
    )
    due_before = django_filters.DateFilter(
        field_name="due_date", lookup_expr="lte", label=_("Due on or before")
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Updated since (ISO 8601)")
    )
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    # --- REST API: incremental sync. change_seq follows commit order
    # (services.next_change_seq), so "after the largest change_seq I saw" misses nothing.
    changed_after = django_filters.NumberFilter(
        field_name="change_seq", lookup_expr="gt", label=_("Changed after (change_seq)")
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
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(reference__icontains=value)
            | Q(title__icontains=value)
            | Q(description__icontains=value)
            | Q(external_id=value)
            | Q(pledged_by__name__icontains=value)
            | Q(beneficiary__name__icontains=value)
            | Q(
                pk__in=Commitment.co_pledgers.through.objects.filter(
                    organisation__name__icontains=value
                ).values("commitment_id")
            )
        )
