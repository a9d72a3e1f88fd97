"""Settings for the commitment tracker.

Every value that differs between machines comes from the environment through one
reader (django-environ). Each variable has a default that lets `make run` and
`make test` work on a fresh machine with nothing installed but Python; the README
lists them all. Stored times are UTC (USE_TZ); TIME_ZONE is the tracker's own zone,
the one in which "today" and therefore "overdue" are decided.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration

from tracker.embedded_redis import celery_broker_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    # Only good for a laptop; `check --deploy` flags it, production must set its own.
    default="django-insecure-local-development-key-change-me-0123456789",
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Before the admin, as modeltranslation asks (it patches the admin's forms).
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "django_countries",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_guid",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "commitments",
    "accounts",
]

MIDDLEWARE = [
    # First, so every response (redirects, 403, 404, 500, health probes) carries X-Request-ID
    # and every log line made while handling the request names it.
    "tracker.request_id.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # After the session and the user: a signed-in user's saved language wins over the
    # cookie and Accept-Language (which LocaleMiddleware applied for everyone else).
    "accounts.middleware.ProfileLanguageMiddleware",
    # Second factor: django-otp tells whether the session is verified; ours sends a user
    # who has a device to the code page until it is.
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    # Times shown in the viewer's own zone (Profile.time_zone).
    "accounts.middleware.user_time_zone_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------
# Default: a SQLite file under var/. SQLite runs every write transaction as IMMEDIATE so
# that the web process and the Celery worker queue for the write lock instead of failing
# with "database is locked" halfway through a transaction.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# django-axes checks first: a locked-out username+IP is refused before any password is
# checked (so a burst of guesses learns nothing once the limit is reached).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout after this many failed sign-ins for one username from one IP address, for
# AXES_COOLOFF_TIME hours (0: until a manager or admin deletes the attempt in the admin,
# "Access attempts"). The IP is REMOTE_ADDR: the address that connected.
AXES_FAILURE_LIMIT = env.int("TRACKER_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("TRACKER_LOGIN_LOCKOUT_HOURS", default=1.0) or None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The log names who tried from where (axes masks both by default); passwords are never
# logged or stored.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# Optional second factor for managers and administrators (accounts/, django-otp): the
# name authenticator apps show for the tracker's codes.
OTP_TOTP_ISSUER = env.str("TRACKER_OTP_ISSUER", default="Commitment tracker")
# A reset link is good once (the token depends on the password hash and last login)
# and for this many seconds.
PASSWORD_RESET_TIMEOUT = env.int("TRACKER_PASSWORD_RESET_SECONDS", default=3 * 3600)

# --- Internationalisation --------------------------------------------------------------
# Issue 15: the five interface languages. Each is named in its own language, so a reader
# finds theirs whatever the page is in; "fa" is Dari as spoken in Afghanistan.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("ru", "Русский"),
    ("kk", "Қазақша"),
    ("fa", "دری"),
    ("ps", "پښتو"),
]
# Django's own list lacks Pashto, so the right-to-left ones are named here.
LANGUAGES_BIDI = ["fa", "ps"]
# Languages whose users read dates in the Solar Hijri calendar unless they choose otherwise.
SOLAR_HIJRI_LANGUAGES = ("fa", "ps")
LOCALE_PATHS = [BASE_DIR / "locale"]
# Thousands grouping for kk, fa and ps, which Django ships without (tracker/formats/).
FORMAT_MODULE_PATH = ["tracker.formats"]
# Translations of commitments' titles and descriptions and of organisation and person
# names (commitments/translation.py, docs/i18n.md): one column per interface language.
# No fallback between languages: a missing translation shows the original instead.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = tuple(code for code, _name in LANGUAGES)
MODELTRANSLATION_FALLBACK_LANGUAGES = {"default": ()}
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
# The one date format people read (pages, emails); see commitments/formats.py.
TRACKER_DATE_FORMAT = "j M Y"

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the finders so a fresh checkout (and the browser tests) need no
# collectstatic step; production may run collectstatic and set this to 0.
WHITENOISE_USE_FINDERS = env.bool("DJANGO_STATIC_FROM_FINDERS", default=True)

# --- Security --------------------------------------------------------------------------
# Secure by default: with DEBUG off everything `check --deploy` asks for is on.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preloading is a promise to browsers that is slow to take back (removal from the lists
# takes months): off unless the deployment opts in, knowing every subdomain is HTTPS.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # check --deploy asks for preload (W021); leaving it off is the decision above.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# X-Forwarded-Proto is believed only when a proxy we run sets it (and strips any a client
# sent): otherwise a client could claim HTTPS over plain HTTP. gunicorn.conf.py takes the
# proxy's address from FORWARDED_ALLOW_IPS.
if env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Behind that proxy every client arrives from its address: the sign-in lockout keys
    # on the client address the proxy appends to X-Forwarded-For instead.
    AXES_IPWARE_PROXY_COUNT = 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
# Load balancers probe over plain HTTP inside the network; a redirect would fail the probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp): scripts, styles, fonts and
# images from this site only; no inline script or style anywhere (templates load
# static/js/tracker.js and static/css/tracker.css; the Swagger UI page loads its setup
# script from its own URL). data: images are for Swagger UI's icons and the empty favicon.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
# Browser features the tracker never uses are switched off for its pages
# (django-permissions-policy).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}
# Largest request body Django reads into memory; bigger API bodies get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_MAX_BODY_BYTES", default=5 * 1024 * 1024)

# --- Email -----------------------------------------------------------------------------
# EMAIL_URL: smtp://user:pass@host:port, smtp+tls://..., consolemail://, filemail:///path
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
if EMAIL_BACKEND.endswith("filebased.EmailBackend"):  # noqa: F821 (set by the line above)
    # django-environ drops the leading "/" of filemail:///absolute/path, which would put
    # the mail under the process's working directory instead.
    _mail = urlsplit(env.str("EMAIL_URL"))
    EMAIL_FILE_PATH = (_mail.netloc + _mail.path) or str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Commitment tracker <tracker@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute base of links in emails (reminders link to the commitment).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Redis and Celery --------------------------------------------------------------------
# REDIS_URL in redis-py form (redis://host:port/db or unix:///path/redis.sock). Unset, it
# points at the socket of the embedded Redis that `make run` starts (tracker.embedded_redis).
REDIS_URL = env.str("REDIS_URL", default=f"unix://{VAR_DIR / 'redis.sock'}")
# Every Redis client (the "api" cache behind the throttles, the Celery broker) gives up
# after these many seconds, so a Redis that hangs without closing its connections (paused,
# swapping, a dead network path) costs a request a bounded delay instead of minutes.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=1.0)
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=1.0)


CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it ran, and is redelivered if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
# Redis redelivers an unacknowledged task after this many seconds; no countdown/ETA in
# this project may exceed it (see commitments.tasks).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # The worker reads BRPOP replies from its event loop when the socket is readable, so a
    # short read timeout does not cut its long polls; it bounds publishes and commands.
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    # A publish whose connection is gone tries to connect once: kombu's default retries
    # after a 2 s sleep (4 s per call against a paused Redis). The worker's own consumer
    # connection keeps its retries (CELERY_BROKER_CONNECTION_* below, passed explicitly).
    "max_retries": 0,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing is best effort: when Redis is down a web edit must still succeed, and the
# outbox sweep re-queues what was not delivered. Fail fast instead of retrying for ages.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ALWAYS_EAGER = False
# Every periodic task, in one place. Beat only triggers the reminder sweep; the sweep
# writes the outbox and queues one send task per due reminder (commitments.tasks).
CELERY_BEAT_SCHEDULE: dict = {
    "reminders-sweep": {
        "task": "commitments.tasks.sweep_reminders",
        "schedule": env.float("TRACKER_REMINDER_SWEEP_SECONDS", default=300.0),
        # Plans only what changed since the last sweep (commitments.models.SweepMark).
        "kwargs": {"incremental": True},
    },
}

# --- REST framework --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # orjson encodes; the output is the same bytes as DRF's JSONRenderer (issue 13).
    "DEFAULT_RENDERER_CLASSES": [
        "commitments.api.renderers.OrjsonRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Commitment tracker API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A text field that refuses "" says minLength 1 (issue 11: the schema tells the truth).
    "ENFORCE_NON_BLANK_FIELDS": True,
    # Error responses in the one error shape on every operation, and links.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "commitments.api.schema.add_errors_and_links",
    ],
}

# --- REST API ----------------------------------------------------------------------------
# One schema name per choice set (several fields share Status; three models have a "kind").
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "StatusEnum": "commitments.models.Status",
    "EvidenceKindEnum": "commitments.models.Evidence.Kind",
    "NoteKindEnum": "commitments.models.Note.Kind",
    "OrganisationKindEnum": "commitments.models.Organisation.Kind",
}
# Counters live in the "api" cache. With REDIS_URL set it is Redis, shared by every web
# process; without it, per-process memory (fine for one process and for tests). The
# default cache is left alone. Rates: DRF syntax, "N/second|minute|hour|day".
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
        if "REDIS_URL" in env.ENVIRON
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api"}
    ),
}
# The OpenAPI document and its docs page: signed-in users (or any token) only, unless set.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
API_THROTTLE_RATES = {
    "token": env.str("API_RATE_PER_TOKEN", default="600/minute"),
    "user": env.str("API_RATE_PER_USER", default="1200/minute"),
}

# --- Logging and request ids -------------------------------------------------------------
# JSON lines for log collectors in production; readable text on a laptop (`make run` sets
# DJANGO_DEBUG=1). Either way every line carries the request id (tracker.logs).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "tracker.logs.RequestIdFilter"},
        "client_errors": {"()": "tracker.logs.ClientErrorWithoutTraceback"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "tracker.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print each line a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # django-guid says at INFO, on every request, that it made an id.
        "django_guid": {"level": "WARNING"},
    },
}
# Request ids (django-guid): taken from X-Request-ID when tracker.request_id finds it sane,
# made otherwise; returned on every response; sent along with every Celery task queued
# while handling the request, and set again in the worker around the task. The worker
# formats its lines with LOGGING above (use_django_logging), so they carry it too.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": False,  # tracker.request_id checks length and characters instead
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": True,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True)],
}

# --- Domain ------------------------------------------------------------------------------
# Days between follow-up requests for a commitment that sets no cadence of its own.
TRACKER_FOLLOW_UP_DAYS = env.int("TRACKER_FOLLOW_UP_DAYS", default=14)
# Minutes during which a user may undo their own last status move (a new history row).
TRACKER_UNDO_MINUTES = env.int("TRACKER_UNDO_MINUTES", default=10)
# A due date must fall within this many years of today, either side (a typo like 2205 or
# 0225 is refused, and every due date can still be reached by the overdue rules).
TRACKER_DUE_DATE_WINDOW_YEARS = env.int("TRACKER_DUE_DATE_WINDOW_YEARS", default=10)

# --- Reminders (commitments.services.reminders, docs/reminders.md) ----------------------
# Before the due date, days ahead; then every N days while overdue; escalations to the
# owner's managers after these many days overdue, once per step.
TRACKER_REMINDER_BEFORE_DUE_DAYS = env.list(
    "TRACKER_REMINDER_BEFORE_DUE_DAYS", cast=int, default=[7, 1]
)
TRACKER_REMINDER_OVERDUE_EVERY_DAYS = env.int("TRACKER_REMINDER_OVERDUE_EVERY_DAYS", default=7)
TRACKER_ESCALATION_DAYS = env.list("TRACKER_ESCALATION_DAYS", cast=int, default=[14, 30])
# A sweep that missed a reminder's day (beat down, deploy) still sends it this many days late.
TRACKER_REMINDER_CATCH_UP_DAYS = env.int("TRACKER_REMINDER_CATCH_UP_DAYS", default=3)
# A reminder whose morning has passed may still go out this many hours after it; later
# than that it waits for the recipient's next working morning (quiet hours).
TRACKER_REMINDER_WINDOW_HOURS = env.int("TRACKER_REMINDER_WINDOW_HOURS", default=10)
# A worker that starts queues one sweep at once (tracker.celery) instead of waiting for
# beat's first interval.
TRACKER_SWEEP_ON_WORKER_START = env.bool("TRACKER_SWEEP_ON_WORKER_START", default=True)
# Off: reminders wait for the recipient's working morning. On (`make run` sets it for
# the demo): they go out as soon as their day has begun in the recipient's zone.
TRACKER_REMINDER_ANY_HOUR = env.bool("TRACKER_REMINDER_ANY_HOUR", default=False)
# A claimed reminder not marked sent within the lease is taken again (the worker died).
TRACKER_REMINDER_LEASE_SECONDS = env.int("TRACKER_REMINDER_LEASE_SECONDS", default=300)
# Pending reminders queued longer ago than this are queued again by the sweep (the
# broker lost them, or was down when they were first queued).
TRACKER_REMINDER_REQUEUE_SECONDS = env.int("TRACKER_REMINDER_REQUEUE_SECONDS", default=300)
# Beat's sweep plans only what changed since the last one; this often (and on a new day,
# and whenever a worker starts) it plans everything again.
TRACKER_REMINDER_FULL_SWEEP_SECONDS = env.int("TRACKER_REMINDER_FULL_SWEEP_SECONDS", default=3600)
TRACKER_REMINDER_MAX_ATTEMPTS = env.int("TRACKER_REMINDER_MAX_ATTEMPTS", default=5)
TRACKER_REMINDER_RETRY_SECONDS = env.int("TRACKER_REMINDER_RETRY_SECONDS", default=60)
EMAIL_TIMEOUT = env.int(
    "EMAIL_TIMEOUT", default=30
)  # below the lease, so a hung server cannot outlive it

# --- Outgoing webhooks (commitments.services.webhooks, docs/webhooks.md) ----------------
# Deliver to loopback, link-local and private addresses (tests, a receiver on the LAN).
# Off by default: an endpoint URL must not become a way to reach internal services.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds to connect and to wait for the answer; kept well below the lease.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=120)
# Retry n waits min(CAP, BASE * 2**(n-1)): with the defaults 30 s, 1 min, … then hourly,
# and a delivery is given up after MAX_ATTEMPTS (about 13 hours).
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_RETRY_CAP_SECONDS = env.int("WEBHOOK_RETRY_CAP_SECONDS", default=3600)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=18)
# An endpoint whose attempts failed this many times in a row is paused, its owner emailed.
WEBHOOK_PAUSE_AFTER_FAILURES = env.int("WEBHOOK_PAUSE_AFTER_FAILURES", default=50)
# Pending deliveries queued longer ago than this are queued again by the dispatch sweep.
WEBHOOK_REQUEUE_SECONDS = env.int("WEBHOOK_REQUEUE_SECONDS", default=120)
CELERY_BEAT_SCHEDULE["webhooks-dispatch"] = {
    "task": "commitments.tasks.dispatch_webhooks",
    "schedule": env.float("WEBHOOK_DISPATCH_SECONDS", default=60.0),
}

# --- Spreadsheet import (commitments.services.spreadsheets) ------------------------------
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=5000)
