"""Deploy checks (`manage.py check --deploy`) of what production settings refuse, so that
settings of one's own (built on config.settings.base) are held to the same rule."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from apps.core.secret_keys import secret_key_problem

HINT = (
    "Set a random string of 50+ characters "
    "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
)


@register(Tags.security, deploy=True)
def signing_keys_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    problem = secret_key_problem(settings.SECRET_KEY)
    if problem:
        messages.append(Error(f"SECRET_KEY is unsafe: {problem}.", hint=HINT, id="core.E001"))
    problem = secret_key_problem(settings.SIMPLE_JWT.get("SIGNING_KEY"))
    if problem:
        messages.append(
            Error(
                f"JWT_SIGNING_KEY (SIMPLE_JWT['SIGNING_KEY']) is unsafe: {problem}.",
                hint=HINT,
                id="core.E002",
            )
        )
    return messages
