"""Test settings: PostgreSQL and Redis when reachable (required under REQUIRE_SERVICES=1)."""

import os
import socket
from urllib.parse import urlparse

from .base import *  # noqa: F403
from .base import CACHES, REST_FRAMEWORK, VAR_DIR, env, throttle_rates

REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _require(name: str, url: str) -> None:
    if REQUIRE_SERVICES:
        raise RuntimeError(f"REQUIRE_SERVICES=1 but {name} at {url} is unreachable")


DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789"  # noqa: S105
SIMPLE_JWT["SIGNING_KEY"] = SECRET_KEY

POSTGRES_URL = env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/postgres")
if _reachable(POSTGRES_URL, 5432):
    DATABASES = {"default": env.db_url_config(POSTGRES_URL)}
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DB_NAME", default="test_marketplace")}
    TEST_DATABASE_VENDOR = "postgresql"
else:
    _require("PostgreSQL", POSTGRES_URL)
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "test.sqlite3"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            "TEST": {"NAME": str(VAR_DIR / env("TEST_DB_NAME", default="test_marketplace"))},
        }
    }
    TEST_DATABASE_VENDOR = "sqlite"

TEST_REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
REDIS_AVAILABLE = _reachable(TEST_REDIS_URL, 6379)
if REDIS_AVAILABLE:
    REDIS_URL = TEST_REDIS_URL
    CACHES["default"]["LOCATION"] = TEST_REDIS_URL
    CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"
else:
    _require("Redis", TEST_REDIS_URL)
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_ALWAYS_EAGER = True
CELERY_RESULT_BACKEND = REDIS_URL if REDIS_AVAILABLE else "cache+memory://"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
# Most tests act with factory users that never verified; the tests of the rule turn it on.
REQUIRE_EMAIL_VERIFICATION = False
# Most review tests write reviews without orders; those about the rule turn it on.
REVIEWS_REQUIRE_PURCHASE = False
# Each test sees the services as they are now; tests of the reuse set it.
HEALTH_CACHE_SECONDS = 0.0
LOGGING["root"]["level"] = "WARNING"
# Many tests sign up users from one address; the throttle's own tests set low rates.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = throttle_rates(
    signup="1000/min", signup_global="1000/min"
)

# Card payments go to a localstripe server the tests start (tests/payments/conftest.py sets
# STRIPE_API_BASE); the keys are that fake server's.
PAYMENT_PROVIDER = "stripe"
STRIPE_SECRET_KEY = "sk_test_localstripe"  # noqa: S105
STRIPE_WEBHOOK_SECRET = "whsec_test_secret"  # noqa: S105
STRIPE_MAX_NETWORK_RETRIES = 0
