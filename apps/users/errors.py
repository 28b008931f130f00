"""Domain errors of accounts, sessions, addresses and API keys. Codes are in the API contract."""

from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound


class Unauthenticated(DomainError):
    code = "auth.not_authenticated"
    title = "Authentication failed"
    status = 401


class InvalidCredentials(Unauthenticated):
    code = "auth.invalid_credentials"
    title = "Invalid email or password"


class TokenInvalid(Unauthenticated):
    code = "auth.token_invalid"
    title = "Token is invalid or expired"


class TokenReused(Unauthenticated):
    code = "auth.token_reused"
    title = "Refresh token reused"


class TokenRevoked(Unauthenticated):
    """Issued before the account's last logout-all, password change or password reset. The same
    code and title as the access-token check in apps.core.authentication."""

    code = "auth.token_revoked"
    title = "Token revoked"


class LoginLockedOut(DomainError):
    """Too many failed logins for this e-mail from this address (apps.users.login_failures).
    The throttles' code, with `retry_after` (and the Retry-After header)."""

    code = "throttled"
    title = "Too many requests"
    status = 429


class InvalidResetToken(InvalidInput):
    code = "auth.invalid_reset_token"
    title = "Invalid or expired password reset link"


class InvalidVerificationToken(InvalidInput):
    code = "auth.invalid_verification_token"
    title = "Invalid or expired e-mail verification link"


class WrongPassword(InvalidInput):
    code = "auth.wrong_password"
    title = "The current password is wrong"


class EmailTaken(Conflict):
    code = "user.email_taken"
    title = "Email already registered"


class AddressNotFound(NotFound):
    code = "address.not_found"
    title = "Address not found"


class ApiKeyNotFound(NotFound):
    code = "api_key.not_found"
    title = "API key not found"
