"""Production: real services from the environment, HTTPS only, refuses to start with unsafe
signing keys (apps.core.secret_keys: the .env.example placeholder, a development value, shorter
than 50 characters or fewer than 5 distinct ones), for SECRET_KEY and JWT_SIGNING_KEY alike.

`make stack` runs these settings on the loopback and relaxes the HTTPS-only ones there
(SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE, SECURE_HSTS_SECONDS), saying so
when it starts; a real deployment leaves them at their defaults."""

from django.core.exceptions import ImproperlyConfigured

from apps.core.secret_keys import secret_key_problem

from .base import *  # noqa: F403
from .base import PAYMENT_PROVIDER, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY", default="")
# Unset or empty: tokens are signed with SECRET_KEY, which is checked as strictly.
JWT_SIGNING_KEY = env("JWT_SIGNING_KEY", default="") or SECRET_KEY
_unsafe = [
    f"{name} is unsafe: {problem}"
    for name, problem in (
        ("SECRET_KEY", secret_key_problem(SECRET_KEY)),
        ("JWT_SIGNING_KEY", secret_key_problem(JWT_SIGNING_KEY)),
    )
    if problem
]
if _unsafe:
    raise ImproperlyConfigured(
        "; ".join(_unsafe) + ". Set a random string of 50+ characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
    )
SIMPLE_JWT["SIGNING_KEY"] = JWT_SIGNING_KEY
if PAYMENT_PROVIDER == "demo":
    raise ImproperlyConfigured("PAYMENT_PROVIDER=demo takes no money: use stripe in production.")
if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY.")

# Sign-up stays open to anyone, but an account reaches what costs others only once it has shown
# that it owns its address (docs/security.md).
REQUIRE_EMAIL_VERIFICATION = env.bool("REQUIRE_EMAIL_VERIFICATION", default=True)

# Staff reach the admin with a TOTP code (enrol a device first: manage.py admin_totp_device_add).
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=True)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
STORAGES["staticfiles"] = {
    "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
}
