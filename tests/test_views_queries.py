"""The list, overdue and dashboard pages (and a commitment's timeline) run the same
number of SQL queries whatever the number of rows shown: nothing is fetched per row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commitments.models import Evidence, Note, Sector, Status

from .factories import CommitmentFactory, OrganisationFactory, UserFactory, move

pytestmark = pytest.mark.django_db

# Each starts with the session and the user, then the page's own reads, and the user's
# groups (the header offers "My commitments" only to those who own commitments).
PAGE_QUERIES = {
    # count, the page's ids, its rows (joined, last status change annotated), their other
    # pledging parties, filter choices (owners, visits, pledging and beneficiary
    # organisations)
    "/commitments/": 11,
    "/commitments/overdue/": 11,
    # the change counter, then (nothing cached yet) sector x status x currency counts and
    # sums, overdue and due-soon counts, due-soon rows; overdue by owner, by counterpart,
    # and the weekly trend (one each); the user's groups
    "/": 10,
}


def _rows(n: int) -> None:
    today = timezone.localdate()
    sectors = list(Sector)
    for i in range(n):
        owner = UserFactory()
        CommitmentFactory(
            owner=owner,
            sector=sectors[i % len(sectors)],
            status=[Status.PROPOSED, Status.AGREED, Status.BLOCKED][i % 3],
            due_date=today - dt.timedelta(days=1 + i % 20) if i % 4 else today + dt.timedelta(i),
            pledged_by=OrganisationFactory(),
            amount=1000 + i,
            currency=["USD", "KZT"][i % 2],
        )


@pytest.mark.parametrize("size", [3, 40])
@pytest.mark.parametrize("url", list(PAGE_QUERIES))
def test_page_query_count_does_not_grow_with_rows(
    client, manager, django_assert_num_queries, size, url
):
    _rows(size)
    client.force_login(manager)
    with django_assert_num_queries(PAGE_QUERIES[url]):
        response = client.get(url, {"per_page": 100} if url != "/" else {})
    assert response.status_code == 200
    if url != "/":
        # Every row really is on the page.
        expected = size if url == "/commitments/" else size - len(range(0, size, 4))
        assert len(response.context["page_obj"]) == expected


@pytest.mark.parametrize("size", [1, 25])
def test_overdue_grouped_and_csv_query_counts_are_constant(
    client, manager, django_assert_num_queries, size
):
    _rows(size * 4)
    client.force_login(manager)
    with django_assert_num_queries(PAGE_QUERIES["/commitments/overdue/"]):
        client.get("/commitments/overdue/", {"group": "organisation", "per_page": 100})
    # By owner: the unowned are counted apart (selectors.OwnerGroupedIds), one more query.
    with django_assert_num_queries(PAGE_QUERIES["/commitments/overdue/"] + 1):
        response = client.get("/commitments/overdue/", {"group": "owner", "per_page": 100})
    assert len(response.context["page_obj"]) == size * 3
    # session, user, the rows, then per chunk of 2,000: their history, their other pledgers
    with django_assert_num_queries(5):
        response = client.get("/commitments/overdue/", {"format": "csv"})
        lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + size * 3 + 1  # header, rows, "# rows: N"


@pytest.mark.parametrize("size", [1, 20])
def test_detail_timeline_query_count_is_constant(
    client, officer, commitment, django_assert_num_queries, size
):
    for i in range(size):
        Note.objects.create(commitment=commitment, author=officer, text=f"note {i}")
        Evidence.objects.create(
            commitment=commitment, url=f"https://example.org/{i}", title=f"e{i}"
        )
        CommitmentFactory(parent=commitment)
    client.force_login(officer)
    # session, user, commitment, groups, its other pledging parties, children, watchers,
    # then one query per timeline source: statuses, notes, evidence, reminders; the evidence
    # list, and the last move (may this user undo it).
    with django_assert_num_queries(13):
        response = client.get(f"/commitments/{commitment.pk}/")
    assert len(response.context["timeline"]) == 2 * size + 1


def test_dashboard_reads_one_row_while_nothing_changes_and_recomputes_after_a_change(
    client, manager, django_assert_num_queries, monkeypatch
):
    from commitments import selectors
    from commitments.models import Status

    _rows(12)
    c = CommitmentFactory(status=Status.IN_PROGRESS, owner=manager)
    client.force_login(manager)
    first = client.get("/")
    counts = {v: n for v, _label, n in first.context["figures"].by_status}
    # session, user, the change counter, the user's groups: any table size
    with django_assert_num_queries(4):
        again = client.get("/")
    assert again.context["figures"] == first.context["figures"]
    assert again.context["summary"].fresh
    move(c, Status.BLOCKED, actor=manager, note="Stuck")
    # A change moves the counter; the summary is younger than a minute, so it is served
    # with its age shown, and recomputed once it is older.
    stale = client.get("/")
    assert not stale.context["summary"].fresh
    assert "Figures as of" in stale.content.decode()
    monkeypatch.setattr(selectors, "DASHBOARD_MAX_AGE", dt.timedelta(0))
    after = client.get("/")
    assert after.context["summary"].fresh
    moved = {v: n for v, _label, n in after.context["figures"].by_status}
    assert moved[Status.BLOCKED] == counts[Status.BLOCKED] + 1
    assert moved[Status.IN_PROGRESS] == counts[Status.IN_PROGRESS] - 1
