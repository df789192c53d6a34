"""Settings, all read from the environment (see README "Configuration").

The defaults make an embedded development platform: SQLite, tasks inline, local memory cache.
Production sets DATABASE_URL (PostgreSQL), REDIS_URL (broker and cache), SECRET_KEY, ALLOWED_HOSTS.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-change-me-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL of this platform, used to build tracking and postback URLs.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # django-unfold, its admin site with the two-factor login (core/security/admin_site.py)
    "core.security.apps.AdminSiteConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditlog",
    "axes",
    "core",
    "affiliates",
    "tracking",
    "integrations",
    "integrations.webhooks",
    "integrations.monitoring",
    "commissions",
    "commissions.payouts",
    "portal",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every page (core/security/csp.py: the admin's additions)
    "core.security.csp.PathCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Two-factor authentication (TOTP devices): marks request.user verified once a token was given.
    "django_otp.middleware.OTPMiddleware",
    # The audit log records the signed-in user as the actor of every change made in a request.
    "auditlog.middleware.AuditlogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Login throttling: locked-out credentials are refused before any password check (see AXES_* below).
    "axes.middleware.AxesMiddleware",
]
# Server-to-server endpoints (an operator's system calling a postback URL) use no session, user, messages
# or CSRF token: config/wsgi.py serves these paths through this shorter chain. Empty: MIDDLEWARE for all.
S2S_PATH_PREFIXES = env.list("S2S_PATH_PREFIXES", default=["/postback/"])
S2S_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "core.User"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: wait for a writer instead of failing, and allow the demo's worker threads.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20})
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Reports may read from a streaming replica (reports/routers.py): their rollups and raw edges go there,
# every write stays on the primary.
if env.str("REPORTS_DATABASE_URL", default=""):
    DATABASES["reports"] = env.db("REPORTS_DATABASE_URL")
    DATABASES["reports"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    DATABASES["reports"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["reports.routers.ReportsReplicaRouter"]

REDIS_URL = env.str("REDIS_URL", default="")
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
AUTHENTICATION_BACKENDS = [
    # django-axes first: every authenticate() with a request (admin, portal) counts failures and refuses
    # locked-out credentials; then the usual username and password check.
    "core.security.lockout.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/admin/"

# --- Platform ---------------------------------------------------------------------------------
BASE_CURRENCY = env.str("BASE_CURRENCY", default="EUR").upper()
# The operator's name on payout statements and invoices (PDF).
PDF_ISSUER = env.str("PDF_ISSUER", default="Affiliate Programme")
# How long a resolved API key stays cached in a process (seconds). Revocation takes effect within it.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
# Outgoing webhooks and partner postbacks: a 2xx within the timeout is a success.
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
WEBHOOKS_MAX_RESPONSE_BYTES = env.int("WEBHOOKS_MAX_RESPONSE_BYTES", default=64 * 1024)
WEBHOOKS_DELIVERY_THREADS = env.int("WEBHOOKS_DELIVERY_THREADS", default=64)
WEBHOOKS_BATCH_SIZE = env.int("WEBHOOKS_BATCH_SIZE", default=200)
WEBHOOKS_SWEEP_GRACE_SECONDS = env.int("WEBHOOKS_SWEEP_GRACE_SECONDS", default=15)
WEBHOOKS_DISABLE_AFTER_HOURS = env.float("WEBHOOKS_DISABLE_AFTER_HOURS", default=72.0)
WEBHOOKS_SECRET_GRACE_HOURS = env.float("WEBHOOKS_SECRET_GRACE_HOURS", default=24.0)
WEBHOOKS_ALERT_EMAILS = env.list("WEBHOOKS_ALERT_EMAILS", default=[])
POSTBACKS_DISABLE_AFTER_FAILURES = env.int("POSTBACKS_DISABLE_AFTER_FAILURES", default=10)
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=90)
# Seconds between delivery attempts (empty: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); retries due within
# WEBHOOKS_RETRY_COUNTDOWN_SECONDS are enqueued with a countdown, later ones are sent by beat's sweep, which
# runs every WEBHOOKS_SWEEP_INTERVAL_SECONDS.
WEBHOOKS_RETRY_SCHEDULE = env.list("WEBHOOKS_RETRY_SCHEDULE", cast=float, default=[])
WEBHOOKS_RETRY_COUNTDOWN_SECONDS = env.float("WEBHOOKS_RETRY_COUNTDOWN_SECONDS", default=60.0)
WEBHOOKS_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOKS_SWEEP_INTERVAL_SECONDS", default=30.0)
# Mounts /bench/ceiling (bench/views.py), the benchmark harness's baseline view. Never in production.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)

# --- Security (docs/security.md) ----------------------------------------------------------------
# HTTPS: behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER=1 trusts its X-Forwarded-Proto.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Strict-Transport-Security: Django sends it only on answers served over HTTPS.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
# Content-Security-Policy (django-csp) on every page: the portal, the API docs and the admin run only
# their own scripts. The admin (django-unfold) adds what its pages need: core/security/csp.py.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": [],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# What some areas need beyond it, by path prefix. The admin: django-unfold styles elements inline and its
# Alpine.js components evaluate expressions; Swagger UI styles elements inline.
CSP_PATH_ADDITIONS = {
    "/admin/": {"style-src": ["'unsafe-inline'"], "script-src": ["'unsafe-eval'"]},
    "/api/docs/": {"style-src": ["'unsafe-inline'"]},
}
# Admin two-factor authentication (django-otp TOTP): staff with a device always give a token at login;
# with ADMIN_REQUIRE_2FA every staff user must enrol one before using the admin.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Affiliate Platform")
# Login throttling (django-axes) for every login through authenticate(): the admin's and the portal's.
# After LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is refused for
# LOGIN_LOCKOUT_MINUTES; a successful login resets the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "security/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "core.security.lockout.client_ip"
AXES_VERBOSE = False
# API rate limits per key (requests per minute; 0: none). Ingestion has its own per-source limit.
API_RATE_LIMITS = {
    "management": env.int("API_RATE_LIMIT_MANAGEMENT", default=1200),
    "partner": env.int("API_RATE_LIMIT_PARTNER", default=300),
}
# After a rotation the old key keeps working this long, so a deployment can switch over (0: at once).
API_KEY_ROTATION_GRACE_HOURS = env.float("API_KEY_ROTATION_GRACE_HOURS", default=24.0)

# --- Tracking (see tracking/conf.py) --------------------------------------------------------------
TRACKING_LINK_CACHE_SECONDS = env.int("TRACKING_LINK_CACHE_SECONDS", default=30)
CLICK_DUPLICATE_WINDOW_SECONDS = env.int("CLICK_DUPLICATE_WINDOW_SECONDS", default=60)
GEOIP_COUNTRY_HEADER = env.str("GEOIP_COUNTRY_HEADER", default="CF-IPCountry")
GEOIP_DB_PATH = env.str("GEOIP_DB_PATH", default="")
TRUSTED_PROXY = env.int("TRUSTED_PROXY", default=0)

# --- Partner portal (portal/) ----------------------------------------------------------------------
# How long the e-mailed link that confirms new payment details stays valid.
PORTAL_PAYMENT_CONFIRM_HOURS = env.int("PORTAL_PAYMENT_CONFIRM_HOURS", default=24)
# Failed portal log-ins per user name (and per address) within 15 minutes before log-in is refused for a while.
PORTAL_LOGIN_MAX_FAILURES = env.int("PORTAL_LOGIN_MAX_FAILURES", default=10)

# --- Monitoring -------------------------------------------------------------------------------------
# Events per second this deployment sustains (measure with bench/); the go-live checklist compares a
# source's expected peak (five times its daily peak) against it.
SUSTAINED_EVENTS_PER_SECOND = env.int("SUSTAINED_EVENTS_PER_SECOND", default=200)

# --- Ingestion -------------------------------------------------------------------------------------
# Beat's ingestion sweep runs every INGEST_SWEEP_INTERVAL_SECONDS and processes events stored at least
# INGEST_SWEEP_GRACE_SECONDS ago and still waiting (a task lost with the broker, a worker killed mid-batch).
INGEST_SWEEP_INTERVAL_SECONDS = env.float("INGEST_SWEEP_INTERVAL_SECONDS", default=60.0)
INGEST_SWEEP_GRACE_SECONDS = env.float("INGEST_SWEEP_GRACE_SECONDS", default=60.0)

# --- Reports (see reports/upkeep.py) -------------------------------------------------------------
# A click is rolled up once it is this old (a click written earlier may commit after a later id).
REPORTS_CLICK_SETTLE_SECONDS = env.int("REPORTS_CLICK_SETTLE_SECONDS", default=60)
# (affiliate, day) pairs rewritten per upkeep transaction.
REPORTS_REFRESH_BATCH = env.int("REPORTS_REFRESH_BATCH", default=500)

# --- E-mail -----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="affiliates@localhost")

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# Without a broker, tasks run inline so the embedded default needs no other service.
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=not (REDIS_URL or env.str("CELERY_BROKER_URL", ""))
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "integrations.tasks.ingest_*": {"queue": "ingest"},
    "commissions.tasks.*": {"queue": "commissions"},
    "integrations.tasks.deliver_*": {"queue": "delivery"},
    "integrations.webhooks.tasks.*": {"queue": "delivery"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# All periodic work, in one place; each entry expires under its interval so backlogs never stack.
CELERY_BEAT_SCHEDULE = {
    "webhooks-sweep": {
        "task": "integrations.webhooks.tasks.webhooks_sweep",
        "schedule": timedelta(seconds=WEBHOOKS_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": WEBHOOKS_SWEEP_INTERVAL_SECONDS * 5 / 6, "queue": "delivery"},
    },
    "webhooks-purge": {
        "task": "integrations.webhooks.tasks.webhooks_purge",
        "schedule": timedelta(hours=6),
        "options": {"expires": 5 * 60 * 60, "queue": "delivery"},
    },
    "worker-heartbeat": {
        "task": "core.tasks.worker_heartbeat",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    "purge-idempotency-keys": {
        "task": "core.tasks.purge_idempotency_keys",
        "schedule": timedelta(hours=1),
        "options": {"expires": 50 * 60},
    },
    "monitoring-evaluate-alerts": {
        "task": "integrations.monitoring.tasks.evaluate_alerts",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 4 * 60},
    },
    "ingest-sweep": {
        "task": "integrations.tasks.ingest_sweep",
        "schedule": timedelta(seconds=INGEST_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": INGEST_SWEEP_INTERVAL_SECONDS * 5 / 6},
    },
    "commissions-release-holds": {
        "task": "commissions.tasks.release_holds",
        "schedule": timedelta(hours=1),
        "options": {"expires": 50 * 60},
    },
    "reports-refresh": {
        "task": "reports.tasks.rollups_refresh",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    "reports-rebuild-recent": {
        "task": "reports.tasks.rollups_rebuild_recent",
        "schedule": timedelta(hours=24),
        "options": {"expires": 23 * 60 * 60},
    },
    "commissions-close-periods": {
        "task": "commissions.tasks.close_periods",
        "schedule": timedelta(hours=6),
        "options": {"expires": 5 * 60 * 60},
    },
    "payouts-generate-closed-periods": {
        "task": "commissions.payouts.tasks.generate_closed_periods",
        "schedule": timedelta(hours=6),
        "options": {"expires": 5 * 60 * 60},
    },
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.ScopePermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorOrPagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.DecimalJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["core.security.throttling.ApiKeyRateThrottle"],
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Affiliate Platform API",
    "DESCRIPTION": "Management, ingestion and partner APIs. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` or `kind`: name each choice set for what it is.
    "ENUM_NAME_OVERRIDES": {
        "AffiliateStatusEnum": "affiliates.choices.AffiliateStatus",
        "DealKindEnum": "affiliates.choices.DealKind",
        "EventStatusEnum": "tracking.choices.EventStatus",
        "EventTypeEnum": "tracking.choices.EventType",
        "AttributionMethodEnum": "tracking.choices.AttributionMethod",
        "ClickFlagEnum": "tracking.choices.ClickFlag",
        "HintKindEnum": "tracking.choices.HintKind",
        "HintReasonEnum": "tracking.choices.HintReason",
        "MissReasonEnum": "tracking.choices.MISS_REASON_CHOICES",
        "SourceKindEnum": "integrations.models.SourceKind",
        "InboundStatusEnum": "integrations.models.InboundStatus",
        "EntryKindEnum": "commissions.choices.EntryKind",
        "EntryStatusEnum": "commissions.choices.EntryStatus",
        "AlertKindEnum": "integrations.monitoring.models.AlertKind",
        "SeverityEnum": "integrations.monitoring.models.Severity",
        "DeliveryStatusEnum": "integrations.webhooks.choices.DeliveryStatus",
        "StatementStatusEnum": "commissions.payouts.choices.StatementStatus",
        "PaymentMethodEnum": "affiliates.choices.PaymentMethod",
        "ExportStatusEnum": "commissions.payouts.choices.EXPORT_STATUSES",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {"BearerKey": {"type": "http", "scheme": "bearer", "description": "API key"}}
    },
    "SECURITY": [{"BearerKey": []}],
    # Swagger UI served from this platform's static files (no CDN), so the docs run under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Every operation's problem+json error answers (core/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.add_problem_responses",
    ],
}

# --- Admin (django-unfold) --------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "Affiliate Platform",
    "SITE_HEADER": "Affiliate Platform",
    "SITE_SYMBOL": "hub",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "integrations.monitoring.views.dashboard_callback",
    "SIDEBAR": {"show_search": True},
    # the account menu links to the TOTP enrolment page (core/security/admin_site.py)
    "ACCOUNT": {"navigation": [{"title": "Two-factor authentication", "link": "/admin/two-factor/"}]},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # API keys, webhook secrets and ?key= values are masked in every log line (core/security/logging.py).
    "filters": {"redact_secrets": {"()": "core.security.logging.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
