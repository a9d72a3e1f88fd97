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

from .translated import COMMITMENT_TEXTS, NAME_TEXTS, columns

SQLITE_FUNCTION = "tracker_ulower"
ZWNJ = "\u200c"
# Arabic yeh and kaf (and alef maksura) -> the Persian letters Dari and Pashto write.
_PERSIAN_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc"})


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


def _names_match(terms: list[str], names) -> bool:
    return any(term in str(name).lower() for name in names if name for term in terms)


def _matching_names(model, terms: list[str]) -> list[int]:
    # The name, its translations in every language, and the aliases.
    translated = columns(NAME_TEXTS)
    return [
        pk
        for pk, name, aliases, *others in model.objects.values_list(
            "pk", "name", "aliases", *translated
        )
        if _names_match(terms, [name, *(aliases or ()), *others])
    ]


def search_terms(value: str) -> list[str]:
    """The lower-cased query and its spellings in Arabic script: Dari and Pashto write
    compounds with a zero-width non-joiner or a space ("راه‌آهن", "راه آهن"), and
    keyboards type Arabic yeh and kaf (ي, ك) for the Persian ones (ی, ک)."""
    term = (value or "").strip().lower()
    if not term:
        return []
    if not any("\u0600" <= char <= "\u06ff" for char in term):
        return [term]
    spellings = {term}
    for spelling in (term, term.translate(_PERSIAN_LETTERS)):
        spellings |= {spelling, spelling.replace(ZWNJ, " "), spelling.replace(ZWNJ, "")}
        spellings.add(spelling.replace(" ", ZWNJ))
    return [term, *sorted(spellings - {term})]


def _matching_ids(terms: list[str]) -> tuple[list[int], list[int], list[int]]:
    from .models import Organisation, Person

    orgs = _matching_names(Organisation, terms)
    people = _matching_names(Person, terms)
    term = terms[0]
    users = [
        pk
        for pk, first, last, username in get_user_model().objects.values_list(
            "pk", "first_name", "last_name", "username"
        )
        if term in f"{first} {last}".lower() or term == username.lower()
    ]
    return orgs, people, users


def _contains(fields: list[str], terms: list[str]) -> Q:
    """Any of the columns holds any spelling of the term (each a LIKE that a trigram
    index of migrations 0015 and 0017 serves on PostgreSQL)."""
    found = Q()
    for name in fields:
        for term in terms:
            found |= Q(**{f"{name}__ulower__contains": term})
    return found


def search_condition(value: str) -> tuple[Q, models.Expression] | None:
    """The Q that selects commitments matching `value`, and a rank expression (higher
    is better): reference, then title, then parties and owner, then the longer texts,
    then the people met during the visit. None for an empty query."""
    from .models import Commitment, Meeting

    terms = search_terms(value)
    if not terms:
        return None
    term = terms[0]
    orgs, people, users = _matching_ids(terms)
    co_pledged = Commitment.co_pledgers.through.objects.filter(organisation_id__in=orgs).values(
        "commitment_id"
    )
    tiers = [
        (100, Q(reference__ulower=term)),
        (60, Q(reference__ulower__contains=term) | Q(external_id=value.strip())),
        (40, _contains(["title", *columns({"title": COMMITMENT_TEXTS["title"]})], terms)),
        (
            30,
            Q(pledged_by_id__in=orgs)
            | Q(beneficiary_id__in=orgs)
            | Q(pk__in=co_pledged)
            | Q(owner_id__in=users),
        ),
        (
            20,
            _contains(
                [
                    "description",
                    "source_quote",
                    *columns({"description": COMMITMENT_TEXTS["description"]}),
                ],
                terms,
            ),
        ),
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
