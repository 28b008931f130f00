"""Password rules of our own, beside Django's validators (AUTH_PASSWORD_VALIDATORS)."""

from typing import Any

from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    """Refuse a password made of whitespace only: eight spaces passed every one of Django's
    validators (long enough, not numeric, not in the common list, like no attribute)."""

    def validate(self, password: str, user: Any = None) -> None:
        if not password.strip():
            raise ValidationError(
                "This password is only whitespace.", code="password_whitespace_only"
            )

    def get_help_text(self) -> str:
        return "Your password can't be only spaces or other whitespace."
