"""Free-text search over commitments, in any script: the `q` filter of the list pages, the
API and the header search (/search/).

SQLite's LIKE and LOWER() fold case for ASCII only, so "казахстан" would miss
"Казахстан". Both sides are lower-cased with Unicode rules instead: the text columns
through the `ulower` transform (PostgreSQL's LOWER(), Unicode-aware in a UTF-8
database; on SQLite a function registered per connection that calls Python's
str.lower), the query with str.lower. Organisations, people and users are small tables
whose names and aliases (JSON lists, stored escaped on SQLite) are matched in Python.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import models
from django.db.backends.signals import connection_created
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Greatest

SQLITE_FUNCTION = "tracker_ulower"


class ULower(models.Transform):
    """Unicode lower case of a text column, the same on SQLite and PostgreSQL."""

    lookup_name = "ulower"
    function = "LOWER"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function=SQLITE_FUNCTION, **extra_context)


models.CharField.register_lookup(ULower)
models.TextField.register_lookup(ULower)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def register_sqlite_function(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 1, _lower, deterministic=True)


connection_created.connect(register_sqlite_function, dispatch_uid="tracker-ulower")


def _names_match(term: str, name: str, aliases) -> bool:
    return term in name.lower() or any(term in str(a).lower() for a in aliases or ())


def _matching_ids(term: str) -> tuple[list[int], list[int], list[int]]:
    from .models import Organisation, Person

    orgs = [
        pk
        for pk, name, aliases in Organisation.objects.values_list("pk", "name", "aliases")
        if _names_match(term, name, aliases)
    ]
    people = [
        pk
        for pk, name, aliases in Person.objects.values_list("pk", "name", "aliases")
        if _names_match(term, name, aliases)
    ]
    users = [
        pk
        for pk, first, last, username in get_user_model().objects.values_list(
            "pk", "first_name", "last_name", "username"
        )
        if term in f"{first} {last}".lower() or term == username.lower()
    ]
    return orgs, people, users


def search_condition(value: str) -> tuple[Q, models.Expression] | None:
    """The Q that selects commitments matching `value`, and a rank expression (higher
    is better): reference, then title, then parties and owner, then the longer texts,
    then the people met during the visit. None for an empty query."""
    from .models import Commitment, Meeting

    term = (value or "").strip().lower()
    if not term:
        return None
    orgs, people, users = _matching_ids(term)
    co_pledged = Commitment.co_pledgers.through.objects.filter(organisation_id__in=orgs).values(
        "commitment_id"
    )
    tiers = [
        (100, Q(reference__ulower=term)),
        (60, Q(reference__ulower__contains=term) | Q(external_id=value.strip())),
        (40, Q(title__ulower__contains=term)),
        (
            30,
            Q(pledged_by_id__in=orgs)
            | Q(beneficiary_id__in=orgs)
            | Q(pk__in=co_pledged)
            | Q(owner_id__in=users),
        ),
        (20, Q(description__ulower__contains=term) | Q(source_quote__ulower__contains=term)),
        (
            10,
            Q(visit__delegation_lead_id__in=people)
            | Q(visit_id__in=Meeting.objects.filter(participants__in=people).values("visit_id")),
        ),
    ]
    condition = Q()
    for _, q in tiers:
        condition |= q
    rank = Greatest(
        *(
            Case(When(q, then=Value(score)), default=Value(0), output_field=IntegerField())
            for score, q in tiers
        )
    )
    return condition, rank
