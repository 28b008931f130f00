"""What makes a signing key unsafe in production (config.settings.prod refuses to start with one;
the `core.E001`/`core.E002` deploy checks flag one under any settings)."""

#: The placeholder of `.env.example`, and the start of the development default.
PLACEHOLDERS = (
    "change-me-to-a-long-random-string-of-at-least-50-chars",
    "change-me-to-a-long-random-string-of-at-least-32-chars",  # the placeholder before
)
INSECURE_PREFIXES = ("dev-insecure", "django-insecure", "change-me")
MIN_LENGTH = 50
MIN_DISTINCT = 5


def secret_key_problem(value: str | None) -> str | None:
    """Why `value` may not sign anything in production, or None when it may."""
    if not value:
        return "it is empty"
    if value in PLACEHOLDERS or value.startswith(INSECURE_PREFIXES):
        return "it is a placeholder or development value"
    if len(value) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    if len(set(value)) < MIN_DISTINCT:
        return f"it has fewer than {MIN_DISTINCT} distinct characters"
    return None
