"""Admin for every model. Status moves and commitment edits go through the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from . import services
from .exceptions import TransitionNotAllowed, VersionConflict
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
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "kind")
    list_filter = ("kind", "country")
    search_fields = ("name", "aliases")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
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


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
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
    readonly_fields = ("status", "version", "created_at", "updated_at", "status_changed_at")
    list_select_related = ("owner",)
    inlines = [StatusChangeInline, EvidenceInline, NoteInline]
    actions = ["move_to_in_progress", "move_to_agreed"]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is None:
            # New commitments are numbered by the service (<visit code>-NNN).
            fields.remove("reference")
        return fields

    def save_model(self, request, obj, form, change):
        # Creation and edits go through the services so history, version and the audit
        # trail stay right. Errors come back as form errors (see save_form below).
        data = {
            name: form.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in form.cleaned_data
        }
        if change:
            saved, _changed = services.commitment_update(
                commitment_id=obj.pk, actor=request.user, channel=Channel.ADMIN, data=data
            )
        else:
            saved = services.commitment_create(
                actor=request.user,
                channel=Channel.ADMIN,
                data=data,
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

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


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ("title", "commitment", "kind", "added_by", "added_at")
    list_filter = ("kind",)
    search_fields = ("title", "url", "commitment__reference")
    list_select_related = ("commitment", "added_by")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("created_at", "commitment", "kind", "author")
    list_filter = ("kind",)
    search_fields = ("text", "commitment__reference")
    list_select_related = ("commitment", "author")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "time_zone", "morning_hour", "daily_digest", "line_manager")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user", "line_manager")


# --- REST API tokens (issue 5) -------------------------------------------------------------


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
