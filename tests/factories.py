"""factory_boy factories for the domain. They write rows directly: tests of a service
call the service; factories only set the scene."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from commitments.models import (
    Channel,
    Commitment,
    Nature,
    Organisation,
    Person,
    Profile,
    Sector,
    Source,
    Status,
    StatusChange,
    Visit,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")
    profile = factory.RelatedFactory("tests.factories.ProfileFactory", factory_related_name="user")


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile
        django_get_or_create = ("user",)

    time_zone = "UTC"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    country = "KZ"
    kind = Organisation.Kind.MINISTRY


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: f"Person {n}")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    title = factory.Sequence(lambda n: f"Source {n}")
    publisher = "Press service"
    published_on = dt.date(2025, 4, 22)


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    code = factory.Sequence(lambda n: f"T-{n}")
    title = factory.Sequence(lambda n: f"Visit {n}")
    start_date = dt.date(2025, 4, 21)
    end_date = dt.date(2025, 4, 22)
    place = "Kabul"
    host_country = "AF"
    visiting_country = "KZ"
    delegation_lead = factory.SubFactory(PersonFactory)


class CommitmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commitment
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"T-{n:05d}")
    title = factory.Sequence(lambda n: f"Commitment {n}")
    visit = factory.SubFactory(VisitFactory)
    sector = Sector.TRADE
    pledged_by = factory.SubFactory(OrganisationFactory, country="KZ")
    beneficiary = factory.SubFactory(OrganisationFactory, country="AF")
    nature = Nature.INTENTION
    status = Status.PROPOSED

    @factory.post_generation
    def history(obj, create, extracted, **kwargs):
        if create:
            StatusChange.objects.create(
                commitment=obj,
                from_status="",
                to_status=obj.status,
                channel="import",
                version=obj.version,
            )


def bulk_commitments(
    numbers: int | range, *, prefix: str, visit=None, each=None, **fields
) -> list[int]:
    """Many commitments in one INSERT (factories would take minutes for thousands), for
    tests of size: references PREFIX-000000 on, in a new visit unless one is given, no
    history rows. `fields` go on every row; `each(n)` gives row n's own values. Returns
    the ids of the visit's commitments in id order."""
    visit = visit or VisitFactory()
    numbers = range(numbers) if isinstance(numbers, int) else numbers
    shared = {"sector": Sector.TRADE, "nature": Nature.INTENTION, **fields}
    rows = {n: {**shared, **(each(n) if each else {})} for n in numbers}
    if any("pledged_by" not in row for row in rows.values()):
        org = OrganisationFactory()
        for row in rows.values():
            row.setdefault("pledged_by", org)
    Commitment.objects.bulk_create(
        (
            Commitment(reference=f"{prefix}-{n:06d}", title=f"Pledge {n}", visit=visit, **row)
            for n, row in rows.items()
        ),
        batch_size=1000,
    )
    return list(Commitment.objects.filter(visit=visit).order_by("pk").values_list("pk", flat=True))


def move(commitment: Commitment, to_status: str, *, actor, note: str = "", **extra):
    """Move `commitment` through the service, as `actor` on the web: the scene for a test
    of what a move leaves behind (the service's own tests call it directly)."""
    from commitments import services

    return services.commitment_transition(
        commitment_id=commitment.pk,
        to_status=to_status,
        actor=actor,
        channel=Channel.WEB,
        note=note,
        **extra,
    )
