"""Domain errors. Services raise these; only the exception handler knows HTTP statuses."""

from typing import Any


class DomainError(Exception):
    """Base of every domain error: a stable `code`, a human `title` and `detail`, extra fields."""

    code = "error"
    title = "Error"
    status = 400

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"
    status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    title = "Permission denied"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"
    status = 409


class RuleViolation(DomainError):
    code = "rule_violation"
    title = "Business rule violated"
    status = 422


class InvalidInput(DomainError):
    """Input that is well-formed JSON but wrong; `errors` carries pointers."""

    code = "invalid"
    title = "Invalid input"
    status = 400

    def __init__(
        self, detail: str | None = None, *, errors: list[dict[str, str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.errors = errors or []
