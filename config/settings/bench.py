"""Benchmark settings (`make bench`): production-like (DEBUG off, PostgreSQL, Redis, persistent
connections) on a database of its own, with throttles off so that the load generator measures the
code and not the rate limiter, and a urlconf that adds the `/bench/floor` baseline view."""

from .base import *  # noqa: F403
from .base import env, replica_databases

DEBUG = False
SECRET_KEY = env("SECRET_KEY", default="bench-secret-key-not-for-production-0123456789abcdef")
SIMPLE_JWT["SIGNING_KEY"] = SECRET_KEY
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.urls"

DATABASES = {
    "default": env.db_url(
        "BENCH_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bench_marketplace"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES.update(replica_databases(DATABASES["default"]))
CACHES["default"]["LOCATION"] = env("BENCH_REDIS_URL", default="redis://127.0.0.1:6379/14")
CACHES["default"]["KEY_PREFIX"] = env("BENCH_CACHE_KEY_PREFIX", default="bench")

REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []
# Each of the 50 buyers places thousands of orders that nobody confirms or pays.
ORDER_MAX_OPEN_UNPAID = 0
ORDER_MAX_UNITS_PER_VARIANT = 0
# The benchmark's buyers are made by bench/seed.py and never open a verification e-mail.
REQUIRE_EMAIL_VERIFICATION = False
CELERY_TASK_ALWAYS_EAGER = True
# The checkout scenarios (bench/checkout.py) run the event relay in a real Celery worker, as in
# production (BENCH_CELERY_EAGER=false), on queues of their own.
CELERY_TASK_ALWAYS_EAGER = env.bool("BENCH_CELERY_EAGER", default=True)
CELERY_QUEUE_PREFIX = env("BENCH_CELERY_QUEUE_PREFIX", default="bench-")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"
