"""Settings shared by every environment. Everything configurable comes from the environment."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-secret-key-change-me-0123456789abcdef")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "treebeard",
    "apps.core",
    "apps.events",
    "apps.users",
    "apps.media",
    "apps.catalog",
    "apps.inventory",
    "apps.discounts",
    "apps.cart",
    "apps.orders",
    "apps.reviews",
    "apps.notifications",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.NulCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "apps.users.middleware.ApiKeyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.ApiNotFoundMiddleware",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
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

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# --- Cache (Redis in production; throttles, idempotency keys, locks and catalog caches live here)
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mp"),
    }
}
# django-redis reads this at the end of every request that touched the cache; unset, the lookup
# goes through LazySettings' AttributeError path each time.
DJANGO_REDIS_CLOSE_CONNECTION = False

# --- DRF
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.BearerJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["apps.core.renderers.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exceptions.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttling.AnonBurstThrottle",
        "apps.core.throttling.UserBurstThrottle",
        "apps.core.throttling.ApiKeyThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="600/min"),
        "login": env("THROTTLE_LOGIN", default="10/min"),
        "api_key": env("THROTTLE_API_KEY", default="1200/min"),
        "post_content": env("THROTTLE_POST_CONTENT", default="10/min"),
        "media_upload": env("THROTTLE_MEDIA_UPLOAD", default="60/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Proxies in front of the app whose X-Forwarded-For is trusted; 0 = use REMOTE_ADDR only, so
    # a client cannot dodge the anon/login throttles by inventing X-Forwarded-For.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
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
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "HealthCheckStatusEnum": "apps.core.api.serializers.CHECK_CHOICES",
        "HealthStatusEnum": "apps.core.api.serializers.HEALTH_CHOICES",
        "ReviewStatusEnum": "apps.reviews.models.Review.Status",
        "OrderStatusEnum": "apps.orders.models.Order.Status",
    },
}

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

# --- Domain settings
STORE_NAME = env("STORE_NAME", default="Marketplace")
STORE_CURRENCY = env("STORE_CURRENCY", default="USD")
FRONTEND_URL = env("FRONTEND_URL", default="http://127.0.0.1:3000")
IDEMPOTENCY_TTL = env.int("IDEMPOTENCY_TTL_SECONDS", default=24 * 3600)
CART_MAX_LINE_QUANTITY = env.int("CART_MAX_LINE_QUANTITY", default=99)
CART_GUEST_TTL_DAYS = env.int("CART_GUEST_TTL_DAYS", default=30)
ORDER_PENDING_TTL = timedelta(hours=env.int("ORDER_PENDING_TTL_HOURS", default=48))
REVIEWS_REQUIRE_PURCHASE = env.bool("REVIEWS_REQUIRE_PURCHASE", default=False)
COMMENTS_MAX_DEPTH = env.int("COMMENTS_MAX_DEPTH", default=8)

# --- Celery (RabbitMQ broker, Redis results)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# Physical queue names get this prefix (isolates test runs or stacks sharing one RabbitMQ).
CELERY_QUEUE_PREFIX = env("CELERY_QUEUE_PREFIX", default="")
# The one beat schedule: apps add their periodic tasks here (key = entry name).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "events-relay-sweep": {
        "task": "events.relay_sweep",
        "schedule": env.float("EVENTS_RELAY_SWEEP_SECONDS", default=10.0),
        "options": {"queue": "events", "expires": 10},
    },
}

# --- Kafka (off when unset; subscribers still run)
KAFKA_BOOTSTRAP_SERVERS = env("KAFKA_BOOTSTRAP_SERVERS", default="")
KAFKA_TOPIC_PREFIX = env("KAFKA_TOPIC_PREFIX", default="")
# Extra librdkafka producer settings (e.g. {"message.timeout.ms": 10000}); security.* go here.
KAFKA_PRODUCER_CONFIG: dict = env.json("KAFKA_PRODUCER_CONFIG", default={})
KAFKA_MESSAGE_TIMEOUT_MS = env.int("KAFKA_MESSAGE_TIMEOUT_MS", default=30000)
EVENTS_RELAY_BATCH_SIZE = env.int("EVENTS_RELAY_BATCH_SIZE", default=200)
EVENTS_RELAY_LOCK_TTL = env.int("EVENTS_RELAY_LOCK_TTL_SECONDS", default=120)

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
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=40_000_000)
MEDIA_PRESIGN_EXPIRE = env.int("MEDIA_PRESIGN_EXPIRE_SECONDS", default=900)
MEDIA_FETCH_TIMEOUT = env.float("MEDIA_FETCH_TIMEOUT_SECONDS", default=10.0)
MEDIA_FETCH_MAX_REDIRECTS = env.int("MEDIA_FETCH_MAX_REDIRECTS", default=3)
MEDIA_FETCH_CA_BUNDLE = env("MEDIA_FETCH_CA_BUNDLE", default=None)
MEDIA_ORPHAN_HOURS = env.int("MEDIA_ORPHAN_HOURS", default=24)
CELERY_BEAT_SCHEDULE["media-cleanup-orphans"] = {
    "task": "media.cleanup_orphans",
    "schedule": env.float("MEDIA_CLEANUP_SECONDS", default=3600.0),
    "options": {"queue": "media", "expires": 3600},
}
CELERY_BEAT_SCHEDULE["orders-expire-pending"] = {
    "task": "orders.expire_pending",
    "schedule": env.float("ORDER_EXPIRY_SWEEP_SECONDS", default=300.0),
    "options": {"queue": "default", "expires": 300},
}
CELERY_BEAT_SCHEDULE["discounts-announce-started"] = {
    "task": "discounts.announce_started",
    "schedule": env.float("DISCOUNT_ANNOUNCE_SECONDS", default=300.0),
    "options": {"queue": "default", "expires": 300},
}
CELERY_BEAT_SCHEDULE["users-prune-sessions"] = {
    "task": "users.prune_sessions",
    "schedule": env.float("SESSION_PRUNE_SECONDS", default=24 * 3600.0),
    "options": {"queue": "default", "expires": 3600},
}
CELERY_BEAT_SCHEDULE["cart-purge-idle-guest-carts"] = {
    "task": "cart.purge_idle_guest_carts",
    "schedule": env.float("CART_PURGE_SECONDS", default=24 * 3600.0),
    "options": {"queue": "default", "expires": 3600},
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

# --- Logging: one JSON object per line, with the request id
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
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
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
