"""Browser forms. They check the shape of what was typed; every rule about what may
change lives in commitments.services, whose errors views put back on these fields."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import NOTE_MAX_LENGTH, SHORT_NOTE_MAX_LENGTH, Commitment, Evidence, Role, Status
from .permissions import can_reopen
from .services import EvidenceInput

# Sizes from the model fields (issue 11: limits defined once); the services check them too.
EVIDENCE_URL_MAX = Evidence._meta.get_field("url").max_length
EVIDENCE_TITLE_MAX = Evidence._meta.get_field("title").max_length


class _VersionedForm(forms.Form):
    # The commitment version the page was built from: the service refuses the write
    # when someone else changed the commitment since.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class TransitionForm(_VersionedForm):
    to_status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when blocking, cancelling or reopening."),
    )
    evidence_url = forms.CharField(
        label=_("Evidence link"),
        required=False,
        max_length=EVIDENCE_URL_MAX,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text=_("Needed to mark it fulfilled, unless evidence is already on record."),
    )
    evidence_title = forms.CharField(
        label=_("Evidence title"), required=False, max_length=EVIDENCE_TITLE_MAX
    )
    due_date = forms.DateField(
        label=_("New due date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("When reopening, if it has no due date yet."),
    )
    evidence_kind = forms.ChoiceField(
        label=_("Evidence kind"),
        choices=Evidence.Kind.choices,
        initial=Evidence.Kind.NEWS_REPORT,
        required=False,
    )

    def __init__(self, *args, commitment: Commitment, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = move_choices(commitment, user)
        self.fields["version"].initial = commitment.version

    def clean(self):
        data = super().clean()
        if data.get("evidence_url") and not data.get("evidence_title"):
            self.add_error("evidence_title", _("Give the evidence a title."))
        return data

    def evidence(self) -> list[EvidenceInput]:
        data = self.cleaned_data
        if not data.get("evidence_url"):
            return []
        return [
            EvidenceInput(
                url=data["evidence_url"],
                title=data["evidence_title"],
                kind=data.get("evidence_kind") or Evidence.Kind.NEWS_REPORT,
            )
        ]


def move_choices(commitment: Commitment, user) -> list[tuple[str, str]]:
    """The moves to offer: the move table's, and reopening only to those who may reopen."""
    if not commitment.is_open and not can_reopen(user):
        return []
    labels = dict(Status.choices)
    return [(value, labels[value]) for value in commitment.allowed_moves()]


class EvidenceForm(forms.Form):
    url = forms.CharField(
        label=_("Link"),
        max_length=EVIDENCE_URL_MAX,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    title = forms.CharField(label=_("Title"), max_length=EVIDENCE_TITLE_MAX)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=Evidence.Kind.choices, initial=Evidence.Kind.NEWS_REPORT
    )
    published_on = forms.DateField(
        label=_("Published on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def item(self) -> EvidenceInput:
        data = self.cleaned_data
        return EvidenceInput(
            url=data["url"],
            title=data["title"],
            kind=data["kind"],
            published_on=data.get("published_on"),
        )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )


class RetractForm(forms.Form):
    reason = forms.CharField(label=_("Why retract it?"), max_length=500)


class SnoozeForm(_VersionedForm):
    until = forms.DateField(
        label=_("Snooze follow-up until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=SHORT_NOTE_MAX_LENGTH)

    def __init__(self, *args, commitment: Commitment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = commitment.version


class ReassignForm(_VersionedForm):
    owner = forms.ModelChoiceField(label=_("New owner"), queryset=get_user_model().objects.none())
    note = forms.CharField(label=_("Note"), required=False, max_length=SHORT_NOTE_MAX_LENGTH)

    def __init__(self, *args, commitment: Commitment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = commitment.version
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=[Role.DESK_OFFICER, Role.MANAGER])
            .distinct()
            .order_by("username")
        )
        self.fields["owner"].initial = commitment.owner_id


# Service errors name the service's arguments; these are the form fields that show them.
SERVICE_FIELD = {
    "to": "to_status",
    "evidence": "evidence_url",
    "evidence[0]": "evidence_url",
    "commitment": None,
}


def add_service_errors(
    form: forms.Form, error: ValidationError, fields: dict[str, str] | None = None
) -> None:
    """Put a service's ValidationError next to the fields it concerns."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    names = {**SERVICE_FIELD, **(fields or {})}
    for name, errors in error.message_dict.items():
        field = names.get(name, name)
        if field not in form.fields:
            field = None
        for message in errors:
            form.add_error(field, message)


class PreferencesForm(forms.Form):
    """Language, calendar and digits on /profile/ (issue 15). The names are the contract:
    ``calendar`` takes ``gregorian`` or ``solar_hijri``."""

    language = forms.ChoiceField(label=_("Language"), required=False)
    calendar = forms.ChoiceField(label=_("Calendar"), required=False)
    eastern_digits = forms.BooleanField(label=_("Eastern Arabic digits (۱۲۳)"), required=False)

    def __init__(self, *args, **kwargs):
        from django.conf import settings

        from .models import CalendarSystem

        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser asks")), *list(settings.LANGUAGES)]
        self.fields["calendar"].choices = [
            ("", _("The usual one for my language")),
            *list(CalendarSystem.choices),
        ]
