"""Domain errors. Services raise these; only the exception handler knows HTTP statuses."""

from typing import Any

# One entry of a problem's `errors`: `pointer` (a JSON pointer into the request body,
# `/items/0/quantity`; "" for the request as a whole), a stable `code` and a human `detail`
# (docs/api.md, "Errors"). Built by `field_error`.
FieldError = dict[str, str]


def field_error(pointer: str, code: str, detail: str) -> FieldError:
    """One field error: `InvalidInput(..., errors=[field_error("/price", "required", "...")])`."""
    return {"pointer": pointer, "code": code, "detail": detail}


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


class EmailUnverified(PermissionDenied):
    """The account's e-mail address is not verified yet and REQUIRE_EMAIL_VERIFICATION is on
    (apps.core.permissions.EmailVerified). Raised by the permission, so it lives here."""

    code = "auth.email_unverified"
    title = "E-mail address not verified"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"
    status = 409


class RuleViolation(DomainError):
    code = "rule_violation"
    title = "Business rule violated"
    status = 422


class ServiceUnavailable(DomainError):
    """A dependency the operation cannot do without is unreachable; the client may retry."""

    code = "unavailable"
    title = "Service unavailable"
    status = 503


class InvalidInput(DomainError):
    """Input that is well-formed JSON but wrong; `errors` carries pointers."""

    code = "invalid"
    title = "Invalid input"
    status = 400

    def __init__(
        self, detail: str | None = None, *, errors: list[FieldError] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.errors = errors or []


# --- Backups (apps.core.backups; raised to operators through manage.py backup / restore)


class BackupUnusable(InvalidInput):
    code = "backup.unusable"
    title = "The backup cannot be made or used"


class RestoreTargetNotEmpty(Conflict):
    code = "backup.target_not_empty"
    title = "The target database is not empty"
