"""The embedded default: SQLite under var/, eager Celery, a file cache under var/, local files
and console mail."""

from .base import *  # noqa: F403
from .base import LOGGING, REST_FRAMEWORK, VAR_DIR, env, replica_databases, throttle_rates

DEBUG = env.bool("DEBUG", default=True)
VAR_DIR.mkdir(exist_ok=True)

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock up front so two
    # checkouts never deadlock on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES.update(replica_databases(DATABASES["default"]))

if not env("REDIS_URL", default=""):
    # Shared by every process on the machine (runserver's, a gunicorn with workers, a worker):
    # a per-process cache would serve one process's stale catalog entries after another's write.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("FILE_CACHE_DIR", default=str(VAR_DIR / "cache")),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Local suites and scripts sign up many users from 127.0.0.1 (the environment can still lower it).
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = throttle_rates(signup="60/min", signup_global="600/min")
# Sign-ups from the demo and local scripts are used at once (base's default, said here).
REQUIRE_EMAIL_VERIFICATION = env.bool("REQUIRE_EMAIL_VERIFICATION", default=False)
# The demo's reviewers (seed_demo) have not bought what they review.
REVIEWS_REQUIRE_PURCHASE = env.bool("REVIEWS_REQUIRE_PURCHASE", default=False)
# One line per e-mail (recipients and subject); the full text with
# EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="apps.core.email_backends.SummaryConsoleEmailBackend")
if CELERY_TASK_ALWAYS_EAGER:
    # Tasks run inside the request or command: Celery's "Task ... succeeded" line for each one
    # would outnumber everything else in the log.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
CORS_ALLOWED_ORIGINS = env.list(
    "CORS_ALLOWED_ORIGINS", default=["http://127.0.0.1:3000", "http://localhost:3000"]
)

# No Stripe account in the embedded default: card payments go to the demo provider, which records
# intents without any network (docs/payments.md). Set STRIPE_SECRET_KEY to use Stripe.
PAYMENT_PROVIDER = env(
    "PAYMENT_PROVIDER", default="stripe" if env("STRIPE_SECRET_KEY", default="") else "demo"
)
