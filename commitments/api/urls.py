"""Routes under /api/v1/ (included from tracker.urls)."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from . import views
from .errors import not_found

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("commitments", views.CommitmentViewSet, basename="commitment")
router.register("visits", views.VisitViewSet, basename="visit")
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("sources", views.SourceViewSet, basename="source")
router.register("webhooks", views.WebhookEndpointViewSet, basename="webhook")

app_name = "api"
urlpatterns = [
    path("me/calendar/", views.MyCalendarView.as_view(), name="me-calendar"),
    path("sync/commitments/", views.CommitmentSyncView.as_view(), name="sync-commitments"),
    *router.urls,
    # Anything else under /api/v1/, newlines included (".*" alone stops at one), is a
    # JSON 404, never the browser's HTML page.
    re_path(r"^[\s\S]*$", not_found),
]
