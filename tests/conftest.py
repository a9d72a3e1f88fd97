"""Shared fixtures: users in each role, a commitment to work on, and the tracker's
deployment-grade security settings relaxed only where the test client needs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection

from commitments.models import Channel, Role

from .factories import CommitmentFactory, UserFactory


def pytest_configure(config):
    # The interface languages' .mo files are built, not committed (issue 15): compile the
    # catalogues that changed, as `make test` does, so a bare pytest run sees them too.
    from django.core.management import call_command

    call_command("compile_catalogues", verbosity=0)


@pytest.fixture(autouse=True)
def _english_after_each_test():
    # A request leaves its language active in the thread (as LocaleMiddleware does); a
    # Dari page in one test must not make the next test's emails Dari (issue 15).
    yield
    from django.utils import translation

    translation.activate("en")


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # DEBUG is off in tests, so the secure defaults are on; the test client and the live
    # server speak plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Hashing strength is not under test; a fast hasher keeps the suite quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _in_role(role: str | None, **kwargs):
    user = UserFactory(**kwargs)
    if role:
        # get_or_create: transactional tests flush the rows the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def officer(db):
    return _in_role(Role.DESK_OFFICER, username="officer-a")


@pytest.fixture
def other_officer(db):
    return _in_role(Role.DESK_OFFICER, username="officer-b")


@pytest.fixture
def manager(db):
    return _in_role(Role.MANAGER, username="manager-a")


@pytest.fixture
def viewer(db):
    return _in_role(Role.VIEWER, username="viewer-a")


@pytest.fixture
def commitment(officer):
    return CommitmentFactory(owner=officer)


@pytest.fixture
def history(commitment, officer):
    """`commitment` with one row of each history table: a note ("n"), a piece of evidence
    ("Minutes"), and the status change and audit rows they leave."""
    from commitments import services

    services.note_add(commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, text="n")
    services.evidence_add(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        item=services.EvidenceInput(url="https://example.org/a", title="Minutes"),
    )
    return commitment


# The visit data set the tracker ships (manage.py import_visit loads it).
VISIT_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "kz_af_2025_visit.json"


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # On SQLite the test database is a file, not :memory:, so that the real Celery worker
    # the integration tests start (another process) sees the same rows.
    import os
    import tempfile

    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = os.path.join(tempfile.gettempdir(), f"tracker-test-{os.getpid()}.sqlite3")
        db.setdefault("TEST", {})["NAME"] = name


@pytest.fixture(autouse=True)
def _empty_default_cache():
    """The default cache is per process (locmem): a test must not see what the last one
    cached (the dashboard's summary keys on the date and the change counter, which
    factories do not move)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _closed_redis_circuits():
    """The circuits are per process: a test whose broker or cache failed must not make
    the next one skip the broker or the cache."""
    from commitments.redis_clients import CacheCircuit
    from commitments.services.queueing import BrokerCircuit

    BrokerCircuit.reset()
    CacheCircuit.reset()
    yield
    BrokerCircuit.reset()
    CacheCircuit.reset()
