"""Root URLconf. Every page needs a login (LoginRequiredMiddleware), except sign-in,
password reset and what is marked login_not_required."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from accounts import views as accounts_views
from accounts.views import set_language
from commitments.api.errors import not_found
from commitments.api.views import DocsView, SchemaView
from commitments.health_views import healthz, readyz

urlpatterns = [
    # Probes: no login, exempt from the HTTPS redirect (settings.SECURE_REDIRECT_EXEMPT).
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password change (signed in) and reset by email (not signed in): Django's views,
    # with the templates in templates/registration/.
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/", include("accounts.urls")),
    # The time zone form of /profile/ (the page itself: commitments.integration_views).
    path("profile/time-zone/", accounts_views.profile, name="profile-time-zone"),
    path("admin/", admin.site.urls),
    # Issue 15: the language switcher posts here (Django's set_language, plus the profile).
    path("i18n/setlang/", set_language, name="set_language"),
    # --- REST API: the data needs a token. The schema and its docs need a sign-in
    # (session or token) unless API_DOCS_PUBLIC=1.
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves its setup script from its own URL (?script): no inline
        # script, so the page runs under the Content-Security-Policy.
        DocsView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path("api/v1/", include("commitments.api.urls")),
    re_path(r"^api/", not_found),  # every /api/ path answers in the API's error shape
    path("", include("commitments.urls")),
]
