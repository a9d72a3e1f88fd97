"""The API's fast paths (issue 13): lists and reads from plain values give the same JSON
as the model-instance serializer did; token lookups are cached in Redis and a revoked,
deleted or deactivated token, or a changed role, takes effect at once; the throttles and
the token cost no query."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import pytest
import redis
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from commitments import services
from commitments.models import ApiToken, Commitment, Role, Status, today_local
from commitments.redis_clients import CacheCircuit
from commitments.services import tokens
from commitments.translated import COMMITMENT_TEXTS, translations_of
from tests.factories import CommitmentFactory, OrganisationFactory, SourceFactory
from tracker.embedded_redis import embedded_redis

from .conftest import bearer_client
from .helpers import assert_error

pytestmark = pytest.mark.django_db
LIST = "/api/v1/commitments/"


def _datetime(value):
    # As the serializer wrote datetimes before issue 13 (UTC, "Z").
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"


def _owner_username(c):
    return c.owner.username if c.owner_id else None


def _before(c: Commitment, today) -> dict:
    """The serializer's to_representation before issue 13's list path, verbatim (with
    the translations main added since)."""
    # Written out by hand: the list endpoint serialises up to 500 rows and the generic
    # field-by-field path costs several times the database query. Keep it in step
    # with the declared fields above (they drive the OpenAPI schema, and the
    # Schemathesis test checks responses against it).
    base = f"/api/v1/commitments/{c.pk}/"
    # Prefetched by the viewset: one query per page, not per row.
    co_pledgers = sorted(o.pk for o in c.co_pledgers.all())
    return {
        "id": c.pk,
        "reference": c.reference,
        "external_id": c.external_id,
        "title": c.title,
        "description": c.description,
        "translations": translations_of(c, COMMITMENT_TEXTS),
        "visit": c.visit_id,
        "parent": c.parent_id,
        "sector": c.sector,
        "nature": c.nature,
        "status": c.status,
        "is_overdue": c.is_overdue(on=today),
        "due_date": c.due_date.isoformat() if c.due_date else None,
        "next_follow_up_at": _datetime(c.next_follow_up_at),
        "follow_up_every_days": c.follow_up_every_days,
        "snoozed_until": c.snoozed_until.isoformat() if c.snoozed_until else None,
        "status_changed_at": _datetime(c.status_changed_at),
        "owner": _owner_username(c),
        "pledged_by": c.pledged_by_id,
        "co_pledgers": co_pledgers,
        "pledgers": [c.pledged_by_id, *co_pledgers],
        "beneficiary": c.beneficiary_id,
        "amount": None if c.amount is None else f"{c.amount:.2f}",
        "currency": c.currency,
        "figure_kind": c.figure_kind,
        "unit": c.unit,
        "figure_year": c.figure_year,
        "progress": c.progress,
        "source": c.source_id,
        "source_quote": c.source_quote,
        "version": c.version,
        "change_seq": c.change_seq,
        "created_at": _datetime(c.created_at),
        "updated_at": _datetime(c.updated_at),
        "links": {
            "self": base,
            "history": f"{base}history/",
            "evidence": f"{base}evidence/",
            "notes": f"{base}notes/",
            "transitions": f"{base}transitions/",
        },
    }


def _varied_commitments(officer) -> list[Commitment]:
    a, b, c = OrganisationFactory.create_batch(3)
    source = SourceFactory()
    now = timezone.now()
    plain = CommitmentFactory(owner=None, description="")
    rich = CommitmentFactory(
        owner=officer,
        external_id="EXT-1",
        description="Описание — with “quotes” and\u2028a line separator",
        status=Status.IN_PROGRESS,
        due_date=today_local() - dt.timedelta(days=3),
        next_follow_up_at=now + dt.timedelta(days=2, microseconds=123),
        follow_up_every_days=7,
        snoozed_until=today_local() + dt.timedelta(days=1),
        amount=Decimal("1500000.5"),
        currency="USD",
        figure_kind="investment",
        figure_year=2026,
        progress=40,
        source=source,
        source_quote="said so",
        translated_title_ru="Заголовок",
        translated_description_fa="شرح",
    )
    rich.co_pledgers.set([b, a])
    child = CommitmentFactory(parent=rich, status=Status.FULFILLED, due_date=dt.date(2020, 1, 1))
    child.co_pledgers.set([c])
    zero = CommitmentFactory(amount=Decimal("0"), currency="KZT", due_date=today_local())
    return [plain, rich, child, zero]


def test_list_and_detail_json_equal_the_instance_serializer_field_by_field(officer, officer_api):
    made = _varied_commitments(officer)
    today = today_local()
    page = officer_api.get(f"{LIST}?page_size=100").json()["results"]
    by_id = {row["id"]: row for row in page}
    assert set(by_id) == {c.pk for c in made}
    for c in Commitment.objects.filter(pk__in=by_id):
        expected = _before(c, today)
        for got in (by_id[c.pk], officer_api.get(f"{LIST}{c.pk}/").json()):
            assert list(got) == list(expected)  # the same keys in the same order
            for name, value in expected.items():
                assert got[name] == value, (c.pk, name)


def test_detail_carries_its_etag_and_honours_the_filters(officer_api, officer):
    c = CommitmentFactory(owner=officer, status=Status.AGREED)
    response = officer_api.get(f"{LIST}{c.pk}/")
    assert response["ETag"] == f'"{c.version}"'
    assert officer_api.get(f"{LIST}{c.pk}/?status=agreed").status_code == 200
    assert_error(officer_api.get(f"{LIST}{c.pk}/?status=blocked"), 404)
    assert_error(officer_api.get(f"{LIST}999999/"), 404)


def test_filters_still_apply_and_refuse_bad_values(officer_api):
    CommitmentFactory(status=Status.AGREED)
    CommitmentFactory(status=Status.BLOCKED)
    rows = officer_api.get(f"{LIST}?status=blocked").json()["results"]
    assert [r["status"] for r in rows] == ["blocked"]
    assert_error(officer_api.get(f"{LIST}?overdue=maybe"), 400)
    assert_error(officer_api.get(f"{LIST}?due_after="), 400)


# --- The token cache (Redis only) ----------------------------------------------------------


@pytest.fixture
def redis_api_cache(settings):
    """The API cache on a real Redis, under a key prefix of this test's own."""
    prefix = f"test-{uuid.uuid4().hex}"

    def use(url):
        settings.CACHES = {
            **settings.CACHES,
            "api": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": prefix,
            },
        }
        return redis.Redis.from_url(url)

    CacheCircuit.reset()
    if os.environ.get("REDIS_URL"):
        client = use(os.environ["REDIS_URL"])
        yield client
        keys = client.keys(f"{prefix}:*")
        if keys:
            client.delete(*keys)
    else:
        with embedded_redis() as url:
            yield use(url)
    CacheCircuit.reset()


def _cached_entries(client) -> list[bytes]:
    return [key for key in client.keys("*") if b"apitoken_" in key]


def test_a_cached_token_costs_no_query(officer_api, redis_api_cache, django_assert_num_queries):
    CommitmentFactory.create_batch(3)
    officer_api.get(LIST)  # fills the cache
    assert _cached_entries(redis_api_cache)
    # the page and its co-pledgers (one query on PostgreSQL): no token, role or throttle
    page = 1 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(page):
        assert officer_api.get(f"{LIST}?page_size=50").status_code == 200
    c = Commitment.objects.first()
    with django_assert_num_queries(page):
        assert officer_api.get(f"{LIST}{c.pk}/").status_code == 200


def test_a_revoked_token_fails_at_once_although_its_lookup_was_cached(officer, redis_api_cache):
    client = bearer_client(officer, "read")
    assert client.get(LIST).status_code == 200
    assert client.get(LIST).status_code == 200  # served from the cache
    token = ApiToken.objects.get(token_hash=tokens.hash_token(client.raw_token))
    assert services.api_token_revoke(token_id=token.pk)
    assert_error(client.get(LIST), 401)
    assert_error(client.get(LIST), 401)


def test_a_deactivated_user_or_a_deleted_token_fails_at_once(officer, manager, redis_api_cache):
    first, second = bearer_client(officer, "read"), bearer_client(manager, "read")
    assert first.get(LIST).status_code == second.get(LIST).status_code == 200
    officer.is_active = False
    officer.save()
    assert_error(first.get(LIST), 401)
    ApiToken.objects.get(token_hash=tokens.hash_token(second.raw_token)).delete()
    assert_error(second.get(LIST), 401)


def test_a_role_change_takes_effect_at_once(officer, redis_api_cache):
    c = CommitmentFactory(owner=officer)
    client = bearer_client(officer, "write")
    assert client.get(LIST).status_code == 200  # cached with the officer's roles
    officer.groups.clear()
    officer.groups.add(Group.objects.get_or_create(name=Role.VIEWER)[0])
    response = client.post(f"{LIST}{c.pk}/notes/", {"text": "still here?"}, format="json")
    assert_error(response, 403)


def test_a_lookup_read_before_a_revocation_cannot_be_cached_over_it(officer, redis_api_cache):
    client = bearer_client(officer, "read")
    digest = tokens.hash_token(client.raw_token)
    stale = ApiToken.objects.select_related("user").get(token_hash=digest)  # read ...
    services.api_token_revoke(token_id=stale.pk)  # ... then revoked and committed ...
    tokens._cache_token(digest, stale)  # ... then the slow request stores what it read
    assert_error(client.get(LIST), 401)


def test_an_expired_cached_token_fails(officer, redis_api_cache):
    client = bearer_client(officer, "read")
    token = ApiToken.objects.get(token_hash=tokens.hash_token(client.raw_token))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(seconds=2))
    tokens.api_tokens_forget(token_hashes=[token.token_hash])
    redis_api_cache.delete(*_cached_entries(redis_api_cache))
    assert client.get(LIST).status_code == 200  # cached now, expiring in 2 s
    import time_machine

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=5)):
        assert_error(client.get(LIST), 401)


def test_without_redis_every_lookup_reads_the_database(officer_api, django_assert_num_queries):
    # The default test cache is one process's memory: nothing is cached, nothing goes stale.
    CommitmentFactory()
    officer_api.get(LIST)
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        officer_api.get(LIST)


# --- A transition's queries ----------------------------------------------------------------


def test_a_transition_is_a_locked_read_the_writes_and_no_more(manager, redis_api_cache):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    c = CommitmentFactory(status=Status.AGREED)
    client = bearer_client(manager, "write")
    etag = client.get(f"{LIST}{c.pk}/")["ETag"]  # token now cached
    with CaptureQueriesContext(db) as ctx:
        response = client.post(
            f"{LIST}{c.pk}/transitions/",
            {"to": "in_progress", "note": "go"},
            format="json",
            HTTP_IF_MATCH=etag,
        )
    assert response.status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    writes = [q.split()[0] + " " + q.split()[2 if q.startswith("INSERT") else 1] for q in sql]
    assert writes.count('UPDATE "commitments_commitment"') == 1  # status, version, change_seq
    assert writes.count('INSERT "commitments_statuschange"') == 1
    assert writes.count('INSERT "commitments_auditevent"') == 1
    if db.vendor == "postgresql":  # SQLite has no row locks
        assert sum("FOR NO KEY UPDATE" in q or "FOR UPDATE" in q for q in sql) == 1
    assert sum(q.startswith('UPDATE "commitments_changecounter"') for q in sql) == 1
    assert not any(q.startswith('SELECT "commitments_changecounter"') for q in sql)
    assert not any("DISTINCT" in q and "commitments_reminder" in q for q in sql)
    # A manager's move between open statuses changes nothing reminders are matched on
    # (status open, due date, follow-up, owner): nothing to void.
    assert not any("commitments_reminder" in q for q in sql)
    # Only the moved columns are written, not all fifty.
    (row_update,) = [q for q in sql if q.startswith('UPDATE "commitments_commitment"')]
    assert '"title"' not in row_update and '"status"' in row_update
    # lock, history, audit, counter, row, webhook endpoints, the answer's row (and its
    # co-pledgers off PostgreSQL); no look at the id before the lock
    assert len(sql) == (7 if db.vendor == "postgresql" else 8), sql
    c.refresh_from_db()
    assert (c.status, c.version) == (Status.IN_PROGRESS, 2)
    assert response["ETag"] == '"2"'


def test_the_owners_move_voids_the_follow_up_it_answers_and_a_managers_move_voids_none(
    officer, manager, redis_api_cache
):
    from commitments.models import Reminder

    now = timezone.now()
    c = CommitmentFactory(
        owner=officer,
        status=Status.AGREED,
        due_date=today_local() + dt.timedelta(days=30),
        next_follow_up_at=now - dt.timedelta(hours=1),
        follow_up_every_days=7,
    )
    follow_up = Reminder.objects.create(
        commitment=c,
        recipient=officer,
        kind=Reminder.Kind.FOLLOW_UP,
        slot=c.next_follow_up_at.astimezone(dt.UTC).date(),
        send_after=now,
    )
    for user, to, state in (
        (manager, "in_progress", Reminder.State.PENDING),  # the follow-up still stands
        (officer, "agreed", Reminder.State.VOID),  # the owner reported: next one later
    ):
        client = bearer_client(user, "write")
        etag = client.get(f"{LIST}{c.pk}/")["ETag"]
        response = client.post(
            f"{LIST}{c.pk}/transitions/", {"to": to}, format="json", HTTP_IF_MATCH=etag
        )
        assert response.status_code == 200, response.content
        follow_up.refresh_from_db()
        assert follow_up.state == state, (user, to)
    c.refresh_from_db()
    assert c.next_follow_up_at > now + dt.timedelta(days=6)


@pytest.mark.parametrize(
    "body, headers",
    [
        ({"to": "in_progress"}, {"HTTP_IF_MATCH": '"1"'}),  # a good request
        ({"to": "no-such-status"}, {"HTTP_IF_MATCH": '"1"'}),  # a bad body
        ({"to": "in_progress"}, {}),  # no If-Match
        ({"to": "in_progress"}, {"HTTP_IF_MATCH": '"x"'}),  # an If-Match that is no version
    ],
)
def test_a_move_of_an_unknown_commitment_is_a_404_whatever_else_is_wrong(manager, body, headers):
    from commitments.models import AuditEvent, StatusChange

    client = bearer_client(manager, "write")
    missing = (Commitment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    response = client.post(f"{LIST}{missing}/transitions/", body, format="json", **headers)
    assert_error(response, 404)
    assert not StatusChange.objects.exists() and not AuditEvent.objects.exists()
