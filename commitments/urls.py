"""Browser pages of the tracker."""

from django.urls import path

from . import views

app_name = "commitments"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("commitments/<int:pk>/", views.commitment_detail, name="commitment-detail"),
    path("visits/<int:pk>/", views.visit_detail, name="visit-detail"),
]
