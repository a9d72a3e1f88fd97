"""Bad input gets a clear validation error and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from commitments import services
from commitments.models import AuditEvent, Channel, Commitment, Evidence, Source
from commitments.validators import validate_http_url

from .factories import CommitmentFactory

BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "\x01javascript:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "HTTP://example.org/upper-case-scheme",
    "ftp://example.org/file",
    "//example.org/protocol-relative",
    "/relative/path",
    "https://exa mple.org/",
    "https://example.org/\x00",
    "not a url",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_non_http_urls_are_refused(url):
    with pytest.raises(ValidationError):
        validate_http_url(url)


@pytest.mark.parametrize("url", ["https://example.org/a?b=c#d", "http://127.0.0.1:8000/x"])
def test_http_urls_pass(url):
    validate_http_url(url)


@pytest.mark.django_db
@pytest.mark.parametrize("url", BAD_URLS)
def test_evidence_with_bad_url_is_not_written(commitment, officer, url):
    with pytest.raises(ValidationError):
        services.evidence_add(
            commitment_id=commitment.pk,
            actor=officer,
            channel=Channel.WEB,
            item=services.EvidenceInput(url=url, title="Proof"),
        )
    assert not Evidence.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_source_with_bad_url_fails_validation():
    source = Source(title="t", publisher="p", url="javascript:alert(1)")
    with pytest.raises(ValidationError) as info:
        source.full_clean()
    assert "url" in info.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"progress": 101}, "progress"),
        ({"progress": -1}, "progress"),
        ({"amount": Decimal("-5"), "currency": "USD"}, "amount"),
        ({"amount": Decimal("5"), "currency": "XYZ"}, "currency"),
        ({"amount": Decimal("5"), "currency": "usd"}, "currency"),
        ({"amount": Decimal("5"), "currency": ""}, "currency"),
        ({"sector": "space"}, "sector"),
        ({"nature": "rumour"}, "nature"),
        ({"title": ""}, "title"),
        ({"status": "proposed"}, "status"),
        ({"version": 9}, "version"),
    ],
)
def test_bad_field_values_are_refused_and_nothing_changes(commitment, officer, data, field):
    before = Commitment.objects.values().get(pk=commitment.pk)
    with pytest.raises(ValidationError) as info:
        services.commitment_update(
            commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, data=data
        )
    assert field in info.value.message_dict
    assert Commitment.objects.values().get(pk=commitment.pk) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_duplicate_external_id_is_refused(officer):
    CommitmentFactory(external_id="REG-1", owner=officer)
    other = CommitmentFactory(owner=officer)
    with pytest.raises(ValidationError) as info:
        services.commitment_update(
            commitment_id=other.pk,
            actor=officer,
            channel=Channel.WEB,
            data={"external_id": "REG-1"},
        )
    assert "external_id" in info.value.message_dict
    other.refresh_from_db()
    assert other.external_id == ""


@pytest.mark.django_db
def test_many_commitments_may_have_no_external_id():
    CommitmentFactory(external_id="")
    CommitmentFactory(external_id="")
    assert Commitment.objects.filter(external_id="").count() == 2


@pytest.mark.django_db(transaction=True)
def test_database_constraints_hold_without_the_service(commitment):
    # The constraints guard the data even against a write that skips validation.
    for values in ({"progress": 150}, {"amount": Decimal("-1")}, {"status": "done"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Commitment.objects.filter(pk=commitment.pk).update(**values)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "lots", "currency": "USD"}, "amount"),
        ({"due_date": "31/12/2025"}, "due_date"),
        ({"progress": "half"}, "progress"),
        ({"next_follow_up_at": "soon"}, "next_follow_up_at"),
    ],
)
def test_values_of_the_wrong_type_are_field_errors(commitment, officer, data, field):
    with pytest.raises(ValidationError) as info:
        services.commitment_update(
            commitment_id=commitment.pk, actor=officer, channel=Channel.WEB, data=data
        )
    assert field in info.value.message_dict
    commitment.refresh_from_db()
    assert commitment.version == 1


@pytest.mark.django_db
def test_equal_amount_in_another_spelling_is_no_change(commitment, officer):
    services.commitment_update(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        data={"amount": Decimal("5.00"), "currency": "USD"},
    )
    _, changed = services.commitment_update(
        commitment_id=commitment.pk,
        actor=officer,
        channel=Channel.WEB,
        data={"amount": "5", "currency": "USD"},
    )
    assert changed is False
