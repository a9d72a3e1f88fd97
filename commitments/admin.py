"""Admin for every model. Every write goes through the services: commitment edits,
watchers and status moves; history (status changes, evidence, notes, audit) is read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from . import services
from .exceptions import TransitionNotAllowed, VersionConflict
from .forms import add_service_errors
from .models import (
    ApiToken,
    AuditEvent,
    Channel,
    Commitment,
    ContextFact,
    Evidence,
    Meeting,
    Note,
    Organisation,
    Person,
    Profile,
    Reminder,
    Source,
    Status,
    StatusChange,
    Visit,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = ("at", "from_status", "to_status", "actor", "channel", "note")
    readonly_fields = fields
    ordering = ("-at", "-id")


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ("added_at", "title", "url", "kind", "added_by")
    readonly_fields = fields


class NoteInline(ReadOnlyInline):
    model = Note
    fields = ("created_at", "kind", "author", "text")
    readonly_fields = fields


@admin.register(Organisation)
class OrganisationAdmin(TranslationAdmin):
    list_display = ("name", "country", "kind")
    list_filter = ("kind", "country")
    search_fields = ("name", "aliases")


@admin.register(Person)
class PersonAdmin(TranslationAdmin):
    list_display = ("name", "position", "organisation")
    search_fields = ("name", "aliases", "position")
    autocomplete_fields = ("organisation",)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "author", "publisher", "published_on", "language")
    search_fields = ("title", "publisher", "author", "key")
    list_filter = ("kind", "language")


class MeetingInline(admin.StackedInline):
    model = Meeting
    extra = 0
    filter_horizontal = ("participants",)


class ContextFactInline(admin.StackedInline):
    model = ContextFact
    extra = 0


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "start_date", "end_date", "place")
    search_fields = ("title", "place", "summary")
    list_filter = ("host_country", "visiting_country")
    filter_horizontal = ("sources",)
    inlines = [MeetingInline, ContextFactInline]


class CommitmentAdminForm(forms.ModelForm):
    """The admin's commitment form. Its last validation step is the write itself,
    through the services: whatever a service refuses (an inactive owner, a value out of
    bounds, a stale version) comes back as a form error on the page, never a 500, and no
    field the form offers is dropped. The admin runs the whole request in one
    transaction, so a refusal leaves nothing behind.

    CommitmentAdmin.get_form sets `request` on the class it returns.
    """

    request = None
    saved: Commitment | None = None

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or self._errors:
            return
        try:
            with transaction.atomic():
                self.saved = self._write()
        except ValidationError as exc:
            add_service_errors(self, exc)
        except PermissionDenied as exc:
            self.add_error(None, str(exc))
        except VersionConflict:
            self.add_error(
                None, _("Someone else changed this commitment meanwhile; reload and try again.")
            )

    def _write(self) -> Commitment:
        actor = self.request.user
        data = {
            name: self.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in self.cleaned_data
        }
        watchers = self.cleaned_data.get("watchers")
        if self.instance.pk is None:
            return services.commitment_create(
                actor=actor, channel=Channel.ADMIN, data=data, watchers=watchers or ()
            )
        saved, _changed = services.commitment_update(
            commitment_id=self.instance.pk, actor=actor, channel=Channel.ADMIN, data=data
        )
        if watchers is not None:
            saved, _changed = services.commitment_watchers_set(
                commitment_id=saved.pk, actor=actor, channel=Channel.ADMIN, watchers=watchers
            )
        return saved


@admin.register(Commitment)
class CommitmentAdmin(TranslationAdmin):
    # TranslationAdmin (django-modeltranslation) offers the translation of title and
    # description in each language (translated_title_ru, ...) and hides their empty
    # base fields; the form saves them through the services like every other field.
    form = CommitmentAdminForm
    list_display = ("reference", "title", "status", "sector", "owner", "due_date", "version")
    list_filter = ("status", "sector", "nature", "visit")
    search_fields = ("reference", "title", "description", "external_id")
    autocomplete_fields = (
        "pledged_by",
        "co_pledgers",
        "beneficiary",
        "parent",
        "owner",
        "watchers",
    )
    # Read-only here, each for its reason: status moves by the actions (the move table);
    # the reference is given by the service and never changes; a snooze needs a reason
    # and is made on the commitment's page; the rest are kept by the services.
    readonly_fields = (
        "reference",
        "status",
        "snoozed_until",
        "version",
        "created_at",
        "updated_at",
        "status_changed_at",
    )
    list_select_related = ("owner",)
    inlines = [StatusChangeInline, EvidenceInline, NoteInline]
    actions = ["move_to_in_progress", "move_to_agreed"]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is None:
            # New commitments are numbered by the service (<visit code>-NNN).
            fields.remove("reference")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def save_model(self, request, obj, form, change):
        # The form wrote it through the services while validating (CommitmentAdminForm).
        obj.pk = form.saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # Watchers were saved by the service with the rest: no form.save_m2m(), which
        # would set them behind the services' back. The inlines are read-only (they
        # save nothing, but the admin's change message reads what they report).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def _move(self, request, queryset, to_status):
        moved = 0
        for commitment in queryset:
            try:
                services.commitment_transition(
                    commitment_id=commitment.pk,
                    to_status=to_status,
                    actor=request.user,
                    channel=Channel.ADMIN,
                )
                moved += 1
            except (TransitionNotAllowed, ValidationError, PermissionDenied, VersionConflict) as e:
                self.message_user(request, f"{commitment.reference}: {e}", messages.WARNING)
        self.message_user(request, _("%(n)d moved.") % {"n": moved})

    @admin.action(description=_("Move to in progress"))
    def move_to_in_progress(self, request, queryset):
        self._move(request, queryset, Status.IN_PROGRESS)

    @admin.action(description=_("Move to agreed"))
    def move_to_agreed(self, request, queryset):
        self._move(request, queryset, Status.AGREED)


class AppendOnlyAdmin(admin.ModelAdmin):
    """History, shown read-only: no add, no change, no delete (single or bulk: without
    delete permission the admin offers no "delete selected" action)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(AppendOnlyAdmin):
    list_display = ("at", "commitment", "from_status", "to_status", "actor", "channel")
    list_filter = ("to_status", "channel")
    search_fields = ("commitment__reference", "note")
    list_select_related = ("commitment", "actor")


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin):
    list_display = ("at", "action", "commitment", "actor", "channel")
    list_filter = ("action", "channel")
    search_fields = ("commitment__reference",)
    list_select_related = ("commitment", "actor")


# Evidence and notes are history: added on the commitment's page or by the API (through
# the services), never changed or deleted; a mistaken note is retracted there.
@admin.register(Evidence)
class EvidenceAdmin(AppendOnlyAdmin):
    list_display = ("title", "commitment", "kind", "added_by", "added_at")
    list_filter = ("kind",)
    search_fields = ("title", "url", "commitment__reference")
    list_select_related = ("commitment", "added_by")


@admin.register(Note)
class NoteAdmin(AppendOnlyAdmin):
    list_display = ("created_at", "commitment", "kind", "author", "retracts")
    list_filter = ("kind",)
    search_fields = ("text", "commitment__reference")
    list_select_related = ("commitment", "author", "retracts")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "time_zone", "morning_hour", "daily_digest", "line_manager")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user", "line_manager")


# --- REST API tokens -------------------------------------------------------------------


class ApiTokenForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, label=_("Expires in (days)"), help_text=_("Empty: never.")
    )

    class Meta:
        model = ApiToken
        fields = ("name", "user", "scope")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by services.api_token_issue; the secret is shown once, in the
    message after saving, and only its hash is kept."""

    list_display = ("name", "user", "scope", "prefix", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("scope",)
    search_fields = ("name", "user__username", "prefix")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "user", "scope", "expires_in_days")
        return (
            "name",
            "user",
            "scope",
            "prefix",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row records what the integration did

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, raw = services.api_token_issue(
            name=form.cleaned_data["name"],
            user=form.cleaned_data["user"],
            scope=form.cleaned_data["scope"],
            expires_in_days=form.cleaned_data.get("expires_in_days"),
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            _("Token for %(name)s: %(raw)s. Copy it now: it will not be shown again.")
            % {"name": token.name, "raw": raw},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected tokens"))
    def revoke(self, request, queryset):
        revoked = sum(
            services.api_token_revoke(token_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, _("%(n)d revoked.") % {"n": revoked})


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """The outbox, read-only: failed reminders are found with the state filter."""

    list_display = (
        "id",
        "kind",
        "state",
        "recipient",
        "commitment",
        "slot",
        "send_after",
        "attempts",
        "sent_at",
        "last_error",
    )
    list_filter = ("state", "kind")
    search_fields = (
        "commitment__reference",
        "recipient__username",
        "recipient__email",
        "message_id",
    )
    list_select_related = ("recipient", "commitment")
    date_hierarchy = "send_after"
    readonly_fields = [f.name for f in Reminder._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
