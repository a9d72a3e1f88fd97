"""Browser pages of the tracker. The page URLs are a contract (links in emails and
briefings point at them): /, /commitments/, /commitments/overdue/, /commitments/<id>/,
/visits/<id>/."""

from django.urls import path

from . import integration_views, views

app_name = "commitments"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("commitments/", views.commitment_list, name="commitment-list"),
    path("commitments/overdue/", views.overdue_list, name="overdue-list"),
    path("commitments/<int:pk>/", views.commitment_detail, name="commitment-detail"),
    path(
        "commitments/<int:pk>/status/",
        views.commitment_transition,
        name="commitment-transition",
    ),
    path("commitments/<int:pk>/undo/", views.commitment_undo, name="commitment-undo"),
    path("commitments/<int:pk>/evidence/", views.evidence_add, name="evidence-add"),
    path("commitments/<int:pk>/notes/", views.note_add, name="note-add"),
    path(
        "commitments/<int:pk>/notes/<int:note_pk>/retract/",
        views.note_retract,
        name="note-retract",
    ),
    path("commitments/<int:pk>/snooze/", views.commitment_snooze, name="commitment-snooze"),
    path("commitments/<int:pk>/reassign/", views.commitment_reassign, name="commitment-reassign"),
    path("visits/<int:pk>/", views.visit_detail, name="visit-detail"),
    path("visits/<int:pk>/brief/", views.visit_brief, name="visit-brief"),
    path("visits/<int:pk>/brief.pdf", views.visit_brief_pdf, name="visit-brief-pdf"),
    path("search/", views.search, name="search"),
    # Integrations (issue 16)
    path("commitments/import/", integration_views.commitment_import, name="commitment-import"),
    path("profile/", integration_views.profile, name="profile"),
    path(
        "profile/preferences/",
        integration_views.profile_preferences,
        name="profile-preferences",
    ),
    path("profile/calendars/", integration_views.calendar_feed_add, name="calendar-feed-add"),
    path(
        "profile/calendars/<int:pk>/revoke/",
        integration_views.calendar_feed_revoke,
        name="calendar-feed-revoke",
    ),
    path("calendar/<str:token>.ics", integration_views.calendar_feed, name="calendar-feed"),
    path("webhooks/", integration_views.webhook_list, name="webhook-list"),
    path("webhooks/<int:pk>/", integration_views.webhook_detail, name="webhook-detail"),
    path(
        "webhooks/<int:pk>/<slug:action>/",
        integration_views.webhook_action,
        name="webhook-action",
    ),
]
