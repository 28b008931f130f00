"""Settings shared by every environment. Everything configurable comes from the environment."""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-secret-key-change-me-0123456789abcdef")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "apps.core.admin_apps.MarketplaceAdminConfig",  # django.contrib.admin, with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "treebeard",
    "import_export",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "apps.core",
    "apps.events",
    "apps.users",
    "apps.media",
    "apps.shops",
    "apps.catalog",
    "apps.inventory",
    "apps.discounts",
    "apps.cart",
    "apps.orders",
    "apps.payments",
    "apps.reviews",
    "apps.notifications",
    "apps.dashboard",
    "apps.imports",
    "apps.webhooks",
]

MIDDLEWARE = [
    "apps.core.metrics.MetricsMiddleware",  # removes itself unless METRICS_ENABLED
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.NulCharacterMiddleware",
    "apps.core.replicas.ReplicaReadsMiddleware",  # removes itself without DATABASE_REPLICA_URLS
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "apps.users.middleware.ApiKeyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.ApiNotFoundMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: it turns a lockout into a 429 page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
# A persistent connection is tested before a request reuses it: after a database restart a stale
# connection is replaced instead of failing the request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Read replicas (apps.core.replicas, docs/scaling.md). Zero or more streaming standbys of the
# primary, comma-separated. Safe requests to the public read paths below go to one of them, round
# robin; every write, every transaction, every other request and every process that is not a web
# request (workers, the relay, commands) use the primary. A caller that sent an unsafe request is
# pinned to the primary for REPLICA_PIN_SECONDS (a cookie, and a cache key per credential), which
# is never less than REPLICA_MAX_LAG: a replica further behind than that, paused or unreachable is
# skipped, each process checking a replica at most every REPLICA_CHECK_SECONDS.
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
REPLICA_MAX_LAG = env.float("REPLICA_MAX_LAG", default=5.0)
REPLICA_PIN_SECONDS = env.float("REPLICA_PIN_SECONDS", default=10.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)
REPLICA_READ_PATHS = env.list(
    "REPLICA_READ_PATHS",
    default=[
        "/api/v1/products",
        "/api/v1/categories",
        "/api/v1/product-types",
        "/api/v1/reviews",
        "/api/v1/comments",
        "/api/v1/shops",
        "/api/v1/notifications",
    ],
)


def replica_databases(primary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`replica1`, `replica2`, ... from DATABASE_REPLICA_URLS, connected as the primary is; the
    test runner treats them as mirrors of the primary, and nothing migrates them."""
    replicas = {}
    for number, url in enumerate(DATABASE_REPLICA_URLS, start=1):
        config = env.db_url_config(url)
        config["CONN_MAX_AGE"] = primary.get("CONN_MAX_AGE", 0)
        config["CONN_HEALTH_CHECKS"] = True
        # An unreachable replica is skipped, not waited for (libpq's minimum is 2 s).
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
        config["TEST"] = {"MIRROR": "default"}
        replicas[f"replica{number}"] = config
    return replicas


DATABASES.update(replica_databases(DATABASES["default"]))
DATABASE_ROUTERS = ["apps.core.replicas.ReplicaRouter"]

AUTH_USER_MODEL = "users.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The admin's lockout (apps.core.admin_login) is checked before the password.
AUTHENTICATION_BACKENDS = [
    "apps.core.admin_login.AdminLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "apps.users.password_validation.NotOnlyWhitespaceValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# `collectstatic` writes here and nginx serves `/static/` from it (docker/nginx).
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# --- Cache (Redis in production: throttles, catalog caches, stream tickets, unread counts).
# An accelerator only: with Redis unreachable every cache call fails fast and is ignored (a read
# misses, a write is dropped), so catalog reads come from the database and throttles let requests
# through; the outage is logged as a rate-limited warning (CacheOutageFilter).
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
            "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT", default=0.5),
            "IGNORE_EXCEPTIONS": True,
        },
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mp"),
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "apps.core.cache"
# django-redis reads this at the end of every request that touched the cache; unset, the lookup
# goes through LazySettings' AttributeError path each time.
DJANGO_REDIS_CLOSE_CONNECTION = False


# --- Throttle rates, one per scope (docs/security.md lists them). Each is `N/period` (s, min,
# hour, day). The environment sets them with THROTTLE_RATES="signup=5/hour,login=10/min" (it wins)
# or one variable per scope, THROTTLE_<SCOPE> (THROTTLE_SIGNUP_GLOBAL=...).
THROTTLE_DEFAULT_RATES = {
    "anon": "120/min",
    "user": "600/min",
    # Login and password-reset attempts per client address (and reset e-mails per address).
    "login": "10/min",
    # Failed logins per (e-mail, client address): reaching it locks that pair with a growing
    # back-off (apps.users.login_failures); the owner from another address still signs in.
    "login_failure": "10/hour",
    "api_key": "1200/min",
    "post_content": "10/min",
    "media_upload": "60/min",
    "imports": "10/min",
    "health": "60/min",
    "discount_check": "30/min",
    # Pings and manual retries: each one sends a request to the integrator's server.
    "webhook_send": "30/min",
    # Each sign-up costs an Argon2 hash (~100 MiB, ~0.5-1 s of CPU): per client address, and a
    # ceiling for all addresses together.
    "signup": "10/hour",
    "signup_global": "60/min",
    # Verification e-mails asked for again, per account.
    "email_verify_resend": "3/hour",
}
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def throttle_rates(**defaults: str) -> dict[str, str]:
    """The rate of every throttle scope: THROTTLE_DEFAULT_RATES with the caller's `defaults` (a
    settings module's own), then THROTTLE_<SCOPE>, then THROTTLE_RATES. An unknown scope or a
    malformed rate stops the start-up instead of being ignored."""
    rates = {**THROTTLE_DEFAULT_RATES, **defaults}
    rates = {scope: env(f"THROTTLE_{scope.upper()}", default=rate) for scope, rate in rates.items()}
    for item in env.list("THROTTLE_RATES", default=[]):
        scope, _, rate = (part.strip() for part in item.partition("="))
        if scope not in rates:
            raise ImproperlyConfigured(
                f"THROTTLE_RATES: unknown scope {scope!r}; known: {', '.join(sorted(rates))}"
            )
        rates[scope] = rate
    for scope, rate in rates.items():
        if not _RATE.match(rate):
            raise ImproperlyConfigured(f"throttle rate of {scope!r} is {rate!r}, not N/period")
    return rates


# --- DRF
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.BearerJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["apps.core.renderers.OrjsonRenderer"],
    # JSON only: what the schema advertises is what the API accepts. Uploads opt into
    # MultiPartParser on their own view (apps/media/api/views.py, MediaUploadApi).
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.ProblemAutoSchema",
    "DEFAULT_METADATA_CLASS": "apps.core.metadata.ActionMetadata",
    "EXCEPTION_HANDLER": "apps.core.exceptions.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttling.AnonBurstThrottle",
        "apps.core.throttling.UserBurstThrottle",
        "apps.core.throttling.ApiKeyThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": throttle_rates(),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Proxies in front of the app whose X-Forwarded-For is trusted; 0 = use REMOTE_ADDR only, so
    # a client cannot dodge the anon/login throttles by inventing X-Forwarded-For.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Marketplace API",
    "DESCRIPTION": "Multi-vendor e-commerce backend: catalog, cart, discounts, orders, reviews.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge image from the public validator service.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # X-Api-Key is checked by a middleware, not a DRF authenticator: its scheme is declared
    # here and added to each operation's requirements by apps.core.openapi.ProblemAutoSchema.
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "apiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Api-Key",
                "description": (
                    "Identifies the client application (`mk_<prefix>.<secret>`, made with "
                    "`POST /api-keys` or `manage.py create_api_key`). Required on every request "
                    "when the server runs with REQUIRE_API_KEY=true, optional otherwise; a key "
                    "that is sent is always checked."
                ),
            }
        }
    },
    "ENUM_NAME_OVERRIDES": {
        "HealthCheckStatusEnum": "apps.core.api.serializers.CHECK_CHOICES",
        "HealthStatusEnum": "apps.core.api.serializers.HEALTH_CHOICES",
        "ReviewStatusEnum": "apps.reviews.models.Review.Status",
        "OrderStatusEnum": "apps.orders.models.Order.Status",
        "CheckoutPaymentStatusEnum": "apps.orders.api.serializers.CHECKOUT_PAYMENT_STATUSES",
        "RefundStatusEnum": "apps.payments.models.Refund.Status",
        "ImportJobStatusEnum": "apps.imports.models.ImportJob.Status",
        "ImportKindEnum": "apps.imports.models.ImportJob.Kind",
    },
}

# OpenAPI schema and docs (/api/schema/, /api/docs/, /api/redoc/): public by default, since
# they describe only the public contract that every client may call (and SDKs are generated
# from it); false: staff only (an admin session or a staff Bearer token).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=True)
if not API_DOCS_PUBLIC:
    SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["rest_framework.permissions.IsAdminUser"]
    SPECTACULAR_SETTINGS["SERVE_AUTHENTICATION"] = [
        "rest_framework.authentication.SessionAuthentication",
        "apps.core.authentication.BearerJWTAuthentication",
    ]

# --- Observability (each off unless configured; apps.core.metrics, apps.core.observability)
# Prometheus metrics at /metrics: for staff (admin session), `Authorization: Bearer
# <METRICS_TOKEN>`, or a client address in METRICS_ALLOWED_IPS (addresses or networks). Several
# processes (gunicorn workers, Celery, the relay) share counters through
# PROMETHEUS_MULTIPROC_DIR, read by prometheus-client itself.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Tracing: OTEL_EXPORTER_OTLP_ENDPOINT (and the other OTEL_* variables) are read by the
# OpenTelemetry SDK itself; set, every process exports spans there.
OTEL_EXPORTER_OTLP_ENDPOINT = env("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)

# --- CORS and security headers
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_EXPOSE_HEADERS = ["X-Request-Id", "X-Cart-Token", "ETag", "Retry-After"]
from corsheaders.defaults import default_headers  # noqa: E402

CORS_ALLOW_HEADERS = (*default_headers, "x-api-key", "x-cart-token", "idempotency-key")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- API keys
REQUIRE_API_KEY = env.bool("REQUIRE_API_KEY", default=False)

# --- Accounts
# The first lockout of an (e-mail, address) pair after `login_failure` failed logins, doubled at
# each further lockout of the pair (within a day), up to the maximum.
LOGIN_BACKOFF_BASE_SECONDS = env.int("LOGIN_BACKOFF_BASE_SECONDS", default=60)
LOGIN_BACKOFF_MAX_SECONDS = env.int("LOGIN_BACKOFF_MAX_SECONDS", default=3600)
# An account must open the link of its verification e-mail before it may place orders, review,
# comment, upload or open notification streams (403 `auth.email_unverified`). Off here and in the
# development and test settings; on in production (config/settings/prod.py).
REQUIRE_EMAIL_VERIFICATION = env.bool("REQUIRE_EMAIL_VERIFICATION", default=False)
# How long the link of a verification e-mail works.
EMAIL_VERIFICATION_MAX_AGE = timedelta(
    hours=env.int("EMAIL_VERIFICATION_MAX_AGE_HOURS", default=72)
)

# --- The admin's sign-in (apps.core.admin_login, docs/security.md)
# After ADMIN_LOGIN_FAILURE_LIMIT wrong passwords for one e-mail from one address, or from one
# address for any e-mails, /admin/login/ refuses that pair (or address) for ADMIN_LOCKOUT_MINUTES,
# the right password included (429); a success clears the count. Attempts are rows in the
# database (django-axes), so the lockout holds across processes and without Redis.
AXES_ENABLED = env.bool("ADMIN_LOCKOUT_ENABLED", default=True)
AXES_ONLY_ADMIN_SITE = True
AXES_HANDLER = "apps.core.admin_login.AdminOnlyDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the admin login form's field (it holds the e-mail)
AXES_CLIENT_IP_CALLABLE = "apps.core.admin_login.client_address"
AXES_VERBOSE = False
# Staff sign in to the admin with a TOTP code of a confirmed device (django-otp) when true; off
# here and in the development and test settings, on in production.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env("STORE_NAME", default="Marketplace")

# --- Health: a readiness report is reused for this long by the process that made it
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=2.0)

# --- Domain settings
STORE_NAME = env("STORE_NAME", default="Marketplace")
STORE_CURRENCY = env("STORE_CURRENCY", default="USD")
FRONTEND_URL = env("FRONTEND_URL", default="http://127.0.0.1:3000")
IDEMPOTENCY_TTL = env.int("IDEMPOTENCY_TTL_SECONDS", default=24 * 3600)
CART_MAX_LINE_QUANTITY = env.int("CART_MAX_LINE_QUANTITY", default=99)
CART_GUEST_TTL_DAYS = env.int("CART_GUEST_TTL_DAYS", default=30)
ORDER_PENDING_TTL = timedelta(hours=env.int("ORDER_PENDING_TTL_HOURS", default=48))
# Caps on what one buyer holds in open unpaid orders (pending or confirmed, reserving stock):
# their number, and the units of one variant across them. 0 = no cap.
ORDER_MAX_OPEN_UNPAID = env.int("ORDER_MAX_OPEN_UNPAID", default=10)
ORDER_MAX_UNITS_PER_VARIANT = env.int("ORDER_MAX_UNITS_PER_VARIANT", default=20)
# Only buyers of a delivered order may rate a product: otherwise any new account can rate anything.
REVIEWS_REQUIRE_PURCHASE = env.bool("REVIEWS_REQUIRE_PURCHASE", default=True)
COMMENTS_MAX_DEPTH = env.int("COMMENTS_MAX_DEPTH", default=8)
# How long a shared cache (nginx in `make stack`, a CDN) may serve an anonymous catalog read
# (product list and detail, categories, product types) without asking the API: the most a write
# takes to show there. Browsers always revalidate (max-age=0, with the ETag).
CATALOG_SHARED_CACHE_SECONDS = env.int("CATALOG_SHARED_CACHE_SECONDS", default=5)
# Server-Sent Events (apps.notifications.stream, served by uvicorn): open streams per user (one
# more is 429), and the heartbeat, which also re-checks that the user's tokens still stand.
NOTIFICATIONS_STREAMS_PER_USER = env.int("NOTIFICATIONS_STREAMS_PER_USER", default=10)
NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS = env.float(
    "NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS", default=15.0
)

# --- Payments (apps.payments, docs/payments.md)
# `stripe`, or `demo`: a provider that records intents without any network (the embedded default
# and the demo data; prod refuses it). Card payments are offered once the provider is configured.
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", default="stripe")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")  # blank: Stripe's own API
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
STRIPE_TIMEOUT = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
PAYMENT_WINDOW = timedelta(minutes=env.int("PAYMENT_WINDOW_MINUTES", default=30))
PLATFORM_COMMISSION_RATE = Decimal(env("PLATFORM_COMMISSION_RATE", default="0.10"))
PAYOUT_DELAY_DAYS = env.int("PAYOUT_DELAY_DAYS", default=7)

# --- Celery (RabbitMQ broker, Redis results)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# Physical queue names get this prefix (isolates test runs or stacks sharing one RabbitMQ).
CELERY_QUEUE_PREFIX = env("CELERY_QUEUE_PREFIX", default="")
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)
# The one beat schedule: apps add their periodic tasks here (key = entry name). No entry sets
# `expires`: Celery sends it as the message's TTL, and RabbitMQ dead-letters an expired message,
# so a sweep that was merely late (a worker behind) would land in `<queue>.dlq` as if it had
# failed. Every periodic task is idempotent and cheap when there is nothing to do, so a late one
# simply runs late.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "events-relay-sweep": {
        "task": "events.relay_sweep",
        "schedule": env.float("EVENTS_RELAY_SWEEP_SECONDS", default=10.0),
        "options": {"queue": "events"},
    },
}

# --- Kafka (off when unset; subscribers still run)
KAFKA_BOOTSTRAP_SERVERS = env("KAFKA_BOOTSTRAP_SERVERS", default="")
KAFKA_TOPIC_PREFIX = env("KAFKA_TOPIC_PREFIX", default="")
# Extra librdkafka producer settings (e.g. {"message.timeout.ms": 10000}); security.* go here.
KAFKA_PRODUCER_CONFIG: dict = env.json("KAFKA_PRODUCER_CONFIG", default={})
# A batch waits for Kafka up to this + 5 s, which must stay inside the relay's lease (checked at
# start-up: apps.events.checks).
KAFKA_MESSAGE_TIMEOUT_MS = env.int("KAFKA_MESSAGE_TIMEOUT_MS", default=5000)
EVENTS_RELAY_BATCH_SIZE = env.int("EVENTS_RELAY_BATCH_SIZE", default=200)
# The relay's lease in the database: renewed after each batch, so a killed relay holds up
# delivery this long at most.
EVENTS_RELAY_LOCK_TTL = env.int("EVENTS_RELAY_LOCK_TTL_SECONDS", default=15)

# --- Media storage
STORAGE_BACKEND = env("STORAGE_BACKEND", default="filesystem")
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)
AWS_S3_CUSTOM_DOMAIN = env("AWS_S3_CUSTOM_DOMAIN", default=None)
AWS_QUERYSTRING_AUTH = env.bool("AWS_QUERYSTRING_AUTH", default=True)
AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=3600)
AWS_S3_SIGNATURE_VERSION = env("AWS_S3_SIGNATURE_VERSION", default="s3v4")  # SigV2 is retired
CLOUDINARY_URL = env("CLOUDINARY_URL", default="")
# CloudFront signed URLs when AWS_S3_CUSTOM_DOMAIN is a CloudFront distribution (PEM private key).
AWS_CLOUDFRONT_KEY_ID = env("AWS_CLOUDFRONT_KEY_ID", default=None)
AWS_CLOUDFRONT_KEY = env("AWS_CLOUDFRONT_KEY", default=None)
# Upload limits and remote fetching (apps.media; read at call time).
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=10 * 1024 * 1024)
# 25 MP: above any phone camera's photo; a larger image costs the worker seconds of CPU and
# hundreds of MB to decode (docs/api.md allows up to 40 MP).
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=25_000_000)
# Pixels one user may upload per clock hour (the header's width x height; 0: no budget).
MEDIA_PIXEL_BUDGET_PER_HOUR = env.int("MEDIA_PIXEL_BUDGET_PER_HOUR", default=400_000_000)
MEDIA_PRESIGN_EXPIRE = env.int("MEDIA_PRESIGN_EXPIRE_SECONDS", default=900)
MEDIA_FETCH_TIMEOUT = env.float("MEDIA_FETCH_TIMEOUT_SECONDS", default=10.0)
MEDIA_FETCH_MAX_REDIRECTS = env.int("MEDIA_FETCH_MAX_REDIRECTS", default=3)
MEDIA_FETCH_CA_BUNDLE = env("MEDIA_FETCH_CA_BUNDLE", default=None)
MEDIA_ORPHAN_HOURS = env.int("MEDIA_ORPHAN_HOURS", default=24)
CELERY_BEAT_SCHEDULE["media-cleanup-orphans"] = {
    "task": "media.cleanup_orphans",
    "schedule": env.float("MEDIA_CLEANUP_SECONDS", default=3600.0),
    "options": {"queue": "media"},
}
CELERY_BEAT_SCHEDULE["orders-expire-pending"] = {
    "task": "orders.expire_pending",
    "schedule": env.float("ORDER_EXPIRY_SWEEP_SECONDS", default=300.0),
    "options": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE["payments-sweep"] = {
    "task": "payments.sweep",
    "schedule": env.float("PAYMENTS_SWEEP_SECONDS", default=60.0),
    "options": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE["discounts-announce-started"] = {
    "task": "discounts.announce_started",
    "schedule": env.float("DISCOUNT_ANNOUNCE_SECONDS", default=300.0),
    "options": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE["users-prune-sessions"] = {
    "task": "users.prune_sessions",
    "schedule": env.float("SESSION_PRUNE_SECONDS", default=24 * 3600.0),
    "options": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE["core-prune-idempotency-records"] = {
    "task": "core.prune_idempotency_records",
    "schedule": env.float("IDEMPOTENCY_PRUNE_SECONDS", default=24 * 3600.0),
    "options": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE["cart-purge-idle-guest-carts"] = {
    "task": "cart.purge_idle_guest_carts",
    "schedule": env.float("CART_PURGE_SECONDS", default=24 * 3600.0),
    "options": {"queue": "default"},
}

# --- Spreadsheet import and export in the admin (django-import-export): importing needs the
# change permission, exporting the view permission; imports are all or nothing (core.resources).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = True  # one log entry per row would outweigh the import
# Seller imports over the API (apps.imports): file limits, the worker's time limit, and how long a
# queued job waits before the sweep enqueues it again.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=10 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=50_000)
IMPORT_TIME_LIMIT_SECONDS = env.int("IMPORT_TIME_LIMIT_SECONDS", default=1800)
IMPORT_RECOVER_SECONDS = env.int("IMPORT_RECOVER_SECONDS", default=120)
ORDER_EXPORT_MAX_DAYS = env.int("ORDER_EXPORT_MAX_DAYS", default=366)
CELERY_BEAT_SCHEDULE["imports-recover"] = {
    "task": "imports.recover",
    "schedule": env.float("IMPORT_SWEEP_SECONDS", default=60.0),
    "options": {"queue": "default"},
}

# --- Webhooks for integrators (apps.webhooks, docs/webhooks.md)
# http:// and loopback targets, for development and tests only: production sends https to
# public addresses only.
WEBHOOKS_ALLOW_LOOPBACK = env.bool("WEBHOOKS_ALLOW_LOOPBACK", default=False)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
# How long a failing delivery is retried, and how long an endpoint may fail without a single
# success before it is disabled (its owner is told).
WEBHOOKS_RETRY_WINDOW_HOURS = env.float("WEBHOOKS_RETRY_WINDOW_HOURS", default=72.0)
WEBHOOKS_DISABLE_AFTER_HOURS = env.float("WEBHOOKS_DISABLE_AFTER_HOURS", default=24.0)
# After a rotation the old secret keeps signing (a second signature) this long.
WEBHOOKS_SECRET_OVERLAP_HOURS = env.float("WEBHOOKS_SECRET_OVERLAP_HOURS", default=24.0)
WEBHOOKS_MAX_ENDPOINTS_PER_SHOP = env.int("WEBHOOKS_MAX_ENDPOINTS_PER_SHOP", default=10)
WEBHOOKS_MAX_PLATFORM_ENDPOINTS = env.int("WEBHOOKS_MAX_PLATFORM_ENDPOINTS", default=50)
# Attempts under way at once per endpoint (a slow receiver holds this many workers at most);
# the sweep queues no more than this many of an endpoint's deliveries at a time.
WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT = env.int("WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT", default=4)
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {
    "task": "webhooks.sweep",
    "schedule": env.float("WEBHOOKS_SWEEP_SECONDS", default=5.0),
    "options": {"queue": "webhooks"},
}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Marketplace <no-reply@marketplace.local>")
# The right-hand side of the Message-ID of notification e-mails (one per notification, the same on
# a resend, so mail clients show a rare duplicate once).
EMAIL_DOMAIN = env("EMAIL_DOMAIN", default="marketplace.local")
# An SMTP server that stops answering must not hold a worker forever (Django waits without end).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Logging: one JSON object per line, with the request id
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "apps.core.logging.RequestIdFilter"},
        "cache_outage": {"()": "apps.core.logging.CacheOutageFilter"},
    },
    "formatters": {"json": {"()": "apps.core.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "apps.core.cache": {"filters": ["cache_outage"]},
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
