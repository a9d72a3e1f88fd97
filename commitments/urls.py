"""Browser pages of the tracker. The page URLs are a contract (links in emails and
briefings point at them): /, /commitments/, /commitments/overdue/, /commitments/<id>/,
/visits/<id>/."""

from django.urls import path

from . import integration_views as integrations
from . import views

app_name = "commitments"

# (route, view, name): one row a page.
ROUTES = [
    ("", views.dashboard, "dashboard"),
    ("commitments/", views.commitment_list, "commitment-list"),
    ("commitments/overdue/", views.overdue_list, "overdue-list"),
    ("commitments/import/", integrations.commitment_import, "commitment-import"),
    ("commitments/<int:pk>/", views.commitment_detail, "commitment-detail"),
    ("commitments/<int:pk>/status/", views.commitment_transition, "commitment-transition"),
    ("commitments/<int:pk>/undo/", views.commitment_undo, "commitment-undo"),
    ("commitments/<int:pk>/evidence/", views.evidence_add, "evidence-add"),
    ("commitments/<int:pk>/notes/", views.note_add, "note-add"),
    ("commitments/<int:pk>/notes/<int:note_pk>/retract/", views.note_retract, "note-retract"),
    ("commitments/<int:pk>/snooze/", views.commitment_snooze, "commitment-snooze"),
    ("commitments/<int:pk>/reassign/", views.commitment_reassign, "commitment-reassign"),
    ("visits/<int:pk>/", views.visit_detail, "visit-detail"),
    ("visits/<int:pk>/brief/", views.visit_brief, "visit-brief"),
    ("visits/<int:pk>/brief.pdf", views.visit_brief_pdf, "visit-brief-pdf"),
    ("search/", views.search, "search"),
    ("profile/", integrations.profile, "profile"),
    ("profile/preferences/", integrations.profile_preferences, "profile-preferences"),
    ("profile/calendars/", integrations.calendar_feed_add, "calendar-feed-add"),
    (
        "profile/calendars/<int:pk>/revoke/",
        integrations.calendar_feed_revoke,
        "calendar-feed-revoke",
    ),
    ("calendar/<str:token>.ics", integrations.calendar_feed, "calendar-feed"),
    ("webhooks/", integrations.webhook_list, "webhook-list"),
    ("webhooks/<int:pk>/", integrations.webhook_detail, "webhook-detail"),
    ("webhooks/<int:pk>/<slug:action>/", integrations.webhook_action, "webhook-action"),
]

urlpatterns = [path(route, view, name=name) for route, view, name in ROUTES]
