"""Serializers: what the API reads and writes. Input is validated here (types, sizes,
choices, unknown keys); business rules stay in the services.

A commitment is read and written in one shape: relations by id, the owner by
username, so a client can send back what it read (read-only keys are ignored).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import (
    DESCRIPTION_MAX_LENGTH,
    LEGACY_EVIDENCE_KINDS,
    NOTE_MAX_LENGTH,
    Commitment,
    ContextFact,
    Evidence,
    FigureKind,
    FigureUnit,
    Nature,
    Note,
    Organisation,
    Sector,
    Source,
    Status,
    StatusChange,
    Visit,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    is_overdue_on,
    today_local,
)
from ..selectors import API_ROW_FIELDS, co_pledger_ids
from ..translated import (
    COMMITMENT_TEXTS,
    NAME_TEXTS,
    flatten,
    translation_layout,
    translations_in,
    translations_of,
)
from ..validators import validate_currency, validate_http_url

API_PREFIX = "/api/v1/"


class TextField(serializers.CharField):
    """A CharField that takes only JSON strings. DRF's own turns a number into its text
    (6.7e16 became the note "6.714964306482315e+16"), though the schema says string: a
    client that sends a number has a bug to hear about (issue 11)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class LimitedCharField(TextField):
    """A CharField whose length limit is checked by Django's own validator, so an API
    client reads the same message as the browser and the admin (DRF words it its own
    way). The limit comes from the model (limits defined once)."""

    def __init__(self, *, limit: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = limit  # drives maxLength in the schema
        self.validators.append(MaxLengthValidator(limit))

    def run_validation(self, data=serializers.empty):
        # The schema's maxLength counts what was sent; DRF trims whitespace first, so
        # 6,000 characters of which 1,000 are trailing spaces would slip through.
        if isinstance(data, str) and len(data) > self.max_length:
            try:
                MaxLengthValidator(self.max_length)(data)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return super().run_validation(data)


def _limit(model, name: str) -> int:
    return model._meta.get_field(name).max_length


class StrictMixin:
    """Refuse keys the serializer does not know, instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
        return super().to_internal_value(data)


class CachedLookupMixin:
    """Looks each value up once per request (context["related_cache"]): a 1,000-item sync
    naming the same visit and organisations runs a handful of queries, not thousands."""

    def lookup(self, data):
        cache = self.context.get("related_cache")
        if cache is None:
            return super().to_internal_value(data)
        key = (self.queryset.model, data)
        if key not in cache:
            cache[key] = super().to_internal_value(data)
        return cache[key]


class CachedPrimaryKeyRelatedField(CachedLookupMixin, serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return self.lookup(data)


class CachedSlugRelatedField(CachedLookupMixin, serializers.SlugRelatedField):
    def to_internal_value(self, data):
        # PostgreSQL refuses a NUL in text outright (a DataError, not "no such row").
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return self.lookup(data)


def _plain(value, kind) -> bool:
    """A value safe to send in a batch lookup. Anything else (a 100-digit id, a name with
    a NUL or a lone surrogate) is left to the field, which refuses it for its own item."""
    if type(value) is not kind:
        return False
    if kind is int:
        return 0 < value < 2**63
    return len(value) <= 300 and value.isprintable()


def prime_related_cache(serializer: serializers.Serializer, raw_items: list) -> None:
    """Fill context["related_cache"] for all the items of a sync at once: one query per
    related model (through each field's own queryset, so its rules still hold) instead of
    one per distinct id. Ids that are not found stay out and fail as usual, per item."""
    cache = serializer.context["related_cache"]
    by_model: dict = {}
    for name, field in serializer.fields.items():
        if isinstance(field, CachedSlugRelatedField):
            key, kind = field.slug_field, str
        elif isinstance(field, CachedPrimaryKeyRelatedField):
            key, kind = "pk", int
        else:
            continue
        values = {
            raw[name] for raw in raw_items if isinstance(raw, dict) and _plain(raw.get(name), kind)
        }
        if values:
            queryset = field.get_queryset()
            entry = by_model.setdefault((queryset.model, key), [queryset, set()])
            entry[1] |= values
    for (model, key), (queryset, values) in by_model.items():
        for row in queryset.filter(**{f"{key}__in": values}):
            cache[(model, getattr(row, key))] = row


class CommitmentLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    history = serializers.CharField()
    evidence = serializers.CharField()
    notes = serializers.CharField()
    transitions = serializers.CharField()


def _owner_username(c: Commitment) -> str | None:
    # Lists annotate owner_username instead of joining whole user rows (see the view).
    if not c.owner_id:
        return None
    named = getattr(c, "owner_username", None)
    return named if named is not None else c.owner.username


def _datetime(value):
    # Always UTC with a "Z": unambiguous for integrations, and several times cheaper
    # than converting to the current time zone for every field of every row.
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(dt.UTC)
    return value.isoformat()[:-6] + "Z"  # "+00:00" -> "Z"


class CommitmentTextsSerializer(StrictMixin, serializers.Serializer):
    title = LimitedCharField(limit=_limit(Commitment, "title"), required=False, allow_blank=True)
    description = LimitedCharField(limit=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)


class CommitmentTranslationsSerializer(StrictMixin, serializers.Serializer):
    """The tracker's translations of title and description, by language. `title` and
    `description` themselves stay the original text."""

    en = CommitmentTextsSerializer(required=False)
    ru = CommitmentTextsSerializer(required=False)
    kk = CommitmentTextsSerializer(required=False)
    fa = CommitmentTextsSerializer(required=False)
    ps = CommitmentTextsSerializer(required=False)


class CommitmentSerializer(StrictMixin, serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    reference = serializers.CharField(read_only=True)
    external_id = LimitedCharField(
        limit=_limit(Commitment, "external_id"), required=False, allow_blank=True
    )
    title = LimitedCharField(limit=_limit(Commitment, "title"))
    description = LimitedCharField(limit=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    translations = CommitmentTranslationsSerializer(
        required=False,
        help_text=(
            'The tracker\'s translations, e.g. {"ru": {"title": "..."}}. A language or text '
            "left out is kept; an empty string removes that translation. Read: only the "
            "languages that have one."
        ),
    )
    visit = CachedPrimaryKeyRelatedField(queryset=Visit.objects.all())
    parent = CachedPrimaryKeyRelatedField(
        queryset=Commitment.objects.all(), required=False, allow_null=True
    )
    sector = serializers.ChoiceField(choices=Sector.choices)
    nature = serializers.ChoiceField(choices=Nature.choices)
    status = serializers.ChoiceField(
        choices=Status.choices,
        required=False,
        help_text="Set on create (default proposed). Later moves go through /transitions/.",
    )
    is_overdue = serializers.BooleanField(read_only=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    next_follow_up_at = serializers.DateTimeField(required=False, allow_null=True)
    follow_up_every_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=365
    )
    snoozed_until = serializers.DateField(read_only=True, allow_null=True)
    status_changed_at = serializers.DateTimeField(read_only=True)
    owner = CachedSlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    pledged_by = CachedPrimaryKeyRelatedField(queryset=Organisation.objects.all())
    co_pledgers = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(),
        many=True,
        required=False,
        help_text="The other parties of a pledge made by several (e.g. both sides).",
    )
    pledgers = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Every pledging party: pledged_by first, then co_pledgers.",
    )
    beneficiary = CachedPrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), required=False, allow_null=True
    )
    amount = serializers.DecimalField(
        max_digits=18, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    currency = TextField(
        max_length=3, required=False, allow_blank=True, validators=[validate_currency]
    )
    figure_kind = serializers.ChoiceField(
        choices=FigureKind.choices,
        required=False,
        allow_blank=True,
        help_text="What the amount is; only investment, grant and credit are money pledged.",
    )
    unit = serializers.ChoiceField(choices=FigureUnit.choices, required=False, allow_blank=True)
    figure_year = serializers.IntegerField(
        required=False, allow_null=True, min_value=1900, max_value=2200
    )
    progress = serializers.IntegerField(required=False, min_value=0, max_value=100)
    source = CachedPrimaryKeyRelatedField(
        queryset=Source.objects.all(), required=False, allow_null=True
    )
    source_quote = LimitedCharField(
        limit=_limit(Commitment, "source_quote"), required=False, allow_blank=True
    )
    version = serializers.IntegerField(read_only=True)
    change_seq = serializers.IntegerField(
        read_only=True, help_text="Position in the change order; sync with changed_after."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    links = CommitmentLinksSerializer(read_only=True)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        # Flattened into the columns the services take (translated_title_ru, ...).
        values.update(flatten(values.pop("translations", {}), COMMITMENT_TEXTS))
        return values

    def to_representation(self, c: Commitment) -> dict:
        # One commitment: the same plain values a list page reads with .values().
        row = {name: getattr(c, name) for name in API_ROW_FIELDS}
        row["owner_username"] = _owner_username(c)
        # Prefetched by the viewset: one query, not one per call.
        co_pledgers = sorted(o.pk for o in c.co_pledgers.all())
        return commitment_data(row, co_pledgers=co_pledgers, today=self._today())

    def _today(self) -> dt.date:
        today = self.context.get("today")
        if today is None:
            today = self.context["today"] = today_local()
        return today


def commitment_data(
    row: dict, *, co_pledgers: list[int], today: dt.date, layout: tuple | None = None
) -> dict:
    """A commitment's JSON from its plain values (selectors.API_ROW_FIELDS and
    owner_username): the one writer of the shape, for a list page's dicts and for a single
    instance alike.

    Written out by hand: the list endpoint serialises up to 500 rows and the generic
    field-by-field path costs several times the database query. Keep it in step with the
    declared fields of CommitmentSerializer (they drive the OpenAPI schema, and the
    Schemathesis test checks responses against it)."""
    pk = row["id"]
    base = f"{API_PREFIX}commitments/{pk}/"
    due_date, snoozed_until, amount = row["due_date"], row["snoozed_until"], row["amount"]
    return {
        "id": pk,
        "reference": row["reference"],
        "external_id": row["external_id"],
        "title": row["title"],
        "description": row["description"],
        "translations": translations_in(row, COMMITMENT_TEXTS, layout),
        "visit": row["visit_id"],
        "parent": row["parent_id"],
        "sector": row["sector"],
        "nature": row["nature"],
        "status": row["status"],
        "is_overdue": is_overdue_on(status=row["status"], due_date=due_date, on=today),
        "due_date": due_date.isoformat() if due_date else None,
        "next_follow_up_at": _datetime(row["next_follow_up_at"]),
        "follow_up_every_days": row["follow_up_every_days"],
        "snoozed_until": snoozed_until.isoformat() if snoozed_until else None,
        "status_changed_at": _datetime(row["status_changed_at"]),
        "owner": row["owner_username"] if row["owner_id"] else None,
        "pledged_by": row["pledged_by_id"],
        "co_pledgers": co_pledgers,
        "pledgers": [row["pledged_by_id"], *co_pledgers],
        "beneficiary": row["beneficiary_id"],
        "amount": None if amount is None else f"{amount:.2f}",
        "currency": row["currency"],
        "figure_kind": row["figure_kind"],
        "unit": row["unit"],
        "figure_year": row["figure_year"],
        "progress": row["progress"],
        "source": row["source_id"],
        "source_quote": row["source_quote"],
        "version": row["version"],
        "change_seq": row["change_seq"],
        "created_at": _datetime(row["created_at"]),
        "updated_at": _datetime(row["updated_at"]),
        "links": {
            "self": base,
            "history": f"{base}history/",
            "evidence": f"{base}evidence/",
            "notes": f"{base}notes/",
            "transitions": f"{base}transitions/",
        },
    }


def commitments_data(rows: list[dict], *, today: dt.date | None = None) -> list[dict]:
    """A page of commitments from plain rows (selectors.commitment_api_rows): one query
    for their co-pledgers, no model instances."""
    today = today or today_local()
    layout = translation_layout(COMMITMENT_TEXTS)
    if rows and "co_pledger_ids" in rows[0]:  # read with the rows (PostgreSQL)
        return [
            commitment_data(row, co_pledgers=row["co_pledger_ids"], today=today, layout=layout)
            for row in rows
        ]
    co_pledgers = co_pledger_ids(row["id"] for row in rows)
    return [
        commitment_data(row, co_pledgers=co_pledgers.get(row["id"], []), today=today, layout=layout)
        for row in rows
    ]


@extend_schema_field(
    {
        "description": (
            "A commitment in the shape of CommitmentRequest, with external_id. Any JSON "
            "value is accepted here: each item is validated on its own and a refused item "
            "is reported in its result (result: error), so the schema does not constrain it."
        )
    }
)
class SyncItemField(serializers.JSONField):
    """Any JSON value: each item is validated on its own in the view (a CommitmentSerializer
    with external_id required), so one malformed item is reported, not fatal."""


class SyncRequestSerializer(StrictMixin, serializers.Serializer):
    # null is a JSON value like any other: reported on its item, not fatal to the batch.
    commitments = serializers.ListField(
        child=SyncItemField(allow_null=True), min_length=1, max_length=1000
    )


class SyncItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_blank=True, allow_null=True)
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    id = serializers.IntegerField(allow_null=True)
    reference = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class SyncResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = SyncItemResultSerializer(many=True)


class EvidenceKindField(serializers.ChoiceField):
    """The evidence kinds, also accepting the names used before migration 0007
    (press_release, media_report, ...) so integrations written then keep working."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data in LEGACY_EVIDENCE_KINDS:
            data = LEGACY_EVIDENCE_KINDS[data].value
        return super().to_internal_value(data)


class EvidenceInputSerializer(StrictMixin, serializers.Serializer):
    url = LimitedCharField(limit=_limit(Evidence, "url"), validators=[validate_http_url])
    title = LimitedCharField(limit=_limit(Evidence, "title"))
    kind = EvidenceKindField(choices=Evidence.Kind.choices, required=False)
    published_on = serializers.DateField(required=False, allow_null=True)


class TransitionSerializer(StrictMixin, serializers.Serializer):
    to = serializers.ChoiceField(choices=Status.choices)
    note = LimitedCharField(limit=NOTE_MAX_LENGTH, required=False, allow_blank=True)
    evidence = EvidenceInputSerializer(many=True, required=False, max_length=20)
    due_date = serializers.DateField(
        required=False, help_text="Reopening only: the new due date (needed if it has none)."
    )


class StatusChangeSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = StatusChange
        fields = ("id", "from_status", "to_status", "at", "actor", "note", "channel", "version")


class EvidenceSerializer(serializers.ModelSerializer):
    added_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Evidence
        fields = ("id", "url", "source", "title", "kind", "published_on", "added_by", "added_at")


class NoteSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Note
        fields = ("id", "kind", "text", "author", "channel", "created_at")


class NoteInputSerializer(StrictMixin, serializers.Serializer):
    text = LimitedCharField(limit=NOTE_MAX_LENGTH)


class ContextFactSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContextFact
        fields = ("key", "statement", "figure", "quote", "source")


class VisitSerializer(serializers.ModelSerializer):
    context_facts = ContextFactSerializer(many=True, read_only=True)
    host_country = serializers.CharField(source="host_country.code", read_only=True)
    visiting_country = serializers.CharField(source="visiting_country.code", read_only=True)

    class Meta:
        model = Visit
        fields = (
            "id",
            "code",
            "title",
            "start_date",
            "end_date",
            "place",
            "host_country",
            "visiting_country",
            "delegation_lead",
            "summary",
            "sources",
            "context_facts",
        )


class NameTranslationsField(serializers.DictField):
    """{"ru": {"name": "..."}, ...}: the tracker's translations of a name."""

    child = serializers.DictField(child=serializers.CharField())

    def to_representation(self, value):
        return translations_of(value, NAME_TEXTS)


class OrganisationSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code", read_only=True)
    aliases = serializers.ListField(child=serializers.CharField(), read_only=True)
    translations = NameTranslationsField(source="*", read_only=True)

    class Meta:
        model = Organisation
        fields = ("id", "name", "aliases", "translations", "country", "kind")


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = (
            "id",
            "key",
            "kind",
            "title",
            "publisher",
            "author",
            "published_on",
            "published_note",
            "language",
            "url",
        )


# --- Integrations (issue 16) ----------------------------------------------------------------


class WebhookEndpointSerializer(StrictMixin, serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = TextField(max_length=1000)
    secret = TextField(
        max_length=200, min_length=16, write_only=True, help_text="Signs every delivery."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1, max_length=7
    )
    visit = serializers.PrimaryKeyRelatedField(
        queryset=Visit.objects.all(), required=False, allow_null=True
    )
    sector = serializers.ChoiceField(choices=Sector.choices, required=False, allow_blank=True)
    state = serializers.ChoiceField(
        choices=WebhookEndpoint.State.choices,
        required=False,
        help_text="paused stops deliveries (events are kept); active resumes them.",
    )
    paused_reason = serializers.CharField(read_only=True)
    consecutive_failures = serializers.IntegerField(read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "event_id",
            "commitment",
            "state",
            "attempts",
            "response_code",
            "duration_ms",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class CalendarFeedSerializer(serializers.Serializer):
    url = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
