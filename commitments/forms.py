"""Browser forms. They check the shape of what was typed; every rule about what may
change lives in commitments.services, whose errors views put back on these fields."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .formats import CalendarDateField, PersonChoiceField, person_name
from .models import (
    NOTE_MAX_LENGTH,
    NOTE_REQUIRED,
    SHORT_NOTE_MAX_LENGTH,
    TERMINAL_STATUSES,
    Commitment,
    Evidence,
    Role,
    Status,
)
from .permissions import can_reopen
from .services import EvidenceInput

# Sizes from the model fields (limits defined once); the services check them too.
EVIDENCE_URL_MAX = Evidence._meta.get_field("url").max_length
EVIDENCE_TITLE_MAX = Evidence._meta.get_field("title").max_length


def day_field(label: str, *, required: bool = True) -> forms.DateField:
    """A date typed as day/month/year in the reader's calendar (or ISO), the accepted
    form said next to it."""
    return CalendarDateField(label=label, required=required)


class PanelForm(forms.Form):
    """A form on the commitment's page that one service call writes: its cleaned fields
    named in `service_fields` are the service's keyword arguments of the same name."""

    service_fields: tuple[str, ...] = ()

    def service_args(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.service_fields}


class _VersionedForm(PanelForm):
    # The commitment version the page was built from: the service refuses the write
    # when someone else changed the commitment since.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def service_args(self) -> dict:
        return {**super().service_args(), "expected_version": self.cleaned_data["version"]}


class TransitionForm(_VersionedForm):
    service_fields = ("to_status", "note", "due_date")

    to_status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(
        label=_("Reason or note"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when blocking, cancelling or reopening."),
    )
    # Cancelling, blocking and reopening are hard to take back: a deliberate tick, so no
    # single keystroke on the status list can make them.
    confirm = forms.BooleanField(
        label=_("Yes, I mean this move"),
        required=False,
        help_text=_("Needed when blocking, cancelling or reopening."),
    )
    # Only when reopening (the service says when it is needed: no due date yet).
    due_date = day_field(_("New due date"), required=False)
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
    evidence_kind = forms.ChoiceField(
        label=_("Evidence kind"),
        choices=Evidence.Kind.choices,
        initial=Evidence.Kind.NEWS_REPORT,
        required=False,
    )

    def __init__(self, *args, commitment: Commitment, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.commitment = commitment
        moves = move_choices(commitment, user)
        # An empty first choice: nothing is preselected, so a move is always chosen.
        self.fields["to_status"].choices = [("", _("Choose a move…")), *moves] if moves else []
        self.fields["version"].initial = commitment.version
        if commitment.is_open:
            del self.fields["due_date"]
        else:
            self.fields["due_date"].help_text = _(
                "Day/month/year. Needed when reopening if it has no due date yet."
            )

    def clean(self):
        data = super().clean()
        if data.get("evidence_url") and not data.get("evidence_title"):
            self.add_error("evidence_title", _("Give the evidence a title."))
        to_status = data.get("to_status")
        if to_status and is_destructive(self.commitment, to_status):
            if not data.get("confirm"):
                self.add_error("confirm", _("Tick the box to confirm this move."))
            if not (data.get("note") or "").strip():
                self.add_error("note", _("Say why in a note."))
        return data

    def service_args(self) -> dict:
        return {**super().service_args(), "evidence": self.evidence()}

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


def is_destructive(commitment: Commitment, to_status: str) -> bool:
    """Moves that ask for a confirmation and a reason: cancelling, blocking, reopening."""
    return to_status in NOTE_REQUIRED or commitment.status in TERMINAL_STATUSES


def move_choices(commitment: Commitment, user) -> list[tuple[str, str]]:
    """The moves to offer, in workflow order (the order of Status, not the alphabet), and
    reopening only to those who may reopen."""
    if not commitment.is_open and not can_reopen(user):
        return []
    allowed = set(commitment.allowed_moves())
    return [(value, label) for value, label in Status.choices if value in allowed]


class EvidenceForm(PanelForm):
    url = forms.CharField(
        label=_("Link"),
        max_length=EVIDENCE_URL_MAX,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    title = forms.CharField(label=_("Title"), max_length=EVIDENCE_TITLE_MAX)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=Evidence.Kind.choices, initial=Evidence.Kind.NEWS_REPORT
    )
    published_on = day_field(_("Published on"), required=False)

    def service_args(self) -> dict:
        return {"item": self.item()}

    def item(self) -> EvidenceInput:
        data = self.cleaned_data
        return EvidenceInput(
            url=data["url"],
            title=data["title"],
            kind=data["kind"],
            published_on=data.get("published_on"),
        )


class NoteForm(PanelForm):
    service_fields = ("text",)

    text = forms.CharField(
        label=_("Note"), max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )


class RetractForm(forms.Form):
    reason = forms.CharField(label=_("Why retract it?"), max_length=500)


class SnoozeForm(_VersionedForm):
    service_fields = ("until", "reason")

    until = day_field(_("Snooze follow-up until"))
    reason = forms.CharField(label=_("Reason"), max_length=SHORT_NOTE_MAX_LENGTH)

    def __init__(self, *args, commitment: Commitment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = commitment.version


class ReassignForm(_VersionedForm):
    service_fields = ("owner", "note")

    # "—" for no choice, as the other forms ("---------" is Django's, not ours).
    owner = PersonChoiceField(
        label=_("New owner"), queryset=get_user_model().objects.none(), empty_label="—"
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=SHORT_NOTE_MAX_LENGTH)

    def __init__(self, *args, commitment: Commitment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = commitment.version
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=[Role.DESK_OFFICER, Role.MANAGER])
            .distinct()
            .order_by("first_name", "last_name", "username")
        )
        self.fields["owner"].initial = commitment.owner_id
        self._current_owner_id = commitment.owner_id

    def clean_owner(self):
        # The service takes the current owner as "nothing to do" (a sync may repeat
        # itself); a person choosing them should hear so, not read "Reassigned to ...".
        owner = self.cleaned_data["owner"]
        if owner.pk == self._current_owner_id:
            raise ValidationError(
                _("%(name)s already owns this commitment."), params={"name": person_name(owner)}
            )
        return owner


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
