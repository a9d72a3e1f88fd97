"""The commitment domain: visits, the parties, the pledges made, and what proves them.

Models hold data, constraints, named choices and read-only queryset methods. Every
write that carries a business rule lives in `commitments.services`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from .validators import (
    validate_currency,
    validate_http_url,
    validate_storable_text,
    validate_string_list,
)

# --- Limits: defined here once. The services enforce them through these
# fields' validators, and forms and serializers take their sizes from the same place, so
# the browser, the API, the admin and the import refuse the same input the same way.
# CharFields carry their own max_length; these are the free-text fields.
NOTE_MAX_LENGTH = 5000  # a note, a status-change note
DESCRIPTION_MAX_LENGTH = 20000
SHORT_NOTE_MAX_LENGTH = 500  # a snooze reason, a reassignment note


class Sector(models.TextChoices):
    RAIL_TRANSPORT = "rail_transport", _("Rail and transport")
    TRADE = "trade", _("Trade")
    BANKING_FINANCE = "banking_finance", _("Banking and finance")
    TELECOMS_ICT = "telecoms_ict", _("Telecoms and ICT")
    VISAS_MIGRATION = "visas_migration", _("Visas and migration")
    AGRICULTURE = "agriculture", _("Agriculture")
    MINING = "mining", _("Mining")
    TRANSIT_LOGISTICS = "transit_logistics", _("Transit and logistics")
    HEALTH = "health", _("Health")
    EDUCATION = "education", _("Education")
    DIPLOMACY = "diplomacy", _("Diplomacy")
    HUMANITARIAN = "humanitarian", _("Humanitarian")


class Nature(models.TextChoices):
    """Whether a tracked item is a stated intention, a signed agreement, or already done."""

    INTENTION = "intention", _("Stated intention")
    AGREEMENT = "agreement", _("Formal agreement")
    DONE = "done", _("Already done")


class Status(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    AGREED = "agreed", _("Agreed")
    IN_PROGRESS = "in_progress", _("In progress")
    BLOCKED = "blocked", _("Blocked")
    FULFILLED = "fulfilled", _("Fulfilled")
    CANCELLED = "cancelled", _("Cancelled")


TERMINAL_STATUSES = frozenset({Status.FULFILLED, Status.CANCELLED})
OPEN_STATUSES = frozenset(set(Status) - TERMINAL_STATUSES)

# The one table of allowed moves. Leaving a terminal status (reopening) is allowed only
# to managers and needs a note; services.commitment_transition enforces both.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PROPOSED: frozenset({Status.AGREED, Status.IN_PROGRESS, Status.CANCELLED}),
    Status.AGREED: frozenset(
        {Status.IN_PROGRESS, Status.BLOCKED, Status.FULFILLED, Status.CANCELLED}
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.AGREED, Status.BLOCKED, Status.FULFILLED, Status.CANCELLED}
    ),
    Status.BLOCKED: frozenset({Status.AGREED, Status.IN_PROGRESS, Status.CANCELLED}),
    Status.FULFILLED: frozenset({Status.IN_PROGRESS}),
    Status.CANCELLED: frozenset({Status.PROPOSED, Status.AGREED}),
}
# Moves into these need a note; a move into FULFILLED needs evidence.
NOTE_REQUIRED = frozenset({Status.BLOCKED, Status.CANCELLED})


class Channel(models.TextChoices):
    WEB = "web", _("Web")
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    IMPORT = "import", _("Import")
    SYSTEM = "system", _("System")
    # load_demo: owners, due dates and follow-ups made up so a newcomer sees the tracker work.
    DEMO = "demo", _("Demo data")


class Role:
    """Names of the auth groups created by migration 0002; they are the app's roles."""

    DESK_OFFICER = "Desk officers"
    MANAGER = "Managers"
    VIEWER = "Viewers"
    ALL = (DESK_OFFICER, MANAGER, VIEWER)


def today_local(now: dt.datetime | None = None) -> dt.date:
    """Today's date in the tracker's time zone (settings.TIME_ZONE), whichever zone a
    page has activated for its viewer: what is overdue must not depend on who looks."""
    return timezone.localdate(now or timezone.now(), timezone.get_default_timezone())


# The rules below are each written once (STYLE habit 10); pages, filters, the partial
# index, the sweep, the dispatch, the send and the emails all use them.

# Open: not fulfilled, not cancelled. Sorted, so the partial index built from it keeps
# the condition its migration wrote.
IS_OPEN = ~Q(status__in=sorted(TERMINAL_STATUSES))


def overdue_q(on: dt.date, *, open_q: Q = IS_OPEN) -> Q:
    """Overdue: open, with a due date before `on` (a day in the tracker's zone). Open
    means open now, unless a caller rebuilding a past day passes what open meant on that
    day (the dashboard's trend reads it from the status history)."""
    return open_q & Q(due_date__lt=on)


def is_overdue_on(*, status: str, due_date: dt.date | None, on: dt.date) -> bool:
    """`overdue_q` for one row already in memory (a page of rows must not cost a query
    each); tests/test_overdue.py proves the two agree on every status and date."""
    return status not in TERMINAL_STATUSES and due_date is not None and due_date < on


def snoozed_q(on: dt.date) -> Q:
    """A commitment whose snooze holds its follow-up requests on `on` (a day in the
    tracker's zone): the snooze runs to the end of `snoozed_until`. It never hides an item
    from overdue lists; it only holds follow-ups (`Reminder.held_by_snooze_q`)."""
    return Q(snoozed_until__gt=on)


def external_key(field_class, verbose_name, *, max_length: int, help_text) -> models.Field:
    """A row's identifier in an imported data set or an integrated system: optional, and
    empty (never NULL) when not set, so that `unique_when_set` can make it unique."""
    return field_class(
        verbose_name, max_length=max_length, blank=True, default="", help_text=help_text
    )


def unique_when_set(field: str, name: str) -> models.UniqueConstraint:
    """Unique among the rows where `field` (an `external_key`) is set."""
    return models.UniqueConstraint(fields=[field], condition=~Q(**{field: ""}), name=name)


class DocumentKind(models.TextChoices):
    """What a source or a piece of evidence is. A news report of a statement is not the
    statement itself: who said it and who reported it differ."""

    OFFICIAL_STATEMENT = "official_statement", _("Official statement")
    NEWS_REPORT = "news_report", _("News report of a statement")
    ANALYSIS = "analysis", _("Analysis")
    DOCUMENT = "document", _("Document")
    PHOTO = "photo", _("Photo")
    DATASET = "dataset", _("Dataset")


# Evidence kinds before migration 0007, and what each became. The migration and the API
# (which still accepts the old names from integrations) read this one table.
LEGACY_EVIDENCE_KINDS = {
    "press_release": DocumentKind.OFFICIAL_STATEMENT,
    "agreement_text": DocumentKind.DOCUMENT,
    "official_letter": DocumentKind.DOCUMENT,
    "media_report": DocumentKind.NEWS_REPORT,
    "photo": DocumentKind.PHOTO,
    "internal_memo": DocumentKind.DOCUMENT,
}


class Source(models.Model):
    """A document that reports on a visit. Its URL is left empty until a real one is known;
    a publisher the text does not name is left empty too."""

    key = external_key(
        models.SlugField,
        _("key"),
        max_length=50,
        help_text=_("Stable key of the source in imported data sets (e.g. 'press')."),
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=DocumentKind.choices, blank=True, default=""
    )
    title = models.CharField(_("title"), max_length=300)
    publisher = models.CharField(_("publisher"), max_length=200, blank=True)
    author = models.CharField(_("author"), max_length=200, blank=True)
    published_on = models.DateField(_("published on"), null=True, blank=True)
    published_note = models.CharField(
        _("publication date note"),
        max_length=200,
        blank=True,
        help_text=_("When the exact date is unknown, what is known (e.g. 'after 2025-04-21')."),
    )
    language = models.CharField(_("language"), max_length=12, default="en")
    url = models.CharField(_("URL"), max_length=1000, blank=True, validators=[validate_http_url])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["published_on", "title"]
        constraints = [
            models.UniqueConstraint(fields=["title", "publisher"], name="source_unique_title"),
            unique_when_set("key", "source_key_unique"),
        ]

    def __str__(self) -> str:
        by = self.publisher or self.author
        return f"{self.title} ({by})" if by else self.title


class Organisation(models.Model):
    class Kind(models.TextChoices):
        GOVERNMENT = "government", _("Government")
        MINISTRY = "ministry", _("Ministry")
        STATE_COMPANY = "state_company", _("State company")
        BANK = "bank", _("Bank")
        CHAMBER = "chamber", _("Chamber of commerce")
        PRIVATE_COMPANY = "private_company", _("Private company")
        PRIVATE_SECTOR = "private_sector", _("Private sector (group of companies)")
        DIPLOMATIC_MISSION = "diplomatic_mission", _("Diplomatic mission")
        INTERNATIONAL = "international", _("International body")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=200, unique=True)
    # The tracker's translations of the name, one column per language
    # (translated_name_ru, ...; commitments/translation.py). This base column stays empty.
    translated_name = models.CharField(_("translated name"), max_length=200, blank=True)
    aliases = models.JSONField(
        _("aliases"),
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text=_("Other spellings, searched like the name."),
    )
    country = CountryField(_("country"), blank=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """An official named in a source: who met whom during a visit."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    translated_name = models.CharField(_("translated name"), max_length=200, blank=True)
    aliases = models.JSONField(
        _("aliases"), default=list, blank=True, validators=[validate_string_list]
    )
    position = models.CharField(_("position"), max_length=300, blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="people"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name


class Visit(models.Model):
    title = models.CharField(_("title"), max_length=300)
    code = models.SlugField(
        _("reference prefix"),
        max_length=20,
        unique=True,
        help_text=_("Prefix of its commitments' references, e.g. KZ-AF-2025."),
    )
    start_date = models.DateField(_("start date"))
    # Empty when no source states it: shown as "not stated", never guessed.
    end_date = models.DateField(_("end date"), null=True, blank=True)
    place = models.CharField(_("place"), max_length=200)
    host_country = CountryField(_("host country"))
    visiting_country = CountryField(_("visiting country"))
    delegation_lead = models.ForeignKey(
        Person,
        verbose_name=_("delegation lead"),
        on_delete=models.PROTECT,
        related_name="visits_led",
    )
    summary = models.TextField(_("summary"), blank=True)
    sources = models.ManyToManyField(Source, blank=True, related_name="visits")
    created_at = models.DateTimeField(auto_now_add=True)
    # The highest number used in a reference <code>-N of this visit. New references take
    # the next one under the visit's row lock, so a create costs the same at any table
    # size and numbers of any width (seeded 000123, created 124) never collide.
    last_reference_number = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="visit_dates_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(host_country=models.F("visiting_country")),
                name="visit_two_sides",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # Only the services move the reference counter (an UPDATE under the visit's lock);
        # saving a visit loaded earlier (the admin, the importer) must not write its stale
        # copy back, or the next references would collide.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "last_reference_number"
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("commitments:visit-detail", args=[self.pk])


class Meeting(models.Model):
    """A meeting held during a visit, with who took part, as the sources report it."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="meetings")
    # Empty when the sources do not say which day it was.
    held_on = models.DateField(_("held on"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    participants = models.ManyToManyField(Person, related_name="meetings")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["held_on", "title"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "title"], name="meeting_unique_title"),
        ]

    def __str__(self) -> str:
        return self.title


class ContextFact(models.Model):
    """A figure or background statement a source reports about a visit, kept with its
    quote and source without making it a commitment (nobody pledged it)."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="context_facts")
    key = models.SlugField(_("key"), max_length=50)
    statement = models.CharField(_("statement"), max_length=500)
    figure = models.CharField(
        _("figure"), max_length=100, blank=True, help_text=_("As the source states it.")
    )
    quote = models.CharField(_("quoted phrase"), max_length=500)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="context_facts")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["visit", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "key"], name="context_fact_unique_key"),
        ]

    def __str__(self) -> str:
        return self.statement[:80]

    @property
    def lead(self) -> str:
        """The statement as it leads into its figure ("...: 32%"): its closing full stop
        dropped when a figure follows."""
        return self.statement.rstrip().rstrip(".") if self.figure else self.statement


class FigureKind(models.TextChoices):
    """What a commitment's amount is. Only the first three are money pledged."""

    INVESTMENT = "investment", _("Money pledged: investment")
    GRANT = "grant", _("Money pledged: grant")
    CREDIT = "credit", _("Money pledged: credit")
    AGREEMENT_VALUE = "agreement_value", _("Value of agreements signed")
    TARGET_TRADE_TURNOVER = "target_trade_turnover", _("Target: trade turnover")
    TARGET_VOLUME = "target_volume", _("Target: volume")


MONEY_PLEDGED_KINDS = frozenset({FigureKind.INVESTMENT, FigureKind.GRANT, FigureKind.CREDIT})
TARGET_KINDS = frozenset({FigureKind.TARGET_TRADE_TURNOVER, FigureKind.TARGET_VOLUME})


class FigureUnit(models.TextChoices):
    """Units of an amount that is not money (a money amount has a currency instead)."""

    TONS = "tons", _("tons")
    PERCENT = "percent", _("percent")


class CommitmentQuerySet(models.QuerySet):
    def open(self) -> CommitmentQuerySet:
        return self.filter(IS_OPEN)

    def plain(self) -> CommitmentQuerySet:
        """The same rows with modeltranslation's name rewriting off (commitments/
        translation.py): `values()` and `values_list()` then come straight from the
        cursor. With it on, each row is copied into a stand-in object and rebuilt to
        apply language fallbacks that the tracker does not use (it names translation
        columns explicitly): half the time of an API list of 100 went there, and the
        sweep and exports iterate hundreds of thousands of rows."""
        return self.rewrite(False)

    def with_external_ids(self, external_ids) -> CommitmentQuerySet:
        """Rows whose external_id is one of these (empty ones never match). The explicit
        "is set" clause is the unique index's own condition: PostgreSQL cannot prove it
        from an IN list of more than 100 values, and without it a 1,000-item sync read
        the whole table (65 ms at 1M rows, against 2 ms through the index)."""
        return self.filter(external_id__in=[e for e in external_ids if e]).exclude(external_id="")

    def overdue(self, on: dt.date | None = None) -> CommitmentQuerySet:
        """Open commitments whose due date is before `on` (default: today, tracker zone)."""
        return self.filter(overdue_q(on or today_local()))

    def not_overdue(self, on: dt.date | None = None) -> CommitmentQuerySet:
        return self.exclude(overdue_q(on or today_local()))

    def snoozed(self, on: dt.date) -> CommitmentQuerySet:
        return self.filter(snoozed_q(on))

    def due_between(self, start: dt.date, end: dt.date) -> CommitmentQuerySet:
        return self.open().filter(due_date__gte=start, due_date__lte=end)

    def owned_by(self, user) -> CommitmentQuerySet:
        return self.filter(owner=user)

    def pledged_by_party(self, organisation) -> CommitmentQuerySet:
        """Commitments the organisation pledged, alone or as one of several parties
        (a subquery, not a join: no duplicate rows, no DISTINCT)."""
        shared = Commitment.co_pledgers.through.objects.filter(organisation=organisation)
        return self.filter(Q(pledged_by=organisation) | Q(pk__in=shared.values("commitment_id")))

    def with_overdue_days(self, on: dt.date | None = None) -> CommitmentQuerySet:
        """Annotate `days_overdue` (0 when not overdue), computed by the database."""
        on = on or today_local()
        return self.annotate(
            days_overdue=models.Case(
                models.When(
                    overdue_q(on),
                    then=models.Value(on) - models.F("due_date"),
                ),
                default=None,
                output_field=models.DurationField(),
            )
        )


class Commitment(models.Model):
    reference = models.CharField(
        _("reference"),
        max_length=40,
        unique=True,
        help_text=_("Stable human reference, e.g. KZ-AF-2025-001."),
    )
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(
        _("description"),
        blank=True,
        validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH), validate_storable_text],
    )
    # `title` and `description` are the original text. Their translations by the tracker
    # live in one column per language (translated_title_ru, translated_description_fa,
    # ...; commitments/translation.py, docs/i18n.md); these two base columns stay empty.
    translated_title = models.CharField(_("translated title"), max_length=300, blank=True)
    translated_description = models.TextField(
        _("translated description"),
        blank=True,
        validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH), validate_storable_text],
    )
    visit = models.ForeignKey(
        Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="commitments"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent commitment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    sector = models.CharField(_("sector"), max_length=32, choices=Sector.choices)
    pledged_by = models.ForeignKey(
        Organisation,
        verbose_name=_("pledged by"),
        on_delete=models.PROTECT,
        related_name="pledges_made",
    )
    # The other parties of a pledge made by several ("both sides showed readiness"):
    # pledged_by is the first named, these the rest. Filters match any of them.
    co_pledgers = models.ManyToManyField(
        Organisation,
        verbose_name=_("also pledged by"),
        blank=True,
        related_name="pledges_shared",
    )
    beneficiary = models.ForeignKey(
        Organisation,
        verbose_name=_("beneficiary"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pledges_received",
    )
    nature = models.CharField(_("nature"), max_length=16, choices=Nature.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_commitments",
    )
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_commitments"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PROPOSED
    )
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    follow_up_every_days = models.PositiveSmallIntegerField(
        _("follow-up cadence (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("Empty: the tracker's default cadence."),
    )
    snoozed_until = models.DateField(
        _("follow-up snoozed until"),
        null=True,
        blank=True,
        help_text=_("Follow-up reminders are held until this date; it never hides overdue."),
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    currency = models.CharField(
        _("currency"), max_length=3, blank=True, validators=[validate_currency]
    )
    # What the amount is (money pledged, agreements' value, a target): see FigureKind.
    # Empty on an amount means "kind not stated", which is never counted as pledged.
    figure_kind = models.CharField(
        _("kind of figure"), max_length=24, choices=FigureKind.choices, blank=True, default=""
    )
    unit = models.CharField(
        _("unit"),
        max_length=12,
        choices=FigureUnit.choices,
        blank=True,
        default="",
        help_text=_("For an amount that is not money: tons, percent."),
    )
    figure_year = models.PositiveSmallIntegerField(
        _("year referred to"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1900), MaxValueValidator(2200)],
        help_text=_("Only where the source gives one."),
    )
    progress = models.PositiveSmallIntegerField(
        _("progress (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    source = models.ForeignKey(
        Source,
        verbose_name=_("source"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commitments",
    )
    source_quote = models.CharField(_("quoted phrase"), max_length=500, blank=True)
    external_id = external_key(
        models.CharField,
        _("external id"),
        max_length=100,
        help_text=_("Identifier in an integrated system; unique when set."),
    )
    # Set only by load_demo (services.demo): the row exists for the demo, and its owner,
    # due date and follow-up were made up. Pages label such dates; load_demo refuses a
    # database holding rows without it, and never touches them.
    is_demo = models.BooleanField(
        _("demo data"),
        default=False,
        editable=False,
        help_text=_("Created by load_demo: owner and dates are made up for the demo."),
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    # Position in the global change order (services.next_change_seq): incremental sync
    # reads "everything after N" by this column.
    change_seq = models.BigIntegerField(default=0, editable=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = CommitmentQuerySet.as_manager()

    class Meta:
        ordering = ["reference"]
        constraints = [
            unique_when_set("external_id", "commitment_external_id_unique"),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=100),
                name="commitment_progress_0_100",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="commitment_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | ~Q(currency="") | ~Q(unit=""),
                name="commitment_amount_has_currency",
            ),
            models.CheckConstraint(
                condition=Q(currency="") | Q(unit=""),
                name="commitment_currency_or_unit",
            ),
            models.CheckConstraint(
                condition=Q(figure_kind="") | Q(amount__isnull=False),
                name="commitment_figure_kind_has_amount",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]),
                name="commitment_status_known",
            ),
            models.CheckConstraint(
                condition=Q(sector__in=[s.value for s in Sector]),
                name="commitment_sector_known",
            ),
            models.CheckConstraint(
                condition=Q(nature__in=[n.value for n in Nature]),
                name="commitment_nature_known",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="commitment_status_due"),
            models.Index(fields=["next_follow_up_at"], name="commitment_follow_up"),
            # The few snoozed commitments, for the sweep's "held by a snooze" subquery.
            models.Index(
                fields=["snoozed_until"],
                condition=models.Q(snoozed_until__isnull=False),
                name="commitment_snoozed",
            ),
            models.Index(fields=["owner", "status"], name="commitment_owner_status"),
            models.Index(fields=["sector", "status"], name="commitment_sector_status"),
            # Open items in due-date order: the overdue list pages through it without
            # sorting and counts it from the index (migration 0005_web_open_due_index).
            models.Index(
                fields=["due_date", "reference"],
                condition=IS_OPEN,
                name="commitment_open_due",
            ),
            # The list sorted by due date (either way: the tie-break on reference follows
            # the direction, views._page) reads its page from the index: at a million
            # rows it sorted them all, 210 ms a page.
            models.Index(fields=["due_date", "reference"], name="commitment_due_reference"),
            # The overdue list of one sector, counted from the index (was 30,000 heap
            # pages read, 140 ms at a million rows).
            models.Index(
                fields=["sector", "due_date"],
                condition=IS_OPEN,
                name="commitment_open_sector_due",
            ),
            # The overdue list grouped by owner walks it owner by owner without touching
            # the table (selectors.OwnerGroupedIds; id last, so the page's ids come from
            # the index): at a million rows it sorted all 232,000 overdue, 159 ms a page.
            models.Index(
                fields=["owner", "due_date", "reference", "id"],
                condition=IS_OPEN,
                name="commitment_open_owner_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("commitments:commitment-detail", args=[self.pk])

    def clean(self) -> None:
        self.clean_values()
        if (
            self.external_id
            and Commitment.objects.filter(external_id=self.external_id).exclude(pk=self.pk).exists()
        ):
            # The database constraint is the guard; this names the field in the error.
            raise ValidationError({"external_id": _("Another commitment has this external id.")})

    def clean_values(self) -> None:
        """The rules of clean() that need no query (the set-based services check external
        ids for a whole batch at once and call this per row)."""
        if self.amount is not None and not (self.currency or self.unit):
            raise ValidationError(
                {
                    "currency": _(
                        "A currency is needed with an amount (a unit, for a figure that "
                        "is not money)."
                    )
                }
            )
        if self.currency and self.unit:
            raise ValidationError({"unit": _("Give a currency or a unit, not both.")})
        if self.figure_kind and self.amount is None:
            raise ValidationError({"amount": _("A kind of figure needs an amount.")})
        if self.parent_id and self.parent_id == self.pk:
            raise ValidationError({"parent": _("A commitment cannot be its own parent.")})

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    def is_overdue(self, on: dt.date | None = None) -> bool:
        return is_overdue_on(status=self.status, due_date=self.due_date, on=on or today_local())

    @property
    def is_money_pledged(self) -> bool:
        return self.amount is not None and self.figure_kind in MONEY_PLEDGED_KINDS

    def allowed_moves(self) -> list[str]:
        return sorted(TRANSITIONS[self.status])

    @property
    def follow_up_cadence(self) -> dt.timedelta:
        return dt.timedelta(days=self.follow_up_every_days or settings.TRACKER_FOLLOW_UP_DAYS)


class AppendOnlyQuerySet(models.QuerySet):
    """History must not be rewritten: bulk update and delete are refused."""

    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are append-only.")

    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are append-only.")


class AppendOnlyModel(models.Model):
    """A row of history: written once, never changed or deleted, through any path.

    save() of an existing row, delete(), and queryset update()/delete() raise TypeError;
    on PostgreSQL a trigger refuses UPDATE and DELETE as well (migration
    0010_append_only_history), so raw SQL cannot rewrite history either. A mistaken
    note is retracted by a new note (services.note_retract), never edited away.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # _state.adding, not pk: a new row may come with its id already chosen.
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are append-only.")


class StatusChange(AppendOnlyModel):
    """One status move. Append-only: the application never updates or deletes these."""

    commitment = models.ForeignKey(
        Commitment, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    note = models.TextField(
        blank=True, validators=[MaxLengthValidator(NOTE_MAX_LENGTH), validate_storable_text]
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The commitment's version this move produced: orders moves of one commitment.
    version = models.PositiveIntegerField()

    class Meta:
        ordering = ["-at", "-id"]
        get_latest_by = "at"
        constraints = [
            models.UniqueConstraint(
                fields=["commitment", "version"], name="status_change_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commitment_id}: {self.from_status or '-'} → {self.to_status}"


class Evidence(AppendOnlyModel):
    Kind = DocumentKind

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="evidence")
    url = models.CharField(_("URL"), max_length=1000, blank=True, validators=[validate_http_url])
    source = models.ForeignKey(
        Source,
        verbose_name=_("source document"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("A source on record, for evidence that has no web address yet."),
    )
    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(
        _("kind"), max_length=20, choices=DocumentKind.choices, default=DocumentKind.NEWS_REPORT
    )
    published_on = models.DateField(_("published on"), null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-added_at", "-id"]
        verbose_name_plural = _("evidence")
        constraints = [
            models.CheckConstraint(
                condition=~Q(url="") | Q(source__isnull=False),
                name="evidence_has_url_or_source",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if not self.url and not self.source_id:
            raise ValidationError({"url": _("Give a link, or the source document on record.")})


class Note(AppendOnlyModel):
    """A follow-up log entry. Snoozes and reassignments are notes of their own kind.

    A note is never edited or deleted: a retraction is a note of its own (kind
    `retraction`, `retracts` pointing at the original, its text the reason) that hides
    the original from the default timeline and keeps it for audit.
    """

    class Kind(models.TextChoices):
        COMMENT = "comment", _("Note")
        SNOOZE = "snooze", _("Follow-up snoozed")
        REASSIGN = "reassign", _("Reassigned")
        SYSTEM = "system", _("System")
        RETRACTION = "retraction", _("Note retracted")

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.COMMENT)
    text = models.TextField(
        _("text"), validators=[MaxLengthValidator(NOTE_MAX_LENGTH), validate_storable_text]
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(default=timezone.now)
    retracts = models.OneToOneField(
        "self",
        verbose_name=_("retracts"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retracted_by",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A retraction names the note it retracts, and only a retraction does.
            models.CheckConstraint(
                condition=(Q(kind="retraction") & Q(retracts__isnull=False))
                | (~Q(kind="retraction") & Q(retracts__isnull=True)),
                name="note_retraction_names_its_note",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def is_retracted(self) -> bool:
        # A reverse one-to-one: select_related("retracted_by") makes this query-free.
        try:
            return self.retracted_by is not None
        except Note.retracted_by.RelatedObjectDoesNotExist:
            return False


class AuditEvent(AppendOnlyModel):
    """Append-only audit trail: every write a service makes, who made it, through what.

    `changes` maps a field name to [old, new] (as text) for updates; other actions carry
    what identifies the row they wrote.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    action = models.CharField(max_length=40)
    commitment = models.ForeignKey(
        Commitment, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class ImportRecord(models.Model):
    """What the last import of a data set wrote into one row, field by field.

    The importer compares three values per field: this one (what it wrote last), the
    row's current value and the file's. A row nobody touched since takes the file's
    value; a value someone changed since is kept and reported as a conflict.
    """

    model = models.CharField(max_length=40)
    key = models.CharField(_("natural key"), max_length=400)
    values = models.JSONField(default=dict)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="import_record_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.model}:{self.key}"


class ChangeCounter(models.Model):
    """A single row whose lock orders commitment changes by commit time.

    A writer takes the row lock (SELECT ... FOR UPDATE) and increments it inside its
    transaction; the next writer waits for that commit. So `Commitment.change_seq` grows
    in commit order, and a sync client reading "after N" never misses a change that
    committed late (see services.next_change_seq).
    """

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"

    @classmethod
    def committed(cls, name: str = "commitment") -> int:
        """The counter as committed now (a writer holding its lock is not counted; 0
        before the first change): whatever commits after this read gets a larger number."""
        return next(iter(cls.objects.filter(name=name).values_list("value", flat=True)), 0)


def _default_working_days() -> list[int]:
    # ISO weekdays, Monday=1: Monday to Friday, as in Astana. Officers in Kabul, where
    # the week runs Saturday to Thursday, set [6, 7, 1, 2, 3, 4].
    return [1, 2, 3, 4, 5]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


def validate_working_days(value) -> None:
    if not isinstance(value, list) or not value or any(d not in range(1, 8) for d in value):
        raise ValidationError(_("Working days are ISO weekday numbers 1 (Mon) to 7 (Sun)."))


class CalendarSystem(models.TextChoices):
    GREGORIAN = "gregorian", _("Gregorian")
    SOLAR_HIJRI = "solar_hijri", _("Solar Hijri")


class Profile(models.Model):
    """Per-user settings that reminders need: time zone, working days, digests, manager."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    working_days = models.JSONField(
        _("working days"), default=_default_working_days, validators=[validate_working_days]
    )
    morning_hour = models.PositiveSmallIntegerField(
        _("reminder hour"), default=8, validators=[MaxValueValidator(23)]
    )
    daily_digest = models.BooleanField(_("daily digest instead of single emails"), default=False)
    line_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        help_text=_("Escalations go here; empty: to every manager."),
    )
    # Issue 15: empty means "not chosen": the browser's language and, for the calendar,
    # the language's usual one (Solar Hijri for Dari and Pashto).
    language = models.CharField(
        _("language"), max_length=8, blank=True, default="", choices=settings.LANGUAGES
    )
    calendar = models.CharField(
        _("calendar"), max_length=16, blank=True, default="", choices=CalendarSystem.choices
    )
    eastern_digits = models.BooleanField(_("Eastern Arabic digits (۱۲۳)"), default=False)

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    @property
    def effective_calendar(self) -> str:
        if self.calendar:
            return self.calendar
        if self.language in settings.SOLAR_HIJRI_LANGUAGES:
            return CalendarSystem.SOLAR_HIJRI
        return CalendarSystem.GREGORIAN

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


# --- REST API: tokens and idempotency keys ------------------------------------------------


class ApiTokenScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


class ApiToken(models.Model):
    """A named credential for one integration. Only a SHA-256 of the secret is stored:
    the secret is shown once, when services.api_token_issue makes it."""

    name = models.CharField(_("integration name"), max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acts as user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    # Short, non-secret head of the token, to tell tokens apart in lists and logs.
    prefix = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(_("scope"), max_length=8, choices=ApiTokenScope.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=["read", "write"]), name="api_token_scope_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def can_write(self) -> bool:
        return self.scope == ApiTokenScope.WRITE

    def is_usable(self, at: dt.datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class IdempotencyKey(models.Model):
    """The first answer to a request sent with an Idempotency-Key, per token.

    A row is claimed (INSERT, unique per token and key) before the work starts and holds
    `response_status=None` while it runs; a duplicate arriving then gets 409, one arriving
    later gets the stored answer, one with another body gets 422 (fingerprint differs).
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_per_token"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"

    @property
    def in_progress(self) -> bool:
        return self.response_status is None


def held_by_snooze_q(on: dt.date) -> Q:
    """Reminders a snooze holds on `on`: follow-up requests of a snoozed commitment
    (`snoozed_q`), alone or in a digest. A subquery, not a join, so the sweep's dispatch
    can put it on its UPDATE of the outbox."""
    snoozed = Commitment.objects.filter(snoozed_q(on)).values("pk")
    return Q(kind=Reminder.Kind.FOLLOW_UP, commitment_id__in=snoozed)


def pending_due_q(now: dt.datetime) -> Q:
    """Reminders waiting for their time, which has come."""
    return Q(state=Reminder.State.PENDING, send_after__lte=now)


def lease_expired_q(now: dt.datetime) -> Q:
    """Reminders a worker claimed and did not finish within its lease (it died)."""
    return Q(state=Reminder.State.SENDING, lease_until__lt=now)


def claimable_q(now: dt.datetime) -> Q:
    """Reminders a worker may take now: pending and due, or claimed by a worker whose
    lease ran out. The claim and the sweep's dispatch both use it."""
    return pending_due_q(now) | lease_expired_q(now)


class ReminderQuerySet(models.QuerySet):
    def held_by_snooze(self, on: dt.date) -> ReminderQuerySet:
        return self.filter(held_by_snooze_q(on))

    def without_snoozed_follow_ups(self, on: dt.date) -> ReminderQuerySet:
        return self.exclude(held_by_snooze_q(on))

    def for_timeline(self, commitment) -> ReminderQuerySet:
        """What the commitment's timeline shows: every reminder except voided ones."""
        return (
            self.filter(commitment=commitment)
            .exclude(state=Reminder.State.VOID)
            .select_related("recipient")
            .order_by("-send_after", "-id")
        )


_REMINDER_STATES = ["pending", "sending", "sent", "failed", "void"]
_REMINDER_KINDS = [
    "before_due",
    "due",
    "overdue",
    "follow_up",
    "escalation",
    "daily_digest",
    "weekly_digest",
]


class Reminder(models.Model):
    """One email the tracker owes someone: an outbox row.

    The sweep (commitments.services.reminders) writes these; a send task claims one by id,
    sends it and marks it sent. The unique key (commitment, recipient, kind, slot) is what
    makes a second sweep, or two beats at once, create nothing new; `slot` is the calendar
    date the reminder belongs to (e.g. the due date minus 7 days), not the time it goes out.
    """

    class Kind(models.TextChoices):
        BEFORE_DUE = "before_due", _("Due soon")
        DUE = "due", _("Due today")
        OVERDUE = "overdue", _("Overdue")
        FOLLOW_UP = "follow_up", _("Follow-up requested")
        ESCALATION = "escalation", _("Escalation to manager")
        DAILY_DIGEST = "daily_digest", _("Daily digest")
        WEEKLY_DIGEST = "weekly_digest", _("Weekly manager digest")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        VOID = "void", _("Void")

    commitment = models.ForeignKey(
        Commitment, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    # No index of its own, nor any index led by the recipient over every row: the sweep
    # writes a day's reminders to a few dozen recipients at once (170,000 rows at a
    # million commitments), and an index whose keys repeat that much cost the INSERT
    # ~0.4 s (btree posting lists rewritten as the pages fill). The one lookup by
    # recipient that runs every day, a daily digest's held rows, has its partial index
    # (reminder_digest_held); deleting a user, an administrator's rare action, reads the
    # whole outbox once.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reminders",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    slot = models.DateField(_("slot"))
    # The commitment's due date (or follow-up date) this reminder was planned for: when it
    # changes, the reminder is void.
    about = models.DateField(_("about date"), null=True, blank=True)
    # Offset in days from `about` that produced the slot (-7, 0, 14, ...): shown in the email.
    step = models.SmallIntegerField(default=0)
    # Held for the recipient's daily digest instead of going out on its own.
    in_digest = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    send_after = models.DateTimeField(_("send after"))
    queued_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["-send_after", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["commitment", "recipient", "kind", "slot"],
                # Void rows are out of the key: undoing the change that voided a reminder
                # (a due date set back, an owner reassigned back) lets it be planned again.
                condition=Q(commitment__isnull=False) & ~Q(state="void"),
                name="reminder_unique_key",
            ),
            models.UniqueConstraint(
                fields=["recipient", "kind", "slot"],
                condition=Q(commitment__isnull=True),
                name="reminder_digest_unique_key",
            ),
            models.CheckConstraint(
                condition=Q(state__in=_REMINDER_STATES), name="reminder_state_known"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=_REMINDER_KINDS), name="reminder_kind_known"
            ),
        ]
        # Lookups by commitment use the unique key's index (commitment comes first).
        # Only pending rows waiting for something, and the few being sent or failed, are
        # indexed beyond the keys: a new row, pending, enters the partial indexes only
        # where the sweep or a digest will look for it (see the recipient field).
        indexes = [
            # The dispatch's claims whose lease ran out (state "sending"), and the
            # admin's failed reminders, latest first.
            models.Index(
                fields=["state", "send_after"],
                condition=models.Q(state__in=["sending", "failed"]),
                name="reminder_unsettled",
            ),
            # A daily digest's held reminders, by recipient (emails.py).
            models.Index(
                fields=["recipient", "send_after"],
                condition=models.Q(state="pending", in_digest=True),
                name="reminder_digest_held",
            ),
            # The daily digests' question each sweep ("whose held reminders are due?"):
            # a few rows, where (state, send_after) would walk every due reminder.
            models.Index(
                fields=["send_after"],
                condition=models.Q(state="pending", in_digest=True),
                name="reminder_digest_due",
            ),
            # The sweep's dispatch (services/reminders/sweep.py): rows never queued whose
            # time has come, and rows queued long ago. Only waiting rows are indexed, so
            # a sweep finds nothing to queue without walking the due rows it queued.
            models.Index(
                fields=["send_after"],
                condition=models.Q(state="pending", in_digest=False, queued_at__isnull=True),
                name="reminder_unqueued",
            ),
            models.Index(
                fields=["queued_at"],
                condition=models.Q(state="pending", in_digest=False, queued_at__isnull=False),
                name="reminder_queued",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient_id} for {self.slot} ({self.state})"


# The constraints above spell the values out (a Meta body cannot see Kind and State);
# this keeps the two lists honest.
assert set(_REMINDER_STATES) == set(Reminder.State.values)
assert set(_REMINDER_KINDS) == set(Reminder.Kind.values)


class Heartbeat(models.Model):
    """When a periodic job last finished, by name ("reminders-sweep"): what /readyz reads
    to tell that beat (or the cron alternative) is still running the sweep.

    A database row rather than a Redis key: it is written in the sweep's own transaction,
    so a sweep that rolled back does not count as run; it survives a Redis restart (no
    false alarm until the next sweep); and the readiness check reads it with the database
    check it makes anyway."""

    name = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class SweepMark(models.Model):
    """How far the reminder plan has looked: beat's sweep plans only what changed since.

    One row. `day` is the sweep's local date (the slot window follows from it),
    `change_seq` the change counter as read before planning (every commitment written
    through the services after that read has a larger `change_seq`), `planned_at` the
    `now` the plan used (follow-up times up to a day after it were considered), and
    `full_at` when the whole plan last ran. Beat's sweep plans only commitments changed
    since the mark and follow-up times that came into reach since it, while the day and
    the settings stay the same; a new day, a started worker, `manage.py send_reminders`
    and a mark older than TRACKER_REMINDER_FULL_SWEEP_SECONDS plan everything again.
    """

    name = models.CharField(max_length=64, primary_key=True)
    day = models.DateField()
    change_seq = models.BigIntegerField()
    planned_at = models.DateTimeField()
    full_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.day} after change {self.change_seq}"


# --- Integrations (issue 16): outgoing webhooks, calendar feeds, spreadsheet imports ------


class WebhookEvent(models.TextChoices):
    CREATED = "commitment.created", _("Created")
    STATUS_CHANGED = "commitment.status_changed", _("Status changed")
    EVIDENCE_ADDED = "commitment.evidence_added", _("Evidence added")
    NOTE_ADDED = "commitment.note_added", _("Note added")
    DUE_DATE_CHANGED = "commitment.due_date_changed", _("Due date changed")
    OVERDUE = "commitment.overdue", _("Overdue")
    ESCALATED = "commitment.escalated", _("Escalated")


# Sent only by "send test event"; never subscribed to.
WEBHOOK_TEST_EVENT = "webhook.test"


def validate_webhook_events(value) -> None:
    if (
        not isinstance(value, list)
        or not value
        or any(event not in WebhookEvent.values for event in value)
    ):
        raise ValidationError(
            _("Choose one or more of: %(names)s.") % {"names": ", ".join(WebhookEvent.values)}
        )


class WebhookEndpoint(models.Model):
    """Where a manager asked for events to be POSTed, signed with `secret`.

    The secret is stored as given (the signature needs it), never shown again by the API.
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(_("URL"), max_length=1000, validators=[validate_http_url])
    secret = models.CharField(_("secret"), max_length=200)
    events = models.JSONField(_("events"), validators=[validate_webhook_events])
    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sector = models.CharField(_("sector"), max_length=32, choices=Sector.choices, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    paused_reason = models.CharField(max_length=300, blank=True)
    # Failed attempts in a row (any delivery); a success sets it back to 0.
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["active", "paused"]), name="webhook_endpoint_state_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.state})"


class WebhookDelivery(models.Model):
    """The outbox: one row per (event, endpoint), written in the transaction of the change.

    `body` is the exact JSON that is POSTed (and signed), fixed when the event happened,
    so a retry or a redelivery sends the same bytes. Rows of one commitment and endpoint
    are delivered in id order (services.webhooks.webhook_claim).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    commitment = models.ForeignKey(
        Commitment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=40)
    event_id = models.UUIDField()
    delivery_id = models.UUIDField(unique=True)
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["pending", "sending", "delivered", "failed"]),
                name="webhook_delivery_state_known",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "commitment", "state"], name="webhook_delivery_order"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.state})"


class CalendarFeed(models.Model):
    """An iCalendar feed behind a secret URL. Only the token's SHA-256 is stored; the
    token itself is an HMAC of the row and its `salt` under SECRET_KEY, so the owner can
    be shown their URL again, and a new salt revokes the old URL."""

    class Kind(models.TextChoices):
        USER = "user", _("My due dates and follow-ups")
        VISIT = "visit", _("A visit")
        FILTER = "filter", _("A saved filter")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # A saved filter: the list page's query string (?status=…&sector=…).
    query = models.CharField(max_length=1000, blank=True)
    name = models.CharField(max_length=200, blank=True)
    salt = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["user", "visit", "filter"]), name="calendar_feed_kind_known"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(kind="user", revoked_at__isnull=True),
                name="calendar_feed_one_personal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} feed of {self.user_id}"


class SpreadsheetImport(models.Model):
    """An uploaded sheet between its preview and its confirmation: the parsed rows (not
    the file) and what the preview found."""

    class State(models.TextChoices):
        PREVIEW = "preview", _("Preview")
        APPLIED = "applied", _("Applied")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    rows = models.JSONField(default=list)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PREVIEW)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.filename} ({self.state})"
